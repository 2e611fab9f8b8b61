"""Pixel and overlay outlines as plain numpy arrays (no plotting imports).

Every pixel is drawn as a regular polygon whose area equals the pixel's
``pix_area``: hexagons and squares exactly, circles as polygons with many
corners. The polygons follow the camera-display convention of ctapipe: a
hexagon with ``pix_rotation = 0`` has a corner pointing up (+y), a square
with ``pix_rotation = 0`` has its sides parallel to the axes, and the
pixel rotation turns every pixel counter-clockwise about its own centre.
A non-zero ``cam_rotation`` is undone first, as
:meth:`iactx.instrument.CameraGeometry.derotated` does: pixel positions are
rotated by ``-cam_rotation`` and the pixel rotation changed by the same
angle, so the picture shows the derotated camera.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "CORNERS",
    "pixel_shape",
    "corner_radius",
    "regular_polygons",
    "pixel_polygons",
    "derotate",
    "polygon_areas",
    "ellipse_outline",
    "circle_outline",
    "mask_outline",
]

#: number of corners drawn for each pixel shape
CORNERS = {"hexagon": 6, "square": 4, "circle": 32}

#: angle [deg] of the first corner before the pixel rotation
_FIRST_CORNER = {"hexagon": 90.0, "square": 135.0, "circle": 90.0}


def _rotate(x, y, angle_deg):
    c, s = np.cos(np.deg2rad(angle_deg)), np.sin(np.deg2rad(angle_deg))
    return c * x - s * y, s * x + c * y


def pixel_shape(pix_type, pix_rotation=0.0, n_circle=None):
    """Number of corners and angle of the first corner [deg] of a pixel shape.

    Parameters
    ----------
    pix_type : {"hexagon", "square", "circle"}
    pix_rotation : float
        Pixel rotation [deg], counter-clockwise.
    n_circle : int, optional
        Corners of the polygon standing in for a circle (default 32).

    Returns
    -------
    n_corners : int
    orientation : float
        Angle of the first corner from the +x axis [deg].
    """
    if pix_type not in CORNERS:
        raise ValueError(f"unknown pixel shape {pix_type!r}; expected one of {sorted(CORNERS)}")
    n = int(n_circle) if (pix_type == "circle" and n_circle) else CORNERS[pix_type]
    return n, float(_FIRST_CORNER[pix_type] + pix_rotation)


def corner_radius(area, n_corners):
    """Radius of the corners of a regular polygon of the given area.

    A regular polygon with ``n`` corners on a circle of radius ``r`` has
    area ``n r**2 sin(2 pi / n) / 2``, so ``r = sqrt(2 A / (n sin(2 pi / n)))``:
    ``sqrt(2 A / (3 sqrt(3)))`` for hexagons, half the diagonal
    ``sqrt(A / 2)`` for squares.
    """
    area = np.asarray(area, np.float64)
    return np.sqrt(2.0 * area / (n_corners * np.sin(2.0 * np.pi / n_corners)))


def regular_polygons(x, y, radius, n_corners, orientation):
    """Corners of regular polygons, vectorised.

    Parameters
    ----------
    x, y : array_like, shape (n,)
        Centres.
    radius : array_like, shape (n,) or float
        Distance of the corners from the centre.
    n_corners : int
    orientation : float
        Angle of the first corner from the +x axis [deg].

    Returns
    -------
    xs, ys : ndarray, shape (n, n_corners)
        Corners, counter-clockwise.
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    radius = np.broadcast_to(np.asarray(radius, np.float64), x.shape)
    angles = np.deg2rad(orientation) + 2.0 * np.pi * np.arange(n_corners) / n_corners
    return (x[:, None] + radius[:, None] * np.cos(angles)[None, :],
            y[:, None] + radius[:, None] * np.sin(angles)[None, :])


def pixel_polygons(pix_x, pix_y, pix_area, pix_type, pix_rotation=0.0, cam_rotation=0.0, n_circle=None):
    """Corners of every pixel, vectorised over pixels.

    Parameters
    ----------
    pix_x, pix_y : array_like, shape (n_pixels,)
        Pixel centres in the camera frame [m].
    pix_area : array_like, shape (n_pixels,) or float
        Pixel areas [m2].
    pix_type : {"hexagon", "square", "circle"}
        Pixel shape.
    pix_rotation, cam_rotation : float
        Pixel and camera rotation [deg].
    n_circle : int, optional
        Corners of the polygon standing in for a circular pixel (default 32).

    Returns
    -------
    xs, ys : ndarray, shape (n_pixels, n_corners)
        Corner coordinates [m], counter-clockwise; each polygon has the
        pixel's area (see :func:`corner_radius`).
    """
    x, y, rotation = derotate(pix_x, pix_y, pix_rotation, cam_rotation)
    n, orientation = pixel_shape(pix_type, rotation, n_circle)
    area = np.broadcast_to(np.asarray(pix_area, np.float64), x.shape)
    return regular_polygons(x, y, corner_radius(area, n), n, orientation)


def derotate(pix_x, pix_y, pix_rotation=0.0, cam_rotation=0.0):
    """Undo a camera rotation: positions turned by ``-cam_rotation``, pixel rotation changed alike.

    Returns
    -------
    x, y : ndarray, shape (n_pixels,)
    pix_rotation : float
        The pixel rotation of the derotated camera [deg].
    """
    x = np.asarray(pix_x, np.float64)
    y = np.asarray(pix_y, np.float64)
    if cam_rotation:
        x, y = _rotate(x, y, -cam_rotation)
        pix_rotation = pix_rotation - cam_rotation
    return x, y, float(pix_rotation)


def polygon_areas(x, y):
    """Areas of closed polygons by the shoelace formula.

    Parameters
    ----------
    x, y : array_like, shape (n_polygons, n_corners)
        Corners in order (either orientation); the last corner connects to the first.

    Returns
    -------
    ndarray, shape (n_polygons,)
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return 0.5 * np.abs(np.sum(x * np.roll(y, -1, axis=-1) - np.roll(x, -1, axis=-1) * y, axis=-1))


def ellipse_outline(x, y, length, width, psi, n=100):
    """Outline of an ellipse with half-axes ``length`` and ``width``.

    Parameters
    ----------
    x, y : float
        Centre.
    length, width : float
        Semi-major and semi-minor axis (Hillas length and width are 1-sigma
        half-axes).
    psi : float
        Angle of the major axis from the +x axis [deg], counter-clockwise.
    n : int
        Number of points (the first is repeated at the end).

    Returns
    -------
    xs, ys : ndarray, shape (n + 1,)
    """
    t = np.linspace(0.0, 2.0 * np.pi, n + 1)
    u, v = length * np.cos(t), width * np.sin(t)
    du, dv = _rotate(u, v, psi)
    return x + du, y + dv


def circle_outline(x, y, radius, n=100):
    """Outline of a circle (e.g. a muon ring), shape (n + 1,) each."""
    return ellipse_outline(x, y, radius, radius, 0.0, n)


def mask_outline(px, py, mask):
    """Outer edges of a set of pixels given as polygons.

    An edge of a selected pixel is inside the selection when the pixel on
    the other side of it is selected too; that pixel is found by mirroring
    the pixel centre on the edge midpoint and taking the nearest pixel
    centre (within half the distance), so gaps between pixels or modules
    do not matter. What is left is the outline, holes included.

    Parameters
    ----------
    px, py : ndarray, shape (n_pixels, n_corners)
        Pixel corners from :func:`pixel_polygons`.
    mask : array_like of bool, shape (n_pixels,)

    Returns
    -------
    xs, ys : ndarray, shape (n_edges, 2)
        Start and end point of every outline edge.
    """
    from scipy.spatial import cKDTree

    mask = np.asarray(mask, bool)
    if not mask.any():
        return np.zeros((0, 2)), np.zeros((0, 2))
    cx, cy = px.mean(axis=1), py.mean(axis=1)
    x, y = px[mask], py[mask]
    x1, y1 = np.roll(x, -1, axis=1), np.roll(y, -1, axis=1)
    mx, my = (x + x1) / 2, (y + y1) / 2
    # centre of the would-be pixel across each edge
    ox, oy = 2 * mx - cx[mask, None], 2 * my - cy[mask, None]
    step = np.hypot(ox - cx[mask, None], oy - cy[mask, None])
    dist, other = cKDTree(np.column_stack([cx, cy])).query(np.column_stack([ox.ravel(), oy.ravel()]))
    inside = (dist < 0.5 * step.ravel()) & mask[other]
    outer = ~inside
    return (np.column_stack([x.ravel()[outer], x1.ravel()[outer]]),
            np.column_stack([y.ravel()[outer], y1.ravel()[outer]]))
