"""The one bridge from labelled data to kernels.

Every labelled-layer function calls :func:`apply_kernel`, which wraps
:func:`xarray.apply_ufunc` with ``dask="parallelized"`` so that the same
code runs on numpy- and dask-backed data, chunked along ``tel_event``.
"""

from __future__ import annotations

import xarray as xr

__all__ = ["apply_kernel"]


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
