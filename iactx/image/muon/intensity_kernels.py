"""Expected light of a muon ring, pixel by pixel, and its likelihood.

The model (Vacanti et al. 1994, Chalme-Calvet et al. 2014) is that of a
muon hitting a circular mirror of radius ``mirror_radius`` (with a central
hole of radius ``hole_radius``) at distance ``impact`` from its centre,
in the direction ``phi``. The light seen at azimuth ``t`` along the ring
is proportional to the length of the chord of the mirror (minus the hole)
from the impact point in the direction ``t - phi``; the ring has a Gaussian
radial profile of width ``ring_width``. Per pixel of angular size ``p``:

    expected = efficiency * alpha * (1/lambda_min - 1/lambda_max)
               * chord(t) * (p / r) * sin(2 r) / 2
               * [Phi((d + p/2 - r) / w) - Phi((d - p/2 - r) / w)] * area_ratio

with ``d`` the distance of the pixel from the ring centre, ``r`` the ring
radius, ``Phi`` the normal CDF, and ``area_ratio`` the ratio of a circle's
area to that of the pixel shape drawn around it (pi / (2 sqrt 3) for
hexagons, pi / 4 for squares, 1 for circles). The chord profile is sampled
at ``oversampling`` points per pixel along the ring (``int(2 pi r / p)``
pixels, endpoints -pi and pi both included), smoothed with a circular
running mean over ``oversampling`` samples and linearly interpolated.

All angles are in radians and lengths in metres. The likelihood of a pixel
charge ``s`` given the expectation ``mu`` is the Gaussian approximation of
de Naurois & Rolland (2009) with pedestal width ``sigma_p`` and
single-p.e. width ``sigma_g``:

    -ln L = ln(pi theta) / 2 + (s - mu)**2 / theta,   theta = 2 (sigma_p**2 + mu (1 + sigma_g**2))

Only numpy, numba and math are imported here.
"""

import math

import numpy as np
from numba import prange

from ..._numba import kernel

__all__ = [
    "FINE_STRUCTURE",
    "AREA_RATIOS",
    "chord_length",
    "mirror_chord",
    "ring_profile",
    "pixel_polar",
    "expected_light_polar",
    "expected_light_row",
    "negative_log_likelihood_polar",
    "negative_log_likelihood_row",
    "expected_ring_light_kernel",
]

#: fine-structure constant (CODATA 2018)
FINE_STRUCTURE = 7.2973525693e-3
#: area of a circle over that of the pixel shape around it, by pixel shape
AREA_RATIOS = {"hexagon": math.pi / 2.0 / math.sqrt(3.0), "square": math.pi / 4.0, "circle": 1.0}
_SQRT2 = math.sqrt(2.0)


@kernel(error_model="numpy")
def chord_length(radius, rho, angle):
    """Length of the path from an impact point to the edge of a circle.

    Parameters
    ----------
    radius : float
        Radius of the circle.
    rho : float
        Distance of the impact point from the centre, in units of ``radius``.
    angle : float
        Direction of the path [rad].

    Returns
    -------
    float
        For ``rho <= 1`` the distance from the impact point to the circle
        along ``angle``; for an impact point outside the circle, the whole
        chord crossed when looking towards the circle (``cos(angle) > 0``),
        else 0.
    """
    s = math.sin(angle)
    c = math.cos(angle)
    disc = 1.0 - rho * rho * s * s
    if disc < 0.0:
        return 0.0
    if rho <= 1.0:
        return radius * (math.sqrt(disc) + rho * c)
    if abs(s) < 1.0 / rho and c > 0.0:
        return 2.0 * radius * math.sqrt(disc)
    return 0.0


@kernel(error_model="numpy")
def mirror_chord(mirror_radius, hole_radius, impact, angle):
    """Chord across the mirror minus the chord across its central hole."""
    length = chord_length(mirror_radius, impact / mirror_radius, angle)
    if hole_radius > 0.0:
        length -= chord_length(hole_radius, impact / hole_radius, angle)
    return length


@kernel(error_model="numpy")
def ring_profile(mirror_radius, hole_radius, impact, phi, radius, pixel_diameter, oversampling):
    """Smoothed chord profile along the ring.

    Returns
    -------
    angles, lengths : ndarray
        Sample angles ``linspace(-pi, pi, n) - phi`` (``n`` = ``oversampling``
        times the pixels along the ring) and the chord length at each,
        averaged over ``oversampling`` neighbouring samples (circularly).
    """
    n = int(2.0 * math.pi * radius / pixel_diameter) * oversampling
    angles = np.empty(n)
    raw = np.empty(n)
    step = 2.0 * math.pi / (n - 1) if n > 1 else 0.0
    for k in range(n):
        t = -math.pi + k * step if k < n - 1 else math.pi
        angles[k] = t - phi
        raw[k] = mirror_chord(mirror_radius, hole_radius, impact, angles[k])
    lengths = np.empty(n)
    half = oversampling // 2
    for k in range(n):
        s = 0.0
        for j in range(oversampling):
            s += raw[(k + j - half) % n]
        lengths[k] = s / oversampling
    return angles, lengths


@kernel(error_model="numpy")
def _interp_uniform(x, xp, fp):
    """numpy.interp on increasing, uniformly spaced ``xp``."""
    n = xp.shape[0]
    if x <= xp[0]:
        return fp[0]
    if x >= xp[n - 1]:
        return fp[n - 1]
    k = int((x - xp[0]) / (xp[1] - xp[0]))
    if k > n - 2:
        k = n - 2
    while k > 0 and x < xp[k]:
        k -= 1
    while k < n - 2 and x >= xp[k + 1]:
        k += 1
    slope = (fp[k + 1] - fp[k]) / (xp[k + 1] - xp[k])
    return slope * (x - xp[k]) + fp[k]


@kernel(error_model="numpy")
def _normal_cdf(x, mu, sigma):
    return 0.5 * (1.0 + math.erf((x - mu) / (_SQRT2 * sigma)))


@kernel(error_model="numpy")
def expected_light_polar(angle, distance, impact, phi, radius, ring_width, efficiency, mirror_radius, hole_radius,
                         pixel_diameter, oversampling, min_lambda, max_lambda, area_ratio, out):
    """Expected charge [p.e.] of pixels given by their azimuth ``angle`` and ``distance`` from the ring centre [rad].

    The pixel geometry does not change while a ring is fitted, so the fit computes it once.
    """
    n_pix = angle.shape[0]
    n_prof = int(2.0 * math.pi * radius / pixel_diameter) * oversampling
    if n_prof < 2 or not (radius > 0.0):
        for j in range(n_pix):
            out[j] = np.nan
        return
    angles, lengths = ring_profile(mirror_radius, hole_radius, impact, phi, radius, pixel_diameter,
                                   oversampling)
    scale = (efficiency * FINE_STRUCTURE * (1.0 / min_lambda - 1.0 / max_lambda)
             * (pixel_diameter / radius) * 0.5 * math.sin(2.0 * radius) * area_ratio)
    delta = 0.5 * pixel_diameter
    for j in range(n_pix):
        d = distance[j]
        gauss = _normal_cdf(d + delta, radius, ring_width) - _normal_cdf(d - delta, radius, ring_width)
        along = _interp_uniform(angle[j] - phi, angles, lengths)
        out[j] = along * scale * gauss


@kernel(error_model="numpy")
def pixel_polar(pix_x, pix_y, center_x, center_y):
    """Azimuth and distance of every pixel about the ring centre [rad]."""
    n_pix = pix_x.shape[0]
    angle = np.empty(n_pix)
    distance = np.empty(n_pix)
    for j in range(n_pix):
        dx = pix_x[j] - center_x
        dy = pix_y[j] - center_y
        angle[j] = math.atan2(dy, dx)
        distance[j] = math.sqrt(dx * dx + dy * dy)
    return angle, distance


@kernel(error_model="numpy")
def expected_light_row(pix_x, pix_y, impact, phi, center_x, center_y, radius, ring_width, efficiency,
                       mirror_radius, hole_radius, pixel_diameter, oversampling, min_lambda, max_lambda,
                       area_ratio, out):
    """Expected charge [p.e.] in each pixel ``(pix_x, pix_y)`` [rad] for one ring; written to ``out``."""
    angle, distance = pixel_polar(pix_x, pix_y, center_x, center_y)
    expected_light_polar(angle, distance, impact, phi, radius, ring_width, efficiency, mirror_radius,
                         hole_radius, pixel_diameter, oversampling, min_lambda, max_lambda, area_ratio, out)


@kernel(error_model="numpy")
def negative_log_likelihood_polar(image, pedestal, spe_width, angle, distance, impact, phi, radius, ring_width,
                                  efficiency, mirror_radius, hole_radius, pixel_diameter, oversampling, min_lambda,
                                  max_lambda, area_ratio):
    """:func:`negative_log_likelihood_row` for pixels given by azimuth and distance from the ring centre."""
    n_pix = angle.shape[0]
    mu = np.empty(n_pix)
    expected_light_polar(angle, distance, impact, phi, radius, ring_width, efficiency, mirror_radius,
                         hole_radius, pixel_diameter, oversampling, min_lambda, max_lambda, area_ratio, mu)
    total = 0.0
    f = 1.0 + spe_width * spe_width
    for j in range(n_pix):
        theta = 2.0 * (pedestal[j] * pedestal[j] + mu[j] * f)
        total += math.log(math.pi * theta) / 2.0 + (image[j] - mu[j]) ** 2 / theta
    return total


@kernel(error_model="numpy")
def negative_log_likelihood_row(image, pedestal, spe_width, pix_x, pix_y, impact, phi, center_x, center_y,
                                radius, ring_width, efficiency, mirror_radius, hole_radius, pixel_diameter,
                                oversampling, min_lambda, max_lambda, area_ratio):
    """Sum over the given pixels of ``-ln L`` (Gaussian approximation) for one ring."""
    angle, distance = pixel_polar(pix_x, pix_y, center_x, center_y)
    return negative_log_likelihood_polar(image, pedestal, spe_width, angle, distance, impact, phi, radius,
                                         ring_width, efficiency, mirror_radius, hole_radius, pixel_diameter,
                                         oversampling, min_lambda, max_lambda, area_ratio)


@kernel(parallel=True, error_model="numpy")
def expected_ring_light_kernel(geom_index, pix_x, pix_y, impact, phi, center_x, center_y, radius, ring_width,
                               efficiency, mirror_radius, hole_radius, pixel_diameter, oversampling,
                               min_lambda, max_lambda, area_ratio, out):
    """Expected charge of every pixel for a batch of rings.

    Parameters
    ----------
    geom_index : (n_rings,) int
        Row of ``pix_x``, ``pix_y`` for each ring.
    pix_x, pix_y : (n_geometries, n_pixels) float
        Pixel coordinates [rad] (telescope frame: fov_lon, fov_lat).
    impact, phi, center_x, center_y, radius, ring_width, efficiency : (n_rings,) float
        Muon and ring parameters [m, rad].
    mirror_radius, hole_radius, pixel_diameter, min_lambda, max_lambda, area_ratio : (n_rings,) float
        Telescope constants [m, rad, m].
    oversampling : (n_rings,) int
    out : (n_rings, n_pixels) float64, output
    """
    for i in prange(out.shape[0]):
        g = geom_index[i]
        expected_light_row(pix_x[g], pix_y[g], impact[i], phi[i], center_x[i], center_y[i], radius[i],
                           ring_width[i], efficiency[i], mirror_radius[i], hole_radius[i], pixel_diameter[i],
                           oversampling[i], min_lambda[i], max_lambda[i], area_ratio[i], out[i])
