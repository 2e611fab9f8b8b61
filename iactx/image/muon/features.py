"""Muon ring parameters on camera groups (labelled layer).

:func:`muon_ring_parameters` gives ctapipe's ``muonparameters_*`` columns
for fitted rings; :func:`ring_containment` is the analytic fraction of a
ring inside a circular camera. Definitions are in
:mod:`iactx.image.muon.features_kernels`.
"""

from __future__ import annotations

import numpy as np

from ..._apply import apply_kernel
from ._geometry import labelled, per_tel_event, telescope_frame_table
from .features_kernels import PARAMETER_NAMES, ring_containment_kernel, ring_parameters_kernel

__all__ = ["muon_ring_parameters", "ring_containment", "PARAMETER_VARIABLES"]

#: output variables: (long name, units)
PARAMETER_VARIABLES = {
    "muonparameters_containment": ("fraction of the ring inside the camera", ""),
    "muonparameters_completeness": ("fraction of azimuthal ring segments above the charge threshold", ""),
    "muonparameters_intensity_ratio": ("charge in the ring band over the charge of all cleaned pixels", ""),
    "muonparameters_mean_squared_error": ("charge-weighted mean squared distance of cleaned pixels "
                                          "from the ring", "deg2"),
    "muonparameters_ring_intensity": ("charge of all pixels in the ring integration band", "pe"),
    "muonparameters_intensity_outside_ring": ("charge of the cleaned pixels outside the ring band", "pe"),
    "muonparameters_n_pixels_in_ring": ("cleaned pixels inside the ring integration band (-1: no ring)", ""),
    "muonparameters_mean_intensity_outside_ring": ("mean charge of the pixels in the band just outside "
                                                   "the ring integration band", "pe"),
    "muonparameters_radial_std_dev": ("standard deviation of the radial light distribution", "deg"),
    "muonparameters_skewness": ("skewness of the radial light distribution", ""),
    "muonparameters_excess_kurtosis": ("excess kurtosis of the radial light distribution", ""),
}


def ring_containment(radius, center_fov_lon, center_fov_lat, camera_radius):
    """Fraction of each ring inside a circular camera centred on the origin.

    Parameters
    ----------
    radius, center_fov_lon, center_fov_lat : array_like
        Rings, in any one angular unit.
    camera_radius : array_like
        Camera radius in the same unit; broadcasts against the rings.

    Returns
    -------
    numpy.ndarray
        Values in [0, 1]; 1 for a ring inside the camera, 0 for a ring outside
        it or enclosing it, NaN for a NaN ring.

    Examples
    --------
    >>> float(ring_containment(1.0, 2.0, 0.0, 2.0))   # centre on the edge: 1/pi of arccos(1/4)
    0.4195693767448338
    """
    arrays = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in
                                   (radius, center_fov_lon, center_fov_lat, camera_radius)))
    shape = arrays[0].shape
    flat = [np.ascontiguousarray(a.reshape(-1)) for a in arrays]
    out = np.empty(flat[0].shape, np.float64)
    ring_containment_kernel(*flat, out)
    return out.reshape(shape)


def _parameters_block(image, mask, selected, geom_index, radius, center_x, center_y, completeness_threshold, ratio_width,
                      integration_width, outer_width, *, pix_x, pix_y, pixel_width, camera_radius, n_bins):
    n = image.shape[0]
    out = np.empty((n, len(PARAMETER_NAMES)), np.float64)
    if image.dtype not in (np.float32, np.float64):
        image = image.astype(np.float64)

    def row(a):
        return np.ascontiguousarray(np.broadcast_to(a, (n,)), dtype=np.float64)

    rings = np.column_stack([row(radius), row(center_x), row(center_y)])
    ring_parameters_kernel(np.ascontiguousarray(image), np.ascontiguousarray(mask, dtype=np.bool_),
                           np.ascontiguousarray(selected, dtype=np.bool_),
                           np.ascontiguousarray(geom_index, np.int64), pix_x, pix_y, pixel_width, camera_radius,
                           rings, row(completeness_threshold), row(ratio_width), row(integration_width),
                           row(outer_width), n_bins, out)
    return out


def muon_ring_parameters(ds, rings, *, completeness_threshold=30.0, ratio_width=1.5, ring_integration_width=0.25,
                         outer_ring_width=0.2, mask=None, selected=None, n_bins=30, table=None):
    """Parameters of fitted muon rings.

    Parameters
    ----------
    ds : xarray.Dataset
        Camera group with ``image``, ``focal_length`` and (unless ``mask``)
        ``image_mask``.
    rings : xarray.Dataset
        ``muonring_radius``, ``muonring_center_fov_lon``, ``muonring_center_fov_lat``
        [deg] along ``tel_event``, as from :func:`~iactx.image.muon.fit_muon_rings`.
    completeness_threshold : float or (tel_event,) array
        Charge [p.e.] an azimuthal segment needs to count as present.
    ratio_width : float or (tel_event,) array
        Full width of the intensity-ratio band, in pixel widths.
    ring_integration_width : float or (tel_event,) array
        Half width of the ring band, in ring radii.
    outer_ring_width : float or (tel_event,) array
        Width of the band outside it, in ring radii.
    mask : xarray.DataArray (tel_event, pixel) of bool, optional
        Cleaning mask; default ``ds.image_mask``.
    selected : xarray.DataArray (tel_event,) of bool, optional
        Telescope events to compute; default those with a finite ring radius.
    n_bins : int
        Azimuthal segments of the completeness.
    table : TelescopeFrameTable, optional
        Precomputed telescope-frame pixel table (internal).

    Returns
    -------
    xarray.Dataset
        ``muonparameters_*`` along ``tel_event``; NaN (and ``-1`` pixels in the
        ring) where there is no ring.
    """
    mask = ds["image_mask"] if mask is None else mask
    table = telescope_frame_table(ds) if table is None else table
    radius = per_tel_event(ds, rings["muonring_radius"], "muonring_radius")
    if selected is None:
        selected = np.isfinite(radius)
    options = [per_tel_event(ds, v, n) for v, n in (
        (completeness_threshold, "completeness_threshold"), (ratio_width, "ratio_width"),
        (ring_integration_width, "ring_integration_width"), (outer_ring_width, "outer_ring_width"))]
    out = apply_kernel(
        _parameters_block, ds["image"].variable, per_tel_event(ds, mask, "mask"),
        per_tel_event(ds, selected, "selected"), per_tel_event(ds, table.index, "geom_index"), radius,
        per_tel_event(ds, rings["muonring_center_fov_lon"], "muonring_center_fov_lon"),
        per_tel_event(ds, rings["muonring_center_fov_lat"], "muonring_center_fov_lat"), *options,
        input_core_dims=[["pixel"], ["pixel"], [], [], [], [], [], [], [], [], []],
        output_core_dims=[["muonparameters_output"]],
        output_dtypes=[np.float64],
        output_sizes={"muonparameters_output": len(PARAMETER_NAMES)},
        kwargs={"pix_x": table.pix_lon, "pix_y": table.pix_lat, "pixel_width": table.pixel_width,
                "camera_radius": table.camera_radius, "n_bins": int(n_bins)},
    )
    values, attrs = {}, {}
    for k, short in enumerate(PARAMETER_NAMES):
        name = f"muonparameters_{short}"
        long_name, units = PARAMETER_VARIABLES[name]
        value = out.isel(muonparameters_output=k)
        values[name] = value.astype(np.int64) if short == "n_pixels_in_ring" else value
        attrs[name] = {"long_name": long_name, **({"units": units} if units else {})}
    return labelled(ds, values, attrs)
