"""Circle-fit kernels for muon rings on batches of images.

Every kernel works on a whole batch: ``image`` and ``mask`` of shape
``(n_images, n_pixels)``. Pixel coordinates are given per *geometry*, shape
``(n_geometries, n_pixels)``, with ``geom_index`` of shape ``(n_images,)``
naming the row of each image (telescopes with the same camera and focal
length share one row). Coordinates are in any angular unit (iactx uses
degrees in the telescope frame); results come out in the same unit.

Fit methods (``method`` argument):

- ``KUNDU_CHAUDHURI`` (0): the analytic least-squares circle of Kundu and
  Chaudhuri (Pattern Recognition 26, 1993), weighted by the pixel charges,
  with the simple uncertainty estimate that treats radius and centre as
  uncorrelated (centre error ``e``, radius error ``e / 2``).
- ``TAUBIN`` (1): minimum of the Taubin loss
  ``sum((w (d2 - r2))**2) / |sum(w d2)|`` with ``d2`` the squared distance
  of a pixel from the centre, all weights one, started from the camera
  centre.
- ``KUNDU_CHAUDHURI_TAUBIN`` (2): the same loss weighted by the charges,
  started from the Kundu–Chaudhuri circle.

The Taubin loss is minimised exactly: its minimum in ``r**2`` is the
``w**2``-weighted mean of ``d2``, and the remaining two-dimensional problem
in the centre is solved by damped Newton steps with analytic derivatives.
The centre is kept within ``(-max_fov, max_fov)`` and the radius within
``(0, max_fov)``. Uncertainties are those of a least-squares cost with
error definition 1: the square roots of the diagonal of ``2 H^-1``, ``H``
the Hessian of the loss in ``(centre_x, centre_y, radius)`` at the minimum.

Ring fits are iterated as in the usual muon analysis: the first fit uses
the pixels of ``mask``; each further fit uses every pixel whose distance
from the previous circle is below ``refit_width`` times its radius (noise
pixels with negative charge included).

Rows with fewer than three pixels give NaN. Accumulations are in float64
whatever the image dtype. Only numpy, numba and math are imported here.
"""

import math

import numpy as np
from numba import prange

from ..._numba import kernel

__all__ = [
    "KUNDU_CHAUDHURI",
    "TAUBIN",
    "KUNDU_CHAUDHURI_TAUBIN",
    "FIT_METHODS",
    "N_RING_OUTPUTS",
    "kundu_chaudhuri_row",
    "naive_errors_row",
    "taubin_row",
    "taubin_loss",
    "ring_fit_kernel",
]

KUNDU_CHAUDHURI = 0
TAUBIN = 1
KUNDU_CHAUDHURI_TAUBIN = 2
#: method codes by name
FIT_METHODS = {"kundu_chaudhuri": KUNDU_CHAUDHURI, "taubin": TAUBIN,
               "kundu_chaudhuri_taubin": KUNDU_CHAUDHURI_TAUBIN}
#: columns of the ``params`` output: radius, center_x, center_y and their errors
N_RING_OUTPUTS = 6

_MIN_POINTS = 3
_MAX_NEWTON = 200


@kernel(error_model="numpy")
def kundu_chaudhuri_row(x, y, w):
    """Kundu–Chaudhuri circle through points ``x, y`` with weights ``w``.

    Returns
    -------
    radius, center_x, center_y : float
        NaN when the system is singular (fewer than three distinct points).
    """
    n = x.shape[0]
    sw = 0.0
    sx = 0.0
    sy = 0.0
    for i in range(n):
        sw += w[i]
        sx += w[i] * x[i]
        sy += w[i] * y[i]
    if n < _MIN_POINTS or sw == 0.0:
        return np.nan, np.nan, np.nan
    mx = sx / sw
    my = sy / sw
    a1 = 0.0
    a2 = 0.0
    b1 = 0.0
    b2 = 0.0
    c1 = 0.0
    c2 = 0.0
    for i in range(n):
        dx = w[i] * (x[i] - mx)
        dy = w[i] * (y[i] - my)
        q = x[i] * x[i] + y[i] * y[i]
        a1 += dx * x[i]
        a2 += dy * x[i]
        b1 += dx * y[i]
        b2 += dy * y[i]
        c1 += dx * q
        c2 += dy * q
    c1 *= 0.5
    c2 *= 0.5
    det = a1 * b2 - a2 * b1
    if det == 0.0:
        return np.nan, np.nan, np.nan
    cx = (b2 * c1 - b1 * c2) / det
    cy = (a2 * c1 - a1 * c2) / (a2 * b1 - a1 * b2)
    s = 0.0
    for i in range(n):
        s += w[i] * ((cx - x[i]) ** 2 + (cy - y[i]) ** 2)
    return math.sqrt(s / sw) if s / sw >= 0.0 else np.nan, cx, cy


@kernel(error_model="numpy")
def naive_errors_row(x, y, w, radius, cx, cy):
    """Uncertainties of a circle, neglecting correlations.

    The spread of ``d2 - r2`` over the spread of ``sqrt(d2 + r2 / 4)``
    (weighted), divided by ``2 sqrt(2)`` times the sum of weights, is the
    error of the centre coordinates; the radius error is half of it.

    Returns
    -------
    radius_err, center_x_err, center_y_err : float
    """
    n = x.shape[0]
    sw = 0.0
    s_delta = 0.0
    s_part = 0.0
    for i in range(n):
        d2 = (x[i] - cx) ** 2 + (y[i] - cy) ** 2
        sw += w[i]
        s_delta += w[i] * (d2 - radius * radius)
        s_part += w[i] * math.sqrt(d2 + radius * radius / 4.0)
    if n == 0 or sw == 0.0:
        return np.nan, np.nan, np.nan
    m_delta = s_delta / sw
    m_part = s_part / sw
    v_delta = 0.0
    v_part = 0.0
    for i in range(n):
        d2 = (x[i] - cx) ** 2 + (y[i] - cy) ** 2
        v_delta += w[i] * (d2 - radius * radius - m_delta) ** 2
        v_part += w[i] * (math.sqrt(d2 + radius * radius / 4.0) - m_part) ** 2
    v_delta /= sw
    v_part /= sw
    err = math.sqrt(v_delta) / math.sqrt(v_part) / sw / 2.0 / math.sqrt(2.0) \
        if v_delta >= 0.0 and v_part > 0.0 else np.nan
    return err / 2.0, err, err


@kernel(error_model="numpy")
def taubin_loss(x, y, w, cx, cy, radius):
    """The Taubin loss ``sum((w (d2 - r2))**2) / |sum(w d2)|``."""
    upper = 0.0
    lower = 0.0
    for i in range(x.shape[0]):
        d2 = (x[i] - cx) ** 2 + (y[i] - cy) ** 2
        upper += (w[i] * (d2 - radius * radius)) ** 2
        lower += w[i] * d2
    return abs(upper) / abs(lower)


@kernel(error_model="numpy")
def _profile_terms(x, y, w, cx, cy, derivatives):
    """Profile loss over the centre (radius at its optimum), with derivatives.

    Returns ``(loss, r2, gx, gy, hxx, hxy, hyy)``; derivatives are zero unless
    ``derivatives``.
    """
    n = x.shape[0]
    s0 = 0.0
    sd = 0.0
    t = 0.0
    tu = 0.0
    tv = 0.0
    for i in range(n):
        u = x[i] - cx
        v = y[i] - cy
        d2 = u * u + v * v
        a = w[i] * w[i]
        s0 += a
        sd += a * d2
        t += w[i] * d2
        tu += w[i] * u
        tv += w[i] * v
    mean_d2 = sd / s0
    num = 0.0
    nu = 0.0
    nv = 0.0
    su = 0.0
    sv = 0.0
    suu = 0.0
    svv = 0.0
    suv = 0.0
    for i in range(n):
        u = x[i] - cx
        v = y[i] - cy
        e = u * u + v * v - mean_d2
        a = w[i] * w[i]
        num += a * e * e
        if derivatives:
            nu += a * u * e
            nv += a * v * e
            su += a * u
            sv += a * v
            suu += a * u * u
            svv += a * v * v
            suv += a * u * v
    sign = 1.0 if t >= 0.0 else -1.0
    tt = sign * t
    loss = num / tt
    if not derivatives:
        return loss, mean_d2, 0.0, 0.0, 0.0, 0.0, 0.0
    # numerator N = sum a (d2 - mean)^2 and denominator T = |sum w d2|
    n_x = -4.0 * nu
    n_y = -4.0 * nv
    n_xx = 8.0 * (suu - su * su / s0)
    n_yy = 8.0 * (svv - sv * sv / s0)
    n_xy = 8.0 * (suv - su * sv / s0)
    t_x = -2.0 * sign * tu
    t_y = -2.0 * sign * tv
    sb = 0.0
    for i in range(n):
        sb += w[i]
    t_xx = 2.0 * sign * sb
    gx = n_x / tt - num * t_x / tt ** 2
    gy = n_y / tt - num * t_y / tt ** 2
    hxx = n_xx / tt - 2.0 * n_x * t_x / tt ** 2 - num * t_xx / tt ** 2 + 2.0 * num * t_x * t_x / tt ** 3
    hyy = n_yy / tt - 2.0 * n_y * t_y / tt ** 2 - num * t_xx / tt ** 2 + 2.0 * num * t_y * t_y / tt ** 3
    hxy = n_xy / tt - (n_x * t_y + n_y * t_x) / tt ** 2 + 2.0 * num * t_x * t_y / tt ** 3
    return loss, mean_d2, gx, gy, hxx, hxy, hyy


@kernel(error_model="numpy")
def _taubin_errors(x, y, w, cx, cy, radius):
    """``sqrt(diag(2 H^-1))`` of the Taubin loss in (cx, cy, r); NaN if H is not positive definite."""
    s0 = 0.0
    sb = 0.0
    g = 0.0
    t = 0.0
    gx = 0.0
    gy = 0.0
    se = 0.0
    suu = 0.0
    svv = 0.0
    suv = 0.0
    su = 0.0
    sv = 0.0
    tu = 0.0
    tv = 0.0
    r2 = radius * radius
    for i in range(x.shape[0]):
        u = x[i] - cx
        v = y[i] - cy
        d2 = u * u + v * v
        a = w[i] * w[i]
        e = d2 - r2
        s0 += a
        sb += w[i]
        g += a * e * e
        t += w[i] * d2
        gx += a * e * u
        gy += a * e * v
        se += a * e
        suu += a * u * u
        svv += a * v * v
        suv += a * u * v
        su += a * u
        sv += a * v
        tu += w[i] * u
        tv += w[i] * v
    sign = 1.0 if t >= 0.0 else -1.0
    tt = sign * t
    # derivatives of the numerator G(cx, cy, r) and of the denominator T(cx, cy)
    gd = np.array([-4.0 * gx, -4.0 * gy, -4.0 * radius * se])
    gh = np.empty((3, 3))
    gh[0, 0] = 8.0 * suu + 4.0 * se
    gh[1, 1] = 8.0 * svv + 4.0 * se
    gh[0, 1] = gh[1, 0] = 8.0 * suv
    gh[0, 2] = gh[2, 0] = 8.0 * radius * su
    gh[1, 2] = gh[2, 1] = 8.0 * radius * sv
    gh[2, 2] = -4.0 * se + 8.0 * r2 * s0
    td = np.array([-2.0 * sign * tu, -2.0 * sign * tv, 0.0])
    th = np.zeros((3, 3))
    th[0, 0] = th[1, 1] = 2.0 * sign * sb
    h = np.empty((3, 3))
    for i in range(3):
        for j in range(3):
            h[i, j] = (gh[i, j] / tt - (gd[i] * td[j] + gd[j] * td[i]) / tt ** 2
                       - g * th[i, j] / tt ** 2 + 2.0 * g * td[i] * td[j] / tt ** 3)
    # inverse by cofactors
    c00 = h[1, 1] * h[2, 2] - h[1, 2] * h[2, 1]
    c01 = h[1, 2] * h[2, 0] - h[1, 0] * h[2, 2]
    c02 = h[1, 0] * h[2, 1] - h[1, 1] * h[2, 0]
    det = h[0, 0] * c00 + h[0, 1] * c01 + h[0, 2] * c02
    if not det > 0.0:
        return np.nan, np.nan, np.nan
    i00 = c00 / det
    i11 = (h[0, 0] * h[2, 2] - h[0, 2] * h[2, 0]) / det
    i22 = (h[0, 0] * h[1, 1] - h[0, 1] * h[1, 0]) / det
    if not (i00 > 0.0 and i11 > 0.0 and i22 > 0.0):
        return np.nan, np.nan, np.nan
    return math.sqrt(2.0 * i22), math.sqrt(2.0 * i00), math.sqrt(2.0 * i11)


@kernel(error_model="numpy")
def taubin_row(x, y, w, cx0, cy0, max_fov):
    """Minimum of the Taubin loss, started at ``(cx0, cy0)``.

    Returns
    -------
    radius, center_x, center_y, radius_err, center_x_err, center_y_err : float
    """
    n = x.shape[0]
    if n < _MIN_POINTS or not (math.isfinite(cx0) and math.isfinite(cy0)):
        return np.nan, np.nan, np.nan, np.nan, np.nan, np.nan
    lim = abs(max_fov)
    cx = min(max(cx0, -lim), lim)
    cy = min(max(cy0, -lim), lim)
    loss, r2, gx, gy, hxx, hxy, hyy = _profile_terms(x, y, w, cx, cy, True)
    if not math.isfinite(loss):
        return np.nan, np.nan, np.nan, np.nan, np.nan, np.nan
    damping = 1e-3 * (abs(hxx) + abs(hyy) + 1e-300)
    for _ in range(_MAX_NEWTON):
        accepted = False
        for _ in range(40):
            a = hxx + damping
            b = hxy
            c = hyy + damping
            det = a * c - b * b
            if det <= 0.0 or a <= 0.0:
                damping = damping * 10.0 + 1e-12 * (abs(hxx) + abs(hyy))
                continue
            dx = -(c * gx - b * gy) / det
            dy = -(a * gy - b * gx) / det
            nx = min(max(cx + dx, -lim), lim)
            ny = min(max(cy + dy, -lim), lim)
            new_loss = _profile_terms(x, y, w, nx, ny, False)[0]
            if new_loss <= loss:
                step = math.hypot(nx - cx, ny - cy)
                decrease = loss - new_loss
                cx, cy = nx, ny
                damping = max(damping * 0.1, 1e-15 * (abs(hxx) + abs(hyy)))
                accepted = True
                break
            damping *= 10.0
        if not accepted:
            break
        old_loss = loss
        loss, r2, gx, gy, hxx, hxy, hyy = _profile_terms(x, y, w, cx, cy, True)
        if step <= 1e-13 * (1.0 + math.hypot(cx, cy)) or decrease <= 1e-16 * abs(old_loss):
            break
    radius = math.sqrt(r2)
    if radius > lim:
        radius = lim
    r_err, cx_err, cy_err = _taubin_errors(x, y, w, cx, cy, radius)
    return radius, cx, cy, r_err, cx_err, cy_err


@kernel(error_model="numpy")
def _fit_points(x, y, w, method, max_fov, want_errors):
    if method == KUNDU_CHAUDHURI:
        r, cx, cy = kundu_chaudhuri_row(x, y, w)
        if want_errors and math.isfinite(r):
            r_err, cx_err, cy_err = naive_errors_row(x, y, w, r, cx, cy)
        else:
            r_err, cx_err, cy_err = np.nan, np.nan, np.nan
        return r, cx, cy, r_err, cx_err, cy_err
    if method == TAUBIN:
        ones = np.ones(x.shape[0])
        return taubin_row(x, y, ones, 0.0, 0.0, max_fov)
    _, cx0, cy0 = kundu_chaudhuri_row(x, y, w)
    return taubin_row(x, y, w, cx0, cy0, max_fov)


@kernel(parallel=True, error_model="numpy")
def ring_fit_kernel(image, mask, selected, geom_index, pix_x, pix_y, max_fov, method, n_iterations,
                    refit_width, params, ring_mask):
    """Iterated ring fit of every selected image.

    Parameters
    ----------
    image : (n_images, n_pixels) float
        Pixel charges, the weights of the fit.
    mask : (n_images, n_pixels) bool
        Pixels of the first fit (the cleaning mask).
    selected : (n_images,) bool
        Images to fit; the others get NaN and an empty ``ring_mask``.
    geom_index : (n_images,) int
        Row of ``pix_x``, ``pix_y``, ``max_fov`` for each image.
    pix_x, pix_y : (n_geometries, n_pixels) float
        Pixel coordinates (telescope frame, fov_lon and fov_lat).
    max_fov : (n_geometries,) float
        Bound of the centre coordinates and of the radius (Taubin fits).
    method : int
        One of ``KUNDU_CHAUDHURI``, ``TAUBIN``, ``KUNDU_CHAUDHURI_TAUBIN``.
    n_iterations : int
        Number of fits; each after the first uses the pixels near the previous ring.
    refit_width : float
        Pixels with ``|d - r| / r < refit_width`` are used by the next fit.
    params : (n_images, 6) float64, output
        radius, center_x, center_y, radius_err, center_x_err, center_y_err.
    ring_mask : (n_images, n_pixels) bool, output
        Pixels near the final ring (``|d - r| / r < refit_width``).
    """
    n_images, n_pixels = image.shape
    for i in prange(n_images):
        for j in range(n_pixels):
            ring_mask[i, j] = False
        for k in range(N_RING_OUTPUTS):
            params[i, k] = np.nan
        if not selected[i]:
            continue
        g = geom_index[i]
        px = pix_x[g]
        py = pix_y[g]
        x = np.empty(n_pixels)
        y = np.empty(n_pixels)
        w = np.empty(n_pixels)
        use = np.empty(n_pixels, np.bool_)
        for j in range(n_pixels):
            use[j] = mask[i, j]
        r = np.nan
        cx = np.nan
        cy = np.nan
        for it in range(n_iterations):
            m = 0
            for j in range(n_pixels):
                if use[j]:
                    x[m] = px[j]
                    y[m] = py[j]
                    w[m] = image[i, j]
                    m += 1
            want_errors = it == n_iterations - 1
            r, cx, cy, r_err, cx_err, cy_err = _fit_points(x[:m], y[:m], w[:m], method, max_fov[g],
                                                           want_errors)
            params[i, 0] = r
            params[i, 1] = cx
            params[i, 2] = cy
            params[i, 3] = r_err
            params[i, 4] = cx_err
            params[i, 5] = cy_err
            for j in range(n_pixels):
                d = math.sqrt((px[j] - cx) ** 2 + (py[j] - cy) ** 2)
                use[j] = abs(d - r) / r < refit_width
        for j in range(n_pixels):
            ring_mask[i, j] = use[j]
