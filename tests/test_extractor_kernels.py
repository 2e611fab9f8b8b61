"""Extraction kernels against slow, obvious numpy implementations on random waveforms."""

import numpy as np
import pytest

from iactx.calib import extractor_kernels as K
from iactx.calib.correction import integration_correction, sliding_window_correction
from iactx.calib.two_pass_kernels import lts_linear_regression
from iactx.instrument import CameraGeometry

RATE = 1.6  # GHz: times are divided by it


def hex_geometry(n_side=6):
    """A small hexagonal camera (pixels of a few rings)."""
    pts = []
    for q in range(-n_side, n_side + 1):
        for r in range(-n_side, n_side + 1):
            if abs(q + r) <= n_side:
                pts.append((q + r / 2, r * np.sqrt(3) / 2))
    x, y = np.array(pts).T * 0.05
    return CameraGeometry("toyhex", x, y, np.full(x.size, 0.002), "hexagon")


GEOM = hex_geometry(4)
INDPTR, INDICES = GEOM.neighbor_indptr, GEOM.neighbor_indices
NEIGHBORS = GEOM.neighbors


def random_batch(dtype, n_events=6, n_samples=25, seed=0):
    rng = np.random.default_rng(seed)
    n_pixels = GEOM.n_pixels
    wf = rng.normal(0, 1, (n_events, n_pixels, n_samples))
    # bright pulses at random places, some at the very ends of the trace
    for e in range(n_events):
        for p in rng.choice(n_pixels, 12, replace=False):
            t = rng.choice([0, 1, n_samples - 2, n_samples - 1, rng.integers(0, n_samples)])
            wf[e, p, t] += rng.uniform(5, 50)
            if t + 1 < n_samples:
                wf[e, p, t + 1] += rng.uniform(1, 10)
    gain = rng.integers(0, 2, (n_events, n_pixels)).astype(np.int8)
    correction = rng.uniform(1.0, 1.5, (n_events, 2))
    return wf.astype(dtype), gain, correction


# ----------------------------------------------------------------------------- references


def ref_window(row, peak, width, shift):
    n = row.size
    start = max(peak - shift, 0)
    end = max(min(peak - shift + width, n), start)
    window = row[start:end].astype(np.float64)
    idx = np.arange(start, end)
    positive = window > 0
    total = np.sum(window)
    time = np.sum(window[positive] * idx[positive]) / np.sum(window[positive]) if positive.any() else peak
    return total, time


def ref_extract(wf, peaks, widths, shifts, gain, correction, rate=RATE):
    charge = np.empty(wf.shape[:2])
    time = np.empty(wf.shape[:2])
    for e in range(wf.shape[0]):
        for p in range(wf.shape[1]):
            total, t = ref_window(wf[e, p], peaks[e, p], widths[e], shifts[e])
            charge[e, p] = total * correction[e, gain[e, p]]
            time[e, p] = t / rate
    return charge, time


def ref_neighbor_peaks(wf, local_weight, broken):
    peaks = np.empty(wf.shape[:2], int)
    for e in range(wf.shape[0]):
        for p in range(wf.shape[1]):
            total = wf[e, p].astype(np.float64) * local_weight[e]
            for n in NEIGHBORS[p]:
                if not broken[e, n]:
                    total = total + wf[e, n]
            peaks[e, p] = np.argmax(total)
    return peaks


def ref_global_peaks(wf, broken, fraction):
    peaks = []
    for e in range(wf.shape[0]):
        if fraction[e] >= 1:
            use = ~broken[e]
        else:
            brightness = np.where(broken[e], -np.inf, wf[e].max(axis=1))
            use = np.zeros(wf.shape[1], bool)
            use[np.argsort(-brightness, kind="stable")[: int(fraction[e] * wf.shape[1])]] = True
        peaks.append(np.argmax(np.sum(wf[e][use], axis=0)))  # summed in the waveform dtype
    return np.array(peaks)


def ref_sliding(row, width):
    cumulative = np.concatenate(([0.0], np.cumsum(row.astype(np.float64))))
    sums = cumulative[width:] - cumulative[:-width]
    start = int(np.argmax(sums))
    window = row[start:start + width].astype(np.float64)
    positive = window > 0
    idx = np.arange(start, start + width)
    time = np.sum(window[positive] * idx[positive]) / np.sum(window[positive]) if positive.any() \
        else start + 0.5 * width
    return sums[start], time, start


def close(actual, expected, dtype):
    rtol = 2e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * 10)


def outputs(wf, dtype=np.float32):
    return np.empty(wf.shape[:2], dtype), np.empty(wf.shape[:2], dtype)


def per_event(wf, value):
    return np.full(wf.shape[0], value, np.int64)


# ----------------------------------------------------------------------------- tests

DTYPES = [np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("width,shift", [(7, 3), (5, 0), (3, 6), (30, 2)])
def test_extract_around_peak_truncates_windows_at_both_ends(dtype, width, shift):
    wf, gain, corr = random_batch(dtype)
    rng = np.random.default_rng(1)
    peaks = rng.integers(-3, wf.shape[2] + 3, wf.shape[:2])
    peaks[:, :4] = [0, 1, wf.shape[2] - 1, wf.shape[2]]
    charge, time = outputs(wf, dtype)
    K.extract_around_peak(wf, peaks, per_event(wf, width), per_event(wf, shift), RATE, gain, corr, charge, time)
    ref_charge, ref_time = ref_extract(wf, peaks, per_event(wf, width), per_event(wf, shift), gain, corr)
    close(charge, ref_charge, dtype)
    close(time, ref_time, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_full_waveform_sum(dtype):
    wf, gain, _ = random_batch(dtype)
    charge, time = outputs(wf, dtype)
    K.full_waveform_sum(wf, RATE, charge, time)
    n = wf.shape[2]
    ref_charge, ref_time = ref_extract(wf, np.zeros(wf.shape[:2], int), per_event(wf, n), per_event(wf, 0), gain,
                                       np.ones((wf.shape[0], 2)))
    close(charge, ref_charge, dtype)
    close(time, ref_time, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fixed_window_sum(dtype):
    wf, gain, corr = random_batch(dtype)
    peak = np.array([0, 3, 10, 23, 24, 40])
    width, shift = per_event(wf, 7), np.array([0, 3, 2, 0, 5, 1])
    charge, time = outputs(wf)
    K.fixed_window_sum(wf, peak, width, shift, RATE, gain, corr, charge, time)
    ref = ref_extract(wf, np.repeat(peak[:, None], wf.shape[1], 1), width, shift, gain, corr)
    close(charge, ref[0], np.float32)
    close(time, ref[1], np.float32)


@pytest.mark.parametrize("dtype", DTYPES)
def test_local_peak_window_sum(dtype):
    wf, gain, corr = random_batch(dtype)
    width, shift = per_event(wf, 7), per_event(wf, 3)
    peaks = np.empty(wf.shape[:2], np.int64)
    K.local_peak_index(wf, peaks)
    np.testing.assert_array_equal(peaks, wf.argmax(axis=-1))
    assert (peaks == 0).any() and (peaks == wf.shape[2] - 1).any()  # windows at both ends
    charge, time = outputs(wf, dtype)
    K.local_peak_window_sum(wf, width, shift, RATE, gain, corr, charge, time)
    ref = ref_extract(wf, wf.argmax(axis=-1), width, shift, gain, corr)
    close(charge, ref[0], dtype)
    close(time, ref[1], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fraction", [1.0, 0.1])
def test_global_peak_window_sum(dtype, fraction):
    wf, gain, corr = random_batch(dtype)
    wf[2, :, 0] += 3.0  # peak at the first sample
    wf[3, :, -1] += 3.0  # and at the last
    rng = np.random.default_rng(3)
    broken = rng.random(wf.shape[:2]) < 0.05
    fractions = np.full(wf.shape[0], fraction)
    peaks = np.empty(wf.shape[0], np.int64)
    K.global_peak_index(wf, broken, fractions, peaks)
    expected = ref_global_peaks(wf, broken, fractions)
    np.testing.assert_array_equal(peaks, expected)
    if fraction == 1.0:
        assert peaks[2] == 0 and peaks[3] == wf.shape[2] - 1
    width, shift = per_event(wf, 7), per_event(wf, 3)
    charge, time = outputs(wf)
    K.global_peak_window_sum(wf, broken, fractions, width, shift, RATE, gain, corr, charge, time)
    ref = ref_extract(wf, np.repeat(expected[:, None], wf.shape[1], 1), width, shift, gain, corr)
    close(charge, ref[0], np.float32)
    close(time, ref[1], np.float32)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("width", [1, 7, 25, 40])
def test_sliding_window_max_sum(dtype, width):
    wf, gain, corr = random_batch(dtype)
    charge, time = outputs(wf, dtype)
    K.sliding_window_max_sum(wf, per_event(wf, width), RATE, gain, corr, charge, time)
    starts = np.empty(wf.shape[:2], np.int64)
    K.sliding_window_start(wf, per_event(wf, width), starts)
    w = min(width, wf.shape[2])
    for e in range(wf.shape[0]):
        for p in range(wf.shape[1]):
            total, t, start = ref_sliding(wf[e, p], w)
            assert starts[e, p] == start
            close(charge[e, p], total * corr[e, gain[e, p]], dtype)
            close(time[e, p], t / RATE, dtype)
    if width == 7:
        assert (starts == 0).any() and (starts == wf.shape[2] - 7).any()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("local_weight", [0, 1, 3])
@pytest.mark.parametrize("with_broken", [False, True])
def test_neighbor_peak_window_sum(dtype, local_weight, with_broken):
    wf, gain, corr = random_batch(dtype, n_events=8)
    rng = np.random.default_rng(4)
    broken = (rng.random(wf.shape[:2]) < 0.1) if with_broken else np.zeros(wf.shape[:2], bool)
    lw = per_event(wf, local_weight)
    peaks = np.empty(wf.shape[:2], np.int64)
    K.neighbor_peak_index(wf, INDPTR, INDICES, broken, lw, peaks)
    expected = ref_neighbor_peaks(wf, lw, broken)
    np.testing.assert_array_equal(peaks, expected)
    assert (expected == 0).any() and (expected == wf.shape[2] - 1).any()
    width, shift = per_event(wf, 7), per_event(wf, 3)
    charge, time = outputs(wf, dtype)
    K.neighbor_peak_window_sum(wf, INDPTR, INDICES, broken, lw, width, shift, RATE, gain, corr, charge, time)
    ref = ref_extract(wf, expected, width, shift, gain, corr)
    close(charge, ref[0], dtype)
    close(time, ref[1], dtype)


def test_neighbor_peak_float32_near_ties_follow_float64_sums():
    """Sums that float32 could not separate are decided in float64, like ctapipe."""
    rng = np.random.default_rng(5)
    n_samples = 20
    wf = rng.normal(0, 1, (4, GEOM.n_pixels, n_samples)).astype(np.float32)
    # neighbours of pixel 0 sum to nearly the same at samples 5 and 12
    for n in NEIGHBORS[0]:
        wf[:, n, 5] = 1e4
        wf[:, n, 12] = 1e4
    wf[0, NEIGHBORS[0][0], 12] = np.nextafter(np.float32(1e4), np.float32(2e4))  # 12 larger by 1 ulp
    wf[1, NEIGHBORS[0][0], 5] = np.nextafter(np.float32(1e4), np.float32(2e4))  # 5 larger
    wf[2, NEIGHBORS[0][1], 12] = np.float32(1e4) + np.float32(0.5)
    wf[2, NEIGHBORS[0][2], 12] = np.float32(1e4) - np.float32(0.5)  # exact tie in float64 -> first (5)
    # sums equal to within a few float64 ulps: 1e6 and 1e6 + 2**-30, in both orders
    n0, n1 = NEIGHBORS[1][:2]
    wf[3, NEIGHBORS[1], :] = 0.0
    wf[3, n0, [4, 9]] = 1e6
    wf[3, n1, 9] = 2.0 ** -30
    n2, n3 = NEIGHBORS[2][:2]
    wf[3, NEIGHBORS[2], :] = 0.0
    wf[3, n2, [4, 9]] = 1e6
    wf[3, n3, 4] = 2.0 ** -30
    broken = np.zeros(wf.shape[:2], bool)
    peaks = np.empty(wf.shape[:2], np.int64)
    K.neighbor_peak_index(wf, INDPTR, INDICES, broken, per_event(wf, 0), peaks)
    np.testing.assert_array_equal(peaks, ref_neighbor_peaks(wf, per_event(wf, 0), broken))
    assert list(peaks[:3, 0]) == [12, 5, 5]
    assert peaks[3, 1] == 9 and peaks[3, 2] == 4


@pytest.mark.parametrize("n_samples", [3, 8, 63, 64, 65, 72, 128])
def test_neighbor_peak_float32_trace_lengths(n_samples):
    """Short and long traces (up to 64 samples the sample loops are unrolled, beyond they are not),
    with peaks late in the trace, on pixels with six neighbours and on the edge pixels with fewer."""
    wf, gain, corr = random_batch(np.float32, n_events=3, n_samples=n_samples, seed=n_samples)
    wf[:, :, -1] += np.float32(30.0)  # many peaks in the last sample, past the 64th for long traces
    assert set(np.diff(INDPTR)) == {3, 4, 6}
    broken = np.zeros(wf.shape[:2], bool)
    peaks = np.empty(wf.shape[:2], np.int64)
    K.neighbor_peak_index(wf, INDPTR, INDICES, broken, per_event(wf, 0), peaks)
    expected = ref_neighbor_peaks(wf, per_event(wf, 0), broken)
    np.testing.assert_array_equal(peaks, expected)
    assert (expected == n_samples - 1).mean() > 0.5


def test_neighbor_peak_float32_extreme_magnitudes():
    """Sums that overflow float32, subnormal samples and exact zeros still give ctapipe's peaks."""
    rng = np.random.default_rng(6)
    wf = rng.normal(0, 1, (4, GEOM.n_pixels, 19)).astype(np.float32)
    wf[0] *= np.float32(5e37)  # finite, but float32 sums of six such samples overflow
    wf[1] *= np.float32(1e-41)  # subnormal
    wf[2] = np.round(wf[2])  # many exact ties
    wf[3] = 0.0
    wf[3, :, ::3] = -0.0
    assert np.isfinite(wf).all()
    broken = np.zeros(wf.shape[:2], bool)
    peaks = np.empty(wf.shape[:2], np.int64)
    K.neighbor_peak_index(wf, INDPTR, INDICES, broken, per_event(wf, 0), peaks)
    np.testing.assert_array_equal(peaks, ref_neighbor_peaks(wf, per_event(wf, 0), broken))


@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_rows_and_edge_shapes(dtype):
    wf, gain, corr = random_batch(dtype, n_events=3)
    wf[0, 5] = np.nan
    wf[1, 7, 3] = np.nan
    broken = np.zeros(wf.shape[:2], bool)
    peaks = np.empty(wf.shape[:2], np.int64)
    K.neighbor_peak_index(wf, INDPTR, INDICES, broken, per_event(wf, 0), peaks)
    np.testing.assert_array_equal(peaks, ref_neighbor_peaks(wf, per_event(wf, 0), broken))
    local = np.empty(wf.shape[:2], np.int64)
    K.local_peak_index(wf, local)
    np.testing.assert_array_equal(local, np.argmax(wf, axis=-1))
    charge, time = outputs(wf, dtype)
    K.local_peak_window_sum(wf, per_event(wf, 7), per_event(wf, 3), RATE, gain, corr, charge, time)
    assert np.isnan(charge[0, 5]) and np.isfinite(charge[0, 4])
    # no telescope events, one pixel, one sample
    empty = np.zeros((0, GEOM.n_pixels, 10), dtype)
    c, t = outputs(empty)
    K.neighbor_peak_window_sum(empty, INDPTR, INDICES, np.zeros((0, GEOM.n_pixels), bool), per_event(empty, 0),
                               per_event(empty, 7), per_event(empty, 3), RATE,
                               np.zeros((0, GEOM.n_pixels), np.int8), np.ones((0, 2)), c, t)
    one = np.arange(10, dtype=dtype).reshape(1, 1, 10)
    c, t = outputs(one)
    K.neighbor_peak_window_sum(one, np.array([0, 0]), np.zeros(0, np.int64), np.zeros((1, 1), bool),
                               per_event(one, 0), per_event(one, 3), per_event(one, 1), 1.0,
                               np.zeros((1, 1), np.int8), np.ones((1, 1)), c, t)
    assert c[0, 0] == 0 + 1  # no neighbours: peak at 0, window [-1, 2) truncated to [0, 2)
    single = np.full((2, GEOM.n_pixels, 1), 4.0, dtype)
    c, t = outputs(single)
    K.local_peak_window_sum(single, per_event(single, 7), per_event(single, 3), RATE,
                            np.zeros((2, GEOM.n_pixels), np.int8), np.ones((2, 1)), c, t)
    assert np.all(c == 4.0) and np.all(t == 0.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_subtract_baseline_is_numpys_mean(dtype):
    wf, _, _ = random_batch(dtype)
    for start, end in ((0, 10), (3, 5), (0, 200), (20, 10)):
        out = np.empty_like(wf)
        K.subtract_baseline(wf, start, end, out)
        lo, hi = min(start, wf.shape[2]), min(max(end, start), wf.shape[2])
        if hi > lo:
            np.testing.assert_array_equal(out, wf - np.mean(wf[..., lo:hi], axis=-1)[..., None])
        else:
            assert np.isnan(out).all()


def test_shift_waveforms():
    rng = np.random.default_rng(6)
    wf = rng.normal(size=(3, 10, 12))
    shift = rng.normal(0, 2, (3, 10))
    out, remaining = np.empty_like(wf), np.empty((3, 10))
    K.shift_waveforms(wf, shift, out, remaining)
    for e in range(3):
        integer = np.round(shift[e] - shift[e].mean()).astype(int)
        np.testing.assert_allclose(remaining[e], shift[e] - integer)
        for p in range(10):
            src = np.clip(np.arange(12) + integer[p], 0, 11)
            np.testing.assert_array_equal(out[e, p], wf[e, p, src])


@pytest.mark.parametrize("dtype", DTYPES)
def test_neighbor_average(dtype):
    rng = np.random.default_rng(7)
    values = rng.normal(size=(4, GEOM.n_pixels)).astype(dtype)
    mask = rng.random(values.shape) < 0.2
    mask[3] = True  # nothing valid: zeros
    expected = values.copy()
    for e in range(4):
        for p in np.flatnonzero(mask[e]):
            good = [n for n in NEIGHBORS[p] if not mask[e, n]]
            expected[e, p] = np.mean(values[e, good]) if good else 0.0
    out = values.copy()
    K.neighbor_average(out, mask, INDPTR, INDICES)
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    assert np.all(out[3] == 0)


def test_integration_correction_of_a_box_pulse():
    # a box pulse 4 ns long sampled every 0.1 ns; waveform samples of 1 ns
    pulse = np.zeros((2, 200))
    pulse[0, 50:90] = 1.0
    pulse[1, 50:70] = 3.0
    corr = integration_correction(pulse, 0.1, 1.0, window_width=2, window_shift=0)
    # the first 2 of 4 (high gain) and of 2 (low gain) occupied samples
    np.testing.assert_allclose(corr, [2.0, 1.0])
    np.testing.assert_allclose(integration_correction(pulse, 0.1, 1.0, 7, 3), [1.0, 1.0])
    # window beyond the pulse: correction 1 where nothing is inside
    np.testing.assert_allclose(sliding_window_correction(pulse, 0.1, 1.0, 2), [2.0, 1.0])


def test_lts_regression_ignores_outliers():
    rng = np.random.default_rng(9)
    x = np.linspace(-1, 1, 40)
    y = 3.0 * x + 2.0 + rng.normal(0, 0.01, x.size)
    y[[3, 17, 30]] += 25.0
    slope, intercept = lts_linear_regression(x, y)
    assert abs(slope - 3.0) < 0.02 and abs(intercept - 2.0) < 0.02
    assert np.isnan(lts_linear_regression(np.ones(5), np.arange(5.0))[0])
    assert np.isnan(lts_linear_regression(np.array([1.0]), np.array([1.0]))[0])
