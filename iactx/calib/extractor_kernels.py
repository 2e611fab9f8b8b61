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
from .._simd import (LANES, abs8, add8, allmax8, hmax8, load8, load8_first, mask_ge8, max8, popcount, splat8, store8,
                     sub8, trailing_zeros, window_extract8)

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
def _float32_from_bits(typingctx, bits):
    """The float32 whose bits are the low 32 bits of an integer (a register move)."""
    if not isinstance(bits, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        low = builder.trunc(context.cast(builder, args[0], signature.args[0], types.int64), ir.IntType(32))
        return builder.bitcast(low, ir.FloatType())

    return types.float32(bits), codegen


_MAGNITUDE_BITS = np.int32(0x7FFFFFFF)
_INFINITY_BITS = 0x7F800000


@kernel
def _largest_magnitude_bits(w):
    """Largest ``|sample|`` of a C-contiguous float32 matrix, as float32 bits.

    An integer maximum over the whole matrix (vectorises); at least
    ``0x7F800000`` when a sample is infinite or NaN.
    """
    bits = w.reshape(-1).view(np.int32)
    largest = np.int32(0)
    for i in range(bits.shape[0]):
        largest = max(largest, np.int32(bits[i] & _MAGNITUDE_BITS))
    return largest


@kernel(inline="always")
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


@kernel(inline="always")
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


def _windows_of_event(waveforms, e, peaks, width, shift, sampling_rate, selected_gain, correction, charge,
                      peak_time):
    """Charge and peak time of every pixel of telescope event ``e`` in windows around ``peaks`` (int64).

    As :func:`_window_sum` and :func:`_store` compute them pixel by pixel;
    C-contiguous arrays go through :func:`iactx._simd.window_extract8`,
    eight pixels at a time, with the same operations in the same order.
    """
    raise NotImplementedError  # pragma: no cover - only the numba overload runs


@overload(_windows_of_event)
def _windows_of_event_impl(waveforms, e, peaks, width, shift, sampling_rate, selected_gain, correction, charge,
                           peak_time):
    arrays = (waveforms, peaks, selected_gain, correction, charge, peak_time)
    if all(a.layout == "C" for a in arrays) and peaks.dtype == types.int64 and correction.dtype == types.float64:
        def impl(waveforms, e, peaks, width, shift, sampling_rate, selected_gain, correction, charge, peak_time):
            n_pixels = waveforms.shape[1]
            for p in range(0, n_pixels, LANES):
                window_extract8(waveforms[e], p, min(LANES, n_pixels - p), peaks, width, shift, selected_gain[e],
                                correction[e], sampling_rate, charge[e], peak_time[e])
        return impl

    def impl(waveforms, e, peaks, width, shift, sampling_rate, selected_gain, correction, charge, peak_time):
        w = waveforms[e]
        for p in range(w.shape[0]):
            total, time = _window_sum(w[p], peaks[p], width, shift)
            _store(charge, peak_time, e, p, total, time, sampling_rate, correction[e, selected_gain[e, p]])
    return impl


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
    n_events, n_pixels, _ = waveforms.shape
    for e in prange(n_events):
        peaks = np.empty(n_pixels, np.int64)
        peaks[:] = peak_index[e]
        _windows_of_event(waveforms, e, peaks, width[e], shift[e], sampling_rate, selected_gain, correction, charge,
                          peak_time)


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


@kernel(inline="always")
def _exact_neighbor_peak(w, indptr, indices, broken, local_weight, p, acc):
    """Peak of pixel ``p`` as ctapipe finds it (the reference for every shortcut).

    ``local_weight`` times the pixel's own waveform plus its non-broken
    neighbours, summed in float64 in neighbour order into ``acc``; the
    first maximum (a NaN wins, as in ``numpy.argmax``).
    """
    n_samples = w.shape[1]
    for s in range(n_samples):
        acc[s] = np.float64(w[p, s]) * local_weight
    for k in range(indptr[p], indptr[p + 1]):
        n = indices[k]
        if broken[n]:
            continue
        for s in range(n_samples):
            acc[s] += w[n, s]
    return _argmax_first(acc)


@kernel(inline="always")
def _six_row_sum(a0, a1, a2, a3, a4, a5):
    """Float32 sum, as a tree, of the eight samples at each of the byte addresses ``a0 .. a5``."""
    return add8(add8(add8(load8(a0), load8(a1)), add8(load8(a2), load8(a3))), add8(load8(a4), load8(a5)))


@kernel(inline="always")
def _six_row_sum_first(a0, a1, a2, a3, a4, a5, n_valid):
    """As :func:`_six_row_sum` for the first ``n_valid`` lanes only; the others are -inf (not read)."""
    return add8(add8(add8(load8_first(a0, n_valid, -np.inf), load8_first(a1, n_valid, 0.0)),
                     add8(load8_first(a2, n_valid, 0.0), load8_first(a3, n_valid, 0.0))),
                add8(load8_first(a4, n_valid, 0.0), load8_first(a5, n_valid, 0.0)))


@kernel(inline="always")
def _row_magnitude(address, n_samples):
    """Largest ``|sample|`` of the float32 waveform at byte address ``address``."""
    top = splat8(0.0)
    for c in range(0, n_samples, LANES):
        top = max8(top, abs8(load8_first(address + 4 * c, n_samples - c, 0.0)))
    return np.float64(hmax8(top))


@kernel(inline="always")
def _float32_margin(n_values, magnitude):
    """float32 margin by which the largest float32 sum must lead for its sample to be ctapipe's peak.

    A sum of ``n`` float32 numbers whose magnitudes add up to at most
    ``magnitude``, formed in float32 (any order) and in float64 (ctapipe),
    has rounding errors of at most ``(n - 1) 2**-24 magnitude`` and
    ``(n - 1) 2**-53 magnitude``: the two differ by less than
    ``E = n 2**-24 magnitude``. Any sample whose float32 sum is more than
    ``2 E`` below the largest float32 sum is below its sample in ctapipe's
    sums too. Subtracting the margin from the largest sum in float32 may
    round up by ``2**-24 (n magnitude + margin)``; ``(n + 2) 2**-22
    magnitude`` (plus the smallest normal float32), rounded up to float32,
    covers both with room to spare.
    """
    margin = (n_values + 2) * 2.0 ** -22 * magnitude + 2.0 ** -126
    return np.float32(margin * (1.0 + 2.0 ** -20))


#: chunks of eight samples up to which the loops over a pixel's samples have a constant bound
#: (64 samples): LLVM then unrolls them and keeps the sums in registers (the pass runs ~1.4x faster)
_UNROLLED_CHUNKS = 8


@kernel(inline="always")
def _six_neighbor_sums(base, offsets, n_samples, max_chunks, sums):
    """float32 sums of six neighbour waveforms, stored in ``sums``; returns their per-lane maximum.

    The waveforms start at the byte addresses ``base + offsets[k]``; lanes
    past the trace are -inf. ``max_chunks`` bounds the loop over chunks of
    eight samples (a constant lets LLVM unroll it).
    """
    a0, a1, a2 = base + offsets[0], base + offsets[1], base + offsets[2]
    a3, a4, a5 = base + offsets[3], base + offsets[4], base + offsets[5]
    out = sums.ctypes.data
    n_full = n_samples // LANES
    top = splat8(-np.inf)
    for c in range(max_chunks):
        if c >= n_full:
            break
        o = 4 * LANES * c
        v = _six_row_sum(a0 + o, a1 + o, a2 + o, a3 + o, a4 + o, a5 + o)
        top = max8(top, v)
        store8(out + o, v)
    if LANES * n_full < n_samples:
        o = 4 * LANES * n_full
        v = _six_row_sum_first(a0 + o, a1 + o, a2 + o, a3 + o, a4 + o, a5 + o, n_samples - LANES * n_full)
        top = max8(top, v)
        store8(out + o, v)
    return top


@kernel(inline="always")
def _any_neighbor_sums(base, row, indices, k0, k1, sums):
    """As :func:`_six_neighbor_sums` for the ``k1 - k0 >= 1`` neighbours ``indices[k0:k1]``.

    ``row`` is the size of one waveform in bytes.
    """
    n_samples = row // 4
    out = sums.ctypes.data
    top = splat8(-np.inf)
    for c in range((n_samples + LANES - 1) // LANES):
        left = n_samples - LANES * c
        o = 4 * LANES * c
        v = load8_first(base + row * indices[k0] + o, left, -np.inf)
        for k in range(k0 + 1, k1):
            v = add8(v, load8_first(base + row * indices[k] + o, left, 0.0))
        top = max8(top, v)
        store8(out + o, v)
    return top


@kernel(inline="always")
def _leading_sample(sums, n_samples, max_chunks, best, margin):
    """Index of the only sum in ``sums`` at least ``best - margin`` (float32), else -1.

    ``best`` holds the largest sum in every lane. If another sum is within
    the margin (see :func:`_float32_margin`) the float64 sums may order
    them differently, and -1 says so.
    """
    threshold = sub8(best, splat8(margin))
    out = sums.ctypes.data
    count = 0
    first = n_samples
    for c in range(max_chunks):
        if LANES * c >= n_samples:
            break
        close = mask_ge8(load8(out + 4 * LANES * c), threshold)
        count += popcount(close)
        if close != 0:
            first = min(first, LANES * c + trailing_zeros(close))
    return first if count == 1 else -1


@kernel(inline="always")
def _six_neighbor_peak(base, offsets, n_samples, margin, sums, max_chunks):
    """Peak from the float32 sums of six waveforms (:func:`_six_neighbor_sums`) if decided with ``margin``, else -1."""
    best = allmax8(_six_neighbor_sums(base, offsets, n_samples, max_chunks, sums))
    return _leading_sample(sums, n_samples, max_chunks, best, margin)


@kernel(inline="always")
def _up_to_six_neighbor_pass(base, six, indptr, indices, n_samples, margin, sums, zeros, offsets, max_chunks,
                             peaks):
    """Peaks of the pixels with one to six neighbours that float32 sums decide with ``margin`` (others untouched).

    ``margin`` is that for six values up to the largest sample: the
    missing neighbours of pixels with fewer are read from ``zeros`` (a
    float32 row of zeros as long as ``sums``), which adds nothing to the
    sums. ``offsets`` is int64 scratch of 6.
    """
    n_pixels = indptr.shape[0] - 1
    row = 4 * n_samples
    # the common case first, in a loop of its own (LLVM compiles it best alone)
    for p in range(n_pixels):
        if indptr[p + 1] - indptr[p] == 6:
            peaks[p] = _six_neighbor_peak(base, six[p], n_samples, margin, sums, max_chunks)
    zero_row = np.int64(zeros.ctypes.data) - np.int64(base)
    for p in range(n_pixels):
        k0 = indptr[p]
        k1 = indptr[p + 1]
        if 0 < k1 - k0 < 6:
            for k in range(6):
                offsets[k] = row * indices[k0 + k] if k0 + k < k1 else zero_row
            peaks[p] = _six_neighbor_peak(base, offsets, n_samples, margin, sums, max_chunks)


@kernel(inline="always")
def _float32_neighbor_peak(base, row, indptr, indices, p, largest, sums):
    """Peak of pixel ``p`` from float32 neighbour sums when they decide it (else -1).

    Any number of neighbours; the sums are bounded first with the largest
    sample of the event (``largest``), then with the largest sample of
    each neighbour.
    """
    k0 = indptr[p]
    k1 = indptr[p + 1]
    n_neighbors = k1 - k0
    if n_neighbors == 0 or n_neighbors * largest >= 1e38:
        return -1
    n_samples = row // 4
    n_chunks = (n_samples + LANES - 1) // LANES
    best = allmax8(_any_neighbor_sums(base, row, indices, k0, k1, sums))
    peak = _leading_sample(sums, n_samples, n_chunks, best, _float32_margin(n_neighbors, n_neighbors * largest))
    if peak < 0:
        magnitude = 0.0
        for k in range(k0, k1):
            magnitude += _row_magnitude(base + row * indices[k], n_samples)
        peak = _leading_sample(sums, n_samples, n_chunks, best, _float32_margin(n_neighbors, magnitude))
    return peak


def _float32_neighbor_peaks(w, indptr, indices, six, broken, acc, peaks):
    """Neighbour peaks of one telescope event of float32 waveforms without local weight.

    ctapipe sums the neighbour waveforms in float64. Here each pixel's
    sums are first formed in float32, eight samples at a time. A float32
    sum differs from ctapipe's float64 sum of the same values by a small
    multiple of the sum of their magnitudes (see :func:`_float32_margin`),
    so when the largest float32 sum exceeds all others by more than that
    margin, its sample is ctapipe's first maximum
    (:func:`_float32_neighbor_peak`). The magnitudes are bounded first by
    the largest sample of the event, then, if that does not settle it, by
    the largest sample of each neighbour. Otherwise (ties, near-ties) the
    pixel is summed exactly with :func:`_exact_neighbor_peak`, so the peaks
    are always ctapipe's. On the LST test events about one pixel in a
    thousand needs the second bound and none the exact sum.

    ``six`` holds the byte offsets of the waveforms of the neighbours of
    six-neighbour pixels (:func:`_six_neighbor_offsets`), ``acc`` is
    float64 scratch of ``n_samples``.

    Returns False, without writing ``peaks``, when a sample is not finite
    (ctapipe's NaN rules then apply) or the waveforms are not C-contiguous
    float32; the caller then takes the exact path for every pixel.
    """
    raise NotImplementedError  # pragma: no cover - only the numba overload runs


@overload(_float32_neighbor_peaks)
def _float32_neighbor_peaks_impl(w, indptr, indices, six, broken, acc, peaks):
    if not (w.dtype == types.float32 and w.layout == "C"):
        return lambda w, indptr, indices, six, broken, acc, peaks: False

    def impl(w, indptr, indices, six, broken, acc, peaks):
        n_pixels, n_samples = w.shape
        largest_bits = _largest_magnitude_bits(w)
        if largest_bits >= _INFINITY_BITS:
            return False
        largest = np.float64(_float32_from_bits(largest_bits))
        base = w.ctypes.data
        row = 4 * n_samples
        n_chunks = (n_samples + LANES - 1) // LANES
        sums = np.empty(LANES * n_chunks, np.float32)
        peaks[:] = -1
        if 6 * largest < 1e38:
            margin = _float32_margin(6, 6 * largest)
            zeros = np.zeros(sums.shape[0], np.float32)
            offsets = np.empty(6, np.int64)
            if n_chunks <= _UNROLLED_CHUNKS:
                _up_to_six_neighbor_pass(base, six, indptr, indices, n_samples, margin, sums, zeros, offsets,
                                         _UNROLLED_CHUNKS, peaks)
            else:
                _up_to_six_neighbor_pass(base, six, indptr, indices, n_samples, margin, sums, zeros, offsets,
                                         n_chunks, peaks)
        for p in range(n_pixels):
            if peaks[p] < 0:
                peaks[p] = _float32_neighbor_peak(base, row, indptr, indices, p, largest, sums)
            if peaks[p] < 0:
                peaks[p] = _exact_neighbor_peak(w, indptr, indices, broken, 0, p, acc)
        return True

    return impl


@kernel
def _six_neighbor_offsets(indptr, indices, row_bytes):
    """Byte offsets ``indices * row_bytes`` of the waveforms of pixels with six neighbours, shape (n_pixels, 6).

    Rows of pixels with another number of neighbours are left at 0.
    """
    n_pixels = indptr.shape[0] - 1
    out = np.zeros((n_pixels, 6), np.int64)
    for p in range(n_pixels):
        if indptr[p + 1] - indptr[p] == 6:
            for k in range(6):
                out[p, k] = indices[indptr[p] + k] * row_bytes
    return out


@kernel
def _neighbor_peaks(w, indptr, indices, six, broken, local_weight, acc, peaks):
    """Peak of the summed neighbour waveforms of every pixel of one telescope event.

    The result is always that of :func:`_exact_neighbor_peak` (ctapipe's);
    without broken pixels or local weight, float32 waveforms take the
    faster route of :func:`_float32_neighbor_peaks` (whose ``six`` and
    ``acc`` these are).
    """
    any_broken = False
    for p in range(w.shape[0]):
        if broken[p]:
            any_broken = True
            break
    if local_weight == 0 and not any_broken and _float32_neighbor_peaks(w, indptr, indices, six, broken, acc, peaks):
        return
    for p in range(w.shape[0]):
        peaks[p] = _exact_neighbor_peak(w, indptr, indices, broken, local_weight, p, acc)


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
    six = _six_neighbor_offsets(indptr, indices, n_samples * waveforms.itemsize)
    for e in prange(n_events):
        acc = np.empty(n_samples, np.float64)
        peaks = np.empty(n_pixels, np.int64)
        _neighbor_peaks(waveforms[e], indptr, indices, six, broken[e], local_weight[e], acc, peaks)
        out[e] = peaks


@kernel(parallel=True)
def neighbor_peak_window_sum(waveforms, indptr, indices, broken, local_weight, width, shift, sampling_rate,
                             selected_gain, correction, charge, peak_time):
    """Window around the peak of the summed neighbour waveforms (ctapipe's default).

    Parameters as in :func:`neighbor_peak_index` and :func:`extract_around_peak`.
    """
    n_events, n_pixels, n_samples = waveforms.shape
    six = _six_neighbor_offsets(indptr, indices, n_samples * waveforms.itemsize)
    for e in prange(n_events):
        acc = np.empty(n_samples, np.float64)
        peaks = np.empty(n_pixels, np.int64)
        _neighbor_peaks(waveforms[e], indptr, indices, six, broken[e], local_weight[e], acc, peaks)
        _windows_of_event(waveforms, e, peaks, width[e], shift[e], sampling_rate, selected_gain, correction, charge,
                          peak_time)


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
