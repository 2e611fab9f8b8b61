"""Batched kernels of the Hillas stereo reconstruction (plain arrays, numba).

The telescope events of many array events are flattened into one list,
sorted by array event; ``offsets`` (n_events + 1) delimits each event's
rows, as in a CSR matrix. One call reconstructs every event; the events
are independent and run in parallel.

Geometry (see :mod:`iactx.reco.hillas_reconstructor` for the inputs):

- direction: each image defines the plane through the telescope containing
  the shower axis, with normal ``n``. Every pair of planes crosses along
  ``n_a x n_b`` (taken pointing upwards); the direction is the normalised
  weighted mean of the crossings with weights ``w_a w_b``. The direction
  uncertainty is the mean angle between the direction and the crossings.
- core: the image axes are lines in the tilted frame (through the
  telescope position, angle ``psi``); the core is their least-squares
  intersection (optionally weighted). With more than two lines the scatter
  of the residual distances gives a covariance (``chi2 / dof`` times the
  inverse normal matrix).
- height of the shower maximum: least-squares intersection of the 3-D lines
  from each telescope along the direction of its image centroid; covariance
  as for the core with ``dof = 2 n - 3``.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .._numba import kernel

__all__ = ["hillas_stereo_kernel", "impact_distance_kernel", "pair_count"]


def pair_count(n):
    """Number of telescope pairs in an event with ``n`` telescopes."""
    return n * (n - 1) // 2


@kernel
def _inverse_3x3(m, out):
    """Inverse of a 3x3 matrix into ``out``; returns False if it is singular."""
    c00 = m[1, 1] * m[2, 2] - m[1, 2] * m[2, 1]
    c01 = m[1, 2] * m[2, 0] - m[1, 0] * m[2, 2]
    c02 = m[1, 0] * m[2, 1] - m[1, 1] * m[2, 0]
    det = m[0, 0] * c00 + m[0, 1] * c01 + m[0, 2] * c02
    if det == 0.0 or not math.isfinite(det):
        return False
    inv = 1.0 / det
    out[0, 0] = c00 * inv
    out[1, 0] = c01 * inv
    out[2, 0] = c02 * inv
    out[0, 1] = (m[0, 2] * m[2, 1] - m[0, 1] * m[2, 2]) * inv
    out[1, 1] = (m[0, 0] * m[2, 2] - m[0, 2] * m[2, 0]) * inv
    out[2, 1] = (m[0, 1] * m[2, 0] - m[0, 0] * m[2, 1]) * inv
    out[0, 2] = (m[0, 1] * m[1, 2] - m[0, 2] * m[1, 1]) * inv
    out[1, 2] = (m[0, 2] * m[1, 0] - m[0, 0] * m[1, 2]) * inv
    out[2, 2] = (m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0]) * inv
    return True


@kernel
def _direction(normals, weights, start, stop, out):
    """Weighted mean of the plane crossings; returns the mean off-angle [rad] (NaN if undefined)."""
    sx = sy = sz = 0.0
    wsum = 0.0
    for a in range(start, stop):
        for b in range(a + 1, stop):
            cx = normals[a, 1] * normals[b, 2] - normals[a, 2] * normals[b, 1]
            cy = normals[a, 2] * normals[b, 0] - normals[a, 0] * normals[b, 2]
            cz = normals[a, 0] * normals[b, 1] - normals[a, 1] * normals[b, 0]
            if cz < 0.0:
                cx, cy, cz = -cx, -cy, -cz
            w = weights[a] * weights[b]
            sx += w * cx
            sy += w * cy
            sz += w * cz
            wsum += w
    norm = math.sqrt(sx * sx + sy * sy + sz * sz)
    if not (wsum != 0.0 and norm > 0.0 and math.isfinite(norm)):
        out[0] = out[1] = out[2] = np.nan
        return np.nan
    out[0], out[1], out[2] = sx / norm, sy / norm, sz / norm
    total = 0.0
    n_pairs = 0
    for a in range(start, stop):
        for b in range(a + 1, stop):
            cx = normals[a, 1] * normals[b, 2] - normals[a, 2] * normals[b, 1]
            cy = normals[a, 2] * normals[b, 0] - normals[a, 0] * normals[b, 2]
            cz = normals[a, 0] * normals[b, 1] - normals[a, 1] * normals[b, 0]
            if cz < 0.0:
                cx, cy, cz = -cx, -cy, -cz
            c_norm = math.sqrt(cx * cx + cy * cy + cz * cz)
            n_pairs += 1
            if c_norm == 0.0:  # identical planes: their crossing has no direction
                total = np.nan
                continue
            cos = (out[0] * cx + out[1] * cy + out[2] * cz) / c_norm
            total += math.acos(min(max(cos, -1.0), 1.0))
    return total / n_pairs


@kernel
def _core(psi, tilted_xy, core_weights, start, stop, out, cov):
    """Least-squares intersection of 2-D lines (point ``tilted_xy``, angle ``psi``) and its covariance."""
    s00 = s01 = s11 = 0.0
    c0 = c1 = 0.0
    for k in range(start, stop):
        ux, uy = math.cos(psi[k]), math.sin(psi[k])
        w = core_weights[k]
        # projector onto the normal of the line: I - u u^T
        p00, p01, p11 = 1.0 - ux * ux, -ux * uy, 1.0 - uy * uy
        s00 += w * p00
        s01 += w * p01
        s11 += w * p11
        c0 += w * (p00 * tilted_xy[k, 0] + p01 * tilted_xy[k, 1])
        c1 += w * (p01 * tilted_xy[k, 0] + p11 * tilted_xy[k, 1])
    det = s00 * s11 - s01 * s01
    cov[0] = cov[1] = cov[2] = np.nan
    if det == 0.0 or not math.isfinite(det):
        out[0] = out[1] = np.nan
        return
    i00, i01, i11 = s11 / det, -s01 / det, s00 / det
    x = i00 * c0 + i01 * c1
    y = i01 * c0 + i11 * c1
    out[0], out[1] = x, y
    dof = (stop - start) - 2
    if dof <= 0:
        return
    chi2 = 0.0
    for k in range(start, stop):
        ux, uy = math.cos(psi[k]), math.sin(psi[k])
        dx, dy = x - tilted_xy[k, 0], y - tilted_xy[k, 1]
        distance = dx * uy - dy * ux  # signed distance from the line
        chi2 += core_weights[k] * distance * distance
    scale = chi2 / dof
    cov[0], cov[1], cov[2] = i00 * scale, i01 * scale, i11 * scale


@kernel
def _h_max(directions, positions, start, stop, matrix, inverse, out):
    """Least-squares intersection of 3-D lines; returns the variance of its z (NaN if undefined)."""
    for i in range(3):
        out[i] = 0.0
        for j in range(3):
            matrix[i, j] = 0.0
    c = np.zeros(3)
    for k in range(start, stop):
        d = directions[k]
        for i in range(3):
            for j in range(3):
                p = (1.0 if i == j else 0.0) - d[i] * d[j]
                matrix[i, j] += p
                c[i] += p * positions[k, j]
    if not _inverse_3x3(matrix, inverse):
        out[0] = out[1] = out[2] = np.nan
        return np.nan
    for i in range(3):
        out[i] = inverse[i, 0] * c[0] + inverse[i, 1] * c[1] + inverse[i, 2] * c[2]
    dof = 2 * (stop - start) - 3
    chi2 = 0.0
    for k in range(start, stop):
        d = directions[k]
        r0, r1, r2 = out[0] - positions[k, 0], out[1] - positions[k, 1], out[2] - positions[k, 2]
        along = r0 * d[0] + r1 * d[1] + r2 * d[2]
        chi2 += r0 * r0 + r1 * r1 + r2 * r2 - along * along
    return inverse[2, 2] * max(chi2, 0.0) / dof


def _hillas_stereo(offsets, normals, weights, psi, tilted_xy, core_weights, cog_directions, positions,
                         direction, direction_error, core, core_cov, shower_max, shower_max_var):
    """Reconstruct the direction, core and shower maximum of every event.

    Parameters
    ----------
    offsets : int64 array, shape (n_events + 1,)
        Rows of event ``i`` are ``offsets[i]:offsets[i + 1]`` in the arrays below.
    normals : float64 array, shape (n, 3)
        Normals of the planes through each telescope and its image axis (ground frame).
    weights : float64 array, shape (n,)
        Weight of each plane (intensity * length / width).
    psi : float64 array, shape (n,)
        Angle of each image axis in the tilted frame [rad].
    tilted_xy : float64 array, shape (n, 2)
        Telescope positions in the tilted frame [m].
    core_weights : float64 array, shape (n,)
        Weights of the image axes in the core intersection (ones for an unweighted fit).
    cog_directions : float64 array, shape (n, 3)
        Unit vectors towards each image centroid (ground frame).
    positions : float64 array, shape (n, 3)
        Telescope positions in the ground frame [m].
    direction : float64 array, shape (n_events, 3)
        Output: unit vector of the shower direction (NaN if undefined).
    direction_error : float64 array, shape (n_events,)
        Output: mean angle between the direction and the plane crossings [rad].
    core : float64 array, shape (n_events, 2)
        Output: core in the tilted frame [m].
    core_cov : float64 array, shape (n_events, 3)
        Output: covariance of the core (xx, xy, yy) [m2]; NaN for fewer than 3 telescopes.
    shower_max : float64 array, shape (n_events, 3)
        Output: point of closest approach of the centroid lines [m].
    shower_max_var : float64 array, shape (n_events,)
        Output: variance of its height [m2].
    """
    n_events = offsets.shape[0] - 1
    for i in numba.prange(n_events):
        start, stop = offsets[i], offsets[i + 1]
        if stop - start < 2:
            direction[i, :] = np.nan
            direction_error[i] = np.nan
            core[i, :] = np.nan
            core_cov[i, :] = np.nan
            shower_max[i, :] = np.nan
            shower_max_var[i] = np.nan
            continue
        direction_error[i] = _direction(normals, weights, start, stop, direction[i])
        _core(psi, tilted_xy, core_weights, start, stop, core[i], core_cov[i])
        matrix = np.empty((3, 3))
        inverse = np.empty((3, 3))
        shower_max_var[i] = _h_max(cog_directions, positions, start, stop, matrix, inverse, shower_max[i])


#: parallel over events (large batches) and serial (small batches: no thread start-up)
_hillas_stereo_parallel = kernel(parallel=True)(_hillas_stereo)
_hillas_stereo_serial = kernel(_hillas_stereo)
#: events per call from which the parallel version is used
PARALLEL_MIN_EVENTS = 2000


def hillas_stereo_kernel(offsets, normals, weights, psi, tilted_xy, core_weights, cog_directions, positions,
                         direction, direction_error, core, core_cov, shower_max, shower_max_var):
    """Reconstruct the direction, core and shower maximum of every event (see :func:`_hillas_stereo`)."""
    func = _hillas_stereo_parallel if offsets.shape[0] - 1 >= PARALLEL_MIN_EVENTS else _hillas_stereo_serial
    func(offsets, normals, weights, psi, tilted_xy, core_weights, cog_directions, positions, direction,
         direction_error, core, core_cov, shower_max, shower_max_var)


@kernel
def impact_distance_kernel(positions, core_xy, directions, out):
    """Distance of each telescope from its shower axis.

    Parameters
    ----------
    positions : float64 array, shape (n, 3)
        Telescope positions (ground frame) [m].
    core_xy : float64 array, shape (n, 2)
        Core of the shower each telescope saw, on the ground (z = 0) [m].
    directions : float64 array, shape (n, 3)
        Shower direction (ground frame, need not be normalised).
    out : float64 array, shape (n,)
        Output [m]; NaN where the shower is undefined.
    """
    for k in range(positions.shape[0]):
        dx, dy, dz = positions[k, 0] - core_xy[k, 0], positions[k, 1] - core_xy[k, 1], positions[k, 2]
        ux, uy, uz = directions[k, 0], directions[k, 1], directions[k, 2]
        cx, cy, cz = dy * uz - dz * uy, dz * ux - dx * uz, dx * uy - dy * ux
        out[k] = math.sqrt(cx * cx + cy * cy + cz * cz) / math.sqrt(ux * ux + uy * uy + uz * uz)
