"""Event trees on disk: NetCDF-4/HDF5 files written with h5netcdf.

One HDF5 group per tree node; the stacked ``event`` and ``tel_event``
indexes are stored as plain coordinate variables and rebuilt on reading.
Files stay readable by plain xarray, netCDF4, h5py and ncdump.
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

__all__ = ["write_dl1", "open_dl1", "is_dl1_file", "FORMAT_NAME"]

#: value of the root attribute ``iactx_format`` that marks our files
FORMAT_NAME = "iactx-event-tree"
_INDEX_ATTR = "iactx_stacked_index"
_INDEXES = {"tel_event": TEL_EVENT_LEVELS}
#: aim for compressed chunks of roughly this many bytes before compression
_CHUNK_BYTES = 4 * 2**20
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


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
    """Compression and chunking along ``tel_event`` (or ``event``) per variable."""
    encoding = {}
    for name, var in ds.variables.items():
        if var.dtype.kind in "OUS" or var.ndim == 0:
            continue
        enc = {"zlib": True, "complevel": 4, "shuffle": True}
        if var.dtype.kind == "M":
            enc = {"units": "nanoseconds since 1970-01-01", "dtype": "int64", **enc}
        lead = var.dims[0]
        if lead in ("event", "tel_event") and var.shape[0] > 0 and all(s > 0 for s in var.shape):
            row_bytes = max(int(np.prod(var.shape[1:])) * var.dtype.itemsize, 1)
            enc["chunksizes"] = (int(np.clip(_CHUNK_BYTES // row_bytes, 1, var.shape[0])), *var.shape[1:])
        elif any(s == 0 for s in var.shape):
            enc = {k: v for k, v in enc.items() if k in ("units", "dtype")}
        encoding[name] = enc
    return encoding


def write_dl1(tree, path, *, overwrite=False):
    """Write an event tree to a NetCDF-4 file, atomically.

    The tree is written to a temporary file beside ``path`` and renamed at
    the end, so an interrupted write leaves no partial output.

    Parameters
    ----------
    tree : xarray.DataTree
        Event tree (any data level).
    path : str or Path
        Output file, conventionally ``*.dl1.nc`` (``.h5`` works as well).
    overwrite : bool
        Replace an existing file.

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is false.
    """
    path = Path(os.fspath(path)).expanduser()
    if path.exists() and not overwrite:
        raise FileExistsError(f"output file exists: {path} (pass overwrite=True to replace it)")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"output directory does not exist: {path.parent}")
    nodes, encoding = {}, {}
    for node in tree.subtree:
        ds = _flatten_index(node.to_dataset(inherit=False))
        if node.is_root:
            ds.attrs["iactx_format"] = FORMAT_NAME
        nodes[node.path] = ds
        encoding[node.path] = _encoding(ds)
    flat = xr.DataTree.from_dict(nodes)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        flat.to_netcdf(tmp, engine="h5netcdf", encoding=encoding, invalid_netcdf=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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
