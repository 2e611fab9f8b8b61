"""Vectorised coordinate transformations on plain arrays.

These functions carry the mathematics of the astropy frames in
:mod:`iactx.coordinates.frames` (which call them), so the hot paths of the
analysis (whole pixel arrays, batches of telescope events) give exactly the
numbers of the frames without creating astropy objects. Angles are in
degrees, lengths in metres; every function broadcasts its arguments like a
numpy ufunc. No astropy import here: kernels and the image-parameter code
use this module directly.

Conventions (those of ctapipe and sim_telarray):

- camera frame: ``x``, ``y`` [m] in the focal plane; with the telescope
  parked at the horizon pointing north, ``x`` points north (up) and ``y``
  west. The camera may be rotated by ``rotation`` [deg].
- telescope frame (and nominal frame): spherical offsets ``fov_lon``,
  ``fov_lat`` [deg] from the pointing direction (nominal: from an arbitrary
  origin); ``fov_lon`` grows with azimuth, ``fov_lat`` with altitude, and
  ``fov_lon`` is wrapped to [-180, 180).
- camera -> telescope: equidistant mapping, ``fov_lat = x' / f`` and
  ``fov_lon = y' / f`` [rad] where ``(x', y')`` is ``(x, y)`` rotated by
  ``rotation`` counter-clockwise.
- ground frame: ``x`` north, ``y`` west, ``z`` up [m] around the array
  reference location; a direction ``(alt, az)`` is the vector
  ``(cos alt cos az, -cos alt sin az, sin alt)``.
- tilted ground frame: the plane perpendicular to a direction ``(alt, az)``;
  its ``z`` axis is that direction, its ``y`` axis ``(sin az, cos az, 0)``
  lies in the ground plane, ``x`` completes the right-handed set.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "camera_to_telescope",
    "telescope_to_camera",
    "camera_to_engineering",
    "engineering_to_camera",
    "sky_offset_matrix",
    "altaz_to_offset",
    "offset_to_altaz",
    "altaz_to_telescope",
    "telescope_to_altaz",
    "altaz_to_nominal",
    "nominal_to_altaz",
    "telescope_to_nominal",
    "nominal_to_telescope",
    "camera_to_nominal",
    "altaz_to_cartesian",
    "cartesian_to_altaz",
    "tilted_matrix",
    "ground_to_tilted",
    "tilted_to_ground",
    "project_to_ground",
    "angular_separation",
]


def _asfloat(*arrays):
    return [np.asarray(a, dtype=np.float64) for a in arrays]


def _rotate(x, y, angle_deg):
    """Rotate ``(x, y)`` counter-clockwise by ``angle_deg``; no-op for a zero angle."""
    angle = np.asarray(angle_deg, dtype=np.float64)
    if not np.any(angle):
        return x, y
    c, s = np.cos(np.deg2rad(angle)), np.sin(np.deg2rad(angle))
    return x * c - y * s, x * s + y * c


def camera_to_telescope(x, y, focal_length, rotation=0.0):
    """Camera-frame positions to telescope-frame offsets.

    Parameters
    ----------
    x, y : array_like
        Positions in the camera frame [m].
    focal_length : array_like
        Focal length [m]; broadcasts against ``x`` (one per telescope event
        with ``x`` of shape ``(n, n_pixels)`` needs shape ``(n, 1)``).
    rotation : array_like
        Camera rotation [deg] (0 for cameras stored derotated).

    Returns
    -------
    fov_lon, fov_lat : ndarray
        Offsets from the pointing [deg].
    """
    x, y, focal_length = _asfloat(x, y, focal_length)
    xr, yr = _rotate(x, y, rotation)
    with np.errstate(divide="ignore", invalid="ignore"):
        fov_lat = np.rad2deg(xr / focal_length)
        fov_lon = np.rad2deg(yr / focal_length)
    return _wrap180(fov_lon), fov_lat


def telescope_to_camera(fov_lon, fov_lat, focal_length, rotation=0.0):
    """Telescope-frame offsets [deg] to camera-frame positions [m] (inverse of :func:`camera_to_telescope`)."""
    fov_lon, fov_lat, focal_length = _asfloat(fov_lon, fov_lat, focal_length)
    x = np.deg2rad(fov_lat)
    y = np.deg2rad(fov_lon)
    x, y = _rotate(x, y, -np.asarray(rotation, dtype=np.float64))
    return x * focal_length, y * focal_length


#: engineering frame (MAGIC/FACT: looking at the camera from the dish, x right, y up)
_ENGINEERING_1M = np.array([[0.0, -1.0], [-1.0, 0.0]])
_ENGINEERING_2M = np.array([[0.0, 1.0], [-1.0, 0.0]])


def camera_to_engineering(x, y, n_mirrors=1):
    """Camera frame to engineering camera frame: ``(-y, -x)`` for one mirror, ``(y, -x)`` for two."""
    m = _ENGINEERING_1M if n_mirrors == 1 else _ENGINEERING_2M
    x, y = _asfloat(x, y)
    return m[0, 0] * x + m[0, 1] * y, m[1, 0] * x + m[1, 1] * y


def engineering_to_camera(x, y, n_mirrors=1):
    """Inverse of :func:`camera_to_engineering`."""
    m = (_ENGINEERING_1M if n_mirrors == 1 else _ENGINEERING_2M).T
    x, y = _asfloat(x, y)
    return m[0, 0] * x + m[0, 1] * y, m[1, 0] * x + m[1, 1] * y


def _wrap180(lon):
    """Longitudes [deg] into [-180, 180)."""
    out = np.asarray(lon, dtype=np.float64)
    outside = (out < -180.0) | (out >= 180.0)
    if np.any(outside):
        out = np.where(outside, np.mod(out + 180.0, 360.0) - 180.0, out)
    return out


def _wrap360(lon):
    """Longitudes [deg] into [0, 360)."""
    out = np.asarray(lon, dtype=np.float64)
    outside = (out < 0.0) | (out >= 360.0)
    if np.any(outside):
        out = np.where(outside, np.mod(out, 360.0), out)
        out = np.where(out >= 360.0, 0.0, out)  # mod of a tiny negative number can round to 360
    return out


def _unit_vectors(lon_deg, lat_deg):
    """Unit vectors (..., 3) of spherical (lon, lat) [deg], lon counter-clockwise from x."""
    lon, lat = np.deg2rad(lon_deg), np.deg2rad(lat_deg)
    cos_lat = np.cos(lat)
    return np.stack(np.broadcast_arrays(cos_lat * np.cos(lon), cos_lat * np.sin(lon), np.sin(lat)), axis=-1)


def _lon_lat(vectors):
    """Spherical (lon, lat) [deg] of vectors (..., 3)."""
    x, y, z = vectors[..., 0], vectors[..., 1], vectors[..., 2]
    return np.rad2deg(np.arctan2(y, x)), np.rad2deg(np.arctan2(z, np.hypot(x, y)))


def sky_offset_matrix(origin_lon, origin_lat):
    """Rotation (..., 3, 3) taking unit vectors of a spherical frame to offsets from ``origin``.

    The product of a rotation about ``z`` by the origin's longitude and a
    rotation about the new ``y`` axis by its latitude, so that the origin
    goes to ``(1, 0, 0)``; rows are the offset frame's axes expressed in the
    original frame. Angles in degrees.
    """
    lon, lat = np.deg2rad(np.asarray(origin_lon, np.float64)), np.deg2rad(np.asarray(origin_lat, np.float64))
    lon, lat = np.broadcast_arrays(lon, lat)
    cl, sl, cb, sb = np.cos(lon), np.sin(lon), np.cos(lat), np.sin(lat)
    zero = np.zeros_like(cl)
    # rows: origin direction, local "east" (growing lon), local "north" (growing lat)
    rows = [
        np.stack([cb * cl, cb * sl, sb], axis=-1),
        np.stack([-sl, cl, zero], axis=-1),
        np.stack([-sb * cl, -sb * sl, cb], axis=-1),
    ]
    return np.stack(rows, axis=-2)


def altaz_to_offset(alt, az, origin_alt, origin_az):
    """Spherical offsets [deg] of ``(alt, az)`` from ``origin`` (telescope or nominal frame).

    The rotation of :func:`sky_offset_matrix` written out, so batches need
    no 3x3 matrix per element.

    Returns
    -------
    fov_lon, fov_lat : ndarray
        ``fov_lon`` in [-180, 180).
    """
    alt, az, origin_alt, origin_az = (np.deg2rad(a) for a in _asfloat(alt, az, origin_alt, origin_az))
    cos_alt, sin_alt = np.cos(alt), np.sin(alt)
    cos_o, sin_o = np.cos(origin_alt), np.sin(origin_alt)
    delta = az - origin_az
    along = cos_alt * np.cos(delta)
    x = cos_o * along + sin_o * sin_alt
    y = cos_alt * np.sin(delta)
    z = cos_o * sin_alt - sin_o * along
    return _wrap180(np.rad2deg(np.arctan2(y, x))), np.rad2deg(np.arctan2(z, np.hypot(x, y)))


def offset_to_altaz(fov_lon, fov_lat, origin_alt, origin_az):
    """Inverse of :func:`altaz_to_offset`: ``(alt, az)`` [deg], ``az`` in [0, 360)."""
    lon, lat, origin_alt, origin_az = (np.deg2rad(a) for a in _asfloat(fov_lon, fov_lat, origin_alt, origin_az))
    cos_lat = np.cos(lat)
    x, y, z = cos_lat * np.cos(lon), cos_lat * np.sin(lon), np.sin(lat)
    cos_o, sin_o = np.cos(origin_alt), np.sin(origin_alt)
    horizontal = cos_o * x - sin_o * z
    up = sin_o * x + cos_o * z
    az = np.rad2deg(origin_az + np.arctan2(y, horizontal))
    return np.rad2deg(np.arctan2(up, np.hypot(horizontal, y))), _wrap360(az)


def altaz_to_telescope(alt, az, pointing_alt, pointing_az):
    """Horizontal ``(alt, az)`` [deg] to telescope-frame ``(fov_lon, fov_lat)`` [deg]."""
    return altaz_to_offset(alt, az, pointing_alt, pointing_az)


def telescope_to_altaz(fov_lon, fov_lat, pointing_alt, pointing_az):
    """Telescope-frame ``(fov_lon, fov_lat)`` [deg] to horizontal ``(alt, az)`` [deg]."""
    return offset_to_altaz(fov_lon, fov_lat, pointing_alt, pointing_az)


def altaz_to_nominal(alt, az, origin_alt, origin_az):
    """Horizontal ``(alt, az)`` [deg] to nominal-frame ``(fov_lon, fov_lat)`` [deg] around ``origin``."""
    return altaz_to_offset(alt, az, origin_alt, origin_az)


def nominal_to_altaz(fov_lon, fov_lat, origin_alt, origin_az):
    """Nominal-frame ``(fov_lon, fov_lat)`` [deg] around ``origin`` to horizontal ``(alt, az)`` [deg]."""
    return offset_to_altaz(fov_lon, fov_lat, origin_alt, origin_az)


def telescope_to_nominal(fov_lon, fov_lat, pointing_alt, pointing_az, origin_alt, origin_az):
    """Telescope-frame offsets of telescopes pointing at ``pointing`` to nominal offsets around ``origin``.

    One rotation per element: batches of telescope events with different
    pointings (divergent pointing) go in as arrays.
    """
    alt, az = offset_to_altaz(fov_lon, fov_lat, pointing_alt, pointing_az)
    return altaz_to_offset(alt, az, origin_alt, origin_az)


def nominal_to_telescope(fov_lon, fov_lat, origin_alt, origin_az, pointing_alt, pointing_az):
    """Inverse of :func:`telescope_to_nominal`."""
    return telescope_to_nominal(fov_lon, fov_lat, origin_alt, origin_az, pointing_alt, pointing_az)


def camera_to_nominal(x, y, focal_length, pointing_alt, pointing_az, origin_alt, origin_az, rotation=0.0):
    """Camera-frame positions [m] straight to nominal offsets [deg] around ``origin``."""
    lon, lat = camera_to_telescope(x, y, focal_length, rotation)
    return telescope_to_nominal(lon, lat, pointing_alt, pointing_az, origin_alt, origin_az)


def altaz_to_cartesian(alt, az, distance=1.0):
    """Direction ``(alt, az)`` [deg] as a vector (..., 3) in the ground frame (x north, y west, z up)."""
    alt, az, distance = _asfloat(alt, az, distance)
    alt, az = np.deg2rad(alt), np.deg2rad(az)
    horizontal = np.cos(alt) * distance
    return np.stack(np.broadcast_arrays(horizontal * np.cos(az), -horizontal * np.sin(az), np.sin(alt) * distance),
                    axis=-1)


def cartesian_to_altaz(vectors):
    """``(alt, az)`` [deg] of ground-frame vectors (..., 3); ``az`` in [0, 360)."""
    lon, lat = _lon_lat(np.asarray(vectors, dtype=np.float64))
    return lat, _wrap360(-lon)


def tilted_matrix(alt, az):
    """Rotation (..., 3, 3) from the ground frame to the tilted frame of direction ``(alt, az)`` [deg].

    Rows are the tilted axes in ground coordinates: ``x`` in the vertical
    plane through the direction (pointing down-range), ``y`` horizontal,
    ``z`` the direction itself.
    """
    alt, az = np.broadcast_arrays(*_asfloat(alt, az))
    alt, az = np.deg2rad(alt), np.deg2rad(az)
    sa, ca, sz, cz = np.sin(alt), np.cos(alt), np.sin(az), np.cos(az)
    zero = np.zeros_like(sa)
    x_axis = np.stack([sa * cz, -sa * sz, -ca], axis=-1)
    y_axis = np.stack([sz, cz, zero], axis=-1)
    z_axis = np.stack([ca * cz, -ca * sz, sa], axis=-1)
    return np.stack([x_axis, y_axis, z_axis], axis=-2)


def ground_to_tilted(x, y, z, alt, az):
    """Ground-frame points [m] to the tilted frame of direction ``(alt, az)`` [deg]; returns ``(x, y, z)``.

    The rotation of :func:`tilted_matrix`, written out.
    """
    x, y, z, alt, az = _asfloat(x, y, z, alt, az)
    sa, ca = np.sin(np.deg2rad(alt)), np.cos(np.deg2rad(alt))
    sz, cz = np.sin(np.deg2rad(az)), np.cos(np.deg2rad(az))
    horizontal = cz * x - sz * y  # along the azimuth of the direction
    return sa * horizontal - ca * z, sz * x + cz * y, ca * horizontal + sa * z


def tilted_to_ground(x, y, z, alt, az):
    """Tilted-frame points [m] back to the ground frame; returns ``(x, y, z)``."""
    x, y, z, alt, az = _asfloat(x, y, z, alt, az)
    sa, ca = np.sin(np.deg2rad(alt)), np.cos(np.deg2rad(alt))
    sz, cz = np.sin(np.deg2rad(az)), np.cos(np.deg2rad(az))
    horizontal = sa * x + ca * z
    return cz * horizontal + sz * y, cz * y - sz * horizontal, sa * z - ca * x


def project_to_ground(x, y, z, alt, az):
    """Tilted-frame points to the ground plane ``z = 0``, moving along the tilted frame's direction.

    Returns
    -------
    x, y : ndarray
        Ground-frame position [m] where the line through the point along
        ``(alt, az)`` meets the ground.
    """
    gx, gy, gz = tilted_to_ground(x, y, z, alt, az)
    alt, az = np.deg2rad(np.asarray(alt, np.float64)), np.deg2rad(np.asarray(az, np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        run = gz / np.tan(alt)  # horizontal distance travelled along the direction
    return gx - run * np.cos(az), gy + run * np.sin(az)


def angular_separation(alt1, az1, alt2, az2):
    """Great-circle distance [deg] between two horizontal directions (Vincenty's formula)."""
    alt1, az1, alt2, az2 = (np.deg2rad(a) for a in _asfloat(alt1, az1, alt2, az2))
    daz = az2 - az1
    s1, c1, s2, c2 = np.sin(alt1), np.cos(alt1), np.sin(alt2), np.cos(alt2)
    num1 = c2 * np.sin(daz)
    num2 = c1 * s2 - s1 * c2 * np.cos(daz)
    den = s1 * s2 + c1 * c2 * np.cos(daz)
    return np.rad2deg(np.arctan2(np.hypot(num1, num2), den))
