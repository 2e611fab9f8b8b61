"""Charge-extraction kernels on batches of waveforms.

Every kernel takes a whole batch ``waveforms`` of shape
``(n_tel_events, n_pixels, n_samples)`` (float32 or float64) and writes the
extracted ``charge`` and ``peak_time`` arrays of shape
``(n_tel_events, n_pixels)`` given by the caller. Options that may differ
between telescopes (window width and shift, ...) are arrays with one value
per telescope event; the integration correction is an array
``(n_tel_events, n_gains)`` indexed with the selected gain of each pixel.

Conventions, shared with ctapipe so that results agree:

- a window ``[peak - shift, peak - shift + width)`` is truncated at the ends
  of the trace, never moved;
- the charge is the sum of the samples in the window (accumulated in
  float64), multiplied by the correction of the pixel's gain channel;
- the peak time is the mean sample index in the window weighted by the
  positive samples, divided by the sampling rate [GHz] to give ns; with no
  positive sample it is the peak index itself;
- peak searches return the first maximum; a NaN sample counts as the
  maximum (as in ``numpy.argmax``).

Only numpy and numba are used here.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import prange, types
from numba.extending import intrinsic, overload

from .._numba import kernel

__all__ = [
    "extract_around_peak",
    "full_waveform_sum",
    "fixed_window_sum",
    "global_peak_index",
    "global_peak_window_sum",
    "local_peak_index",
    "local_peak_window_sum",
    "sliding_window_start",
    "sliding_window_max_sum",
    "neighbor_peak_index",
    "neighbor_peak_window_sum",
    "subtract_baseline",
    "neighbor_average",
    "shift_waveforms",
]


# --------------------------------------------------------------------------- helpers


@kernel
def _argmax_first(a):
    """Index of the first maximum of a 1-d array; a NaN wins (numpy.argmax)."""
    n = a.shape[0]
    best = a[0]
    if best != best:
        return 0
    index = 0
    for s in range(1, n):
        v = a[s]
        if v != v:
            return s
        if v > best:
            best = v
            index = s
    return index


@intrinsic
def _float64_bits(typingctx, value):
    """The bits of a float64 as an int64 (a register move, no memory)."""
    if value != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


_KEY_MASK = np.int64(0x7FFFFFFFFFFFFFFF)
_KEY_LOW = np.int64(-0x8000000000000000)


@kernel
def _order_key(bits):
    """An int64 that orders like the float64 with these bits (-0.0 just below +0.0, NaN outside)."""
    return bits ^ ((bits >> 63) & _KEY_MASK)


@kernel
def _first_max_key(bits, kmax):
    """First index whose order key equals ``kmax`` (``len`` if none); vectorises."""
    n = bits.shape[0]
    first = n
    for s in range(n):
        c = s if _order_key(bits[s]) == kmax else n
        first = min(first, c)
    return first


def _all_finite(w):
    """Whether every sample of a 2-d float array is finite (vectorised bit test)."""
    raise NotImplementedError  # pragma: no cover - only the numba overload runs


@overload(_all_finite)
def _all_finite_impl(w):
    if w.dtype == types.float32:
        int_t, exponent = np.int32, np.int32(0x7F800000)
    elif w.dtype == types.float64:
        int_t, exponent = np.int64, np.int64(0x7FF0000000000000)
    else:
        return None

    def impl(w):
        zero = int_t(0)
        if w.flags.c_contiguous:
            bits = w.reshape(-1).view(int_t)
            m = zero
            for i in range(bits.shape[0]):
                m = max(m, bits[i] & exponent)
            return m != exponent
        n_rows, n_cols = w.shape
        for r in range(n_rows):
            m = zero
            for s in range(n_cols):
                m = max(m, w[r, s:s + 1].view(int_t)[0] & exponent)
            if m == exponent:
                return False
        return True

    return impl


@kernel
def _window_sum(row, peak, width, shift):
    """Sum of ``row`` in the truncated window and the positive-weighted mean index.

    Returns ``(charge, time_in_samples)``, both float64.
    """
    n = row.shape[0]
    start = peak - shift
    end = start + width
    if start < 0:
        start = 0
    if end > n:
        end = n
    total = 0.0
    num = 0.0
    den = 0.0
    for s in range(start, end):
        v = np.float64(row[s])
        total += v
        positive = v if v > 0.0 else 0.0
        num += positive * s
        den += positive
    time = num / den if den > 0.0 else np.float64(peak)
    return total, time


@kernel
def _store(charge, peak_time, e, p, total, time, sampling_rate, correction):
    """Write one pixel's results the way ctapipe rounds them.

    The sum is stored first (rounded to the output dtype) and then scaled by
    the correction; the time in samples is stored and then divided by the
    sampling rate.
    """
    charge[e, p] = total
    charge[e, p] = charge[e, p] * correction
    peak_time[e, p] = time
    peak_time[e, p] = peak_time[e, p] / sampling_rate


@kernel
def _windows_of_event(waveforms, e, peaks, width, shift, sampling_rate, selected_gain, correction,
                      charge, peak_time):
    w = waveforms[e]
    for p in range(w.shape[0]):
        total, time = _window_sum(w[p], peaks[p], width, shift)
        _store(charge, peak_time, e, p, total, time, sampling_rate, correction[e, selected_gain[e, p]])


# --------------------------------------------------------------------------- windows at given peaks


@kernel(parallel=True)
def extract_around_peak(waveforms, peak_index, width, shift, sampling_rate, selected_gain, correction,
                        charge, peak_time):
    """Sum each pixel's waveform in a window around a given peak index.

    Parameters
    ----------
    waveforms : ndarray, shape (n_tel_events, n_pixels, n_samples)
    peak_index : ndarray of int, shape (n_tel_events, n_pixels)
    width, shift : ndarray of int, shape (n_tel_events,)
        Window ``[peak - shift, peak - shift + width)``, truncated at the trace ends.
    sampling_rate : float
        [GHz].
    selected_gain : ndarray of int8, shape (n_tel_events, n_pixels)
    correction : ndarray of float64, shape (n_tel_events, n_gains)
        Integration correction per gain channel (ones for none).
    charge, peak_time : ndarray, shape (n_tel_events, n_pixels)
        Outputs, written in place [sum units, ns].
    """
    n_events = waveforms.shape[0]
    for e in prange(n_events):
        _windows_of_event(waveforms, e, peak_index[e], width[e], shift[e], sampling_rate, selected_gain,
                          correction, charge, peak_time)


@kernel(parallel=True)
def full_waveform_sum(waveforms, sampling_rate, charge, peak_time):
    """Sum of the whole trace; peak time from all positive samples (0 if none).

    Parameters
    ----------
    waveforms : ndarray, shape (n_tel_events, n_pixels, n_samples)
    sampling_rate : float
        [GHz].
    charge, peak_time : ndarray, shape (n_tel_events, n_pixels)
        Outputs, written in place.
    """
    n_events, n_pixels, n_samples = waveforms.shape
    for e in prange(n_events):
        w = waveforms[e]
        for p in range(n_pixels):
            total, time = _window_sum(w[p], 0, n_samples, 0)
            _store(charge, peak_time, e, p, total, time, sampling_rate, 1.0)


@kernel(parallel=True)
def fixed_window_sum(waveforms, peak_index, width, shift, sampling_rate, selected_gain, correction,
                     charge, peak_time):
    """Window at the same, given peak index for every pixel of a telescope event.

    Parameters
    ----------
    peak_index, width, shift : ndarray of int, shape (n_tel_events,)
    Others as in :func:`extract_around_peak`.
    """
    n_events, n_pixels, _ = waveforms.shape
    for e in prange(n_events):
        w = waveforms[e]
        for p in range(n_pixels):
            total, time = _window_sum(w[p], peak_index[e], width[e], shift[e])
            _store(charge, peak_time, e, p, total, time, sampling_rate, correction[e, selected_gain[e, p]])


# --------------------------------------------------------------------------- local peak


@kernel(parallel=True)
def local_peak_index(waveforms, out):
    """First maximum of each pixel's own waveform, shape (n_tel_events, n_pixels)."""
    n_events, n_pixels, _ = waveforms.shape
    for e in prange(n_events):
        for p in range(n_pixels):
            out[e, p] = _argmax_first(waveforms[e, p])


@kernel(parallel=True)
def local_peak_window_sum(waveforms, width, shift, sampling_rate, selected_gain, correction, charge,
                          peak_time):
    """Window around the maximum of each pixel's own waveform.

    Parameters as in :func:`extract_around_peak` without ``peak_index``.
    """
    n_events, n_pixels, _ = waveforms.shape
    for e in prange(n_events):
        w = waveforms[e]
        for p in range(n_pixels):
            peak = _argmax_first(w[p])
            total, time = _window_sum(w[p], peak, width[e], shift[e])
            _store(charge, peak_time, e, p, total, time, sampling_rate, correction[e, selected_gain[e, p]])


# --------------------------------------------------------------------------- global peak


@kernel
def _global_peak(w, broken, pixel_fraction):
    """Peak of the mean waveform of the valid pixels (or of the brightest fraction)."""
    n_pixels, n_samples = w.shape
    total = np.zeros(n_samples, w.dtype)
    if pixel_fraction >= 1.0:
        for p in range(n_pixels):
            if broken[p]:
                continue
            for s in range(n_samples):
                total[s] += w[p, s]
        return _argmax_first(total)
    n_use = int(pixel_fraction * n_pixels)
    if n_use <= 0:
        return 0
    brightness = np.empty(n_pixels, np.float64)
    for p in range(n_pixels):
        m = -np.inf
        if not broken[p]:
            for s in range(n_samples):
                if w[p, s] > m:
                    m = w[p, s]
        brightness[p] = m
    order = np.argsort(-brightness, kind="mergesort")
    chosen = np.sort(order[:n_use])
    for i in range(n_use):
        p = chosen[i]
        for s in range(n_samples):
            total[s] += w[p, s]
    return _argmax_first(total)


@kernel(parallel=True)
def global_peak_index(waveforms, broken, pixel_fraction, out):
    """Peak index of the camera-averaged waveform of each telescope event.

    Parameters
    ----------
    waveforms : ndarray, shape (n_tel_events, n_pixels, n_samples)
    broken : ndarray of bool, shape (n_tel_events, n_pixels)
        Pixels left out of the average.
    pixel_fraction : ndarray of float, shape (n_tel_events,)
        1 averages every valid pixel; below 1 only the ``int(fraction *
        n_pixels)`` pixels with the largest maximum.
    out : ndarray of int, shape (n_tel_events,)
    """
    for e in prange(waveforms.shape[0]):
        out[e] = _global_peak(waveforms[e], broken[e], pixel_fraction[e])


@kernel(parallel=True)
def global_peak_window_sum(waveforms, broken, pixel_fraction, width, shift, sampling_rate, selected_gain,
                           correction, charge, peak_time):
    """Window around the peak of the camera-averaged waveform.

    The waveforms of the valid pixels are summed in the waveform dtype in
    pixel order (as numpy's mean does) and the first maximum taken.
    Parameters as in :func:`global_peak_index` and :func:`extract_around_peak`.
    """
    n_events, n_pixels, _ = waveforms.shape
    for e in prange(n_events):
        w = waveforms[e]
        peak = _global_peak(w, broken[e], pixel_fraction[e])
        for p in range(n_pixels):
            total, time = _window_sum(w[p], peak, width[e], shift[e])
            _store(charge, peak_time, e, p, total, time, sampling_rate, correction[e, selected_gain[e, p]])


# --------------------------------------------------------------------------- sliding window


@kernel
def _sliding_start(row, width, running):
    """Start of the window of ``width`` samples with the largest sum, and that sum.

    Sums are differences of the float64 running sum (as ctapipe computes
    them); the first largest wins.
    """
    n = row.shape[0]
    acc = 0.0
    for s in range(n):
        acc += row[s]
        running[s] = acc
    best = running[width - 1]
    start = 0
    if best != best:
        return 0, best
    for s in range(1, n - width + 1):
        v = running[s + width - 1] - running[s - 1]
        if v != v:
            return s, v
        if v > best:
            best = v
            start = s
    return start, best


@kernel(parallel=True)
def sliding_window_start(waveforms, width, out):
    """Start index of the largest-sum window of each pixel, shape (n_tel_events, n_pixels).

    ``width`` (one per telescope event) is clipped to ``[1, n_samples]``.
    """
    n_events, n_pixels, n_samples = waveforms.shape
    for e in prange(n_events):
        running = np.empty(n_samples, np.float64)
        wd = min(max(width[e], 1), n_samples)
        for p in range(n_pixels):
            out[e, p] = _sliding_start(waveforms[e, p], wd, running)[0]


@kernel(parallel=True)
def sliding_window_max_sum(waveforms, width, sampling_rate, selected_gain, correction, charge, peak_time):
    """Largest sum of ``width`` consecutive samples of each pixel.

    The peak time is the positive-weighted mean index in that window, or its
    centre (``start + width / 2``) without positive samples. ``width`` is
    clipped to ``[1, n_samples]``. Other parameters as in
    :func:`extract_around_peak`.
    """
    n_events, n_pixels, n_samples = waveforms.shape
    for e in prange(n_events):
        w = waveforms[e]
        running = np.empty(n_samples, np.float64)
        wd = min(max(width[e], 1), n_samples)
        for p in range(n_pixels):
            row = w[p]
            start, total = _sliding_start(row, wd, running)
            num = 0.0
            den = 0.0
            for s in range(start, start + wd):
                v = np.float64(row[s])
                positive = v if v > 0.0 else 0.0
                num += positive * s
                den += positive
            time = num / den if den > 0.0 else start + 0.5 * wd
            _store(charge, peak_time, e, p, total, time, sampling_rate, correction[e, selected_gain[e, p]])


# --------------------------------------------------------------------------- neighbour peak


@kernel
def _neighbor_peaks(w, indptr, indices, broken, local_weight, acc, bits, peaks):
    """Peak of the summed neighbour waveforms of every pixel of one telescope event.

    The sum of the (non-broken) neighbours plus ``local_weight`` times the
    pixel's own waveform is accumulated in float64 in neighbour order (as
    ctapipe does, so the sums are identical) and its first maximum taken.
    Without broken pixels, local weight or non-finite samples (the usual
    case) the maximum is found with vectorised integer keys; otherwise
    sample by sample with numpy's rules (a NaN wins).
    """
    n_pixels, n_samples = w.shape
    any_broken = False
    for p in range(n_pixels):
        if broken[p]:
            any_broken = True
            break
    if local_weight == 0 and not any_broken and _all_finite(w):
        # order keys of the sums; the "packed" key keeps the index of the sample in its low
        # bits so that one pass finds the first maximum, unless two sums agree to all but
        # those bits (then the exact keys decide with a second pass)
        index_bits = 1
        while (1 << index_bits) < n_samples:
            index_bits += 1
        index_mask = np.int64((1 << index_bits) - 1)
        for p in range(n_pixels):
            k0 = indptr[p]
            k1 = indptr[p + 1]
            kmax = _KEY_LOW
            packed_max = _KEY_LOW
            if k1 - k0 == 6:
                n0 = indices[k0]
                n1 = indices[k0 + 1]
                n2 = indices[k0 + 2]
                n3 = indices[k0 + 3]
                n4 = indices[k0 + 4]
                n5 = indices[k0 + 5]
                for s in range(n_samples):
                    v = (((((np.float64(w[n0, s]) + w[n1, s]) + w[n2, s]) + w[n3, s]) + w[n4, s])
                         + w[n5, s]) + 0.0
                    acc[s] = v
                    key = _order_key(_float64_bits(v))
                    kmax = max(kmax, key)
                    packed_max = max(packed_max, ((key >> index_bits) << index_bits) | (index_mask - s))
            else:
                for s in range(n_samples):
                    acc[s] = 0.0
                for k in range(k0, k1):
                    n = indices[k]
                    for s in range(n_samples):
                        acc[s] += w[n, s]
                for s in range(n_samples):
                    key = _order_key(bits[s])
                    kmax = max(kmax, key)
                    packed_max = max(packed_max, ((key >> index_bits) << index_bits) | (index_mask - s))
            first = index_mask - (packed_max & index_mask)
            if _order_key(bits[first]) != kmax:
                first = _first_max_key(bits, kmax)
            peaks[p] = first
        return
    for p in range(n_pixels):
        for s in range(n_samples):
            acc[s] = np.float64(w[p, s]) * local_weight
        for k in range(indptr[p], indptr[p + 1]):
            n = indices[k]
            if broken[n]:
                continue
            for s in range(n_samples):
                acc[s] += w[n, s]
        peaks[p] = _argmax_first(acc)


@kernel(parallel=True)
def neighbor_peak_index(waveforms, indptr, indices, broken, local_weight, out):
    """Peak index of the summed neighbour waveforms, shape (n_tel_events, n_pixels).

    Parameters
    ----------
    waveforms : ndarray, shape (n_tel_events, n_pixels, n_samples)
    indptr, indices : ndarray of int
        Neighbour table in CSR form (``CameraGeometry.neighbor_indptr``/``neighbor_indices``).
    broken : ndarray of bool, shape (n_tel_events, n_pixels)
        Pixels left out of their neighbours' sums.
    local_weight : ndarray of int, shape (n_tel_events,)
        Weight of the pixel's own waveform (0: neighbours only).
    out : ndarray of int, shape (n_tel_events, n_pixels)
    """
    n_events, n_pixels, n_samples = waveforms.shape
    for e in prange(n_events):
        acc = np.empty(n_samples, np.float64)
        _neighbor_peaks(waveforms[e], indptr, indices, broken[e], local_weight[e], acc, acc.view(np.int64),
                        out[e])


@kernel(parallel=True)
def neighbor_peak_window_sum(waveforms, indptr, indices, broken, local_weight, width, shift, sampling_rate,
                             selected_gain, correction, charge, peak_time):
    """Window around the peak of the summed neighbour waveforms (ctapipe's default).

    Parameters as in :func:`neighbor_peak_index` and :func:`extract_around_peak`.
    """
    n_events, n_pixels, n_samples = waveforms.shape
    for e in prange(n_events):
        acc = np.empty(n_samples, np.float64)
        peaks = np.empty(n_pixels, np.int64)
        _neighbor_peaks(waveforms[e], indptr, indices, broken[e], local_weight[e], acc, acc.view(np.int64),
                        peaks)
        _windows_of_event(waveforms, e, peaks, width[e], shift[e], sampling_rate, selected_gain, correction,
                          charge, peak_time)


# --------------------------------------------------------------------------- waveform preparation


@kernel
def _pairwise_sum(a, start, n, r):
    """Sum of ``a[start:start + n]`` in the dtype of ``r`` (8 scratch slots), in numpy's order.

    numpy sums floating-point rows pairwise: below 8 values one by one,
    up to 128 values in 8 interleaved partial sums, above that by halves.
    Reproducing the order reproduces numpy's float32 means bit for bit.
    """
    if n < 8:
        r[0] = 0.0
        for i in range(n):
            r[0] += a[start + i]
        return r[0]
    if n <= 128:
        for j in range(8):
            r[j] = a[start + j]
        stop = n - n % 8
        for i in range(8, stop, 8):
            for j in range(8):
                r[j] += a[start + i + j]
        r[0] = r[0] + r[1]
        r[2] = r[2] + r[3]
        r[4] = r[4] + r[5]
        r[6] = r[6] + r[7]
        r[0] = r[0] + r[2]
        r[4] = r[4] + r[6]
        r[0] = r[0] + r[4]
        for i in range(stop, n):
            r[0] += a[start + i]
        return r[0]
    half = n // 2
    half -= half % 8
    left = _pairwise_sum(a, start, half, r)
    right = _pairwise_sum(a, start + half, n - half, r)
    r[0] = left
    r[0] += right
    return r[0]


@kernel(parallel=True)
def subtract_baseline(waveforms, start, end, out):
    """Waveforms minus their mean over samples ``[start, end)`` (clipped to the trace).

    The mean is computed as ``numpy.mean`` does, in the waveform dtype.

    Parameters
    ----------
    waveforms : ndarray, shape (n_tel_events, n_pixels, n_samples)
    start, end : int
    out : ndarray, same shape and dtype
        May be ``waveforms`` itself.
    """
    n_events, n_pixels, n_samples = waveforms.shape
    lo = min(max(start, 0), n_samples)
    hi = min(max(end, lo), n_samples)
    for e in prange(n_events):
        scratch = np.empty(8, waveforms.dtype)
        baseline = np.empty(1, waveforms.dtype)
        for p in range(n_pixels):
            if hi > lo:
                baseline[0] = _pairwise_sum(waveforms[e, p], lo, hi - lo, scratch)
                baseline[0] = baseline[0] / (hi - lo)
            else:
                baseline[0] = np.nan
            for s in range(n_samples):
                out[e, p, s] = waveforms[e, p, s] - baseline[0]


@kernel(parallel=True)
def shift_waveforms(waveforms, time_shift_samples, out, remaining):
    """Shift each pixel's waveform by the integer part of its time shift.

    The shift of every pixel relative to the telescope event's mean shift is
    rounded (half to even) to whole samples; the waveform moves left by that
    many samples, repeating the edge sample. What is left of the shift
    (mean plus fractional part) is returned to be subtracted from the peak
    time afterwards.

    Parameters
    ----------
    waveforms : ndarray, shape (n_tel_events, n_pixels, n_samples)
    time_shift_samples : ndarray, shape (n_tel_events, n_pixels)
        Time shift in samples.
    out : ndarray, like ``waveforms``
    remaining : ndarray of float64, shape (n_tel_events, n_pixels)
        Remaining shift [samples].
    """
    n_events, n_pixels, n_samples = waveforms.shape
    for e in prange(n_events):
        mean = 0.0
        for p in range(n_pixels):
            mean += time_shift_samples[e, p]
        mean /= n_pixels
        for p in range(n_pixels):
            shift = np.rint(time_shift_samples[e, p] - mean)
            remaining[e, p] = time_shift_samples[e, p] - shift
            k = int(shift)
            for s in range(n_samples):
                src = min(max(s + k, 0), n_samples - 1)
                out[e, p, s] = waveforms[e, p, src]


# --------------------------------------------------------------------------- invalid pixels


@kernel(parallel=True)
def neighbor_average(values, mask, indptr, indices):
    """Replace masked pixels by the mean of their unmasked neighbours, in place.

    Pixels without an unmasked neighbour become 0.

    Parameters
    ----------
    values : ndarray, shape (n_tel_events, n_pixels)
        Image or peak time; modified in place.
    mask : ndarray of bool, shape (n_tel_events, n_pixels)
        Pixels to replace.
    indptr, indices : ndarray of int
        Neighbour table in CSR form.
    """
    n_events, n_pixels = values.shape
    for e in prange(n_events):
        n_masked = 0
        for p in range(n_pixels):
            if mask[e, p]:
                n_masked += 1
        if n_masked == 0:
            continue
        replaced = np.zeros(n_masked, values.dtype)
        i = 0
        for p in range(n_pixels):
            if not mask[e, p]:
                continue
            count = 0
            for k in range(indptr[p], indptr[p + 1]):
                n = indices[k]
                if not mask[e, n]:
                    replaced[i] += values[e, n]
                    count += 1
            if count > 0:
                replaced[i] = replaced[i] / count
            i += 1
        i = 0
        for p in range(n_pixels):
            if mask[e, p]:
                values[e, p] = replaced[i]
                i += 1
