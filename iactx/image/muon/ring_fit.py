"""Muon ring fits on camera groups (labelled layer).

:func:`fit_muon_rings` fits a circle to every selected telescope event of a
camera group in the telescope frame and returns ctapipe's ``muonring_*``
columns. The kernels are in :mod:`iactx.image.muon.ring_fit_kernels`.
"""

from __future__ import annotations

import numpy as np

from ..._apply import apply_kernel
from ._geometry import labelled, per_tel_event, telescope_frame_table
from .ring_fit_kernels import FIT_METHODS, N_RING_OUTPUTS, ring_fit_kernel

__all__ = ["fit_muon_rings", "RING_VARIABLES", "FIT_METHODS"]

#: output variables: (long name, units)
RING_VARIABLES = {
    "muonring_center_fov_lon": ("centre (fov_lon) of the fitted muon ring", "deg"),
    "muonring_center_fov_lat": ("centre (fov_lat) of the fitted muon ring", "deg"),
    "muonring_radius": ("radius of the fitted muon ring", "deg"),
    "muonring_center_fov_lon_err": ("uncertainty of the ring centre fov_lon", "deg"),
    "muonring_center_fov_lat_err": ("uncertainty of the ring centre fov_lat", "deg"),
    "muonring_radius_err": ("uncertainty of the ring radius", "deg"),
    "muonring_center_phi": ("position angle of the ring centre in the telescope frame", "deg"),
    "muonring_center_distance": ("distance of the ring centre from the camera centre", "deg"),
}


def _ring_fit_block(image, mask, selected, geom_index, *, pix_x, pix_y, max_fov, method, n_iterations,
                    refit_width):
    n = image.shape[0]
    params = np.empty((n, N_RING_OUTPUTS), np.float64)
    ring_mask = np.empty(image.shape, np.bool_)
    if image.dtype not in (np.float32, np.float64):
        image = image.astype(np.float64)
    ring_fit_kernel(np.ascontiguousarray(image), np.ascontiguousarray(mask, dtype=np.bool_),
                    np.ascontiguousarray(selected, dtype=np.bool_), np.ascontiguousarray(geom_index, np.int64),
                    pix_x, pix_y, max_fov, method, n_iterations, refit_width, params, ring_mask)
    return params, ring_mask


def fit_muon_rings(ds, *, method="kundu_chaudhuri_taubin", mask=None, selected=None, n_iterations=3,
                   refit_width=0.4, table=None):
    """Fit a muon ring to every selected image of a camera group.

    Parameters
    ----------
    ds : xarray.Dataset
        Camera group with ``image`` (tel_event, pixel), ``focal_length`` (tel_event)
        and, unless ``mask`` is given, ``image_mask``.
    method : {"kundu_chaudhuri", "taubin", "kundu_chaudhuri_taubin"}
        Circle fit (see :mod:`~iactx.image.muon.ring_fit_kernels`).
    mask : xarray.DataArray (tel_event, pixel) of bool, optional
        Pixels of the first fit; default ``ds.image_mask``.
    selected : xarray.DataArray (tel_event,) of bool, optional
        Telescope events to fit; the others get NaN. Default all.
    n_iterations : int
        Fits per image: the first on ``mask``, each further one on the pixels
        within ``refit_width`` ring radii of the previous ring.
    refit_width : float
        Relative half-width of the band of pixels used by the refits.
    table : TelescopeFrameTable, optional
        Precomputed telescope-frame pixel table (internal).

    Returns
    -------
    rings : xarray.Dataset
        ``muonring_*`` variables (tel_event), in degrees.
    ring_mask : xarray.DataArray (tel_event, pixel) of bool
        Pixels within ``refit_width`` radii of the final ring.

    Examples
    --------
    >>> rings, near_ring = fit_muon_rings(cam)  # doctest: +SKIP
    >>> rings.muonring_radius  # doctest: +SKIP
    """
    try:
        code = FIT_METHODS[str(method).lower()]
    except KeyError:
        raise ValueError(f"unknown ring fit method {method!r}; choose one of {sorted(FIT_METHODS)}") from None
    if int(n_iterations) < 1:
        raise ValueError(f"n_iterations must be at least 1, got {n_iterations}")
    if "image" not in ds:
        raise ValueError("the camera group has no 'image'; calibrate it first (cam.iact.calibrate())")
    if mask is None:
        if "image_mask" not in ds:
            raise ValueError("the camera group has no 'image_mask'; clean it first (cam.iact.clean()) "
                             "or pass mask=")
        mask = ds["image_mask"]
    table = telescope_frame_table(ds) if table is None else table
    if selected is None:
        selected = np.ones(ds.sizes["tel_event"], bool)
    params, ring_mask = apply_kernel(
        _ring_fit_block, ds["image"].variable, per_tel_event(ds, mask, "mask"),
        per_tel_event(ds, selected, "selected"), per_tel_event(ds, table.index, "geom_index"),
        input_core_dims=[["pixel"], ["pixel"], [], []],
        output_core_dims=[["muonring_output"], ["pixel"]],
        output_dtypes=[np.float64, np.bool_],
        output_sizes={"muonring_output": N_RING_OUTPUTS},
        kwargs={"pix_x": table.pix_lon, "pix_y": table.pix_lat, "max_fov": table.max_fov, "method": code,
                "n_iterations": int(n_iterations), "refit_width": float(refit_width)},
    )
    radius, lon, lat, radius_err, lon_err, lat_err = (params.isel(muonring_output=k)
                                                      for k in range(N_RING_OUTPUTS))
    values = {
        "muonring_center_fov_lon": lon,
        "muonring_center_fov_lat": lat,
        "muonring_radius": radius,
        "muonring_center_fov_lon_err": lon_err,
        "muonring_center_fov_lat_err": lat_err,
        "muonring_radius_err": radius_err,
        "muonring_center_phi": np.rad2deg(np.arctan2(lat, lon)),
        "muonring_center_distance": np.hypot(lon, lat),
    }
    rings = labelled(ds, {name: values[name] for name in RING_VARIABLES},
                     {name: {"long_name": long_name, "units": units}
                      for name, (long_name, units) in RING_VARIABLES.items()})
    rings.attrs["muonring_fit_method"] = str(method).lower()
    ring_mask = labelled(ds, {"muon_ring_mask": ring_mask}, {"muon_ring_mask": {
        "long_name": f"pixels within {refit_width} ring radii of the fitted muon ring"}})["muon_ring_mask"]
    return rings, ring_mask
