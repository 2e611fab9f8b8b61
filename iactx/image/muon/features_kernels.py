"""Muon-ring parameters on batches of images, given a fitted ring per image.

Inputs follow :mod:`iactx.image.muon.ring_fit_kernels`: ``image`` and
``mask`` of shape ``(n_images, n_pixels)``, pixel coordinates and widths per
geometry ``(n_geometries, n_pixels)`` picked by ``geom_index``, the ring of
each image as ``(radius, center_x, center_y)`` in the same angular unit.

Column order of the ``out`` array of :func:`ring_parameters_kernel` is
:data:`PARAMETER_NAMES`. Rows not selected, or whose ring radius is not
finite, get NaN (and ``-1`` pixels in the ring).

Definitions (``d`` is the distance of a pixel from the ring centre, ``r``
the ring radius, sums weighted by the pixel charges):

- ``containment``: fraction of the ring circumference inside the camera,
  modelled as a circle of radius ``camera_radius`` about the origin;
- ``completeness``: fraction of ``n_bins`` azimuthal bins about the ring
  centre (on ``[-pi, pi]``) whose charge (all pixels) exceeds ``threshold``;
- ``intensity_ratio``: charge of the cleaned pixels with
  ``|d - r| <= ratio_width * pixel_width / 2`` over the charge of all cleaned pixels;
- ``mean_squared_error``: charge-weighted mean of ``(d - r)**2`` over the cleaned pixels;
- ``ring_intensity``: charge of all pixels with ``|d - r| < integration_width * r``;
- ``intensity_outside_ring``: charge of the cleaned pixels outside that band;
- ``n_pixels_in_ring``: cleaned pixels inside that band;
- ``mean_intensity_outside_ring``: mean charge of the pixels in the band
  ``integration_width * r <= |d - r| < (integration_width + outer_width) * r``;
- ``radial_std_dev``, ``skewness``, ``excess_kurtosis``: standardised
  moments of ``d`` weighted by the charges of all pixels (NaN when the
  weighted variance is negative, which noise can make it).

Only numpy, numba and math are imported here.
"""

import math

import numpy as np
from numba import prange

from ..._numba import kernel

__all__ = ["PARAMETER_NAMES", "ring_containment", "ring_containment_kernel", "ring_parameters_kernel"]

#: columns of :func:`ring_parameters_kernel`'s output
PARAMETER_NAMES = (
    "containment",
    "completeness",
    "intensity_ratio",
    "mean_squared_error",
    "ring_intensity",
    "intensity_outside_ring",
    "n_pixels_in_ring",
    "mean_intensity_outside_ring",
    "radial_std_dev",
    "skewness",
    "excess_kurtosis",
)


@kernel(error_model="numpy")
def ring_containment(radius, center_x, center_y, camera_radius):
    """Fraction of a ring inside a circular camera of radius ``camera_radius`` about the origin.

    A point of the ring at angle ``t`` from the direction towards the camera
    centre is inside when ``r**2 + c**2 - 2 r c cos(t) < R**2`` (``c`` the
    distance between the centres), so the contained fraction is
    ``arccos((r**2 - R**2 + c**2) / (2 r c)) / pi``; 1 for a ring inside the
    camera, 0 for a ring outside it or enclosing it.
    """
    if not (math.isfinite(radius) and math.isfinite(center_x) and math.isfinite(center_y)):
        return np.nan
    c = math.sqrt(center_x * center_x + center_y * center_y)
    if c <= camera_radius - radius:
        return 1.0
    if c <= radius - camera_radius or c >= radius + camera_radius:
        return 0.0
    a = (radius * radius - camera_radius * camera_radius + c * c) / (2.0 * c * radius)
    a = min(max(a, -1.0), 1.0)
    return math.acos(a) / math.pi


@kernel(error_model="numpy")
def _histogram_bin(value, lo, hi, edges, n_bins):
    """The bin of ``value`` exactly as numpy.histogram places it; -1 outside ``[lo, hi]``."""
    if value < lo or value > hi:
        return -1
    k = int((value - lo) * (n_bins / (hi - lo)))
    if k >= n_bins:
        k = n_bins - 1
    if value < edges[k]:
        k -= 1
    elif k != n_bins - 1 and value >= edges[k + 1]:
        k += 1
    return k


@kernel(parallel=True, error_model="numpy")
def ring_parameters_kernel(image, mask, selected, geom_index, pix_x, pix_y, pixel_width, camera_radius,
                           rings, completeness_threshold, ratio_width, integration_width, outer_width,
                           n_bins, out):
    """Ring parameters of every selected image.

    Parameters
    ----------
    image : (n_images, n_pixels) float
    mask : (n_images, n_pixels) bool
        Cleaning mask.
    selected : (n_images,) bool
    geom_index : (n_images,) int
    pix_x, pix_y, pixel_width : (n_geometries, n_pixels) float
        Pixel coordinates and widths (telescope frame).
    camera_radius : (n_geometries,) float
        Radius of the camera for the containment.
    rings : (n_images, 3) float
        radius, center_x, center_y of each ring.
    completeness_threshold, ratio_width, integration_width, outer_width : (n_images,) float
        Options per image: charge threshold of a completeness bin; width of the
        intensity-ratio band in pixel widths; half width of the ring band and width
        of the outer band in ring radii.
    n_bins : int
        Azimuthal bins of the completeness.
    out : (n_images, 11) float64, output
        Columns :data:`PARAMETER_NAMES`.
    """
    n_images, n_pixels = image.shape
    n_out = out.shape[1]
    edges = np.linspace(-math.pi, math.pi, n_bins + 1)
    for i in prange(n_images):
        for k in range(n_out):
            out[i, k] = np.nan
        out[i, 6] = -1.0
        r = rings[i, 0]
        cx = rings[i, 1]
        cy = rings[i, 2]
        if not selected[i] or not math.isfinite(r):
            continue
        g = geom_index[i]
        out[i, 0] = ring_containment(r, cx, cy, camera_radius[g])
        hist = np.zeros(n_bins)
        ratio_in = 0.0
        clean_total = 0.0
        mse_sum = 0.0
        ring_intensity = 0.0
        outside = 0.0
        n_in_ring = 0
        outer_sum = 0.0
        n_outer = 0
        s_w = 0.0
        s_wd = 0.0
        band = r * integration_width[i]
        outer_band = r * (integration_width[i] + outer_width[i])
        for j in range(n_pixels):
            q = np.float64(image[i, j])
            dx = pix_x[g, j] - cx
            dy = pix_y[g, j] - cy
            d = math.sqrt(dx * dx + dy * dy)
            k = _histogram_bin(math.atan2(dy, dx), -math.pi, math.pi, edges, n_bins)
            if k >= 0:
                hist[k] += q
            off = abs(d - r)
            in_band = off < band
            if in_band:
                ring_intensity += q
            elif off < outer_band:
                outer_sum += q
                n_outer += 1
            if mask[i, j]:
                clean_total += q
                half = 0.5 * ratio_width[i] * pixel_width[g, j]
                if d >= r - half and d <= r + half:
                    ratio_in += q
                mse_sum += q * (d - r) ** 2
                if in_band:
                    n_in_ring += 1
                else:
                    outside += q
            s_w += q
            s_wd += q * d
        n_above = 0
        for k in range(n_bins):
            if hist[k] > completeness_threshold[i]:
                n_above += 1
        out[i, 1] = n_above / n_bins
        out[i, 2] = ratio_in / clean_total if clean_total != 0.0 else np.nan
        out[i, 3] = mse_sum / clean_total if clean_total != 0.0 else np.nan
        out[i, 4] = ring_intensity
        out[i, 5] = outside
        out[i, 6] = n_in_ring
        out[i, 7] = outer_sum / n_outer if n_outer > 0 else np.nan
        if s_w != 0.0:
            mean = s_wd / s_w
            m2 = 0.0
            m3 = 0.0
            m4 = 0.0
            for j in range(n_pixels):
                q = np.float64(image[i, j])
                d = math.sqrt((pix_x[g, j] - cx) ** 2 + (pix_y[g, j] - cy) ** 2) - mean
                m2 += q * d * d
                m3 += q * d * d * d
                m4 += q * d * d * d * d
            m2 /= s_w
            m3 /= s_w
            m4 /= s_w
            if m2 >= 0.0:
                std = math.sqrt(m2)
                out[i, 8] = std
                out[i, 9] = m3 / std ** 3
                out[i, 10] = m4 / std ** 4 - 3.0


@kernel(parallel=True, error_model="numpy")
def ring_containment_kernel(radius, center_x, center_y, camera_radius, out):
    """:func:`ring_containment` element by element over 1-d arrays of equal length."""
    for i in prange(out.shape[0]):
        out[i] = ring_containment(radius[i], center_x[i], center_y[i], camera_radius[i])
