"""Batched kernels of the Hillas-intersection stereo reconstruction (plain arrays, numba).

The algorithm is algorithm I of Hofmann et al. (1999), as ctapipe's
``HillasIntersection`` implements it. The telescope events of many array
events are flattened into one list sorted by array event; ``offsets``
(n_events + 1) delimits each event's rows. For every pair ``(a, b)`` of
images of an event:

- the image axes (line through the centroid at angle ``psi``) in the
  nominal frame cross at a candidate source position;
- the same axes through the telescope positions in the tilted frame cross
  at a candidate core position (the tilted frame's ``(y, x)`` play the
  roles of the nominal frame's ``(fov_lon, fov_lat)``);
- the pair's weight is the pair intensity weight (see :data:`WEIGHTINGS`)
  times ``|sin(psi_a - psi_b)|``, so that near-parallel axes count little.

Source and core are the weighted means of the crossings; their
uncertainties the weighted standard deviations. The distance of the shower
maximum from the tilted plane is the intensity-weighted mean over the
images of ``impact / disp`` (distance of the telescope from the core over
the angular distance [rad] of the centroid from the source).
"""

from __future__ import annotations

import math

import numpy as np

from .._numba import kernel

__all__ = ["WEIGHTINGS", "hillas_intersection_kernel"]

#: intensity weights of an image pair, by name: ``a b / (a + b)`` (ctapipe 0.32's
#: "harmonic-mean-intensity", formerly "Konrad") and ``1 / (1 / a + 1 / b)`` ("HESS"),
#: the same quantity written as H.E.S.S. software writes it
WEIGHTINGS = {"harmonic-mean-intensity": 0, "Konrad": 0, "HESS": 1}


@kernel
def _line_crossing(x1, y1, phi1, x2, y2, phi2):
    """Crossing ``(x, y)`` of the lines through ``(x1, y1)`` at angle ``phi1`` and ``(x2, y2)`` at ``phi2`` [rad].

    Infinite or NaN for parallel lines.
    """
    sin1, cos1 = math.sin(phi1), math.cos(phi1)
    sin2, cos2 = math.sin(phi2), math.cos(phi2)
    # each line as a x + b y + c = 0
    a1, b1, c1 = sin1, -cos1, y1 * cos1 - x1 * sin1
    a2, b2, c2 = sin2, -cos2, y2 * cos2 - x2 * sin2
    det_ab = a1 * b2 - a2 * b1
    det_bc = b1 * c2 - b2 * c1
    det_ca = c1 * a2 - c2 * a1
    if det_ab == 0.0:
        return np.nan, np.nan
    return det_bc / det_ab, det_ca / det_ab


@kernel
def _pair_weight(intensity_a, intensity_b, psi_a, psi_b, weighting):
    """Weight of an image pair: intensity weight (code of :data:`WEIGHTINGS`) times ``|sin(psi_a - psi_b)|``."""
    if weighting == 1:
        w = 1.0 / (1.0 / intensity_a + 1.0 / intensity_b)
    else:
        w = intensity_a * intensity_b / (intensity_a + intensity_b)
    return w * abs(math.sin(psi_a - psi_b))


@kernel
def _crossing(a, b, x, y, psi, swap):
    """Crossing of the axes of images ``a`` and ``b``; with ``swap`` crossed in ``(y, x)`` coordinates."""
    if swap:
        cy, cx = _line_crossing(y[a], x[a], psi[a], y[b], x[b], psi[b])
        return cx, cy
    return _line_crossing(x[a], y[a], psi[a], x[b], y[b], psi[b])


@kernel
def _pair_means(start, stop, x, y, psi, intensity, weighting, swap, out, spread):
    """Weighted mean (``out``) and standard deviation (``spread``) of the pair crossings of lines ``(x, y, psi)``.

    Pairs of weight zero (parallel axes) are left out; NaN if no pair remains.
    """
    sw = sx = sy = 0.0
    for a in range(start, stop):
        for b in range(a + 1, stop):
            w = _pair_weight(intensity[a], intensity[b], psi[a], psi[b], weighting)
            if w != 0.0:
                cx, cy = _crossing(a, b, x, y, psi, swap)
                sw += w
                sx += w * cx
                sy += w * cy
    if not sw > 0.0:
        out[0] = out[1] = spread[0] = spread[1] = np.nan
        return
    mx, my = sx / sw, sy / sw
    vx = vy = 0.0
    for a in range(start, stop):
        for b in range(a + 1, stop):
            w = _pair_weight(intensity[a], intensity[b], psi[a], psi[b], weighting)
            if w != 0.0:
                cx, cy = _crossing(a, b, x, y, psi, swap)
                vx += w * (cx - mx) ** 2
                vy += w * (cy - my) ** 2
    out[0], out[1] = mx, my
    spread[0], spread[1] = math.sqrt(vx / sw), math.sqrt(vy / sw)


@kernel
def hillas_intersection_kernel(offsets, nominal_lon, nominal_lat, psi, intensity, tilted_x, tilted_y, weighting,
                               source, source_spread, core, core_spread, max_distance):
    """Source, core and distance of the shower maximum of every event.

    Parameters
    ----------
    offsets : int64 array, shape (n_events + 1,)
        Rows of event ``i`` are ``offsets[i]:offsets[i + 1]`` in the arrays below.
    nominal_lon, nominal_lat : float64 arrays, shape (n,)
        Image centroids in the nominal frame of the array pointing [rad].
    psi : float64 array, shape (n,)
        Image axis angles [rad] (the telescope-frame ``hillas_psi``).
    intensity : float64 array, shape (n,)
        Image intensities [pe].
    tilted_x, tilted_y : float64 arrays, shape (n,)
        Telescope positions in the tilted frame [m].
    weighting : int
        Pair intensity weight, a value of :data:`WEIGHTINGS`.
    source : float64 array, shape (n_events, 2)
        Output: ``(fov_lon, fov_lat)`` of the source in the nominal frame [rad].
    source_spread : float64 array, shape (n_events, 2)
        Output: weighted standard deviation of the crossings [rad].
    core : float64 array, shape (n_events, 2)
        Output: core ``(x, y)`` in the tilted frame [m].
    core_spread : float64 array, shape (n_events, 2)
        Output: weighted standard deviation of the core crossings [m].
    max_distance : float64 array, shape (n_events,)
        Output: intensity-weighted mean distance of the shower maximum from
        the tilted plane [m].

    Events with fewer than two rows get NaN; an image whose centroid is the source makes the
    distance infinite.
    """
    for i in range(offsets.shape[0] - 1):
        start, stop = offsets[i], offsets[i + 1]
        if stop - start < 2:
            source[i, :] = source_spread[i, :] = core[i, :] = core_spread[i, :] = np.nan
            max_distance[i] = np.nan
            continue
        _pair_means(start, stop, nominal_lon, nominal_lat, psi, intensity, weighting, False, source[i],
                    source_spread[i])
        _pair_means(start, stop, tilted_x, tilted_y, psi, intensity, weighting, True, core[i], core_spread[i])
        if not (math.isfinite(source[i, 0]) and math.isfinite(core[i, 0])):
            max_distance[i] = np.nan
            continue
        total = wsum = 0.0
        for k in range(start, stop):
            disp = math.hypot(nominal_lon[k] - source[i, 0], nominal_lat[k] - source[i, 1])
            impact = math.hypot(tilted_x[k] - core[i, 0], tilted_y[k] - core[i, 1])
            total += intensity[k] * impact / disp if disp > 0.0 else np.inf  # centroid on the source
            wsum += intensity[k]
        max_distance[i] = total / wsum if wsum > 0.0 else np.nan
