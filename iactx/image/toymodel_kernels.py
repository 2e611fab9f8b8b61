"""Kernels of the toy simulation: expected images, Poisson sampling, waveforms.

Every kernel works on a batch of ``n`` images (rows) at once, one row per
parallel task. Random numbers come from a generator private to each row
(xoshiro256** seeded by splitmix64 from ``seeds[row]``), so the result
depends only on the seeds, never on the number of threads or on how rows
are scheduled.

Conventions:

- Positions and sizes in one length unit (the callers use metres in the
  camera frame), angles in radians, times in ns.
- Pixels are integrated by weighted sub-pixel sample points, in units of
  each pixel's pitch ``pix_scale``; ``pix_reach`` is the distance from a
  pixel centre to its farthest sample point, used to skip pixels the light
  cannot reach.
- Waveform pulses come from a phase table ``pulse_table`` of shape
  ``(n_phases + 1, n_support)``: row ``i`` is the unit pulse sampled at
  ``(j + first - i / n_phases)`` samples from its peak, ``j`` the column,
  and sums to 1.

Only numpy, numba and math are imported here.
"""

import math

import numpy as np
from numba import prange

from .._numba import kernel

__all__ = [
    "normal_cdf_table",
    "poisson_images",
    "ring_images",
    "skewed_gaussian_images",
    "waveforms",
]

_U64 = np.uint64
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_MASK16 = np.uint64(0xFFFF)
_TO_UNIT = 2.0**-53
_SQRT_2PI = math.sqrt(2.0 * math.pi)
#: half-size of the window [in sigmas] outside which a Gaussian is taken as 0
_CUTOFF = 7.0
#: Poisson means from which the transformed rejection is used
_PTRS_FROM = 10.0


# --------------------------------------------------------------------------- random numbers


@kernel
def _splitmix64(x):
    z = x + _GOLDEN
    z = (z ^ (z >> _U64(30))) * _MIX1
    z = (z ^ (z >> _U64(27))) * _MIX2
    return z ^ (z >> _U64(31))


@kernel
def _seeded_state(seed):
    """xoshiro256** state from a 64-bit seed, shape (4,) uint64."""
    state = np.empty(4, np.uint64)
    x = seed
    for i in range(4):
        x = x + _GOLDEN
        state[i] = _splitmix64(x)
    return state


@kernel
def _rotl(x, k):
    return (x << _U64(k)) | (x >> _U64(64 - k))


@kernel
def _next(state):
    """Next 64 random bits of a xoshiro256** state."""
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    result = _rotl(s1 * _U64(5), 7) * _U64(9)
    t = s1 << _U64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    return result


@kernel
def _uniform(state):
    """Uniform float64 in the open interval (0, 1)."""
    return (float(_next(state) >> _U64(11)) + 0.5) * _TO_UNIT


@kernel
def _poisson(state, mean):
    """Poisson variate: inversion below mean 30, Hoermann's PTRS above."""
    if mean <= 0.0:
        return 0
    if mean < _PTRS_FROM:
        u = _uniform(state)
        p = math.exp(-mean)
        cdf = p
        k = 0
        while u > cdf:
            k += 1
            p *= mean / k
            if p < 1e-300:
                break
            cdf += p
        return k
    # transformed rejection with squeeze (W. Hoermann, Insurance Math. Econom. 12, 39, 1993)
    slam = math.sqrt(mean)
    loglam = math.log(mean)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    inv_alpha = 1.1239 + 1.1328 / (b - 3.4)
    v_r = 0.9277 - 3.6224 / (b - 2.0)
    while True:
        u = _uniform(state) - 0.5
        v = _uniform(state)
        us = 0.5 - abs(u)
        k = math.floor((2.0 * a / us + b) * u + mean + 0.43)
        if us >= 0.07 and v <= v_r:
            return int(k)
        if k < 0 or (us < 0.013 and v > us):
            continue
        if (math.log(v) + math.log(inv_alpha) - math.log(a / (us * us) + b)
                <= -mean + k * loglam - math.lgamma(k + 1.0)):
            return int(k)


@kernel
def _poisson_cdf(mean):
    """Cumulative Poisson probabilities up to far in the tail (beyond 12 sigma), shape (k_max + 1,)."""
    k_max = int(mean + 12.0 * math.sqrt(mean) + 12.0)
    cdf = np.empty(k_max + 1)
    p = math.exp(-mean)
    total = 0.0
    for k in range(k_max + 1):
        total += p
        cdf[k] = total
        p *= mean / (k + 1)
    return cdf


@kernel
def _poisson_from_cdf(state, cdf):
    """Poisson variate of a precomputed :func:`_poisson_cdf` by linear search."""
    u = _uniform(state)
    k = 0
    while k < cdf.shape[0] - 1 and u > cdf[k]:
        k += 1
    return k


# --------------------------------------------------------------------------- images


def normal_cdf_table(limit=10.0, n=641):
    """Standard normal cdf and pdf on ``n`` points from ``-limit`` to ``limit``, shape (2, n)."""
    x = np.linspace(-limit, limit, n)
    cdf = np.array([0.5 * math.erfc(-v / math.sqrt(2.0)) for v in x])
    return np.stack([cdf, np.exp(-0.5 * x * x) / _SQRT_2PI])


@kernel
def _normal_cdf(x, table, limit):
    """Standard normal cdf by cubic Hermite interpolation of :func:`normal_cdf_table` (error < 1e-9)."""
    n = table.shape[1]
    step = 2.0 * limit / (n - 1)
    t = (x + limit) / step
    if t <= 0.0:
        return 0.0
    if t >= n - 1:
        return 1.0
    i = int(t)
    u = t - i
    u2 = u * u
    u3 = u2 * u
    return ((2.0 * u3 - 3.0 * u2 + 1.0) * table[0, i] + (u3 - 2.0 * u2 + u) * step * table[1, i]
            + (3.0 * u2 - 2.0 * u3) * table[0, i + 1] + (u3 - u2) * step * table[1, i + 1])


@kernel
def _powers(x, lowest, count, out):
    """``out[m] = x ** (lowest + m)`` for ``m < count``, with ``lowest <= 0``."""
    out[-lowest] = 1.0
    for m in range(-lowest + 1, count):
        out[m] = out[m - 1] * x
    inverse = 1.0 / x
    for m in range(-lowest - 1, -1, -1):
        out[m] = out[m + 1] * inverse


@kernel(parallel=True)
def skewed_gaussian_images(pix_x, pix_y, pix_area, pix_scale, pix_reach, sub_base, sub_steps, sub_i, sub_j,
                           sub_w, cdf_table, cdf_limit, cog_x, cog_y, psi, loc, scale, shape, width,
                           intensity, out):
    """Expected signal of skewed 2D Gaussian light distributions, integrated over pixels.

    Along the axis at angle ``psi`` through ``(cog_x, cog_y)`` the light
    follows a skew-normal distribution (location ``loc`` relative to the
    centroid, scale ``scale``, shape ``shape``; shape 0 is a Gaussian),
    across it a Gaussian of standard deviation ``width``.

    The sub-pixel sample points lie on a grid,
    ``pitch * (sub_base + sub_i * sub_steps[0] + sub_j * sub_steps[1])``,
    so the Gaussian factor of each point is the pixel's value at the grid
    origin times a power of two per-pixel factors and a per-image constant:
    three exponentials per pixel instead of one per point. Images much
    narrower than the pixels, where the powers could overflow, are summed
    point by point.

    Parameters
    ----------
    pix_x, pix_y, pix_area, pix_scale, pix_reach : ndarray, shape (n_pixels,)
        Pixel centres, areas, pitches and reaches.
    sub_base : ndarray, shape (2,)
        Grid origin [pitch].
    sub_steps : ndarray, shape (2, 2)
        Grid steps [pitch], one per row.
    sub_i, sub_j : ndarray of int, shape (n_sub,)
        Grid indices of the sample points.
    sub_w : ndarray, shape (n_sub,)
        Weights of the sample points, summing to 1.
    cdf_table : ndarray, shape (2, m)
        From :func:`normal_cdf_table`.
    cdf_limit : float
        Its range.
    cog_x, cog_y, psi, loc, scale, shape, width, intensity : ndarray, shape (n,)
        Distribution of each image; ``intensity`` is its total expected
        signal [p.e.].
    out : ndarray, shape (n, n_pixels)
        Expected signal per pixel [p.e.], overwritten.
    """
    n_pixels = pix_x.shape[0]
    n_sub = sub_w.shape[0]
    i_low, j_low = sub_i.min(), sub_j.min()
    n_i, n_j = sub_i.max() - i_low + 1, sub_j.max() - j_low + 1
    max_reach = pix_reach.max()
    for row in prange(out.shape[0]):
        c, s = math.cos(psi[row]), math.sin(psi[row])
        sl, sw, a, mu = scale[row], width[row], shape[row], loc[row]
        skewed = a != 0.0
        norm = intensity[row] / (2.0 * math.pi * sl * sw) * (2.0 if skewed else 1.0)
        direct = max_reach / min(sl, sw) > 12.0
        weight = np.empty(n_sub)
        x_powers = np.empty(n_i)
        y_powers = np.empty(n_j)
        pitch = -1.0
        bl = bw = l1 = l2 = w1 = w2 = 0.0
        for p in range(n_pixels):
            dx, dy = pix_x[p] - cog_x[row], pix_y[p] - cog_y[row]
            zl = (dx * c + dy * s - mu) / sl
            zw = (-dx * s + dy * c) / sw
            # every sample point of the pixel is at least this far out, in sigmas
            el = max(abs(zl) - pix_reach[p] / sl, 0.0)
            ew = max(abs(zw) - pix_reach[p] / sw, 0.0)
            if el * el + ew * ew > _CUTOFF * _CUTOFF:
                out[row, p] = 0.0
                continue
            if pix_scale[p] != pitch:  # per-image constants for this pixel size
                pitch = pix_scale[p]
                bl = pitch * (sub_base[0] * c + sub_base[1] * s) / sl
                bw = pitch * (-sub_base[0] * s + sub_base[1] * c) / sw
                l1 = pitch * (sub_steps[0, 0] * c + sub_steps[0, 1] * s) / sl
                l2 = pitch * (sub_steps[1, 0] * c + sub_steps[1, 1] * s) / sl
                w1 = pitch * (-sub_steps[0, 0] * s + sub_steps[0, 1] * c) / sw
                w2 = pitch * (-sub_steps[1, 0] * s + sub_steps[1, 1] * c) / sw
                for q in range(n_sub):
                    gl = sub_i[q] * l1 + sub_j[q] * l2
                    gw = sub_i[q] * w1 + sub_j[q] * w2
                    weight[q] = sub_w[q] * math.exp(-0.5 * (gl * gl + gw * gw))
            zl += bl
            zw += bw
            total = 0.0
            if direct:
                for q in range(n_sub):
                    ql = zl + sub_i[q] * l1 + sub_j[q] * l2
                    qw = zw + sub_i[q] * w1 + sub_j[q] * w2
                    value = sub_w[q] * math.exp(-0.5 * (ql * ql + qw * qw))
                    if skewed:
                        value *= _normal_cdf(a * ql, cdf_table, cdf_limit)
                    total += value
            else:
                _powers(math.exp(-(zl * l1 + zw * w1)), i_low, n_i, x_powers)
                _powers(math.exp(-(zl * l2 + zw * w2)), j_low, n_j, y_powers)
                for q in range(n_sub):
                    value = weight[q] * x_powers[sub_i[q] - i_low] * y_powers[sub_j[q] - j_low]
                    if skewed:
                        value *= _normal_cdf(a * (zl + sub_i[q] * l1 + sub_j[q] * l2), cdf_table, cdf_limit)
                    total += value
                total *= math.exp(-0.5 * (zl * zl + zw * zw))
            out[row, p] = norm * pix_area[p] * total


@kernel(parallel=True)
def ring_images(pix_x, pix_y, pix_area, pix_scale, pix_reach, sub_x, sub_y, sub_w,
                center_x, center_y, radius, width, intensity, out):
    """Expected signal of rings with a Gaussian radial profile, integrated over pixels.

    The light is spread evenly in azimuth and its distance from the centre
    follows a Gaussian of mean ``radius`` and standard deviation ``width``
    (cut at zero distance and renormalised).

    Parameters
    ----------
    pix_x, pix_y, pix_area, pix_scale, pix_reach : ndarray, shape (n_pixels,)
        Pixel centres, areas, pitches and reaches.
    sub_x, sub_y, sub_w : ndarray, shape (n_sub,)
        Sub-pixel sample offsets [pitch] and weights.
    center_x, center_y, radius, width, intensity : ndarray, shape (n,)
        Ring of each image; ``intensity`` is its total expected signal [p.e.].
    out : ndarray, shape (n, n_pixels)
        Expected signal per pixel [p.e.], overwritten.
    """
    n_pixels = pix_x.shape[0]
    for row in prange(out.shape[0]):
        r0, sw = radius[row], width[row]
        inside = 0.5 * math.erfc(-r0 / (sw * math.sqrt(2.0)))
        norm = intensity[row] / (2.0 * math.pi * _SQRT_2PI * sw * inside)
        for p in range(n_pixels):
            dx, dy = pix_x[p] - center_x[row], pix_y[p] - center_y[row]
            reach = pix_reach[p]
            if abs(math.sqrt(dx * dx + dy * dy) - r0) > _CUTOFF * sw + reach:
                out[row, p] = 0.0
                continue
            total = 0.0
            k = pix_scale[p]
            for q in range(sub_w.shape[0]):
                x, y = dx + k * sub_x[q], dy + k * sub_y[q]
                r = math.sqrt(x * x + y * y)
                if r > 0.0:
                    z = (r - r0) / sw
                    total += sub_w[q] * math.exp(-0.5 * z * z) / r
            out[row, p] = norm * pix_area[p] * total


@kernel(parallel=True)
def poisson_images(mean, seeds, out):
    """Poisson variates of the given means, one generator per row.

    Parameters
    ----------
    mean : ndarray, shape (n, n_pixels)
        Expected counts (negative values count as 0).
    seeds : ndarray of uint64, shape (n,)
        Seed of each row.
    out : ndarray of int, shape (n, n_pixels)
        The counts, overwritten.
    """
    for row in prange(mean.shape[0]):
        state = _seeded_state(seeds[row])
        for p in range(mean.shape[1]):
            out[row, p] = _poisson(state, mean[row, p])


# --------------------------------------------------------------------------- waveforms


@kernel
def _add_pulse(w, table, first, position, amplitude):
    """Add ``amplitude`` unit pulses peaking at ``position`` [samples] to ``w``.

    The phase table is interpolated linearly between its rows.
    """
    base = math.floor(position)
    phase = (position - base) * (table.shape[0] - 1)
    i = int(phase)
    a = phase - i
    start = int(base) + first
    j0 = max(0, -start)
    j1 = min(table.shape[1], w.shape[0] - start)
    for j in range(j0, j1):
        w[start + j] += amplitude * ((1.0 - a) * table[i, j] + a * table[i + 1, j])


@kernel
def _add_background(w, scratch, table, first, count, low, span, state, baseline):
    """Add ``count`` single photo-electron pulses at uniform random positions in ``[low, low + span)``
    samples to ``w``, and subtract ``baseline`` from every sample.

    Phases are rounded down to the rows of the (float32) ``table``. The
    pulses are summed in ``scratch`` (zeros, shape (n_samples + 2 n_support,),
    sample 0 at index n_support, left zeroed), where every pulse fits whole,
    as one vectorised slice addition each.
    """
    n_phases = table.shape[0] - 1
    n_support = table.shape[1]
    offset = n_support + first
    for _ in range(count):
        position = low + span * _uniform(state)
        base = int(math.floor(position))
        start = base + offset
        pulse = scratch[start:start + n_support]
        pulse += table[int((position - base) * n_phases)]
    for s in range(w.shape[0]):
        w[s] += scratch[s + n_support] - baseline
    scratch[:] = 0.0


@kernel
def _fill_noise(w, sigma, normal_table, state):
    """Overwrite ``w`` with Gaussian noise of standard deviation ``sigma``."""
    n = w.shape[0]
    for s0 in range(0, n, 4):
        bits = _next(state)
        for k in range(min(4, n - s0)):
            w[s0 + k] = sigma * normal_table[int((bits >> _U64(16 * k)) & _MASK16)]


@kernel(parallel=True)
def waveforms(charge, time, pulse_table, first, background_table, background_first, sample_width, nsb_rate, noise,
              normal_table, seeds, out):
    """Pedestal-subtracted waveforms: signal pulses, night-sky background and noise.

    Each pixel gets ``charge`` unit pulses peaking at ``time`` (the phase
    table interpolated linearly for sub-sample times), single
    photo-electrons of the night-sky background arriving at random at
    ``nsb_rate`` with their mean level subtracted, and white Gaussian
    electronic noise.

    Parameters
    ----------
    charge : ndarray, shape (n, n_pixels)
        Signal per pixel [p.e.]; pixels with 0 get no signal pulse.
    time : ndarray, shape (n, n_pixels)
        Peak time of the signal [ns] from the start of the readout window.
    pulse_table : ndarray, shape (n_phases + 1, n_support)
        Unit pulse by sub-sample phase (see the module notes).
    first : int
        Sample offset of the table's first column from the peak sample.
    background_table, background_first
        The same for the night-sky background pulses, usually with a
        shorter support.
    sample_width : float
        Width of one sample [ns].
    nsb_rate : float
        Night-sky background rate per pixel [p.e. / ns].
    noise : float
        Standard deviation of the electronic noise per sample [p.e.].
    normal_table : ndarray, shape (65536,)
        Standard normal quantiles indexed by 16 random bits.
    seeds : ndarray of uint64, shape (n,)
        Seed of each row.
    out : ndarray of float32, shape (n, n_pixels, n_samples)
        The waveforms [p.e.], overwritten.
    """
    n, n_pixels, n_samples = out.shape
    # background photo-electrons peaking in [low, low + span) samples reach the readout window
    low = 1 - background_first - background_table.shape[1]
    span = n_samples - background_first - low
    mean_nsb = nsb_rate * span * sample_width
    nsb_cdf = _poisson_cdf(mean_nsb)
    baseline = nsb_rate * sample_width
    table32 = background_table.astype(np.float32)
    for row in prange(n):
        state = _seeded_state(seeds[row])
        scratch = np.zeros(n_samples + 2 * table32.shape[1], np.float32)
        for p in range(n_pixels):
            w = out[row, p]
            if noise > 0.0:
                _fill_noise(w, noise, normal_table, state)
            else:
                w[:] = 0.0
            if mean_nsb > 0.0:
                _add_background(w, scratch, table32, background_first, _poisson_from_cdf(state, nsb_cdf), low,
                                span, state, baseline)
            q = charge[row, p]
            if q != 0.0 and math.isfinite(time[row, p]):
                _add_pulse(w, pulse_table, first, time[row, p] / sample_width, q)
