"""Telescope-frame pixel tables of a camera group, shared by the muon functions.

The muon analysis works in the telescope frame (degrees). Telescope events
with the same focal length share one table row, so a batch of thousands of
telescope events of one camera type needs one or a few rows, not one per
event. The conversion is :func:`iactx.coordinates.projections.camera_to_telescope`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...coordinates.projections import camera_to_telescope

__all__ = ["TelescopeFrameTable", "telescope_frame_table", "per_tel_event", "coords_for", "labelled"]


@dataclass
class TelescopeFrameTable:
    """Telescope-frame pixel coordinates per distinct focal length.

    Attributes
    ----------
    index : (n_tel_events,) int64
        Row of each telescope event.
    focal_length : (n_rows,) float
        Focal length of each row [m].
    pix_lon, pix_lat : (n_rows, n_pixels) float
        Pixel coordinates fov_lon, fov_lat [deg].
    pixel_width : (n_rows, n_pixels) float
        Angular pixel width [deg] (in-circle diameter for hexagons).
    camera_radius : (n_rows,) float
        Mean distance of the border pixels from the mean pixel position [deg].
    max_fov : (n_rows,) float
        Twice the largest fov_lon of any pixel [deg], the bound of the ring fits.
    pix_area : float
        Area of the first pixel [m2].
    pix_type : str
    """

    index: np.ndarray
    focal_length: np.ndarray
    pix_lon: np.ndarray
    pix_lat: np.ndarray
    pixel_width: np.ndarray
    camera_radius: np.ndarray
    max_fov: np.ndarray
    pix_area: float
    pix_type: str


def telescope_frame_table(ds):
    """The :class:`TelescopeFrameTable` of a camera group.

    Parameters
    ----------
    ds : xarray.Dataset
        Camera group with ``pix_x``, ``pix_y``, ``pix_area``, ``neighbors`` and
        ``focal_length`` (tel_event) [m].

    Raises
    ------
    ValueError
        Without ``focal_length``, or with a non-positive or non-finite one.
    """
    from ...instrument import CameraGeometry

    if "focal_length" not in ds:
        raise ValueError("the camera group has no 'focal_length' (tel_event) variable; the muon "
                         "analysis needs it for the telescope frame")
    focal = np.asarray(ds["focal_length"].values, dtype=np.float64)
    if focal.size and not np.all(np.isfinite(focal) & (focal > 0)):
        raise ValueError("focal_length must be finite and positive for every telescope event")
    unique, index = np.unique(focal, return_inverse=True)
    if unique.size == 0:
        unique = np.array([1.0])
    geometry = CameraGeometry.from_dataset(ds)
    rotation = float(ds.attrs.get("cam_rotation", 0.0))
    pix_lon, pix_lat = camera_to_telescope(geometry.pix_x[None, :], geometry.pix_y[None, :], unique[:, None],
                                           rotation=rotation)
    pixel_width = np.rad2deg(geometry.pixel_width[None, :] / unique[:, None])
    border = geometry.border_pixel_mask(1)
    if not border.any():
        border = np.ones(geometry.n_pixels, bool)
    dx = pix_lon[:, border] - pix_lon.mean(axis=1, keepdims=True)
    dy = pix_lat[:, border] - pix_lat.mean(axis=1, keepdims=True)
    camera_radius = np.sqrt(dx ** 2 + dy ** 2).mean(axis=1)
    return TelescopeFrameTable(
        index=index.astype(np.int64).reshape(-1),
        focal_length=unique,
        pix_lon=np.ascontiguousarray(pix_lon),
        pix_lat=np.ascontiguousarray(pix_lat),
        pixel_width=np.ascontiguousarray(pixel_width),
        camera_radius=camera_radius,
        max_fov=2.0 * pix_lon.max(axis=1),
        pix_area=float(geometry.pix_area[0]) if geometry.n_pixels else np.nan,
        pix_type=geometry.pix_type,
    )


def per_tel_event(ds, value, name):
    """An input as a bare ``xarray.Variable`` (no coordinates) on the camera group's dimensions.

    The muon functions pass Variables to :func:`~iactx._apply.apply_kernel` and
    attach the coordinates once at the end: aligning the ``tel_event``
    MultiIndex of every intermediate result would cost more than the kernels.
    DataArrays must therefore carry the group's own ``tel_event`` index (or none).

    Parameters
    ----------
    ds : xarray.Dataset
        Camera group.
    value : scalar, array_like of shape (n_tel_events,), xarray.Variable or xarray.DataArray
    name : str
        Name used in error messages.

    Returns
    -------
    xarray.Variable
        Chunked like ``ds.image`` along ``tel_event`` when that is dask-backed.
    """
    import xarray as xr

    n = ds.sizes["tel_event"]
    if isinstance(value, xr.DataArray):
        index = value.indexes.get("tel_event")
        own = ds.indexes.get("tel_event")
        if index is not None and own is not None and index is not own and not index.equals(own):
            raise ValueError(f"{name}: its tel_event index differs from the camera group's; "
                             "select or reorder it like the group first")
        var = value.variable
    elif isinstance(value, xr.Variable):
        var = value
    else:
        arr = np.asarray(value)
        if arr.ndim == 0:
            arr = np.full(n, arr.item())
        if arr.shape != (n,):
            raise ValueError(f"{name}: expected a scalar or one value per telescope event ({n},), "
                             f"got shape {arr.shape}")
        var = xr.Variable(("tel_event",), arr)
    image = ds["image"] if "image" in ds else None
    if image is not None and image.chunks is not None and var.chunks is None and "tel_event" in var.dims:
        var = var.chunk({"tel_event": image.chunksizes["tel_event"]})
    return var


def coords_for(ds, dims):
    """The coordinates of ``ds`` that live on ``dims`` (the tel_event MultiIndex, pixel, ...)."""
    dims = set(dims)
    sub = ds.drop_vars(list(ds.data_vars))
    return sub.drop_vars([k for k, v in sub.coords.items() if not set(v.dims) <= dims]).coords


def labelled(ds, variables, attrs=None):
    """A Dataset of ``{name: Variable}`` with the coordinates of ``ds`` on their dimensions.

    ``attrs`` maps names to variable attributes.
    """
    import xarray as xr

    dims = set().union(*(v.dims for v in variables.values())) if variables else set()
    out = {}
    for name, var in variables.items():
        var = var.copy(deep=False)
        var.attrs = dict((attrs or {}).get(name, {}))
        out[name] = var
    return xr.Dataset(out, coords=coords_for(ds, dims))
