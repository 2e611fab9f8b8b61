"""The one bridge from labelled data to kernels.

Every labelled-layer function calls :func:`apply_kernel`, which wraps
:func:`xarray.apply_ufunc` with ``dask="parallelized"`` so that the same
code runs on numpy- and dask-backed data, chunked along ``tel_event``.
Numpy-backed arguments of one camera group, where apply_ufunc's alignment
cannot change anything, are handed to the kernel directly, with the same
result.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["apply_kernel", "in_order"]


def apply_kernel(func, *args, input_core_dims, output_core_dims, output_dtypes,
                 output_sizes=None, kwargs=None):
    """Apply a batched kernel wrapper over the ``tel_event`` dimension.

    Parameters
    ----------
    func : callable
        Takes plain arrays whose first axis is ``tel_event`` followed by the
        core dimensions, returns one array or a tuple of arrays.
    *args : xarray.DataArray or array_like
        Inputs; DataArrays are aligned and broadcast by xarray.
    input_core_dims, output_core_dims : list of list of str
        Core dimensions of each input and output (``tel_event`` excluded).
    output_dtypes : list of dtype
        dtype of each output (needed for dask).
    output_sizes : dict, optional
        Sizes of output core dimensions that do not appear in the inputs.
    kwargs : dict, optional
        Plain (non-labelled) keyword arguments for ``func``: camera constants
        and options.

    Returns
    -------
    xarray.DataArray or tuple of xarray.DataArray
    """
    direct = _direct_call(func, args, input_core_dims, output_core_dims, kwargs or {})
    if direct is not None:
        return direct
    return xr.apply_ufunc(
        func, *_without_needless_alignment(args),
        input_core_dims=input_core_dims,
        output_core_dims=output_core_dims,
        output_dtypes=output_dtypes,
        dask="parallelized",
        dask_gufunc_kwargs={"output_sizes": output_sizes or {}, "allow_rechunk": False},
        kwargs=kwargs or {},
        keep_attrs=False,
    )


def in_order(variable, dims):
    """``variable.transpose(*dims)``, or ``variable`` itself when its dimensions are already ``dims``.

    A no-op transpose still costs a few microseconds (a new Variable); the
    labelled layer puts its inputs in kernel order several times per call.
    """
    return variable if variable.dims == tuple(dims) else variable.transpose(*dims)


def _without_needless_alignment(args):
    """``args`` with each DataArray that shares every coordinate object of the first one given as its Variable.

    apply_ufunc aligns all DataArray arguments (about 0.1 ms each for a
    ``tel_event`` MultiIndex, whatever the size). Those whose coordinates are
    the very objects the first DataArray carries (variables of one camera
    group) cannot change that alignment nor add coordinates to the output, so
    their Variables give the same result.
    """
    arrays = [a for a in args if isinstance(a, xr.DataArray)]
    if len(arrays) < 2:
        return args
    reference = arrays[0].coords.variables
    return [a.variable if isinstance(a, xr.DataArray) and a is not arrays[0]
            and all(reference.get(name) is var for name, var in a.coords.variables.items()) else a
            for a in args]


def _direct_call(func, args, input_core_dims, output_core_dims, kwargs):
    """``func`` called on the arrays of numpy-backed arguments, without apply_ufunc's machinery, or None.

    apply_ufunc aligns and broadcasts its arguments and merges their
    coordinates (about 1.5 ms per call on a camera group, whatever the
    number of events: more than the kernels take on a batch of a few dozen
    telescope events). Where that cannot change anything, this does the
    same directly: every argument a numpy-backed Variable or DataArray on
    ``tel_event`` and its core dimensions (or on its core dimensions only,
    passed as they are, as apply_ufunc passes them), and every DataArray's
    coordinates the very objects of the first DataArray's. The
    outputs are Variables on ``(tel_event, *core)`` when no argument is a
    DataArray, else DataArrays with apply_ufunc's name and coordinates (the
    first DataArray's, without those on dropped core dimensions, attributes
    dropped). Any other call returns None and goes through apply_ufunc.
    """
    loop = "tel_event"
    if not args or not all(isinstance(a, (xr.Variable, xr.DataArray)) and isinstance(a.data, np.ndarray)
                           for a in args):
        return None
    arrays = [a for a in args if isinstance(a, xr.DataArray)]
    if arrays and not all(_coords_within(a, arrays[0]) for a in arrays[1:]):
        return None
    inputs, lengths = [], set()
    for arg, core in zip(args, input_core_dims, strict=True):
        variable = arg.variable if isinstance(arg, xr.DataArray) else arg
        if set(variable.dims) == {loop, *core} and len(variable.dims) == 1 + len(core):
            inputs.append(in_order(variable, (loop, *core)).data)
            lengths.add(variable.shape[variable.dims.index(loop)])
        elif set(variable.dims) == set(core) and len(variable.dims) == len(core):
            inputs.append(in_order(variable, core).data)  # as apply_ufunc: broadcast by numpy, no leading axis
        else:
            return None
    if len(lengths) != 1:
        return None  # no telescope-event axis, or apply_ufunc raises the error naming the sizes
    (n,) = lengths
    result = func(*inputs, **kwargs)
    outputs = result if len(output_core_dims) > 1 else (result,)
    input_core = {dim for core in input_core_dims for dim in core}
    labelled = []
    for out, core in zip(outputs, output_core_dims, strict=True):
        out = np.asarray(out)
        if out.ndim != 1 + len(core) or out.shape[0] != n:
            raise ValueError(f"kernel output of shape {out.shape} does not match its dimensions {(loop, *core)}")
        variable = xr.Variable((loop, *core), out)
        labelled.append(_like_apply_ufunc(variable, arrays, input_core - set(core)) if arrays else variable)
    return tuple(labelled) if len(output_core_dims) > 1 else labelled[0]


def _coords_within(array, reference):
    """Whether every coordinate of ``array`` is the very Variable ``reference`` has under that name."""
    variables = reference.coords.variables
    return all(variables.get(name) is var for name, var in array.coords.variables.items())


def _like_apply_ufunc(variable, arrays, dropped_dims):
    """``variable`` as the DataArray apply_ufunc (``keep_attrs=False``) makes of it for ``arrays``.

    Its coordinates are those of ``arrays[0]`` not on ``dropped_dims``,
    without attributes, with their indexes; its name is the one name the
    arrays share, if they share one.
    """
    reference = arrays[0]
    coords = {name: var._replace(attrs={}) for name, var in reference.coords.variables.items()  # noqa: SLF001
              if dropped_dims.isdisjoint(var.dims)}
    indexes = {name: index for name, index in reference.xindexes.items() if name in coords}
    names = {a.name for a in arrays}
    name = names.pop() if len(names) == 1 else None
    return xr.DataArray(variable, coords, name=name, indexes=indexes, fastpath=True)
