"""Image-parameter kernels on batches of cleaned images.

One kernel, :func:`image_parameters_kernel`, computes every DL1 image
parameter of a batch in one pass per image: Hillas moments and their
uncertainties, timing gradient, leakage, concentration, morphology and
descriptive statistics of intensity and peak time. :func:`hillas_kernel`
computes the Hillas moments alone.

Conventions (those of the reference implementation, ctapipe):

- Pixel positions are given in the camera frame and mapped per image by a
  2x2 matrix ``frame`` (``(x', y') = frame @ (x, y)``): the identity for
  the camera frame, ``[[0, k], [k, 0]]`` with ``k = 180 / (pi f)`` for the
  telescope frame (``fov_lon = y / f``, ``fov_lat = x / f`` in radians,
  here in degrees). Pixel areas scale by ``|det frame|``, pixel widths by
  its square root.
- Hillas: image-weighted centroid, population covariance, length and width
  the square roots of its eigenvalues (those within float64 epsilon of 0
  set to 0), ``psi`` in (-90, 90] degrees, higher moments along the major
  axis (skewness ``m3 / length**3``, kurtosis ``m4 / length**4``). The
  orientation uncertainty comes from a weighted least-squares line through
  the pixels in the shower frame (weights image / pixel area), the length
  and width uncertainties from the linear error propagation of the second
  moments.
- Timing: least-trimmed-squares line of peak time against the longitudinal
  coordinate (85 % of the pixels, C-steps until the residual sum of squares
  changes by less than 1e-12, at most 20), from given starting pairs of
  pixels (drawn at random like the reference implementation, which makes
  its result depend on the generator state) or from deterministic starts;
  ``deviation`` is the root-mean-square residual over all pixels.
- Images that are not parameterised (``valid`` False) get NaN and, for
  the morphology counts, -1.

Angles are returned in degrees. Everything is computed in float64 whatever
the input dtype. Only numpy, numba and math are imported here.
"""

import math

import numpy as np
from numba import prange

from .._numba import kernel
from ._pairwise import pairwise_sum as _pairwise_sum
from .cleaning_kernels import _label_islands_row as _label_islands

__all__ = [
    "HILLAS_COLUMNS",
    "TIMING_COLUMNS",
    "LEAKAGE_COLUMNS",
    "CONCENTRATION_COLUMNS",
    "STATISTICS_COLUMNS",
    "MORPHOLOGY_COLUMNS",
    "PARAMETER_COLUMNS",
    "hillas_kernel",
    "image_parameters_kernel",
    "lts_linear_regression",
    "draw_lts_starts",
    "gather_selected",
    "count_fit_points",
]

#: columns of the Hillas block (positions are x, y: fov_lon, fov_lat in the telescope frame)
HILLAS_COLUMNS = ("intensity", "x", "y", "r", "phi", "length", "length_uncertainty", "width",
                  "width_uncertainty", "psi", "psi_uncertainty", "transverse_cog_uncertainty",
                  "skewness", "kurtosis")
TIMING_COLUMNS = ("slope", "intercept", "deviation")
LEAKAGE_COLUMNS = ("pixels_width_1", "pixels_width_2", "intensity_width_1", "intensity_width_2")
CONCENTRATION_COLUMNS = ("cog", "core", "pixel")
STATISTICS_COLUMNS = ("max", "min", "mean", "std", "skewness", "kurtosis")
MORPHOLOGY_COLUMNS = ("n_pixels", "n_islands", "n_small_islands", "n_medium_islands", "n_large_islands")
#: float columns of :func:`image_parameters_kernel`'s output, as (group, name)
PARAMETER_COLUMNS = (
    tuple(("hillas", c) for c in HILLAS_COLUMNS)
    + tuple(("timing", c) for c in TIMING_COLUMNS)
    + tuple(("leakage", c) for c in LEAKAGE_COLUMNS)
    + tuple(("concentration", c) for c in CONCENTRATION_COLUMNS)
    + tuple(("intensity", c) for c in STATISTICS_COLUMNS)
    + tuple(("peak_time", c) for c in STATISTICS_COLUMNS)
)
_N_HILLAS = len(HILLAS_COLUMNS)
_TIMING0 = _N_HILLAS
_LEAKAGE0 = _TIMING0 + len(TIMING_COLUMNS)
_CONC0 = _LEAKAGE0 + len(LEAKAGE_COLUMNS)
_INT0 = _CONC0 + len(CONCENTRATION_COLUMNS)
_PT0 = _INT0 + len(STATISTICS_COLUMNS)
_N_COLUMNS = _PT0 + len(STATISTICS_COLUMNS)

#: eigenvalues of the covariance this close to zero are zero
_EIG_ATOL = np.finfo(np.float64).eps
#: determinant below which a least-squares line is undefined
_DET_EPS = 2 * np.finfo(np.float64).eps
#: island sizes: small up to 2 pixels, large above 50
_SMALL_ISLAND, _LARGE_ISLAND = 2, 50
_RAD2DEG = 180.0 / math.pi


# --------------------------------------------------------------------------- hillas
@kernel(error_model="numpy")
def _hillas_row(x, y, w, area, out):
    """Hillas parameters of one image from its selected pixels; fills out[:14], returns (cos psi, sin psi)."""
    n = x.shape[0]
    size = 0.0
    sx = 0.0
    sy = 0.0
    for k in range(n):
        size += w[k]
        sx += w[k] * x[k]
        sy += w[k] * y[k]
    cog_x = sx / size
    cog_y = sy / size
    # weighted population covariance, re-centred like a two-pass algorithm
    ax = 0.0
    ay = 0.0
    for k in range(n):
        ax += w[k] * (x[k] - cog_x)
        ay += w[k] * (y[k] - cog_y)
    ax /= size
    ay /= size
    cxx = 0.0
    cyy = 0.0
    cxy = 0.0
    for k in range(n):
        dx = x[k] - cog_x - ax
        dy = y[k] - cog_y - ay
        cxx += w[k] * dx * dx
        cyy += w[k] * dy * dy
        cxy += w[k] * dx * dy
    cxx /= size
    cyy /= size
    cxy /= size

    half_trace = 0.5 * (cxx + cyy)
    disc = math.hypot(0.5 * (cxx - cyy), cxy)
    lam_long = half_trace + disc
    lam_short = half_trace - disc
    if abs(lam_long) <= _EIG_ATOL:
        lam_long = 0.0
    if abs(lam_short) <= _EIG_ATOL:
        lam_short = 0.0
    length = math.sqrt(lam_long) if lam_long >= 0 else np.nan
    width = math.sqrt(lam_short) if lam_short >= 0 else np.nan

    psi = np.nan
    psi_unc = np.nan
    trans_unc = np.nan
    skewness = np.nan
    kurtosis = np.nan
    cos_psi = np.nan
    sin_psi = np.nan
    if length != 0:
        # orientation of the eigenvector of the larger eigenvalue, in (-pi/2, pi/2]
        if cxy == 0.0:
            psi = 0.0 if cxx > cyy else 0.5 * math.pi
        elif cxx >= cyy:
            psi = math.atan(cxy / (lam_long - cyy))
        else:
            psi = math.atan((lam_long - cxx) / cxy)
        cos_psi = math.cos(psi)
        sin_psi = math.sin(psi)
        m3 = 0.0
        m4 = 0.0
        s00 = 0.0
        s01 = 0.0
        s11 = 0.0
        b0 = 0.0
        b1 = 0.0
        for k in range(n):
            dx = x[k] - cog_x
            dy = y[k] - cog_y
            longi = dx * cos_psi + dy * sin_psi
            trans = -dx * sin_psi + dy * cos_psi
            l2 = longi * longi
            m3 += w[k] * l2 * longi
            m4 += w[k] * l2 * l2
            wk = w[k] / area[k]
            s00 += wk * l2
            s01 += wk * longi
            s11 += wk
            b0 += wk * longi * trans
            b1 += wk * trans
        skewness = (m3 / size) / length**3
        kurtosis = (m4 / size) / length**4
        det = s00 * s11 - s01 * s01
        cov00 = s11 / det
        cov01 = -s01 / det
        cov11 = s00 / det
        p0 = cov00 * b0 + cov01 * b1
        elongation = math.tan(width / length * math.pi / 2.0)
        psi_unc = math.sqrt(cov00 + p0 * p0) * (1.0 + elongation * elongation)
        sin_p0 = math.sin(p0)
        trans_unc = math.sqrt(cov11 * (1.0 + sin_p0 * sin_p0))

    # uncertainties of length and width by propagation of the second moments
    cos_2psi = math.cos(2 * psi)
    a = 0.5 * (1 + cos_2psi)
    b = 0.5 * (1 - cos_2psi)
    c = math.sin(2 * psi)
    sum_l = 0.0
    sum_w = 0.0
    for k in range(n):
        dx = x[k] - cog_x
        dy = y[k] - cog_y
        ta = (dx * dx - cxx) / size
        tb = (dy * dy - cyy) / size
        tc = (dx * dy - cxy) / size
        el = a * ta + b * tb + c * tc
        ew = b * ta + a * tb - c * tc
        sum_l += el * el * w[k]
        sum_w += ew * ew * w[k]
    length_unc = math.sqrt(sum_l) / (2 * length) if length != 0 else np.nan
    width_unc = math.sqrt(sum_w) / (2 * width) if width != 0 else np.nan

    out[0] = size
    out[1] = cog_x
    out[2] = cog_y
    out[3] = math.hypot(cog_x, cog_y)
    out[4] = math.atan2(cog_y, cog_x) * _RAD2DEG
    out[5] = length
    out[6] = length_unc
    out[7] = width
    out[8] = width_unc
    out[9] = psi * _RAD2DEG
    out[10] = psi_unc * _RAD2DEG
    out[11] = trans_unc
    out[12] = skewness
    out[13] = kurtosis
    return cog_x, cog_y, cos_psi, sin_psi, length, width


# --------------------------------------------------------------------------- timing
@kernel(error_model="numpy")
def _line_fit(x, y, sample, m):
    """Least-squares line through the points sample[:m]; (NaN, NaN) when degenerate."""
    sxx = 0.0
    sx = 0.0
    sy = 0.0
    sxy = 0.0
    for k in range(m):
        j = sample[k]
        sxx += x[j] * x[j]
        sx += x[j]
        sy += y[j]
        sxy += x[j] * y[j]
    det = sxx * m - sx * sx
    if not det >= _DET_EPS:
        return np.nan, np.nan
    return (m * sxy - sx * sy) / det, (sxx * sy - sx * sxy) / det


@kernel(error_model="numpy")
def _rss(x, y, sample, m, slope, intercept):
    total = 0.0
    for k in range(m):
        j = sample[k]
        r = y[j] - (x[j] * slope + intercept)
        total += r * r
    return total


@kernel(error_model="numpy")
def _kth_smallest(a, k):
    """The k-th smallest value (0-based) of ``a``, which is reordered (quickselect)."""
    lo = 0
    hi = a.shape[0] - 1
    while lo < hi:
        mid = (lo + hi) // 2
        p, q, r = a[lo], a[mid], a[hi]
        pivot = max(min(p, q), min(max(p, q), r))  # median of three
        i = lo
        j = hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return a[k]
    return a[k]


@kernel(error_model="numpy")
def _smallest(r2, k, sample, scratch):
    """Indices of the k smallest values of ``r2`` in ``sample[:k]`` (ties: lowest indices first)."""
    n = r2.shape[0]
    for j in range(n):
        scratch[j] = r2[j]
    threshold = _kth_smallest(scratch[:n], k - 1)
    m = 0
    for j in range(n):
        if r2[j] < threshold:
            sample[m] = j
            m += 1
    for j in range(n):
        if m >= k:
            break
        if r2[j] == threshold:
            sample[m] = j
            m += 1


@kernel(error_model="numpy")
def _c_steps(x, y, slope, intercept, error, sample_size, max_iterations, eps, r2):
    """Concentration steps of least-trimmed squares from a starting line.

    Each step refits the line on the ``sample_size`` points with the
    smallest squared residuals (found by selection, not sorting), until the
    trimmed residual sum of squares changes by less than ``eps``.
    """
    n = x.shape[0]
    if sample_size < 1:
        return np.nan, np.nan, np.nan
    sample = np.empty(n, np.int64)
    scratch = np.empty(n)
    for _ in range(max_iterations):
        if math.isnan(slope):
            return np.nan, np.nan, np.nan
        for j in range(n):
            r = y[j] - (x[j] * slope + intercept)
            r2[j] = r * r
        _smallest(r2, sample_size, sample, scratch)
        slope, intercept = _line_fit(x, y, sample, sample_size)
        last_error = error
        error = _rss(x, y, sample, sample_size, slope, intercept)
        if abs(last_error - error) < eps:
            break
    return slope, intercept, error


@kernel(error_model="numpy")
def _refine(xs, ys, pair, sample_size, max_iterations, eps, r2):
    """One LTS start: the line through two points, refined by C-steps; (slope, intercept, error)."""
    slope, intercept = _line_fit(xs, ys, pair, 2)
    if math.isnan(slope):
        return np.nan, np.nan, np.nan
    error = _rss(xs, ys, pair, 2, slope, intercept)
    return _c_steps(xs, ys, slope, intercept, error, sample_size, max_iterations, eps, r2)


@kernel(error_model="numpy")
def lts_linear_regression(x, y, starts, relative_sample_size=0.85, max_iterations=20, eps=1e-12):
    """Least-trimmed-squares line ``y = slope * x + intercept``.

    Each start, a pair of points, gives a line that is refined by C-steps
    (refit on the ``relative_sample_size`` fraction of points with the
    smallest squared residuals until the trimmed residual sum of squares
    changes by less than ``eps``); the refined line with the smallest
    trimmed residual sum of squares wins (the first one on ties). Points
    with non-finite ``x`` or ``y`` are dropped first; start indices refer to
    the remaining points.

    Parameters
    ----------
    x, y : (n,) float64
    starts : (n_starts, 2) int64
        Index pairs of the starting points, e.g. drawn at random as the
        reference implementation does (:func:`draw_lts_starts`). With no
        rows, deterministic starts are used: the least-squares line through
        all points and the pairs at the 5-95, 25-75, 0-100, 10-60 and 40-90 %
        ranks along ``x``.

    Returns
    -------
    slope, intercept, error : float
        NaN for fewer than two usable points.
    """
    n_all = x.shape[0]
    n = 0
    for j in range(n_all):
        if math.isfinite(x[j]) and math.isfinite(y[j]):
            n += 1
    if n < 2:
        return np.nan, np.nan, np.nan
    xs = np.empty(n)
    ys = np.empty(n)
    k = 0
    for j in range(n_all):
        if math.isfinite(x[j]) and math.isfinite(y[j]):
            xs[k] = x[j]
            ys[k] = y[j]
            k += 1
    sample_size = np.int64(relative_sample_size * n)
    r2 = np.empty(n)
    best_slope = np.nan
    best_intercept = np.nan
    best_error = np.inf
    pair = np.empty(2, np.int64)
    if starts.shape[0] > 0:
        for s in range(starts.shape[0]):
            pair[0] = starts[s, 0]
            pair[1] = starts[s, 1]
            slope, intercept, error = _refine(xs, ys, pair, sample_size, max_iterations, eps, r2)
            if error < best_error:
                best_slope, best_intercept, best_error = slope, intercept, error
    else:
        everything = np.arange(n)
        slope, intercept = _line_fit(xs, ys, everything, n)
        if not math.isnan(slope):
            error = _rss(xs, ys, everything, n, slope, intercept)
            slope, intercept, error = _c_steps(xs, ys, slope, intercept, error, sample_size,
                                               max_iterations, eps, r2)
            if error < best_error:
                best_slope, best_intercept, best_error = slope, intercept, error
        order = np.argsort(xs)
        for lo, hi in ((0.05, 0.95), (0.25, 0.75), (0.0, 1.0), (0.1, 0.6), (0.4, 0.9)):
            pair[0] = order[int(lo * (n - 1) + 0.5)]
            pair[1] = order[int(hi * (n - 1) + 0.5)]
            if pair[0] == pair[1]:
                continue
            slope, intercept, error = _refine(xs, ys, pair, sample_size, max_iterations, eps, r2)
            if error < best_error:
                best_slope, best_intercept, best_error = slope, intercept, error
    if best_error == np.inf:
        return np.nan, np.nan, np.nan
    return best_slope, best_intercept, best_error


@kernel(error_model="numpy")
def draw_lts_starts(rng, n_points, out):
    """Draw random LTS starting pairs the way the reference implementation does.

    For every image in turn with at least two points, and for each of its
    ``out.shape[1]`` starts, two distinct indices: the first uniform in
    ``[0, n)``, the second uniform in ``[0, n - 1)`` and shifted up by one
    when not below the first. Drawing from the same generator state in the
    same image order as ctapipe reproduces its timing fits.

    Parameters
    ----------
    rng : numpy.random.Generator
        Advanced in place.
    n_points : (n_images,) int64
        Usable points of each image's fit; images with fewer than two draw
        nothing and get -1.
    out : (n_images, n_starts, 2) int64, written
    """
    for i in range(n_points.shape[0]):
        n = n_points[i]
        if n < 2:
            out[i, :, :] = -1
            continue
        for s in range(out.shape[1]):
            first = rng.integers(0, n)
            second = rng.integers(0, n - 1)
            if second >= first:
                second += 1
            out[i, s, 0] = first
            out[i, s, 1] = second


@kernel(error_model="numpy")
def _timing_row(longi, t, starts, out):
    slope, intercept, _ = lts_linear_regression(longi, t, starts)
    n = longi.shape[0]
    total = 0.0
    for k in range(n):
        r = longi[k] * slope + intercept - t[k]
        total += r * r
    out[0] = slope
    out[1] = intercept
    out[2] = math.sqrt(total / n)


# --------------------------------------------------------------------------- statistics
@kernel(error_model="numpy")
def _statistics_row(v, scratch, out):
    """max, min, mean, std, skewness, (Fisher) kurtosis of ``v``.

    Mean and standard deviation are numpy's, bit for bit, in ``v``'s dtype
    (pairwise sums, roundings in that dtype), as the reference computes
    them on float32 images; skewness and kurtosis are float64 means of the
    standardised deviations. ``scratch``: an array like ``v``, at least as long.
    """
    n = v.shape[0]
    if n == 0:
        out[:] = np.nan
        return
    zero = scratch[:1].copy()
    zero[0] = 0
    z0 = zero[0]
    vmax = v[0]
    vmin = v[0]
    has_nan = False
    for k in range(n):
        if math.isnan(v[k]):
            has_nan = True
        if v[k] > vmax:
            vmax = v[k]
        if v[k] < vmin:
            vmin = v[k]
    cast = zero  # one-element array of v's dtype: assignment rounds like numpy's casts
    cast[0] = np.float64(z0 + _pairwise_sum(v, z0)) / n
    mean = cast[0]
    for k in range(n):
        d = v[k] - mean
        scratch[k] = d * d
    cast[0] = np.float64(z0 + _pairwise_sum(scratch[:n], z0)) / n
    std = np.sqrt(cast[0])
    # standardised moments in float64 from the deviations in v's dtype, powers by squaring
    std64 = np.float64(std)
    m3 = 0.0
    m4 = 0.0
    for k in range(n):
        u = np.float64(v[k] - mean) / std64
        u2 = u * u
        m3 += u * u2
        m4 += u2 * u2
    out[0] = np.nan if has_nan else vmax
    out[1] = np.nan if has_nan else vmin
    out[2] = mean
    out[3] = std
    out[4] = m3 / n
    out[5] = m4 / n - 3.0


# --------------------------------------------------------------------------- batch kernels
@kernel(error_model="numpy")
def _gather(image_row, mask_row, pix_x, pix_y, pix_area, m00, m01, m10, m11, area_scale, sel, x, y, w, area):
    n = 0
    for j in range(image_row.shape[0]):
        if mask_row[j]:
            sel[n] = j
            x[n] = m00 * pix_x[j] + m01 * pix_y[j]
            y[n] = m10 * pix_x[j] + m11 * pix_y[j]
            w[n] = image_row[j]
            area[n] = pix_area[j] * area_scale
            n += 1
    return n


@kernel(parallel=True, error_model="numpy")
def hillas_kernel(image, mask, valid, pix_x, pix_y, pix_area, frame, out):
    """Hillas parameters of a batch of cleaned images.

    Parameters
    ----------
    image : (n_images, n_pixels) float
    mask : (n_images, n_pixels) bool
        Pixels of each image (cleaning mask).
    valid : (n_images,) bool
        Images to parameterise; the others get NaN.
    pix_x, pix_y, pix_area : (n_pixels,) float64
        Camera-frame pixel positions [m] and areas [m2].
    frame : (n_images, 2, 2) float64
        Map from camera-frame positions to the output frame.
    out : (n_images, 14) float64, written
        Columns :data:`HILLAS_COLUMNS`; angles in degrees.
    """
    n_images, n_pixels = image.shape
    for i in prange(n_images):
        if not valid[i]:
            out[i, :] = np.nan
            continue
        sel = np.empty(n_pixels, np.int64)
        x = np.empty(n_pixels)
        y = np.empty(n_pixels)
        w = np.empty(n_pixels)
        area = np.empty(n_pixels)
        f = frame[i]
        n = _gather(image[i], mask[i], pix_x, pix_y, pix_area, f[0, 0], f[0, 1], f[1, 0], f[1, 1],
                    abs(f[0, 0] * f[1, 1] - f[0, 1] * f[1, 0]), sel, x, y, w, area)
        _hillas_row(x[:n], y[:n], w[:n], area[:n], out[i])


@kernel(parallel=True, error_model="numpy")
def image_parameters_kernel(image, peak_time, has_peak_time, mask, valid, pix_x, pix_y, pix_area,
                            pixel_width, border_1, border_2, indptr, indices, frame, lts_starts, out, morphology):
    """All DL1 image parameters of a batch of cleaned images, one pass per image.

    Parameters
    ----------
    image : (n_images, n_pixels) float
    peak_time : (n_images, n_pixels) float
        Ignored (timing and peak-time statistics NaN) when ``has_peak_time`` is False.
    has_peak_time : bool
    mask : (n_images, n_pixels) bool
        Cleaning mask.
    valid : (n_images,) bool
        Images to parameterise (e.g. passing the image quality query).
    pix_x, pix_y, pix_area, pixel_width : (n_pixels,) float64
        Camera-frame pixel positions [m], areas [m2] and widths [m].
    border_1, border_2 : (n_pixels,) bool
        Camera border pixels of width 1 and 2.
    indptr, indices : int CSR neighbour table
    frame : (n_images, 2, 2) float64
        Map from camera-frame positions to the output frame.
    lts_starts : (n_images, n_starts, 2) int64
        Starting pairs of each image's timing fit (see
        :func:`lts_linear_regression`); ``n_starts == 0`` for deterministic starts.
    out : (n_images, len(PARAMETER_COLUMNS)) float64, written
    morphology : (n_images, 5) int, written
        Columns :data:`MORPHOLOGY_COLUMNS`; -1 for images not parameterised.
    """
    n_images, n_pixels = image.shape
    for i in prange(n_images):
        if not valid[i]:
            out[i, :] = np.nan
            morphology[i, :] = -1
            continue
        sel = np.empty(n_pixels, np.int64)
        x = np.empty(n_pixels)
        y = np.empty(n_pixels)
        w = np.empty(n_pixels)
        area = np.empty(n_pixels)
        f = frame[i]
        scale2 = abs(f[0, 0] * f[1, 1] - f[0, 1] * f[1, 0])
        n = _gather(image[i], mask[i], pix_x, pix_y, pix_area, f[0, 0], f[0, 1], f[1, 0], f[1, 1],
                    scale2, sel, x, y, w, area)
        x = x[:n]
        y = y[:n]
        w = w[:n]
        row = out[i]
        cog_x, cog_y, cos_psi, sin_psi, length, width = _hillas_row(x, y, w, area[:n], row)
        size = row[0]

        # leakage
        n1 = 0
        n2 = 0
        s1 = 0.0
        s2 = 0.0
        for k in range(n):
            j = sel[k]
            if border_1[j]:
                n1 += 1
                s1 += w[k]
            if border_2[j]:
                n2 += 1
                s2 += w[k]
        row[_LEAKAGE0] = n1 / n
        row[_LEAKAGE0 + 1] = n2 / n
        row[_LEAKAGE0 + 2] = s1 / size
        row[_LEAKAGE0 + 3] = s2 / size

        # concentration and shower-frame coordinates
        scale = math.sqrt(scale2)
        longi = np.empty(n)
        c_cog = 0.0
        c_core = 0.0
        c_pix = -np.inf
        for k in range(n):
            dx = x[k] - cog_x
            dy = y[k] - cog_y
            pw = pixel_width[sel[k]] * scale
            if dx * dx + dy * dy < pw * pw:
                c_cog += w[k]
            lo = dx * cos_psi + dy * sin_psi
            tr = -dx * sin_psi + dy * cos_psi
            longi[k] = lo
            if width != 0 and lo * lo / (length * length) + tr * tr / (width * width) <= 1.0:
                c_core += w[k]
            c_pix = max(c_pix, w[k])
        row[_CONC0] = c_cog / size
        row[_CONC0 + 1] = c_core / size
        row[_CONC0 + 2] = c_pix / size

        values = np.empty(n, image.dtype)
        scratch = np.empty(n, image.dtype)
        for k in range(n):
            values[k] = image[i, sel[k]]
        _statistics_row(values, scratch, row[_INT0:_INT0 + 6])
        if has_peak_time:
            times = np.empty(n, peak_time.dtype)
            t = np.empty(n)
            for k in range(n):
                times[k] = peak_time[i, sel[k]]
                t[k] = times[k]
            _timing_row(longi, t, lts_starts[i], row[_TIMING0:_TIMING0 + 3])
            _statistics_row(times, np.empty(n, peak_time.dtype), row[_PT0:_PT0 + 6])
        else:
            row[_TIMING0:_TIMING0 + 3] = np.nan
            row[_PT0:_PT0 + 6] = np.nan

        # morphology
        labels = np.empty(n_pixels, np.int64)
        stack = np.empty(n_pixels, np.int64)
        n_islands = _label_islands(mask[i], indptr, indices, labels, stack)
        sizes = np.zeros(n_islands + 1, np.int64)
        for k in range(n):
            sizes[labels[sel[k]]] += 1
        small = 0
        large = 0
        for island in range(1, n_islands + 1):
            if sizes[island] <= _SMALL_ISLAND:
                small += 1
            elif sizes[island] > _LARGE_ISLAND:
                large += 1
        morphology[i, 0] = n
        morphology[i, 1] = n_islands
        morphology[i, 2] = small
        morphology[i, 3] = n_islands - small - large
        morphology[i, 4] = large


@kernel
def gather_selected(image, mask, out):
    """Selected pixel values of each image packed to the left, NaN after.

    Parameters
    ----------
    image : (n_images, n_pixels) float
    mask : (n_images, n_pixels) bool
    out : (n_images, n_columns) float64, written
        ``n_columns`` at least the largest number of selected pixels.
    """
    for i in range(image.shape[0]):
        k = 0
        for j in range(image.shape[1]):
            if mask[i, j]:
                out[i, k] = image[i, j]
                k += 1
        out[i, k:] = np.nan


@kernel
def count_fit_points(mask, times, valid, out):
    """Selected pixels with a finite time of each valid image (0 for the others)."""
    for i in range(mask.shape[0]):
        count = 0
        if valid[i]:
            for j in range(mask.shape[1]):
                if mask[i, j] and math.isfinite(times[i, j]):
                    count += 1
        out[i] = count
