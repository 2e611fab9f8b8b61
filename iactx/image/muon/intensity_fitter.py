"""Likelihood fit of the muon-ring light model: impact, ring width, optical efficiency.

The model and the likelihood are in :mod:`iactx.image.muon.intensity_kernels`.
Here each ring (there are few) is fitted with :func:`scipy.optimize.minimize`;
the model itself is evaluated in compiled code over all pixels of a ring at
once.

Free parameters: the impact point on the mirror, the Gaussian ring width
and the optical efficiency; the ring centre and radius stay at the ring
fit's values. The impact point is fitted in Cartesian coordinates
``(impact_x, impact_y) = impact * (cos phi, sin phi)``, which removes the
degenerate direction at zero impact and the artificial limit at
``phi = +-pi`` of a polar parametrisation. The fit starts from
``impact = mirror_radius / 2`` in the ``+x`` direction, a width of three
pixel radii and an efficiency of 0.1 (the usual starting point), and once
more from the opposite impact direction: for impacts near the central hole
the light profile is nearly symmetric under ``phi -> phi + pi`` and the
likelihood has separate minima on both sides. The lower minimum is kept.

Uncertainties come from the numerical Hessian of ``-ln L`` at the minimum
(error definition 0.5; finite differences over 0.1 m of impact, since the
interpolated light profile makes the likelihood piecewise linear in the
impact direction on finer scales); a fit is valid when the optimiser converged, the
result is finite and the Hessian is positive definite. A parameter is "at
its limit" (``ring_width >= 0``, ``optical_efficiency >= 0``) when it is
closer to zero than half its uncertainty.
"""

from __future__ import annotations

import math

import numpy as np

from ..._apply import apply_kernel
from ..._numba import kernel
from ._geometry import labelled, per_tel_event, telescope_frame_table
from .intensity_kernels import AREA_RATIOS, negative_log_likelihood_polar, pixel_polar

__all__ = ["EFFICIENCY_OUTPUTS", "EFFICIENCY_VARIABLES", "fit_ring_intensity", "fit_ring_intensity_rows",
           "fit_muon_efficiency"]

#: columns of :func:`fit_ring_intensity_rows`: width [rad], impact, impact_x, impact_y [m],
#: optical_efficiency, is_valid, parameters_at_limit, likelihood_value
EFFICIENCY_OUTPUTS = ("width", "impact", "impact_x", "impact_y", "optical_efficiency", "is_valid",
                      "parameters_at_limit", "likelihood_value")


@kernel(error_model="numpy")
def _nll_scaled(q, scale, image, pedestal, spe_width, angle, distance, radius, mirror_radius, hole_radius,
                pixel_diameter, oversampling, min_lambda, max_lambda, area_ratio):
    ix = q[0] * scale[0]
    iy = q[1] * scale[1]
    width = q[2] * scale[2]
    efficiency = q[3] * scale[3]
    return negative_log_likelihood_polar(image, pedestal, spe_width, angle, distance, math.hypot(ix, iy),
                                         math.atan2(iy, ix), radius, width, efficiency, mirror_radius, hole_radius,
                                         pixel_diameter, oversampling, min_lambda, max_lambda, area_ratio)


#: finite-difference steps of the Hessian, in units of the parameter scales: 0.1 m of impact (the
#: model is piecewise linear in the impact direction on finer scales), 5e-4 ring radii of width,
#: 0.0025 of efficiency
_HESSIAN_STEPS = np.array([0.2, 0.2, 0.5, 0.05])


def _hessian(func, x, step, lower):
    """Central-difference Hessian of ``func`` at ``x``; points are shifted to stay above ``lower``."""
    n = x.size
    x = np.array(x, dtype=float)
    for k in range(n):
        if np.isfinite(lower[k]) and x[k] - 2 * step[k] < lower[k]:
            x[k] = lower[k] + 2 * step[k]
    f0 = func(x)
    h = np.empty((n, n))
    for i in range(n):
        ei = np.zeros(n)
        ei[i] = step[i]
        h[i, i] = (func(x + ei) - 2 * f0 + func(x - ei)) / step[i] ** 2
        for j in range(i):
            ej = np.zeros(n)
            ej[j] = step[j]
            h[i, j] = h[j, i] = (func(x + ei + ej) - func(x + ei - ej) - func(x - ei + ej)
                                 + func(x - ei - ej)) / (4 * step[i] * step[j])
    return h


def fit_ring_intensity(image, pedestal, pix_x, pix_y, center_x, center_y, radius, *, mirror_radius,
                       hole_radius, pixel_diameter, spe_width=0.5, min_lambda=300e-9, max_lambda=600e-9,
                       oversampling=3, area_ratio=1.0, initial_width=None):
    """Fit the light of one muon ring.

    Parameters
    ----------
    image, pedestal : (n_pixels,) float
        Charges [p.e.] and pedestal widths [p.e.] of the pixels used.
    pix_x, pix_y : (n_pixels,) float
        Their telescope-frame coordinates (fov_lon, fov_lat) [rad].
    center_x, center_y, radius : float
        The fitted ring [rad].
    mirror_radius, hole_radius : float
        Radius of the (circular-equivalent) mirror and of its central hole [m].
    pixel_diameter : float
        Angular pixel width [rad].
    spe_width : float
        Relative width of the single-p.e. charge distribution.
    min_lambda, max_lambda : float
        Wavelength range of the Cherenkov light [m].
    oversampling : int
        Samples of the chord profile per pixel along the ring.
    area_ratio : float
        Circle-to-pixel area ratio (see :data:`~iactx.image.muon.intensity_kernels.AREA_RATIOS`).
    initial_width : float, optional
        Starting ring width [rad]; default three pixel radii.

    Returns
    -------
    tuple
        width [rad], impact, impact_x, impact_y [m], optical_efficiency,
        is_valid, parameters_at_limit, likelihood_value.
    """
    invalid = (np.nan,) * 5 + (False, False, np.nan)
    values = [center_x, center_y, radius, mirror_radius, hole_radius, pixel_diameter]
    if pix_x.size == 0 or not all(np.isfinite(v) for v in values) or radius <= 0:
        return invalid
    if initial_width is None or not np.isfinite(initial_width):
        initial_width = 1.5 * pixel_diameter
    image = np.ascontiguousarray(image, dtype=np.float64)
    pedestal = np.ascontiguousarray(pedestal, dtype=np.float64)
    pix_x = np.ascontiguousarray(pix_x, dtype=np.float64)
    pix_y = np.ascontiguousarray(pix_y, dtype=np.float64)
    # parameters are scaled by their typical step: impact_x, impact_y [m], width [rad], efficiency
    scale = np.array([0.5, 0.5, 1e-3 * radius, 0.05])
    angle, distance = pixel_polar(pix_x, pix_y, float(center_x), float(center_y))
    args = (scale, image, pedestal, float(spe_width), angle, distance, float(radius), float(mirror_radius),
            float(hole_radius), float(pixel_diameter), int(oversampling), float(min_lambda), float(max_lambda),
            float(area_ratio))

    def nll(q):
        return _nll_scaled(np.asarray(q, dtype=np.float64), *args)

    from scipy.optimize import minimize  # a heavy import, needed only for muon fits

    bounds = [(None, None), (None, None), (0.0, None), (0.0, None)]
    best = None
    for direction in (1.0, -1.0):
        start = np.array([direction * mirror_radius / 2, 0.0, initial_width, 0.1]) / scale
        result = minimize(nll, start, method="Powell", bounds=bounds,
                          options={"xtol": 1e-4, "ftol": 1e-8, "maxfev": 20000})
        if best is None or (np.isfinite(result.fun) and not result.fun >= best.fun):
            best = result
    q = best.x
    fval = float(best.fun)
    ix, iy, width, efficiency = q * scale
    impact = math.hypot(ix, iy)
    lower = np.array([-np.inf, -np.inf, 0.0, 0.0])
    try:
        h = _hessian(nll, q, _HESSIAN_STEPS, lower)
        cov = np.linalg.inv(h)  # error definition 0.5: cov = (2 * 0.5) H^-1
        posdef = bool(np.all(np.linalg.eigvalsh(0.5 * (h + h.T)) > 0))
        errors = np.sqrt(np.abs(np.diag(cov))) * scale
    except np.linalg.LinAlgError:
        posdef = False
        errors = np.full(4, np.nan)
    finite = all(np.isfinite(v) for v in (ix, iy, width, efficiency, fval))
    is_valid = bool(best.success and finite and posdef)
    at_limit = bool(width < 0.5 * errors[2] or efficiency < 0.5 * errors[3])
    return width, impact, ix, iy, efficiency, is_valid, at_limit, fval


def fit_ring_intensity_rows(image, use, selected, geom_index, pix_x, pix_y, rings, pedestal, mirror_radius,
                            hole_radius, pixel_diameter, spe_width, min_lambda, max_lambda, oversampling,
                            area_ratio, initial_width):
    """:func:`fit_ring_intensity` for every selected row of a batch.

    Parameters
    ----------
    image : (n_images, n_pixels) float
    use : (n_images, n_pixels) bool
        Pixels entering each fit (the pixels near the ring).
    selected : (n_images,) bool
    geom_index : (n_images,) int
    pix_x, pix_y : (n_geometries, n_pixels) float
        Pixel coordinates [rad].
    rings : (n_images, 3) float
        radius, center_x, center_y [rad].
    pedestal, mirror_radius, hole_radius, pixel_diameter, spe_width, min_lambda, max_lambda,
    oversampling, area_ratio, initial_width : (n_images,) arrays
        Per-image constants (see :func:`fit_ring_intensity`).

    Returns
    -------
    (n_images, 8) float64
        Columns :data:`EFFICIENCY_OUTPUTS` (booleans as 0/1); NaN (and 0 for
        the flags) for rows not selected.
    """
    n = image.shape[0]
    out = np.full((n, len(EFFICIENCY_OUTPUTS)), np.nan)
    out[:, 5:7] = 0.0
    for i in np.flatnonzero(np.asarray(selected, bool)):
        g = geom_index[i]
        m = np.asarray(use[i], bool)
        result = fit_ring_intensity(
            image[i, m], np.full(np.count_nonzero(m), pedestal[i]), pix_x[g, m], pix_y[g, m],
            rings[i, 1], rings[i, 2], rings[i, 0], mirror_radius=mirror_radius[i], hole_radius=hole_radius[i],
            pixel_diameter=pixel_diameter[i], spe_width=spe_width[i], min_lambda=min_lambda[i],
            max_lambda=max_lambda[i], oversampling=int(oversampling[i]), area_ratio=area_ratio[i],
            initial_width=initial_width[i],
        )
        out[i] = [float(v) for v in result]
    return out


#: output variables: (long name, units)
EFFICIENCY_VARIABLES = {
    "muonefficiency_width": ("Gaussian width of the muon ring", "deg"),
    "muonefficiency_impact": ("distance of the muon impact point from the mirror centre", "m"),
    "muonefficiency_impact_x": ("impact point x (telescope frame fov_lon direction)", "m"),
    "muonefficiency_impact_y": ("impact point y (telescope frame fov_lat direction)", "m"),
    "muonefficiency_optical_efficiency": ("optical efficiency from the muon ring", ""),
    "muonefficiency_is_valid": ("the intensity fit converged to a valid minimum", None),
    "muonefficiency_parameters_at_limit": ("a bounded parameter ended within half an error of its bound", None),
    "muonefficiency_likelihood_value": ("-ln L at the minimum", ""),
}


def _efficiency_block(image, use, selected, geom_index, radius, center_x, center_y, pedestal, mirror_radius,
                      hole_radius, spe_width, min_lambda, max_lambda, oversampling, initial_width, *,
                      pix_x, pix_y, pixel_diameter, area_ratio):
    n = image.shape[0]

    def row(a):
        return np.ascontiguousarray(np.broadcast_to(a, (n,)), dtype=np.float64)

    rings = np.deg2rad(np.column_stack([row(radius), row(center_x), row(center_y)]))
    out = fit_ring_intensity_rows(
        np.asarray(image, np.float64), np.asarray(use, bool), np.asarray(selected, bool), np.asarray(geom_index),
        pix_x, pix_y, rings, row(pedestal), row(mirror_radius), row(hole_radius), pixel_diameter[geom_index],
        row(spe_width), row(min_lambda), row(max_lambda), row(oversampling).astype(np.int64),
        np.full(n, area_ratio), row(initial_width),
    )
    out[:, 0] = np.rad2deg(out[:, 0])
    return out


def fit_muon_efficiency(ds, rings, use, *, selected, pedestal, mirror_radius, hole_radius, spe_width=0.5,
                        min_lambda_m=300e-9, max_lambda_m=600e-9, oversampling=3, initial_width=None,
                        table=None):
    """Fit the light of every selected muon ring (labelled layer).

    Parameters
    ----------
    ds : xarray.Dataset
        Camera group with ``image`` and ``focal_length``.
    rings : xarray.Dataset
        ``muonring_radius``, ``muonring_center_fov_lon``, ``muonring_center_fov_lat`` [deg].
    use : xarray.DataArray (tel_event, pixel) of bool
        Pixels entering each fit (those near the ring).
    selected : xarray.DataArray (tel_event,) of bool
        Rings to fit; the others get NaN and False.
    pedestal, mirror_radius, hole_radius, spe_width, min_lambda_m, max_lambda_m, oversampling : float or (tel_event,)
        Pedestal width [p.e.], mirror and hole radius [m], single-p.e. width,
        wavelength range [m], profile oversampling.
    initial_width : float or (tel_event,), optional
        Starting ring width [rad]; default three pixel radii.
    table : TelescopeFrameTable, optional

    Returns
    -------
    xarray.Dataset
        ``muonefficiency_*`` along ``tel_event``.
    """
    table = telescope_frame_table(ds) if table is None else table
    if initial_width is None:
        initial_width = 1.5 * np.deg2rad(table.pixel_width[table.index, 0]) if table.index.size else 0.0
    per_event = [per_tel_event(ds, v, n) for v, n in (
        (pedestal, "pedestal"), (mirror_radius, "mirror_radius"), (hole_radius, "hole_radius"),
        (spe_width, "spe_width"), (min_lambda_m, "min_lambda_m"), (max_lambda_m, "max_lambda_m"),
        (oversampling, "oversampling"), (initial_width, "initial_width"))]
    rings = [per_tel_event(ds, rings[n], n)
             for n in ("muonring_radius", "muonring_center_fov_lon", "muonring_center_fov_lat")]
    out = apply_kernel(
        _efficiency_block, ds["image"].variable, per_tel_event(ds, use, "use"),
        per_tel_event(ds, selected, "selected"), per_tel_event(ds, table.index, "geom_index"), *rings, *per_event,
        input_core_dims=[["pixel"], ["pixel"]] + [[]] * 13,
        output_core_dims=[["muonefficiency_output"]],
        output_dtypes=[np.float64],
        output_sizes={"muonefficiency_output": len(EFFICIENCY_OUTPUTS)},
        kwargs={"pix_x": np.deg2rad(table.pix_lon), "pix_y": np.deg2rad(table.pix_lat),
                "pixel_diameter": np.deg2rad(table.pixel_width[:, 0]),
                "area_ratio": AREA_RATIOS.get(table.pix_type, 1.0)},
    )
    values, attrs = {}, {}
    for k, short in enumerate(EFFICIENCY_OUTPUTS):
        name = f"muonefficiency_{short}"
        long_name, units = EFFICIENCY_VARIABLES[name]
        value = out.isel(muonefficiency_output=k)
        values[name] = value.astype(bool) if units is None else value
        attrs[name] = {"long_name": long_name, **({"units": units} if units else {})}
    return labelled(ds, values, attrs)
