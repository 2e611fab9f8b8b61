"""Event trees on disk: NetCDF-4/HDF5 files.

One HDF5 group per tree node; the stacked ``tel_event`` index is stored as
plain coordinate variables and rebuilt on reading. Files are written with
the netCDF-C library (netCDF4) -- h5netcdf looks up the size of unlimited
dimensions by scanning every variable, which made creating a file of a few
hundred variables take seconds -- and read with h5netcdf. They stay readable
by plain xarray, netCDF4, h5py and ncdump.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .errors import check_input_file, first_bytes
from .event_tree import EVENT_KEYS, TEL_EVENT_LEVELS

__all__ = ["EventTreeWriter", "write_dl1", "open_dl1", "is_dl1_file", "FORMAT_NAME"]

#: value of the root attribute ``iactx_format`` that marks our files
FORMAT_NAME = "iactx-event-tree"
_INDEX_ATTR = "iactx_stacked_index"
_INDEXES = {"tel_event": TEL_EVENT_LEVELS}
#: dimensions along which batches are appended
_APPENDABLE = ("event", "tel_event")
#: chunks hold at most this many bytes before compression ...
_CHUNK_BYTES = 2**20
#: ... and no more rows than the first batch has, or than this, whichever is more
_MIN_CHUNK_ROWS = 1024
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
#: rows along ``event`` or ``tel_event`` that later batches gather before they are written
FLUSH_ROWS = 4096
#: ... or bytes, whichever comes first
FLUSH_BYTES = 64 * 2**20


def _flatten_index(ds):
    """Replace stacked indexes by plain coordinates, remembering their levels."""
    for dim, levels in _INDEXES.items():
        if dim in ds.indexes and isinstance(ds.indexes[dim], pd.MultiIndex):
            ds = ds.reset_index(dim).drop_vars(dim, errors="ignore")
            ds.attrs[_INDEX_ATTR] = f"{dim}: {' '.join(levels)}"
    return ds


def _restore_index(ds):
    """Rebuild the stacked index recorded by :func:`_flatten_index`."""
    attrs = dict(ds.attrs)
    spec = attrs.pop(_INDEX_ATTR, None)
    if not spec:
        return ds
    dim, levels = spec.split(":")
    ds = ds.set_xindex(levels.split(), xr.indexes.PandasMultiIndex)
    ds.attrs = attrs
    return ds


def _encoding(ds):
    """Compression and chunking along ``event`` / ``tel_event`` per variable.

    Chunks along the appendable dimension hold at most ``_CHUNK_BYTES`` of
    uncompressed data; small per-event variables get no more rows than the
    first batch (or ``_MIN_CHUNK_ROWS``), so small files stay small.
    """
    encoding = {}
    for name, var in ds.variables.items():
        if var.dtype.kind in "OUS" or var.ndim == 0:
            continue
        enc = {"zlib": True, "complevel": 4, "shuffle": True}
        if var.dtype.kind == "M":
            enc = {"units": "nanoseconds since 1970-01-01", "dtype": "int64", **enc}
        if var.dims[0] in _APPENDABLE and all(s > 0 for s in var.shape[1:]):
            row_bytes = max(int(np.prod(var.shape[1:])) * var.dtype.itemsize, 1)
            rows = min(_CHUNK_BYTES // row_bytes, max(var.shape[0], _MIN_CHUNK_ROWS))
            enc["chunksizes"] = (max(rows, 1), *var.shape[1:])
        elif any(s == 0 for s in var.shape):
            enc = {k: v for k, v in enc.items() if k in ("units", "dtype")}
        encoding[name] = enc
    return encoding


def _flat_nodes(tree):
    """Every node as a Dataset with stacked indexes flattened, by path."""
    nodes = {}
    for node in tree.subtree:
        ds = _flatten_index(node.to_dataset(inherit=False))
        if node.is_root:
            ds.attrs["iactx_format"] = FORMAT_NAME
        nodes[node.path] = ds
    return nodes


class EventTreeWriter:
    """Write event trees batch by batch into one NetCDF-4 file, atomically.

    The first batch fixes the layout (groups, variables, static data such as
    ``/instrument``); later batches are appended along ``event`` and
    ``tel_event``. Everything goes to a temporary file beside ``path`` that
    is renamed on :meth:`close`; on an error or interruption inside a
    ``with`` block the temporary file is removed and no output exists.

    Parameters
    ----------
    path : str or Path
        Output file, conventionally ``*.dl1.nc`` (``.h5`` works as well).
    overwrite : bool
        Replace an existing file (only when the new one is complete).

    Examples
    --------
    >>> with EventTreeWriter("run.dl1.nc") as writer:        # doctest: +SKIP
    ...     for batch in iactx.iter_simtel("run.simtel.zst"):
    ...         writer.append(batch)
    """

    def __init__(self, path, *, overwrite=False):
        path = Path(os.fspath(path)).expanduser()
        if path.exists() and not overwrite:
            raise FileExistsError(f"output file exists: {path} (pass overwrite=True to replace it)")
        if not path.parent.is_dir():
            raise FileNotFoundError(f"output directory does not exist: {path.parent}")
        self.path = path
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        os.close(fd)
        self._tmp = Path(tmp)
        self._encoding = None
        self._variables = {}
        self._pending = {}
        self._pending_rows = {}
        self._pending_bytes = 0
        self._extra_attrs = {}
        self.n_events = 0

    def append(self, tree):
        """Append the events of ``tree`` (same layout as the first batch).

        Later batches are encoded at once but written in blocks of
        ``FLUSH_ROWS`` rows or ``FLUSH_BYTES`` bytes, whichever comes
        first, and at :meth:`close`: a compressed chunk that
        each small batch filled only partly would otherwise be read,
        decompressed, recompressed and written again for every batch.
        """
        nodes = _flat_nodes(tree)
        if self._encoding is None:
            self._encoding = {p: _encoding(ds) for p, ds in nodes.items()}
            self._variables = {p: set(ds.variables) for p, ds in nodes.items()}
            unlimited = {p: [d for d in _APPENDABLE if d in ds.dims] for p, ds in nodes.items()}
            xr.DataTree.from_dict(nodes).to_netcdf(self._tmp, engine="netcdf4", encoding=self._encoding,
                                                   unlimited_dims=unlimited)
        else:
            self._stage(nodes)
            if max(self._pending_rows.values(), default=0) >= FLUSH_ROWS or self._pending_bytes >= FLUSH_BYTES:
                self._flush()
        self.n_events += nodes["/"].sizes.get("event", 0)

    def _stage(self, nodes):
        """Encode the appendable variables of a batch and keep them for the next flush."""
        from xarray.conventions import encode_cf_variable

        if set(nodes) != set(self._encoding):
            raise ValueError(f"{self.path}: batch has groups {sorted(nodes)}, the file has {sorted(self._encoding)}")
        for path, ds in nodes.items():
            for dim in (d for d in _APPENDABLE if d in ds.dims):
                if ds.sizes[dim] == 0:
                    continue
                offset = self._pending_rows.get((path, dim), 0)
                for name, var in ds.variables.items():
                    if dim not in var.dims:
                        continue
                    if name not in self._variables[path]:
                        raise ValueError(f"{self.path}: variable {path}/{name} is not in the first batch")
                    var = var.copy(deep=False)
                    var.encoding = {k: v for k, v in self._encoding[path].get(name, {}).items()
                                    if k in ("units", "dtype", "calendar")}
                    values = encode_cf_variable(var, name=name).values
                    self._pending.setdefault((path, dim), {}).setdefault(name, []).append((offset, var.dims, values))
                    self._pending_bytes += values.nbytes
                self._pending_rows[(path, dim)] = offset + ds.sizes[dim]

    def _flush(self):
        """Write the staged batches: one block per variable, or one per batch where a batch lacked it.

        A variable of the first batch that a later batch does not have
        (an input without true images, say) keeps the file's fill value there.
        """
        import netCDF4

        if not self._pending:
            return
        with netCDF4.Dataset(self._tmp, "a") as f:
            for (path, dim), variables in self._pending.items():
                group = f if path == "/" else f[path.lstrip("/")]
                start, n = len(group.dimensions[dim]), self._pending_rows[(path, dim)]
                for name, parts in variables.items():
                    target = group.variables[name]
                    target.set_auto_maskandscale(False)
                    axis = parts[0][1].index(dim)
                    if sum(values.shape[axis] for _, _, values in parts) == n:
                        parts = [(0, parts[0][1], np.concatenate([values for _, _, values in parts], axis=axis))]
                    for offset, dims, values in parts:
                        rows = slice(start + offset, start + offset + values.shape[axis])
                        target[tuple(rows if d == dim else slice(None) for d in dims)] = values
        self._pending.clear()
        self._pending_rows.clear()
        self._pending_bytes = 0

    def update_attrs(self, **attrs):
        """Root attributes to add when the file is closed (e.g. provenance)."""
        self._extra_attrs.update(attrs)

    def close(self):
        """Finish the file and move it to its final name."""
        if self._encoding is None:
            self.abort()
            raise ValueError(f"nothing was written to {self.path}: no events")
        self._flush()
        if self._extra_attrs:
            import netCDF4

            with netCDF4.Dataset(self._tmp, "a") as f:
                f.setncatts(self._extra_attrs)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self._tmp, 0o666 & ~umask)  # mkstemp makes the file private; give it the usual mode
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self):
        """Remove the temporary file; nothing is left behind."""
        self._tmp.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_dl1(tree, path, *, overwrite=False):
    """Write an event tree to a NetCDF-4 file, atomically.

    The tree is written to a temporary file beside ``path`` and renamed at
    the end, so an interrupted write leaves no partial output. For data that
    arrives in batches use :class:`EventTreeWriter`.

    Parameters
    ----------
    tree : xarray.DataTree
        Event tree (any data level).
    path : str or Path
        Output file, conventionally ``*.dl1.nc`` (``.h5`` works as well).
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is false.
    """
    with EventTreeWriter(path, overwrite=overwrite) as writer:
        writer.append(tree)
    return writer.path


def is_dl1_file(path):
    """Whether ``path`` is an HDF5 file written by :func:`write_dl1`."""
    try:
        with open(path, "rb") as f:
            if f.read(8) != _HDF5_SIGNATURE:
                return False
        import h5py

        with h5py.File(path, "r") as h5:
            value = h5.attrs.get("iactx_format")
        return (value.decode() if isinstance(value, bytes) else value) == FORMAT_NAME
    except OSError:
        return False


def _open_one(path, chunks):
    path = check_input_file(path)
    if not is_dl1_file(path):
        raise ValueError(f"{path} is not an iactx event-tree file (NetCDF-4 with iactx_format); "
                         f"it starts with {first_bytes(path)}")
    tree = xr.open_datatree(path, engine="h5netcdf", chunks=chunks)
    restored = {node.path: _restore_index(node.to_dataset(inherit=False)) for node in tree.subtree}
    restored["/"].attrs.pop("iactx_format", None)
    return xr.DataTree.from_dict(restored)


def _merge(trees, paths):
    first = trees[0]
    names = [set(t.children) for t in trees]
    for p, n in zip(paths[1:], names[1:]):
        if n != names[0]:
            raise ValueError(f"{p} has groups {sorted(n)}, {paths[0]} has {sorted(names[0])}: cannot merge")
    for p, t in zip(paths[1:], trees[1:]):
        if not t["instrument"].to_dataset().equals(first["instrument"].to_dataset()):
            raise ValueError(f"{p} has a different subarray than {paths[0]}: cannot merge")
    nodes = {}
    for node in first.subtree:
        parts = [t[node.path].to_dataset(inherit=False) for t in trees]
        dim = "event" if node.is_root else "tel_event" if "tel_event" in parts[0].dims else None
        if dim is None:
            nodes[node.path] = parts[0]
            continue
        merged = xr.concat(parts, dim=dim, data_vars="minimal", coords="minimal", compat="equals",
                           join="exact", combine_attrs="drop_conflicts")
        index = merged.indexes[dim] if dim == "tel_event" else pd.MultiIndex.from_arrays(
            [merged[k].values for k in EVENT_KEYS], names=list(EVENT_KEYS))
        if not index.is_unique:
            dup = index[index.duplicated()][0]
            raise ValueError(f"{dict(zip(index.names, dup))} appears in more than one of {list(map(str, paths))}; "
                             "runs must have distinct (obs_id, event_id, tel_id) keys")
        nodes[node.path] = merged
    return xr.DataTree.from_dict(nodes)


def open_dl1(path_or_paths, *, chunks=None):
    """Open event-tree files written by :func:`write_dl1`.

    Parameters
    ----------
    path_or_paths : str, Path or list of them
        One file, or several runs to merge along ``event`` / ``tel_event``.
    chunks : dict, optional
        Passed to :func:`xarray.open_datatree` for dask-backed (lazy) data,
        e.g. ``{"tel_event": 1000}``.

    Returns
    -------
    xarray.DataTree
        The tree as it was written: values, dtypes, coordinates, attributes
        and the stacked ``event`` / ``tel_event`` indexes.

    Raises
    ------
    FileNotFoundError, ValueError
        Missing or foreign files; runs that share keys or differ in subarray.
    """
    if isinstance(path_or_paths, (str, os.PathLike)):
        return _open_one(path_or_paths, chunks)
    paths = list(path_or_paths)
    if not paths:
        raise ValueError("open_dl1 needs at least one file")
    trees = [_open_one(p, chunks) for p in paths]
    return trees[0] if len(trees) == 1 else _merge(trees, paths)
