"""The one bridge from labelled data to kernels.

Every labelled-layer function calls :func:`apply_kernel`, which wraps
:func:`xarray.apply_ufunc` with ``dask="parallelized"`` so that the same
code runs on numpy- and dask-backed data, chunked along ``tel_event``.
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
    direct = _numpy_variables_call(func, args, input_core_dims, output_core_dims, kwargs or {})
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


def _numpy_variables_call(func, args, input_core_dims, output_core_dims, kwargs):
    """``func`` called on the arrays of numpy-backed Variables laid out as ``(tel_event, *core)``, or None.

    What apply_ufunc would do for such inputs, without its broadcasting
    machinery (a tenth of a millisecond per call, the cost of a kernel on a
    few telescope events): the outputs become Variables on
    ``(tel_event, *core)``. Any other input (DataArrays, dask arrays, other
    layouts) returns None and goes through apply_ufunc.
    """
    loop = ("tel_event",)
    if not args or not all(isinstance(a, xr.Variable) and isinstance(a.data, np.ndarray)
                           and a.dims == (*loop, *core) for a, core in zip(args, input_core_dims)):
        return None
    if len({a.shape[0] for a in args}) != 1:
        return None  # apply_ufunc raises the error naming the sizes
    n = args[0].shape[0]
    result = func(*(a.data for a in args), **kwargs)
    outputs = result if len(output_core_dims) > 1 else (result,)
    variables = []
    for out, core in zip(outputs, output_core_dims, strict=True):
        out = np.asarray(out)
        if out.ndim != 1 + len(core) or out.shape[0] != n:
            raise ValueError(f"kernel output of shape {out.shape} does not match its dimensions {(*loop, *core)}")
        variables.append(xr.Variable((*loop, *core), out))
    return tuple(variables) if len(output_core_dims) > 1 else variables[0]
