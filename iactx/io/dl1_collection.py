"""Many event-tree files as one tree: the runs of a production.

Opening thousands of files through xarray one by one costs tens of
milliseconds each. Here the first file serves as the template of the
layout (variables, dtypes, attributes, instrument); every other file is
only scanned with h5py for what differs from run to run -- its keys, its
root attributes and its layout fingerprint -- and each variable becomes one
dask array whose chunks read rows of one file when they are computed.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from .dl1 import FORMAT_NAME, LAYOUT_ATTR, PER_RUN_NODES, _APPENDABLE, _is_optional, _restore_index, layout_fingerprint
from .errors import first_bytes
from .event_tree import EVENT_KEYS, TEL_EVENT_LEVELS

__all__ = ["scan_files", "open_collection", "file_trees", "FileScan"]

@dataclass
class FileScan:
    """What one file adds to a collection, read without loading its data.

    Attributes
    ----------
    path : Path
    fingerprint : str or None
        :func:`~iactx.io.dl1.layout_fingerprint` stored in the file (None in
        files written before it was stored).
    root_attrs : dict
        Root attributes.
    keys : dict[str, dict[str, numpy.ndarray]]
        Key coordinates by node path: ``obs_id``, ``event_id`` of the root,
        the ``tel_event`` levels of each camera group.
    runs : dict[str, dict[str, tuple]]
        For each node of :data:`~iactx.io.dl1.PER_RUN_NODES` the file has:
        its ``obs_id`` rows under ``"obs_id"``, the shape of every other
        variable under its name.
    """

    path: Path
    fingerprint: str | None
    root_attrs: dict
    keys: dict = field(default_factory=dict)
    runs: dict = field(default_factory=dict)

    def rows(self, node):
        """Number of rows of ``node`` along its appendable dimension."""
        return len(next(iter(self.keys[node].values())))


def _attr(value):
    return value.decode() if isinstance(value, bytes) else value


def _key_nodes(template):
    """Node path -> key coordinates read from every file."""
    nodes = {}
    for node in template.subtree:
        dims = node.to_dataset(inherit=False).dims
        if node.is_root:
            nodes["/"] = EVENT_KEYS
        elif "tel_event" in dims:
            nodes[node.path] = TEL_EVENT_LEVELS
    return nodes


def _scan(path, key_nodes):
    import h5py

    try:
        with h5py.File(path, "r") as f:
            attrs = {k: _attr(v) for k, v in f.attrs.items()}
            if attrs.get("iactx_format") != FORMAT_NAME:
                raise ValueError(f"{path} is not an iactx event-tree file (NetCDF-4 with iactx_format); "
                                 f"it starts with {first_bytes(path)}")
            keys = {}
            for node, names in key_nodes.items():
                group = f if node == "/" else f.get(node.lstrip("/"))
                if group is None or any(n not in group for n in names):
                    raise ValueError(f"{path} has no group {node} with {', '.join(names)} (the first file has): "
                                 "cannot merge")
                keys[node] = {n: group[n][()] for n in names}
            runs = {}
            for node in PER_RUN_NODES:
                group = f.get(node.lstrip("/"))
                if group is not None and "obs_id" in group:
                    runs[node] = {name: group[name][()] if name == "obs_id" else group[name].shape
                                  for name, item in group.items() if isinstance(item, h5py.Dataset)}
    except OSError as err:
        raise ValueError(f"{path} is not a readable HDF5 file: {err}") from None
    return FileScan(Path(path), attrs.pop(LAYOUT_ATTR, None), attrs, keys, runs)


def _file_nodes(path):
    """Every node of a file but the optional ones, loaded as stored (indexes flat); the file is closed again."""
    with xr.open_datatree(path, engine="netcdf4") as tree:
        nodes = {node.path: node.to_dataset(inherit=False).load() for node in tree.subtree}
    return {p: ds for p, ds in nodes.items() if not _is_optional(p, ds)}


def _layout_difference(a, b):
    """First difference in layout or static content between two files, or None."""
    nodes = [_file_nodes(p) for p in (a, b)]
    if set(nodes[0]) != set(nodes[1]):
        return f"{b} has groups {sorted(nodes[1])}, {a} has {sorted(nodes[0])}"
    for path in sorted(nodes[0]):
        x, y = nodes[0][path], nodes[1][path]
        if set(x.variables) != set(y.variables):
            return f"{path} has variables {sorted(set(x.variables) ^ set(y.variables))} in only one of {a}, {b}"
        if path != "/" and not _attrs_equal(x.attrs, y.attrs):
            return f"{path} has other attributes in {b} than in {a}"
        for name, var in x.variables.items():
            other = y.variables[name]
            if var.dims != other.dims or var.dtype != other.dtype:
                return f"{path}/{name} is {var.dims} {var.dtype} in {a} but {other.dims} {other.dtype} in {b}"
            static = not any(d in _APPENDABLE for d in var.dims)
            if static and not var.identical(other):
                what = "a different subarray" if path == "/instrument" else f"other values of {path}/{name}"
                return f"{b} has {what} than {a}"
    return None


def _attrs_equal(a, b):
    return a.keys() == b.keys() and all(_same_value(a[k], b[k]) for k in a)


def _same_value(x, y):
    try:
        return bool(np.array_equal(np.asarray(x), np.asarray(y)))
    except (TypeError, ValueError):
        return x == y


def _check_layouts(scans):
    """All files share the first one's layout; files differing in fingerprint are compared in full."""
    first = scans[0]
    reference = first.fingerprint or layout_fingerprint_of(first.path)
    accepted = {reference}
    for scan in scans[1:]:
        fingerprint = scan.fingerprint or layout_fingerprint_of(scan.path)
        if fingerprint in accepted:
            continue
        difference = _layout_difference(first.path, scan.path)
        if difference:
            raise ValueError(f"{difference}: cannot merge")
        accepted.add(fingerprint)


def layout_fingerprint_of(path):
    """:func:`~iactx.io.dl1.layout_fingerprint` of a file that does not store one (written before files kept it)."""
    return layout_fingerprint(_file_nodes(path))


def _check_unique_keys(scans):
    """No (obs_id, event_id) in two files (or twice in one)."""
    obs = np.concatenate([s.keys["/"]["obs_id"] for s in scans]).astype(np.int64)
    event = np.concatenate([s.keys["/"]["event_id"] for s in scans]).astype(np.int64)
    owner = np.repeat(np.arange(len(scans)), [s.rows("/") for s in scans])
    order = np.lexsort((event, obs))
    same = (obs[order][1:] == obs[order][:-1]) & (event[order][1:] == event[order][:-1])
    if same.any():
        i = np.flatnonzero(same)[0]
        files = sorted({str(scans[owner[order[i]]].path), str(scans[owner[order[i + 1]]].path)})
        key = {"obs_id": int(obs[order[i]]), "event_id": int(event[order[i]])}
        raise ValueError(f"{key} appears in more than one of {files}; runs must have distinct "
                         "(obs_id, event_id, tel_id) keys")


def scan_files(paths, *, template=None):
    """Scan files for merging: keys, root attributes, layout; check they can be concatenated.

    Parameters
    ----------
    paths : list of Path
        Event-tree files.
    template : xarray.DataTree, optional
        The first file opened lazily (opened here when not given).

    Returns
    -------
    list of FileScan

    Raises
    ------
    ValueError
        A foreign file, a different layout or instrument, or keys that
        appear twice; the message names the files.
    """
    from .dl1 import _open_one

    template = _open_one(paths[0], None) if template is None else template
    key_nodes = _key_nodes(template)
    scans = [_scan(p, key_nodes) for p in paths]
    _check_layouts(scans)
    _check_per_run_shapes(scans)
    _check_unique_keys(scans)
    return scans


def _check_per_run_shapes(scans):
    """Per-run tables (the shower distribution) of the same variables and binning in every file."""
    for node in PER_RUN_NODES:
        having = [s for s in scans if node in s.runs]
        if not having:
            continue
        first = having[0]
        expected = {k: v[1:] for k, v in first.runs[node].items() if k != "obs_id"}
        for scan in having[1:]:
            shapes = {k: v[1:] for k, v in scan.runs[node].items() if k != "obs_id"}
            if shapes != expected:
                raise ValueError(f"{node} of {scan.path} has variables and shapes {shapes}, that of {first.path} "
                                 f"{expected}: cannot merge")


def merged_root_attrs(scans, template_attrs):
    """Root attributes equal in every file (xarray's ``drop_conflicts``), as xarray decodes them.

    Parameters
    ----------
    scans : list of FileScan
    template_attrs : dict
        Root attributes of the first file as opened by xarray.
    """
    first = scans[0].root_attrs
    return {key: value for key, value in template_attrs.items()
            if key in first and all(key in s.root_attrs and _same_value(first[key], s.root_attrs[key])
                                    for s in scans[1:])}


# --- reading rows of one file, in a task -------------------------------------------------------

_OPEN_FILES = OrderedDict()
_OPEN_LOCK = threading.Lock()
#: h5py files kept open per process between chunk reads
_MAX_OPEN_FILES = 32


def _open_h5(path):
    """An h5py file of the per-process cache (reopened if the file changed); call with ``_OPEN_LOCK`` held."""
    import h5py

    stat = os.stat(path)
    cache_key = (path, stat.st_mtime_ns, stat.st_size)
    f = _OPEN_FILES.pop(cache_key, None) or h5py.File(path, "r")
    _OPEN_FILES[cache_key] = f
    while len(_OPEN_FILES) > _MAX_OPEN_FILES:
        _OPEN_FILES.popitem(last=False)[1].close()
    return f


def _decoded(name, dims, raw, raw_attrs):
    """Stored values as xarray decodes them (fill values, times, character arrays)."""
    decoded = xr.conventions.decode_cf_variable(name, xr.Variable(dims, raw, attrs=dict(raw_attrs)))
    return np.asarray(decoded.values)


def _read_rows(path, variable, axis, start, stop, dims, raw_attrs):
    """Rows ``start:stop`` along ``axis`` of one variable, decoded as xarray decodes it."""
    index = tuple(slice(start, stop) if i == axis else slice(None) for i in range(len(dims)))
    with _OPEN_LOCK:  # h5py serialises its calls anyway; the lock also keeps a file open while it is read
        raw = _open_h5(path)[variable][index]
    return _decoded(variable, dims, raw, raw_attrs)


def _row_chunks(rows, limit):
    """(start, stop) row ranges of one file, at most ``limit`` rows each."""
    if not limit or rows <= limit:
        return [(0, rows)]
    return [(start, min(start + limit, rows)) for start in range(0, rows, limit)]


def _h5_name(node_path, name):
    return f"{node_path.rstrip('/')}/{name}".lstrip("/")


def _lazy_variable(name, node_path, template_var, raw_attrs, pieces, token):
    """One dask array over all files for a variable along an appendable dimension.

    ``pieces``: the (path, start, stop) row ranges of its chunks, in order.
    """
    import dask.array as da

    axis = next(i for i, d in enumerate(template_var.dims) if d in _APPENDABLE)
    key = f"iactx-{node_path.strip('/') or 'root'}-{name}-{token}"
    graph = {}
    for i, (path, start, stop) in enumerate(pieces):
        block = [0] * template_var.ndim
        block[axis] = i
        graph[(key, *block)] = (_read_rows, path, _h5_name(node_path, name), axis, start, stop,
                                template_var.dims, raw_attrs)
    chunks = tuple(tuple(stop - start for _, start, stop in pieces) if i == axis else (size,)
                   for i, size in enumerate(template_var.shape))
    meta = np.empty((0,) * template_var.ndim, dtype=template_var.dtype)
    return xr.Variable(template_var.dims, da.Array(graph, key, chunks, meta=meta), attrs=template_var.attrs)


def _read_whole(template, name, var, scans):
    """A variable read now from every file of ``scans``, concatenated along its appendable dimension."""
    axis = next(i for i, d in enumerate(var.dims) if d in _APPENDABLE)
    parts = []
    for scan in scans:
        with _OPEN_LOCK:
            raw = _open_h5(str(scan.path))[_h5_name(template.path, name)][()]
        parts.append(_decoded(name, var.dims, raw, template.raw_attrs[name]))
    return xr.Variable(var.dims, np.concatenate(parts, axis=axis), attrs=var.attrs)


def _read_file_by_file(templates, scans):
    """A reader like :func:`_read_whole` that has read every file once, all its variables together.

    Reading variable by variable across thousands of files would reopen
    each file for every variable.
    """
    parts = {}
    for scan in scans:
        for template in templates:
            if template.path in PER_RUN_NODES and template.path not in scan.runs:
                continue
            for name, var in template.flat.variables.items():
                if name not in template.keys and any(d in _APPENDABLE for d in var.dims):
                    parts.setdefault((template.path, name), []).append(_read_whole(template, name, var, [scan]))

    def read(template, name, var, having):
        axis = next(i for i, d in enumerate(var.dims) if d in _APPENDABLE)
        values = np.concatenate([part.values for part in parts.pop((template.path, name))], axis=axis)
        return xr.Variable(var.dims, values, attrs=var.attrs)

    return read


@dataclass
class _NodeTemplate:
    """What every file's copy of a node shares: its variables as in one file, their stored attributes.

    ``keys``: variables whose values the scans hold (``key_values(scan)[name]``).
    """

    path: str
    flat: xr.Dataset
    raw_attrs: dict
    keys: tuple
    key_values: object

    def rows(self, scan):
        return len(self.key_values(scan)[self.keys[0]])

    def assemble(self, scans, read):
        """The node over ``scans``: static variables as they are, keys concatenated, the rest from ``read``.

        ``read(name, var, raw_attrs, scans)``: the variable ``name`` (template
        ``var``) of the files, concatenated along its appendable dimension.
        """
        variables = {}
        for name, var in self.flat.variables.items():
            if not any(d in _APPENDABLE for d in var.dims):
                variables[name] = var
            elif name in self.keys:
                values = np.concatenate([self.key_values(s)[name] for s in scans])
                variables[name] = xr.Variable(var.dims, values.astype(var.dtype), attrs=var.attrs)
            else:
                variables[name] = read(self, name, var, scans)
        coords = [n for n in self.flat.coords if n in variables]
        ds = xr.Dataset({n: v for n, v in variables.items() if n not in coords},
                        coords={n: variables[n] for n in coords}, attrs=self.flat.attrs)
        return _restore_index(ds)


def _stored_attrs(path):
    """Attributes of every variable as stored (before CF decoding), by node path."""
    with xr.open_datatree(path, engine="netcdf4", decode_cf=False) as raw:
        return {node.path: {n: dict(v.attrs) for n, v in node.to_dataset(inherit=False).variables.items()}
                for node in raw.subtree}


def _node_templates(template_tree, scans):
    """A :class:`_NodeTemplate` per node: from the first file, per-run nodes from the first that has them."""
    from .dl1 import _flat_nodes

    raw_attrs = _stored_attrs(scans[0].path)
    templates = []
    for path, flat in _flat_nodes(template_tree).items():
        if _is_optional(path, flat):
            continue
        flat.attrs.pop("iactx_format", None)
        templates.append(_NodeTemplate(path, flat.load(), raw_attrs[path], tuple(scans[0].keys.get(path, ())),
                                       lambda scan, path=path: scan.keys[path]))
    for path in PER_RUN_NODES:
        having = [s for s in scans if path in s.runs]
        if not having:
            continue
        with xr.open_dataset(having[0].path, group=path.lstrip("/"), engine="netcdf4") as flat:
            flat = flat.load()
        templates.append(_NodeTemplate(path, flat, _stored_attrs(having[0].path)[path], ("obs_id",),
                                       lambda scan, path=path: scan.runs[path]))
    return templates


def open_collection(paths, *, chunks=None, lazy=True):
    """Open several event-tree files as one tree: dask-backed, reading only their keys, or loaded.

    Parameters
    ----------
    paths : list of Path
        Files written by :func:`~iactx.io.dl1.write_dl1` (or ``iactx
        process``) with the same layout and instrument and distinct keys.
    chunks : dict, optional
        Rows per chunk along ``event`` and ``tel_event`` (a chunk never spans
        two files; by default one chunk per file); other dimensions named
        here are rechunked with :meth:`xarray.Dataset.chunk`.
    lazy : bool
        False: read every variable now, file by file with h5py (``chunks``
        is then ignored).

    Returns
    -------
    xarray.DataTree
        Keys, indexes, ``/instrument`` and the camera constants in memory;
        every variable along ``event`` / ``tel_event`` as a dask array
        (``lazy``) or loaded.
    """
    from dask.base import tokenize

    from .dl1 import _open_one

    chunks = dict(chunks or {})
    template_tree = _open_one(paths[0], None)
    scans = scan_files(paths, template=template_tree)
    token = tokenize([str(s.path) for s in scans], [s.root_attrs.get("provenance") for s in scans], chunks)

    def dask_array(template, name, var, having):
        dim = next(d for d in var.dims if d in _APPENDABLE)
        pieces = [(str(s.path), start, stop) for s in having
                  for start, stop in _row_chunks(template.rows(s), chunks.get(dim))]
        return _lazy_variable(name, template.path, var, template.raw_attrs[name], pieces, token)

    templates = _node_templates(template_tree, scans)
    read = dask_array if lazy else _read_file_by_file(templates, scans)
    nodes = {}
    for template in templates:
        having = [s for s in scans if template.path not in PER_RUN_NODES or template.path in s.runs]
        ds = template.assemble(having, read)
        if template.path == "/":
            ds.attrs = merged_root_attrs(scans, template.flat.attrs)
        others = {d: n for d, n in chunks.items() if d in ds.dims and d not in _APPENDABLE}
        nodes[template.path] = ds.chunk(others) if others else ds
    return xr.DataTree.from_dict(nodes)


def file_trees(paths):
    """Check files as :func:`open_collection` does, then yield each one's tree, read with h5py.

    For streaming through many files one at a time (``iactx merge``):
    faster than opening each with xarray, and only one file in memory.

    Yields
    ------
    FileScan, xarray.DataTree
    """
    from .dl1 import _open_one

    template_tree = _open_one(paths[0], None)
    scans = scan_files(paths, template=template_tree)
    templates = _node_templates(template_tree, scans)
    root_attrs = merged_root_attrs(scans, templates[0].flat.attrs)
    for scan in scans:
        nodes = {t.path: t.assemble([scan], _read_whole) for t in templates
                 if t.path not in PER_RUN_NODES or t.path in scan.runs}
        nodes["/"].attrs = root_attrs
        yield scan, xr.DataTree.from_dict(nodes)
