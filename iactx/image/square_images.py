"""Camera images on a square grid and back, e.g. as input of convolutional networks.

:func:`to_square_image` turns any variable along ``pixel`` of a camera
group (``image``, ``peak_time``, ``image_mask``, even ``waveform``) into an
array along ``(row, col)``; :func:`from_square_image` reads it back.
Hexagonal cameras (LSTCam, NectarCam, FlashCam, DigiCam, HESS-1U, ...) are
shown on their skewed axial grid, square-pixel cameras (CHEC, ASTRICam,
SCTCam) on their own grid; how the cells are found is described in
:mod:`iactx.image.square_image_kernels`. Each pixel has its own cell, so
``from_square_image(to_square_image(cam), cam)`` gives back every value
exactly. Both work unchanged on numpy- and dask-backed data (chunked along
``tel_event``).

Examples
--------
>>> square = to_square_image(cam, "image")                   # doctest: +SKIP
>>> square.dims                                              # doctest: +SKIP
('tel_event', 'row', 'col')
>>> square.sel(event=42, tel=3).plot.imshow(yincrease=False)  # doctest: +SKIP
>>> same = from_square_image(square, cam)                    # doctest: +SKIP
>>> bool((same == cam.image).all())                          # doctest: +SKIP
True
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .._apply import apply_kernel
from ..instrument import CameraGeometry
from . import square_image_kernels as K

__all__ = ["camera_square_grid", "from_square_image", "to_square_image"]


def camera_square_grid(camera):
    """The square grid of a camera's pixels.

    Parameters
    ----------
    camera : xarray.Dataset, xarray.DataArray or CameraGeometry
        A camera group, a variable along ``pixel`` of one (with its
        ``pix_x``, ``pix_y`` [m] coordinates), or a camera geometry.

    Returns
    -------
    iactx.image.square_image_kernels.SquareGrid

    Raises
    ------
    ValueError
        When the pixel positions are missing or not on a regular grid.
    """
    if isinstance(camera, CameraGeometry):
        return K.square_grid(camera.pix_x, camera.pix_y)
    missing = [name for name in ("pix_x", "pix_y") if name not in camera.coords]
    if missing:
        raise ValueError(f"no pixel positions: coordinates {missing} along 'pixel' are missing")
    return K.square_grid(camera["pix_x"].values, camera["pix_y"].values)


def _default_fill(dtype):
    """NaN for floating-point data, zero (False) for the rest."""
    return np.nan if np.issubdtype(dtype, np.inexact) else np.zeros((), dtype)[()]


def to_square_image(data, variable="image", *, fill_value=None):
    """Place the pixels of every telescope event on a square grid.

    Parameters
    ----------
    data : xarray.Dataset or xarray.DataArray
        A camera group, or a variable with a ``pixel`` dimension and the
        ``pix_x``, ``pix_y`` [m] coordinates (dims ``(tel_event, pixel)``,
        or more, e.g. ``(tel_event, pixel, sample)``).
    variable : str
        The variable of a camera group to convert; ignored for a DataArray.
    fill_value : scalar, optional
        Value of the cells without a pixel; default NaN for floating-point
        data, 0 (False) otherwise. The result has the dtype that holds both
        the data and ``fill_value`` (float64 for integers filled with NaN).

    Returns
    -------
    xarray.DataArray
        Dims ``(tel_event, row, col)`` (other dims of the input before
        ``row, col``), the input's name and attributes (units) plus
        ``grid_type`` (``"hexagonal"`` or ``"square"``). Coordinates:
        ``row``, ``col`` (cell indices, rows from the top of the camera), the
        cell centres ``x``, ``y`` [m] on ``(row, col)``, ``pix_id``, the pixel
        id held by each cell (-1 for none), and the input's ``tel_event``
        coordinates.

    Raises
    ------
    KeyError
        When the camera group has no ``variable``.
    ValueError
        When the data has no ``pixel`` dimension or no pixel positions, or
        the pixels are not on a regular grid.

    See Also
    --------
    from_square_image : the way back.
    iactx.image.square_image_kernels.square_grid : how the cells are found.

    Examples
    --------
    >>> square = to_square_image(cam)          # doctest: +SKIP
    >>> square.sizes                           # LSTCam  # doctest: +SKIP
    Frozen({'tel_event': 4, 'row': 55, 'col': 55})
    >>> square.where(square.pix_id >= 0).mean(["row", "col"])   # doctest: +SKIP
    """
    if isinstance(data, xr.Dataset):
        if variable not in data:
            raise KeyError(f"camera group has no variable {variable!r}")
        data = data[variable]
    if "pixel" not in data.dims:
        raise ValueError(f"{data.name or 'data'} has dims {data.dims}, no 'pixel' dimension to place on a grid")
    grid = camera_square_grid(data)
    fill = _default_fill(data.dtype) if fill_value is None else fill_value
    dtype = np.result_type(data.dtype, fill)
    n_rows, n_cols = grid.shape
    square = apply_kernel(
        K.scatter_to_square, data, input_core_dims=[["pixel"]], output_core_dims=[["row", "col"]],
        output_dtypes=[dtype], output_sizes={"row": n_rows, "col": n_cols},
        kwargs={"row": grid.row, "col": grid.col, "shape": grid.shape, "fill_value": fill, "dtype": dtype},
    )
    pix_id = np.where(grid.pix_index >= 0, data["pixel"].values[grid.pix_index], -1)
    return square.rename(data.name).assign_coords(
        row=("row", np.arange(n_rows), {"long_name": "cell row, from the top of the camera"}),
        col=("col", np.arange(n_cols), {"long_name": "cell column"}),
        x=(("row", "col"), grid.cell_x, {"units": "m", "long_name": "cell centre x in the camera frame"}),
        y=(("row", "col"), grid.cell_y, {"units": "m", "long_name": "cell centre y in the camera frame"}),
        pix_id=(("row", "col"), pix_id.astype(np.int32), {"long_name": "pixel id in each cell, -1 for none"}),
    ).assign_attrs(data.attrs, grid_type=grid.grid_type)


def from_square_image(square, geometry):
    """Read the pixel values of every telescope event back from a square grid.

    Parameters
    ----------
    square : xarray.DataArray
        Dims ``(tel_event, row, col)`` (or more), as made by
        :func:`to_square_image` for the same camera.
    geometry : xarray.Dataset or CameraGeometry
        The camera group (or its geometry) whose grid ``square`` is on.

    Returns
    -------
    xarray.DataArray
        Dims ``(tel_event, pixel)`` (other dims of the input before
        ``pixel``), dtype of ``square``, with the camera's pixel
        coordinates (``pixel``, ``pix_x``, ``pix_y`` [m], ``pix_area`` [m2])
        and the input's name and attributes (units) without ``grid_type``.

    Raises
    ------
    ValueError
        When ``square`` has no ``row`` and ``col`` dims or their sizes are not
        those of the camera's grid.

    See Also
    --------
    to_square_image

    Examples
    --------
    >>> image = from_square_image(to_square_image(cam), cam)   # doctest: +SKIP
    >>> cam = cam.assign(image=image)                          # doctest: +SKIP
    """
    geom = geometry if isinstance(geometry, CameraGeometry) else CameraGeometry.from_dataset(geometry)
    grid = camera_square_grid(geom)
    shape = tuple(square.sizes.get(dim) for dim in ("row", "col"))
    if shape != grid.shape:
        raise ValueError(f"square image has (row, col) sizes {shape}, the grid of camera {geom.name} "
                         f"{grid.shape}")
    pixels = apply_kernel(
        K.gather_from_square, square, input_core_dims=[["row", "col"]], output_core_dims=[["pixel"]],
        output_dtypes=[square.dtype], output_sizes={"pixel": geom.n_pixels},
        kwargs={"row": grid.row, "col": grid.col},
    )
    coords = {name: coord for name, coord in geom.to_coords()[0].items() if coord[0] == "pixel"}
    attrs = {key: value for key, value in square.attrs.items() if key != "grid_type"}
    return pixels.rename(square.name).assign_coords(coords).assign_attrs(attrs)
