"""Toy images and waveforms with known true parameters.

Shower images are (skewed) two-dimensional Gaussians, muon images rings
with a Gaussian radial profile; :class:`WaveformModel` turns per-pixel
charges and arrival times into waveforms with the camera's reference
pulse. All functions take a batch of images at once (parameters of shape
``(n,)``, results with a leading ``n`` axis) or a single image (scalar
parameters).

Convention for the sizes: ``length``, ``width`` and ring ``width`` are
the second moments of the image *as the camera records it*, that is of
the light distribution integrated over the pixels. Integrating over a
pixel adds the pixel's own second moment ``c`` (:func:`pixel_variance`, the
same along every axis for hexagonal and square pixels), so the light in the
focal plane is given the variances ``length**2 - c`` and ``width**2 - c``;
the Hillas moments of a noise-free image then reproduce the declared ones.
The centroid, the orientation and the third central moment along the axis
are not changed by the integration; ``skewness`` is that third moment over
``length**3``, as Hillas skewness. No image can be narrower than the rms
size of a pixel, so widths must exceed ``sqrt(c)``; cameras with pixels of
several sizes use the median one for ``c``.

Pixels are integrated by sub-pixel sampling: the sample points of a pixel
are those of a grid ``oversampling`` times finer than the camera's own
grid (hexagonal or square, turned like the pixels) that fall into the
pixel, points on its border shared with the neighbour. For cameras of
touching pixels the sample points of all pixels then form one regular fine
grid, and the moments of a noise-free image match the declared ones to
better than 1 % once the width exceeds about 0.6 pixel pitches (narrower
images fall on too few pixels for any pixelised image to follow the
declared centroid and width exactly; their moments are right only on
average over positions). Circular pixels are integrated like hexagons of
the same area.

Positions and sizes are in the camera frame [m]; angles in degrees,
measured counter-clockwise from the x axis; times in ns.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..instrument._units import to_value
from . import toymodel_kernels as _k

__all__ = [
    "MAX_SKEW_NORMAL",
    "SubpixelSampling",
    "WaveformModel",
    "gaussian_image",
    "pixel_variance",
    "pulse_table",
    "ring_image",
    "row_seeds",
    "sample_image",
    "skewed_gaussian_image",
    "subpixel_sampling",
    "time_image",
]

#: largest |skewness| of a skew-normal distribution
MAX_SKEW_NORMAL = 0.5 * (4 - np.pi) * (2 / np.pi) ** 1.5 / (1 - 2 / np.pi) ** 1.5


@dataclass(frozen=True)
class SubpixelSampling:
    """Where a camera's pixels are sampled to integrate a light distribution.

    The sample points of a pixel lie on a grid,
    ``pitch * (base + i * steps[0] + j * steps[1])`` from its centre.

    Attributes
    ----------
    base : ndarray, shape (2,)
        Grid origin [pitch].
    steps : ndarray, shape (2, 2)
        Grid steps [pitch], one per row.
    i, j : ndarray of int64, shape (n_sub,)
        Grid indices of the sample points.
    weights : ndarray, shape (n_sub,)
        Weights of the points, summing to 1 (points on a pixel border are
        shared with the neighbours).
    pitch : ndarray, shape (n_pixels,)
        Pixel pitch [m]: flat-to-flat width of hexagons, edge of squares.
    reach : ndarray, shape (n_pixels,)
        Distance from each pixel centre to its farthest sample point [m].
    variance : float
        Variance the pixel footprint adds along any axis [m2], for the
        camera's median pitch.
    """

    base: np.ndarray
    steps: np.ndarray
    i: np.ndarray
    j: np.ndarray
    weights: np.ndarray
    pitch: np.ndarray
    reach: np.ndarray
    variance: float

    @property
    def offsets(self):
        """Sample points relative to the pixel centre [pitch], shape (n_sub, 2)."""
        return self.base + self.i[:, None] * self.steps[0] + self.j[:, None] * self.steps[1]


@lru_cache(maxsize=32)
def _unit_grid(grid, rotation, oversampling):
    """Sub-pixel grid of one pixel of unit pitch: base, steps, indices and weights."""
    k = int(oversampling)
    angle = np.deg2rad(rotation)
    if grid == "square":
        steps = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]]) / k
        low = (k - 1) // 2
        i, j = (m.ravel() - low for m in np.meshgrid(np.arange(k), np.arange(k)))
        base = -0.5 * (k % 2 == 0) * steps.sum(axis=0)
        weights = np.ones(i.size)
    else:
        steps = np.array([[np.cos(angle), np.sin(angle)], [np.cos(angle + np.pi / 3), np.sin(angle + np.pi / 3)]]) / k
        i, j = (m.ravel() for m in np.meshgrid(np.arange(-k, k + 1), np.arange(-k, k + 1)))
        base = np.zeros(2)
        points = i[:, None] * steps[0] + j[:, None] * steps[1]
        # the hexagonal cell: |projection on each neighbour direction| <= 1/2
        normals = np.array([[np.cos(angle + a), np.sin(angle + a)] for a in (0, np.pi / 3, 2 * np.pi / 3)])
        projections = np.abs(points @ normals.T)
        on_border = np.isclose(projections, 0.5, rtol=0, atol=1e-9)
        inside = np.all((projections < 0.5) | on_border, axis=1)
        i, j = i[inside], j[inside]
        weights = 1.0 / (1.0 + on_border[inside].sum(axis=1))
    return base, steps, i.astype(np.int64), j.astype(np.int64), weights / weights.sum()


def subpixel_sampling(geometry, oversampling=3):
    """Sample points integrating a light distribution over the pixels of a camera.

    Parameters
    ----------
    geometry : iactx.instrument.CameraGeometry
        The camera.
    oversampling : int
        Refinement of the camera grid; 1 samples the pixel centres only.

    Returns
    -------
    SubpixelSampling
    """
    if int(oversampling) != oversampling or oversampling < 1:
        raise ValueError(f"oversampling must be a positive integer, got {oversampling}")
    if geometry.pix_type == "square":
        grid, pitch, period = "square", np.sqrt(geometry.pix_area), 90.0
    else:
        grid, pitch, period = "hexagon", np.sqrt(2 * geometry.pix_area / np.sqrt(3)), 60.0
    base, steps, i, j, weights = _unit_grid(grid, round(geometry.pix_rotation % period, 9), int(oversampling))
    points = base + i[:, None] * steps[0] + j[:, None] * steps[1]
    reach = pitch * np.hypot(points[:, 0], points[:, 1]).max()
    variance = float(np.sum(weights * points[:, 0] ** 2) * np.median(pitch) ** 2)
    return SubpixelSampling(base, steps, i, j, weights, pitch, reach, variance)


def pixel_variance(geometry, oversampling=3):
    """Variance a pixel adds to an image along any axis [m2] (see the module notes)."""
    return subpixel_sampling(geometry, oversampling).variance


def _batch(*values):
    """Broadcast parameters to float64 arrays of shape (n,); ``n`` is None for scalars."""
    arrays = np.broadcast_arrays(*[np.asarray(v, np.float64) for v in values])
    if arrays[0].ndim > 1:
        raise ValueError(f"parameters must be scalars or one-dimensional, got shape {arrays[0].shape}")
    n = None if arrays[0].ndim == 0 else arrays[0].shape[0]
    return n, [np.ascontiguousarray(np.atleast_1d(a)) for a in arrays]


def _light_variance(name, declared, variance, camera):
    light = declared**2 - variance
    if np.any(light <= 0) or not np.all(np.isfinite(declared)):
        bad = float(np.min(declared))
        raise ValueError(f"{name} {bad:.4g} m is not above the rms size of a pixel of {camera} "
                         f"({np.sqrt(variance):.4g} m): no pixelised image can be that narrow")
    return light


def skewed_gaussian_image(geometry, x, y, length, width, psi, skewness=0.0, intensity=1.0, *, oversampling=3):
    """Expected signal of a shower with a skewed Gaussian light distribution.

    Parameters
    ----------
    geometry : iactx.instrument.CameraGeometry
        The camera.
    x, y : float or array_like, shape (n,)
        Centroid [m].
    length, width : float or array_like, shape (n,)
        Standard deviations along and across the major axis, as recorded
        (see the module notes) [m]; ``length >= width``.
    psi : float or array_like, shape (n,)
        Angle of the major axis from the x axis [deg].
    skewness : float or array_like, shape (n,)
        Third central moment along the direction ``psi`` over ``length**3``.
    intensity : float or array_like, shape (n,)
        Total expected signal, including light falling off the camera [p.e.].
    oversampling : int
        Sub-pixel refinement (see :func:`subpixel_sampling`).

    Returns
    -------
    ndarray, shape (n_pixels,) or (n, n_pixels)
        Expected signal per pixel [p.e.].

    Raises
    ------
    ValueError
        For ``width`` not above the pixel's rms size, ``length < width`` or a
        skewness the pixel-integrated distribution cannot have.

    Examples
    --------
    >>> from iactx.instrument.builtin import hexagonal_camera
    >>> image = skewed_gaussian_image(hexagonal_camera(), 0.2, 0.1, 0.1, 0.03, 30.0, 0.3, 1000.0)
    >>> round(float(image.sum()), 3)
    1000.0
    """
    x, y = to_value(x, "m"), to_value(y, "m")
    length, width, psi = to_value(length, "m"), to_value(width, "m"), to_value(psi, "deg")
    n, (x, y, length, width, psi, skewness, intensity) = _batch(x, y, length, width, psi, skewness, intensity)
    if np.any(length < width):
        raise ValueError("length must not be smaller than width (length is the major axis)")
    sampling = subpixel_sampling(geometry, oversampling)
    var_length = _light_variance("length", length, sampling.variance, geometry.name)
    var_width = _light_variance("width", width, sampling.variance, geometry.name)
    # skewness of the light along the axis: same third moment, smaller variance
    light_skewness = skewness * (length**2 / var_length) ** 1.5
    if np.any(np.abs(light_skewness) >= MAX_SKEW_NORMAL):
        raise ValueError(f"skewness {float(np.max(np.abs(skewness))):.3g} is too large for this length on "
                         f"{geometry.name}: the light distribution would need |skewness| >= {MAX_SKEW_NORMAL:.4f}")
    loc, scale, shape = _skew_normal_parameters(np.sqrt(var_length), light_skewness)
    out = np.empty((x.shape[0], geometry.n_pixels))
    _k.skewed_gaussian_images(
        geometry.pix_x, geometry.pix_y, geometry.pix_area, sampling.pitch, sampling.reach,
        sampling.base, sampling.steps, sampling.i, sampling.j, sampling.weights, *_cdf_table(),
        x, y, np.deg2rad(psi), loc, scale, shape, np.sqrt(var_width), intensity, out,
    )
    return out[0] if n is None else out


def gaussian_image(geometry, x, y, length, width, psi, intensity=1.0, *, oversampling=3):
    """Expected signal of a shower with a Gaussian light distribution.

    :func:`skewed_gaussian_image` with zero skewness; same parameters.
    """
    return skewed_gaussian_image(geometry, x, y, length, width, psi, 0.0, intensity, oversampling=oversampling)


def _skew_normal_parameters(std, skewness):
    """Location (relative to the mean), scale and shape of a skew-normal distribution.

    Inverts mean ``loc + scale d sqrt(2/pi)``, variance
    ``scale**2 (1 - 2 d**2 / pi)`` and skewness
    ``(4 - pi) / 2 m**3 / (1 - m**2)**1.5`` with ``m = d sqrt(2/pi)``,
    ``d = shape / sqrt(1 + shape**2)``.
    """
    g = np.abs(skewness) ** (2 / 3)
    m = np.sign(skewness) * np.sqrt(g / (g + (0.5 * (4 - np.pi)) ** (2 / 3)))
    delta = m / np.sqrt(2 / np.pi)
    scale = std / np.sqrt(1 - m**2)
    return -scale * m, scale, delta / np.sqrt(1 - delta**2)


def ring_image(geometry, center_x, center_y, radius, width, intensity=1.0, *, oversampling=3):
    """Expected signal of a ring (a muon image) with a Gaussian radial profile.

    Parameters
    ----------
    geometry : iactx.instrument.CameraGeometry
        The camera.
    center_x, center_y : float or array_like, shape (n,)
        Ring centre [m].
    radius : float or array_like, shape (n,)
        Mean distance of the light from the centre [m].
    width : float or array_like, shape (n,)
        Standard deviation of that distance as recorded (see the module
        notes) [m].
    intensity : float or array_like, shape (n,)
        Total expected signal, including light falling off the camera [p.e.].
    oversampling : int
        Sub-pixel refinement (see :func:`subpixel_sampling`).

    Returns
    -------
    ndarray, shape (n_pixels,) or (n, n_pixels)
        Expected signal per pixel [p.e.].
    """
    center_x, center_y = to_value(center_x, "m"), to_value(center_y, "m")
    radius, width = to_value(radius, "m"), to_value(width, "m")
    n, (cx, cy, radius, width, intensity) = _batch(center_x, center_y, radius, width, intensity)
    if np.any(radius <= 0):
        raise ValueError(f"ring radius must be positive, got {float(np.min(radius))}")
    sampling = subpixel_sampling(geometry, oversampling)
    light_width = np.sqrt(_light_variance("ring width", width, sampling.variance, geometry.name))
    out = np.empty((cx.shape[0], geometry.n_pixels))
    offsets = np.ascontiguousarray(sampling.offsets.T)
    _k.ring_images(
        geometry.pix_x, geometry.pix_y, geometry.pix_area, sampling.pitch, sampling.reach,
        offsets[0], offsets[1], sampling.weights,
        cx, cy, radius, light_width, intensity, out,
    )
    return out[0] if n is None else out


def time_image(geometry, x, y, psi, time_gradient, time_intercept):
    """Arrival time of the light: linear along the shower axis.

    Parameters
    ----------
    geometry : iactx.instrument.CameraGeometry
        The camera.
    x, y, psi : float or array_like, shape (n,)
        Centroid [m] and axis angle [deg].
    time_gradient : float or array_like, shape (n,)
        Change of time along the direction ``psi`` [ns / m].
    time_intercept : float or array_like, shape (n,)
        Time at the centroid [ns].

    Returns
    -------
    ndarray, shape (n_pixels,) or (n, n_pixels)
        Time at each pixel centre [ns].
    """
    n, (x, y, psi, gradient, intercept) = _batch(to_value(x, "m"), to_value(y, "m"), to_value(psi, "deg"),
                                                 time_gradient, time_intercept)
    psi = np.deg2rad(psi)[:, None]
    along = (geometry.pix_x - x[:, None]) * np.cos(psi) + (geometry.pix_y - y[:, None]) * np.sin(psi)
    times = intercept[:, None] + gradient[:, None] * along
    return times[0] if n is None else times


def row_seeds(seed, n):
    """``n`` 64-bit seeds for the kernels' per-row generators.

    Parameters
    ----------
    seed : None, int, array_like or numpy.random.Generator
        Anything :func:`numpy.random.default_rng` accepts; a generator is
        advanced.
    n : int
        Number of rows.
    """
    rng = np.random.default_rng(seed)
    return rng.integers(0, np.iinfo(np.int64).max, size=n, dtype=np.int64).astype(np.uint64)


def sample_image(expected, nsb_level=0.0, seed=None):
    """Poisson photo-electrons from expected images, plus night-sky background.

    Parameters
    ----------
    expected : array_like, shape (n_pixels,) or (n, n_pixels)
        Expected signal per pixel [p.e.].
    nsb_level : float
        Mean night-sky background per pixel [p.e.]; Poisson background is
        added and its mean subtracted, as a pedestal subtraction would.
    seed : None, int or numpy.random.Generator
        Random seed.

    Returns
    -------
    image : ndarray of float64, same shape as ``expected``
        Signal plus background minus ``nsb_level`` [p.e.].
    signal : ndarray of int32, same shape as ``expected``
        The signal photo-electrons alone (a true image).
    """
    expected = np.asarray(expected, np.float64)
    if nsb_level < 0:
        raise ValueError(f"nsb_level must not be negative, got {nsb_level}")
    rows = np.ascontiguousarray(np.atleast_2d(expected))
    seeds = row_seeds(seed, 2 * rows.shape[0])
    signal = np.empty(rows.shape, np.int32)
    _k.poisson_images(rows, seeds[: rows.shape[0]], signal)
    image = signal.astype(np.float64)
    if nsb_level > 0:
        background = np.empty(rows.shape, np.int32)
        _k.poisson_images(np.full(rows.shape, float(nsb_level)), seeds[rows.shape[0]:], background)
        image += background - float(nsb_level)
    return image.reshape(expected.shape), signal.reshape(expected.shape)


# --------------------------------------------------------------------------- waveforms


@lru_cache(maxsize=1)
def _cdf_table(limit=10.0):
    """Normal cdf table for the skewed Gaussian kernel, and its range."""
    return _k.normal_cdf_table(limit), limit


@lru_cache(maxsize=1)
def _normal_table():
    """Standard normal quantiles at the centres of 2**16 equal-probability bins, unit variance."""
    from scipy.special import ndtri  # imported on first use: reading files needs no toy model

    table = ndtri((np.arange(2**16) + 0.5) / 2**16)
    return table / np.sqrt(np.mean(table**2))


def pulse_table(pulse, pulse_sample_width, sample_width, n_phases=64, threshold=1e-5):
    """The reference pulse sampled at the camera's rate, for every sub-sample phase.

    Parameters
    ----------
    pulse : array_like, shape (n_pulse_samples,)
        Reference pulse, any normalisation.
    pulse_sample_width : float
        Its time step [ns].
    sample_width : float
        Width of one waveform sample [ns].
    n_phases : int
        Phases per sample.
    threshold : float
        Parts of the pulse below this fraction of its maximum at its start
        and end are dropped.

    Returns
    -------
    table : ndarray, shape (n_phases + 1, n_support)
        Row ``i`` is the pulse sampled at ``(j + first - i / n_phases)``
        samples from its peak, normalised to unit sum.
    first : int
        Offset of column 0 from the peak sample.
    """
    pulse = np.asarray(pulse, np.float64)
    peak = int(np.argmax(pulse))
    if pulse[peak] <= 0:
        raise ValueError("the reference pulse has no positive maximum")
    t = np.arange(pulse.size) * pulse_sample_width
    peak_time = t[peak]
    if 0 < peak < pulse.size - 1:  # parabola through the three highest samples
        left, mid, right = pulse[peak - 1:peak + 2]
        curvature = left - 2 * mid + right
        if curvature < 0:
            peak_time += 0.5 * (left - right) / curvature * pulse_sample_width
    significant = np.flatnonzero(np.abs(pulse) > threshold * pulse[peak])
    first = int(np.floor((t[significant[0]] - peak_time) / sample_width))
    last = int(np.ceil((t[significant[-1]] - peak_time) / sample_width)) + 1
    columns = np.arange(last - first + 1) + first
    phases = np.arange(n_phases + 1) / n_phases
    times = peak_time + (columns[None, :] - phases[:, None]) * sample_width
    table = np.interp(times, t, pulse, left=0.0, right=0.0)
    sums = table.sum(axis=1)
    if np.any(sums <= 0):
        raise ValueError("the reference pulse sampled at the camera's rate does not have a positive sum")
    return table / sums[:, None], first


class WaveformModel:
    """Waveforms from per-pixel charge and arrival time.

    Each pixel's waveform is the camera's reference pulse, sampled at the
    camera's rate and normalised so that its samples sum to 1 p.e., placed
    with its peak at the arrival time and scaled by the charge; optionally
    plus night-sky background photo-electrons (single pulses at random
    times, their mean level subtracted as by a pedestal subtraction) and
    white Gaussian electronic noise. Without background and noise the sum
    over samples of a pulse within the readout window equals its charge.

    Parameters
    ----------
    readout : iactx.instrument.CameraReadout
        Sampling rate, number of samples and reference pulse.
    gain : int
        Gain channel whose reference pulse is used.
    n_phases : int
        Sub-sample phases of the precomputed pulse table; times in between
        are interpolated linearly.

    Notes
    -----
    Times are counted from the start of the readout window: sample ``s``
    is taken at ``s / sampling_rate``. The electronic noise is drawn from
    2**16 equal-probability values of the normal distribution (tails cut
    at 4.2 sigma), which keeps it as cheap as the signal.
    """

    def __init__(self, readout, gain=0, n_phases=64):
        if not 0 <= gain < readout.reference_pulse_shape.shape[0]:
            raise ValueError(f"gain {gain} does not exist; {readout.name} has "
                             f"{readout.reference_pulse_shape.shape[0]} reference pulse(s)")
        self.sample_width = readout.sample_width
        self.n_samples = readout.n_samples
        pulse = readout.reference_pulse_shape[gain]
        step = readout.reference_pulse_sample_width
        self.table, self.first = pulse_table(pulse, step, self.sample_width, n_phases)
        self.background_table, self.background_first = pulse_table(pulse, step, self.sample_width, n_phases,
                                                                    threshold=1e-3)

    def pulse(self, time, n_samples=None):
        """A 1 p.e. pulse peaking at ``time`` [ns], shape (n_samples,)."""
        return self.waveforms(np.ones((1, 1)), np.full((1, 1), float(time)), n_samples=n_samples)[0, 0]

    def waveforms(self, charge, time, *, nsb_rate=0.0, noise=0.0, seed=None, n_samples=None, out=None):
        """Waveforms of a batch of images.

        Parameters
        ----------
        charge : array_like, shape (n_pixels,) or (n, n_pixels)
            Signal per pixel [p.e.].
        time : array_like, same shape as ``charge``
            Peak time of the signal [ns]; ignored where the charge is 0.
        nsb_rate : float
            Night-sky background per pixel [p.e. / ns].
        noise : float
            Electronic noise per sample [p.e.].
        seed : None, int or numpy.random.Generator
            Random seed (only used with background or noise).
        n_samples : int, optional
            Samples per waveform; the readout's by default.
        out : ndarray of float32, shape (..., n_pixels, n_samples), optional
            C-contiguous array to write the waveforms into.

        Returns
        -------
        ndarray of float32, shape (..., n_pixels, n_samples)
            Waveforms [p.e.].
        """
        charge = np.asarray(charge, np.float64)
        time = np.broadcast_to(np.asarray(time, np.float64), charge.shape)
        if nsb_rate < 0 or noise < 0:
            raise ValueError(f"nsb_rate and noise must not be negative, got {nsb_rate} and {noise}")
        n_samples = self.n_samples if n_samples is None else int(n_samples)
        rows_charge = np.ascontiguousarray(np.atleast_2d(charge))
        rows_time = np.ascontiguousarray(np.atleast_2d(time))
        shape = (*charge.shape, n_samples)
        if out is None:
            out = np.empty(shape, np.float32)
        elif out.shape != shape or out.dtype != np.float32 or not out.flags.c_contiguous:
            raise ValueError(f"out must be a C-contiguous float32 array of shape {shape}, "
                             f"got {out.dtype} {out.shape}")
        _k.waveforms(rows_charge, rows_time, self.table, self.first, self.background_table, self.background_first,
                     self.sample_width, float(nsb_rate), float(noise), _normal_table(),
                     row_seeds(seed, rows_charge.shape[0]), out.reshape(*rows_charge.shape, n_samples))
        return out
