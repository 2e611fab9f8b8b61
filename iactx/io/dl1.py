"""Event trees on disk: NetCDF-4/HDF5 files.

One HDF5 group per tree node; the stacked ``tel_event`` index is stored as
plain coordinate variables and rebuilt on reading. Files are written and
read with the netCDF-C library (netCDF4): h5netcdf looks up the size of an
unlimited dimension by scanning every variable of its group, for every
variable, which makes writing or opening a group of a hundred parameter
columns take seconds to tens of seconds. The files stay readable by plain
xarray (either engine), netCDF4, h5py and ncdump.

Strings (telescope and camera names) are stored as fixed-width character
arrays, not as variable-length strings: the HDF5 2.x inside the netCDF4
wheels can crash reading the fill value of a variable-length string
variable (a segmentation fault in its vlen conversion, depending on the
state of the heap).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import xarray as xr

from .atomic import AtomicOutput, writes
from .errors import HDF5_SIGNATURE, check_input_file, first_bytes
from .event_tree import TEL_EVENT_LEVELS
from .shower_distribution import SHOWER_DISTRIBUTION_PATH

__all__ = ["EventTreeWriter", "write_dl1", "open_dl1", "is_dl1_file", "layout_fingerprint", "FORMAT_NAME",
           "LAYOUT_ATTR", "PER_RUN_NODES", "IMAGE_STATISTICS_PATH"]

#: value of the root attribute ``iactx_format`` that marks our files
FORMAT_NAME = "iactx-event-tree"
#: root attribute holding :func:`layout_fingerprint` of the file
LAYOUT_ATTR = "iactx_layout_sha256"
_INDEX_ATTR = "iactx_stacked_index"
_INDEXES = {"tel_event": TEL_EVENT_LEVELS}
#: dimensions along which batches are appended
_APPENDABLE = ("event", "tel_event", "obs")
#: node of the image quality query's counts per run (:class:`iactx.image.image_statistics.ImageStatistics`)
IMAGE_STATISTICS_PATH = "/statistics/image_quality"
#: nodes with one row per run along ``obs``, which a batch or a file may lack
PER_RUN_NODES = (SHOWER_DISTRIBUTION_PATH, IMAGE_STATISTICS_PATH)
#: chunks hold at most this many bytes before compression ...
_CHUNK_BYTES = 2**20
#: ... and no more rows than the first batch has, or than this, whichever is more
_MIN_CHUNK_ROWS = 1024
#: rows along ``event`` or ``tel_event`` that later batches gather before they are written
FLUSH_ROWS = 4096
#: ... or bytes, whichever comes first
FLUSH_BYTES = 16 * 2**20


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


def _restore_strings(ds):
    """Character arrays back to the fixed-width unicode strings they were written from."""
    strings = {n: ds[n].astype(str) for n, v in ds.variables.items()
               if v.dtype == object and "char_dim_name" in v.encoding}
    coords = {n: v for n, v in strings.items() if n in ds.coords}
    return ds.assign_coords(coords).assign({n: v for n, v in strings.items() if n not in coords})


def _encoding(ds):
    """Compression and chunking along ``event`` / ``tel_event`` per variable.

    Chunks along the appendable dimension hold at most ``_CHUNK_BYTES`` of
    uncompressed data; small per-event variables get no more rows than the
    first batch (or ``_MIN_CHUNK_ROWS``), so small files stay small.
    """
    encoding = {}
    for name, var in ds.variables.items():
        if var.dtype.kind in "OUS":
            encoding[name] = {"dtype": "S1"}  # fixed-width characters: see the module's notes on strings
            continue
        if var.ndim == 0:
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


def layout_fingerprint(nodes):
    """sha256 of what the runs of one production share: layout, instrument and camera constants.

    Covers every node's variables (names, dimensions, dtypes, attributes),
    the attributes of every node but the root, and the values of every
    variable that is not along ``event`` or ``tel_event`` (``/instrument``,
    pixel positions, neighbours, reference pulses, ...). Two files with the
    same fingerprint can be concatenated along ``event`` / ``tel_event``.
    Nodes a run may lack (:data:`PER_RUN_NODES`, and nodes without
    variables that only hold them) are left out.

    Parameters
    ----------
    nodes : dict[str, xarray.Dataset]
        Flattened nodes by path, as written to the file.

    Returns
    -------
    str
        Hexadecimal digest.
    """
    digest = hashlib.sha256()
    for path in sorted(p for p in nodes if not _is_optional(p, nodes[p])):
        ds = nodes[path]
        if path != "/":
            digest.update(repr(sorted((k, str(v)) for k, v in ds.attrs.items())).encode())
        for name in sorted(ds.variables):
            var = ds.variables[name]
            attrs = sorted((k, str(v)) for k, v in var.attrs.items())
            digest.update(repr((path, name, var.dims, var.dtype.str, attrs)).encode())
            if not any(dim in _APPENDABLE for dim in var.dims):
                digest.update(np.ascontiguousarray(var.values).tobytes())
    return digest.hexdigest()


def _is_optional(path, ds):
    """Whether a batch or a file may lack this node: a per-run table or a node without variables."""
    return path in PER_RUN_NODES or (path != "/" and not ds.variables and not ds.attrs)


def _flat_nodes(tree):
    """Every node as a Dataset with stacked indexes flattened, by path."""
    nodes = {}
    for node in tree.subtree:
        ds = _flatten_index(node.to_dataset(inherit=False))
        if node.is_root:
            ds.attrs["iactx_format"] = FORMAT_NAME
        nodes[node.path] = ds
    return nodes


def _write_groups(path, nodes, encoding, *, mode):
    """Write Datasets as groups of a NetCDF-4 file, as ``DataTree.to_netcdf`` writes a tree's nodes.

    Through xarray's netCDF4 store directly: ``to_netcdf`` looks up the
    dask scheduler first, which imports ``dask.distributed`` (0.3 s and
    12 MB in a run that never uses it). The dimensions of
    :data:`_APPENDABLE` are made unlimited, so that later batches extend them.

    Parameters
    ----------
    path : path-like
        The file; ``mode="w"`` creates it, ``"a"`` adds groups to it.
    nodes : dict of str to xarray.Dataset
        Datasets by group path (``"/"`` for the root group), stacked
        indexes flattened.
    encoding : dict of str to dict
        Variable encodings by group path.
    """
    from xarray.backends import NetCDF4DataStore
    from xarray.backends.common import ArrayWriter
    from xarray.backends.netCDF4_ import NETCDF4_PYTHON_LOCK  # the lock every netCDF4 call of xarray takes

    root = NetCDF4DataStore.open(path, mode=mode, format="NETCDF4", lock=NETCDF4_PYTHON_LOCK)
    try:
        writer = ArrayWriter()  # numpy data are written at once, dask data at the sync
        for group, ds in nodes.items():
            store = root if group == "/" else root.get_child_store(group)
            ds.dump_to_store(store, writer=writer, encoding=encoding.get(group),
                             unlimited_dims=[d for d in _APPENDABLE if d in ds.dims])
        writer.sync()
    finally:
        root.close()


def _encoded_values(name, var, encoding):
    """The values of ``var`` as the file stores them under the encoding of its first batch.

    Native-endian numbers stored in their own dtype with no units are
    written as they are: CF encoding (about 50 us per variable, a batch
    has a few hundred) would return them unchanged. Booleans, times,
    strings and converted dtypes go through xarray's CF encoding.
    """
    encoding = {k: v for k, v in encoding.items() if k in ("units", "dtype", "calendar")}
    dtype = var.dtype
    if (dtype.kind in "iuf" and dtype.isnative and isinstance(var.data, np.ndarray)
            and np.dtype(encoding.get("dtype", dtype)) == dtype and "units" not in encoding
            and "calendar" not in encoding):
        return var.data
    from xarray.conventions import encode_cf_variable

    var = var.copy(deep=False)
    var.encoding = encoding
    return encode_cf_variable(var, name=name).values


class EventTreeWriter(AtomicOutput):
    """Write event trees batch by batch into one NetCDF-4 file, atomically.

    The first batch fixes the layout (groups, variables, static data such as
    ``/instrument``); later batches are appended along ``event`` and
    ``tel_event``. Nodes of :data:`PER_RUN_NODES` may come with any batch
    (a sim_telarray run's last one) and gain a row along ``obs`` per run.
    Everything goes to a temporary file beside ``path`` that is renamed on
    :meth:`close`; on an error or interruption inside a ``with`` block the
    temporary file is removed and no output exists.

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
        super().__init__(path, overwrite=overwrite)
        self._encoding = None
        self._variables = {}
        self._optional = {}
        self._pending = {}
        self._pending_rows = {}
        self._pending_bytes = 0
        self._extra_attrs = {}
        self.n_events = 0

    @writes
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
            nodes["/"].attrs[LAYOUT_ATTR] = layout_fingerprint(nodes)
            self._encoding = {}
            for path, ds in nodes.items():
                self._register(path, ds)
            _write_groups(self._tmp, nodes, self._encoding, mode="w")
        else:
            self._stage(self._add_new_nodes(nodes))
            if max(self._pending_rows.values(), default=0) >= FLUSH_ROWS or self._pending_bytes >= FLUSH_BYTES:
                self._flush()
        self.n_events += nodes["/"].sizes.get("event", 0)

    def _add_new_nodes(self, nodes):
        """Write the per-run nodes a later batch brings first; return the nodes still to append.

        Raises
        ------
        ValueError
            The batch lacks a node of the file, or brings one that is not
            optional (:func:`_is_optional`).
        """
        missing = sorted(p for p in self._encoding if p not in nodes and not self._optional[p])
        new = sorted(p for p in nodes if p not in self._encoding)
        required = [p for p in new if not _is_optional(p, nodes[p])]
        if missing or required:
            raise ValueError(f"{self.path}: batch has groups {sorted(nodes)}, the file has {sorted(self._encoding)}")
        for path in new:
            self._write_node(path, nodes.pop(path))
        return nodes

    def _write_node(self, path, ds):
        """Write a node new to the file."""
        self._register(path, ds)
        if ds.variables:
            _write_groups(self._tmp, {path: ds}, self._encoding, mode="a")

    @writes
    def add_node(self, path, ds):
        """Write a per-run node (one of :data:`PER_RUN_NODES`) known only at the end, e.g. statistics.

        Parameters
        ----------
        path : str
            Node path; the file must not have it yet.
        ds : xarray.Dataset
            One row per run along ``obs``.
        """
        if self._encoding is None or path in self._encoding or path not in PER_RUN_NODES:
            raise ValueError(f"{self.path}: cannot add the node {path} (write the events first; "
                             f"only new nodes of {PER_RUN_NODES})")
        self._flush()
        self._write_node(path, ds)

    def _register(self, path, ds):
        """Remember a node's encoding and variables, as written to the file."""
        self._encoding[path] = _encoding(ds)
        self._variables[path] = set(ds.variables)
        self._optional[path] = _is_optional(path, ds)

    def _stage(self, nodes):
        """Encode the appendable variables of a batch and keep them for the next flush."""
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
                    values = _encoded_values(name, var, self._encoding[path].get(name, {}))
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

    @writes
    def _finish(self):
        """Write the staged batches and the root attributes."""
        if self._encoding is None:
            raise ValueError(f"nothing was written to {self.path}: no events")
        self._flush()
        if self._extra_attrs:
            import netCDF4

            with netCDF4.Dataset(self._tmp, "a") as f:
                f.setncatts(self._extra_attrs)


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
            if f.read(len(HDF5_SIGNATURE)) != HDF5_SIGNATURE:
                return False
        import h5py

        with h5py.File(path, "r") as h5:
            value = h5.attrs.get("iactx_format")
        return (value.decode() if isinstance(value, bytes) else value) == FORMAT_NAME
    except OSError:
        return False


def _open_one(path, chunks):
    from .ctapipe_reader import is_ctapipe_file, read_ctapipe_dl1

    path = check_input_file(path)
    if is_ctapipe_file(path):
        tree = read_ctapipe_dl1(path)
        return tree if chunks is None else tree.chunk(chunks)
    if not is_dl1_file(path):
        raise ValueError(f"{path} is not an iactx event-tree file (NetCDF-4 with iactx_format); "
                         f"it starts with {first_bytes(path)}")
    try:
        tree = xr.open_datatree(path, engine="netcdf4", chunks=chunks)
        restored = {node.path: _restore_index(_restore_strings(node.to_dataset(inherit=False)))
                    for node in tree.subtree}
    except (OSError, RuntimeError) as err:  # netCDF-C says only "NetCDF: HDF error"
        raise ValueError(f"{path} is corrupt: the NetCDF-4 library cannot read it ({err})") from None
    for name in ("iactx_format", LAYOUT_ATTR):
        restored["/"].attrs.pop(name, None)
    return xr.DataTree.from_dict(restored)


def open_dl1(path_or_paths, *, chunks=None):
    """Open event-tree files written by :func:`write_dl1` or ``iactx process``.

    A ctapipe DL1/DL2 HDF5 file (``ctapipe-process`` output, or iactx's
    ``--output-format ctapipe``) is recognised by its content and read into
    an event tree too (:func:`iactx.io.ctapipe_reader.read_ctapipe_dl1`; one
    file at a time).

    Parameters
    ----------
    path_or_paths : str, Path or list of them
        One file; or several runs to concatenate along ``event`` /
        ``tel_event``: a list, a glob pattern (``"out/*.dl1.nc"``) or a
        directory (its ``*.nc`` and ``*.h5`` files).
    chunks : dict, optional
        Dask-backed (lazy) data instead of loaded data. For one file passed
        to :func:`xarray.open_datatree`, e.g. ``{"tel_event": 1000}``; for
        several files, rows per chunk along ``event`` / ``tel_event``
        (``{}``: one chunk per file). Several files open in a few
        milliseconds each: only their keys are read
        (:func:`iactx.io.dl1_collection.open_collection`).

    Returns
    -------
    xarray.DataTree
        The tree as it was written: values, dtypes, coordinates, attributes
        and the stacked ``event`` / ``tel_event`` indexes. Merged runs keep
        the root attributes that all files share.

    Raises
    ------
    FileNotFoundError, ValueError
        Missing or foreign files; runs that share keys or differ in layout
        or subarray (the message names the files).

    Examples
    --------
    >>> tree = iactx.open_dl1("production/*.dl1.nc", chunks={})   # doctest: +SKIP
    >>> tree["LSTCam"].ds.hillas_intensity.mean().compute()       # doctest: +SKIP
    """
    from .dl1_collection import open_collection
    from .paths import resolve_paths

    paths = resolve_paths(path_or_paths)
    if not paths:
        raise ValueError("open_dl1 needs at least one file")
    if len(paths) == 1:
        return _open_one(paths[0], chunks)
    return open_collection(paths, chunks=chunks, lazy=chunks is not None)
