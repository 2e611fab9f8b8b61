"""Kernels of the two-pass window sum (TwoPassWindowSum, after CTA-MARS).

For each telescope event:

1. first pass: per pixel, the 3-sample window with the largest sum (centre
   restricted to samples ``2 .. n - 3``) is widened by one sample on each
   side and integrated (5 samples, shift 2) with its correction;
2. a tail-cut cleaning of that image with a picture threshold of
   ``core_threshold``, a boundary threshold of half of it and at least one
   picture neighbour; the brightest island is kept;
3. with fewer than 3 pixels in it, the first pass is the result
   (``is_valid`` false);
4. otherwise the island's Hillas ellipse (centre and main axis) and a robust
   straight-line fit of peak time against the position along that axis
   predict a time for every pixel;
5. every pixel except the island's core pixels is integrated again in a
   5-sample window around the predicted time (the first or last 5 samples
   where the window would leave the trace), with its own correction.

The robust fit is a least-trimmed-squares regression keeping 85 % of the
points. ctapipe starts it from random pairs of points drawn from a global
generator; here the starts are the ordinary least-squares fit and four
fixed pairs of points, so results are reproducible event by event.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from .._numba import kernel
from ..image.cleaning_kernels import _brightest_island_row, _label_islands_row, _tailcuts_row
from .extractor_kernels import _store, _window_sum

__all__ = ["two_pass_window_sum", "lts_linear_regression"]

_DET_EPS = 2 * np.finfo(np.float64).eps


@kernel
def _ols(x, y, index, n):
    """Least-squares line through the points ``index[:n]``; NaN if degenerate."""
    sx = 0.0
    sy = 0.0
    sxx = 0.0
    sxy = 0.0
    for i in range(n):
        k = index[i]
        sx += x[k]
        sy += y[k]
        sxx += x[k] * x[k]
        sxy += x[k] * y[k]
    det = n * sxx - sx * sx
    if not det >= _DET_EPS:
        return np.nan, np.nan
    slope = (n * sxy - sx * sy) / det
    intercept = (sxx * sy - sx * sxy) / det
    return slope, intercept


@kernel
def _rss(x, y, index, n, slope, intercept):
    total = 0.0
    for i in range(n):
        k = index[i]
        r = y[k] - (slope * x[k] + intercept)
        total += r * r
    return total


@kernel
def lts_linear_regression(x, y, relative_sample_size=0.85, max_iterations=20, eps=1e-12):
    """Least-trimmed-squares straight line ``y = slope * x + intercept``.

    Starting from the least-squares fit of all points and from four fixed
    pairs of points (ordered by ``x``), concentration steps refit the
    ``relative_sample_size`` fraction of points closest to the line until
    the residual sum of squares stops changing; the start with the smallest
    sum wins.

    Parameters
    ----------
    x, y : ndarray of float64, shape (n,)
        Points; non-finite ones are ignored.

    Returns
    -------
    slope, intercept : float
        NaN when fewer than two usable points or all ``x`` equal.
    """
    n_all = x.shape[0]
    usable = np.empty(n_all, np.int64)
    n = 0
    for i in range(n_all):
        if np.isfinite(x[i]) and np.isfinite(y[i]):
            usable[n] = i
            n += 1
    if n < 2:
        return np.nan, np.nan
    ordered = usable[:n][np.argsort(x[usable[:n]], kind="mergesort")]
    keep = max(int(relative_sample_size * n), 2)
    residuals = np.empty(n, np.float64)
    sample = np.empty(n, np.int64)
    best_error = np.inf
    best_slope = np.nan
    best_intercept = np.nan
    pairs = ((0, n - 1), (n // 4, (3 * n) // 4), (0, n // 2), (n // 2, n - 1))
    for start in range(5):
        if start == 0:
            slope, intercept = _ols(x, y, ordered, n)
        else:
            i, j = pairs[start - 1]
            if i == j:
                continue
            sample[0] = ordered[i]
            sample[1] = ordered[j]
            slope, intercept = _ols(x, y, sample, 2)
        if np.isnan(slope):
            continue
        error = np.inf
        for _ in range(max_iterations):
            for i in range(n):
                k = ordered[i]
                r = y[k] - (slope * x[k] + intercept)
                residuals[i] = r * r
            chosen = np.argsort(residuals, kind="mergesort")[:keep]
            for i in range(keep):
                sample[i] = ordered[chosen[i]]
            new_slope, new_intercept = _ols(x, y, sample, keep)
            if np.isnan(new_slope):
                break
            slope, intercept = new_slope, new_intercept
            last = error
            error = _rss(x, y, sample, keep, slope, intercept)
            if abs(last - error) < eps:
                break
        if error < best_error:
            best_error = error
            best_slope = slope
            best_intercept = intercept
    return best_slope, best_intercept


@kernel
def _interpolate(values, broken, indptr, indices):
    """Broken pixels -> mean of their non-broken neighbours (0 without any), in place."""
    n = values.shape[0]
    any_broken = False
    for p in range(n):
        if broken[p]:
            any_broken = True
            break
    if not any_broken:
        return
    replaced = np.zeros(n, values.dtype)
    for p in range(n):
        if not broken[p]:
            continue
        count = 0
        for k in range(indptr[p], indptr[p + 1]):
            q = indices[k]
            if not broken[q]:
                replaced[p] += values[q]
                count += 1
        if count > 0:
            replaced[p] = replaced[p] / count
    for p in range(n):
        if broken[p]:
            values[p] = replaced[p]


@kernel
def _first_pass_peak(row, sums):
    """Centre of the 3-sample window with the largest sum, within ``2 .. n - 3``."""
    n = row.shape[0]
    for s in range(2, n - 2):
        sums[s] = (np.float64(row[s - 1]) + row[s]) + row[s + 1]
    best = sums[2]
    peak = 2
    if best != best:
        return peak
    for s in range(3, n - 2):
        v = sums[s]
        if v != v:
            return s
        if v > best:
            best = v
            peak = s
    return peak


@kernel
def _two_pass_event(w, e, indptr, indices, pix_x, pix_y, broken, core_threshold, sampling_rate, gain,
                    corr_first, corr_before, corr_after, disable_second_pass, interpolate, charge, peak_time):
    n_pixels, n_samples = w.shape
    sums = np.empty(n_samples, w.dtype)
    charge1_raw = np.empty(n_pixels, np.float32)
    time1 = np.empty(n_pixels, np.float32)
    charge1 = np.empty(n_pixels, np.float64)
    for p in range(n_pixels):
        peak = _first_pass_peak(w[p], sums)
        total, time = _window_sum(w[p], peak, 5, 2)
        charge1_raw[p] = total
        time1[p] = time
        time1[p] = time1[p] / sampling_rate
        charge1[p] = charge1_raw[p] * corr_first[gain[p]]
    if disable_second_pass:
        for p in range(n_pixels):
            charge[e, p] = charge1[p]
            peak_time[e, p] = time1[p]
        return True
    if interpolate:
        _interpolate(charge1, broken, indptr, indices)
        _interpolate(time1, broken, indptr, indices)

    # core cleaning (core threshold / half of it, one picture neighbour), brightest island
    clean = np.empty(n_pixels, np.bool_)
    flags = np.empty((3, n_pixels), np.bool_)
    _tailcuts_row(charge1, np.full(n_pixels, core_threshold), np.full(n_pixels, core_threshold / 2), 1, False,
                  indptr, indices, flags[0], flags[1], flags[2], clean)
    labels = np.empty(n_pixels, np.int64)
    n_islands = _label_islands_row(clean, indptr, indices, labels, np.empty(n_pixels, np.int64))
    island = np.empty(n_pixels, np.bool_)
    _brightest_island_row(labels, n_islands, charge1, island)

    n_island = 0
    size = 0.0
    for p in range(n_pixels):
        if island[p]:
            n_island += 1
            size += charge1[p]
    valid = n_island >= 3 and size > 0
    slope = np.nan
    intercept = np.nan
    cog_x = 0.0
    cog_y = 0.0
    cos_psi = 1.0
    sin_psi = 0.0
    if valid:
        for p in range(n_pixels):
            if island[p]:
                cog_x += charge1[p] * pix_x[p]
                cog_y += charge1[p] * pix_y[p]
        cog_x /= size
        cog_y /= size
        cxx = 0.0
        cyy = 0.0
        cxy = 0.0
        for p in range(n_pixels):
            if island[p]:
                dx = pix_x[p] - cog_x
                dy = pix_y[p] - cog_y
                cxx += charge1[p] * dx * dx
                cyy += charge1[p] * dy * dy
                cxy += charge1[p] * dx * dy
        psi = 0.5 * np.arctan2(2.0 * cxy, cxx - cyy)
        cos_psi = np.cos(psi)
        sin_psi = np.sin(psi)
        longitude = np.empty(n_island)
        times = np.empty(n_island)
        i = 0
        for p in range(n_pixels):
            if island[p]:
                longitude[i] = (pix_x[p] - cog_x) * cos_psi + (pix_y[p] - cog_y) * sin_psi
                times[i] = time1[p]
                i += 1
        slope, intercept = lts_linear_regression(longitude, times)
        valid = not np.isnan(slope)

    if not valid:
        for p in range(n_pixels):
            charge[e, p] = charge1[p]
            peak_time[e, p] = time1[p]
        return False

    limit = 4.0 * n_samples + 8.0
    for p in range(n_pixels):
        if island[p] and charge1[p] >= core_threshold:
            charge[e, p] = charge1[p]
            peak_time[e, p] = time1[p]
            continue
        longitude_p = (pix_x[p] - cog_x) * cos_psi + (pix_y[p] - cog_y) * sin_psi
        predicted = np.rint((slope * longitude_p + intercept) * sampling_rate)
        predicted = min(max(predicted, -limit), limit)
        peak = int(predicted)
        start = peak - 2
        width = 5
        shift = 2
        corr = corr_first[gain[p]]
        if start + 5 > n_samples - 1:
            width = 6
            shift = 4
            corr = corr_after[gain[p]]
        elif start < 0:
            shift = 0
            corr = corr_before[gain[p]]
        if peak < 2:
            peak = 0
        if peak > n_samples - 3:
            peak = n_samples - 1
        total, time = _window_sum(w[p], peak, width, shift)
        _store(charge, peak_time, e, p, total, time, sampling_rate, corr)
    return True


@kernel(parallel=True)
def two_pass_window_sum(waveforms, indptr, indices, pix_x, pix_y, broken, core_threshold, sampling_rate,
                        selected_gain, corr_first, corr_before, corr_after, disable_second_pass,
                        interpolate, charge, peak_time, is_valid):
    """Two-pass window sum of a batch of telescope events.

    Parameters
    ----------
    waveforms : ndarray, shape (n_tel_events, n_pixels, n_samples)
        At least 5 samples.
    indptr, indices : ndarray of int
        Neighbour table in CSR form.
    pix_x, pix_y : ndarray of float64, shape (n_pixels,)
        Pixel positions [m].
    broken : ndarray of bool, shape (n_tel_events, n_pixels)
        Pixels interpolated from their neighbours after the first pass
        (when ``interpolate``).
    core_threshold : ndarray of float64, shape (n_tel_events,)
        Picture threshold of the internal cleaning [pe].
    sampling_rate : float
        [GHz].
    selected_gain : ndarray of int8, shape (n_tel_events, n_pixels)
    corr_first, corr_before, corr_after : ndarray of float64, shape (n_tel_events, n_gains)
        Integration corrections of the 5-sample window with shift 2, of the
        first 5 samples (shift 0) and of the 6-sample window with shift 4.
    disable_second_pass : bool
        Stop after the first pass.
    interpolate : bool
        Replace broken pixels by their neighbours' mean after the first pass.
    charge, peak_time : ndarray of float32, shape (n_tel_events, n_pixels)
    is_valid : ndarray of bool, shape (n_tel_events,)
        Whether the second pass ran.
    """
    for e in prange(waveforms.shape[0]):
        is_valid[e] = _two_pass_event(waveforms[e], e, indptr, indices, pix_x, pix_y, broken[e],
                                      core_threshold[e], sampling_rate, selected_gain[e], corr_first[e],
                                      corr_before[e], corr_after[e], disable_second_pass, interpolate,
                                      charge, peak_time)
