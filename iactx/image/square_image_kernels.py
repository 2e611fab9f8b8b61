"""Square-grid representation of camera images: the grid and the batched index maps.

A camera whose pixel centres lie on a regular grid (hexagonal or square)
is given integer cell indices ``(row, col)``. The grid's orientation and
pitch are measured from the pixel positions themselves: the pitch is the
median nearest-neighbour distance, the orientation the mean direction of
neighbour pairs taken modulo 60 deg (hexagonal) or 90 deg (square). The
positions are then written in the grid's own basis,

    p = u_col * a_col + u_row * a_row,

with ``a_col`` the grid axis closest to +x (angle in [-30, 30) deg for a
hexagonal grid, [-45, 45) deg for a square one) and ``a_row`` that axis
turned clockwise by 60 deg (hexagonal, the skewed "axial" coordinates) or
90 deg (square), both one pitch long. Rows therefore run from top to
bottom of the camera, as in an image shown with ``origin="upper"``.

Along each axis the coordinates are grouped into lines of pixels (pixels
less than half a pitch apart along the axis), and consecutive lines get
consecutive indices: the gaps between modules (as in CHEC, ASTRICam or
SCTCam) are closed up, as ctapipe's ``image_to_cartesian_representation``
does, so that CHEC is a 48 x 48 image. Each pixel gets its own cell, so
the image survives the way to the square grid and back exactly.

Only numpy and scipy are imported here.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.spatial import KDTree

__all__ = ["SquareGrid", "gather_from_square", "scatter_to_square", "square_grid"]

#: neighbour pairs are those closer than this many pitches
_NEIGHBOR_RADIUS = 1.2
#: a grid is accepted when the neighbour directions agree this well (1 is perfect)
_MIN_ORDER = 0.9
#: widest spread of one line of pixels across the line [pitch]
_MAX_LINE_WIDTH = 0.25
#: the clockwise turn from the column axis to the row axis [deg]
_ROW_TURN = {"hexagonal": 60.0, "square": 90.0}


class SquareGrid(NamedTuple):
    """The square-grid cells of a camera's pixels.

    Attributes
    ----------
    row, col : numpy.ndarray of int64, shape (n_pixels,)
        Cell of each pixel.
    shape : tuple of int
        ``(n_rows, n_cols)``.
    pix_index : numpy.ndarray of int32, shape (n_rows, n_cols)
        Pixel index (position along ``pixel``) held by each cell, -1 where none.
    cell_x, cell_y : numpy.ndarray of float64, shape (n_rows, n_cols)
        Centre of each cell in the camera frame [m]; at a pixel's cell, that
        pixel's position (within the grid's irregularities).
    grid_type : {"hexagonal", "square"}
        Lattice of the pixel centres.
    pitch : float
        Distance between neighbouring pixels [m].
    rotation : float
        Angle of the column axis ``a_col`` from +x [deg].
    """

    row: np.ndarray
    col: np.ndarray
    shape: tuple
    pix_index: np.ndarray
    cell_x: np.ndarray
    cell_y: np.ndarray
    grid_type: str
    pitch: float
    rotation: float


def _lattice(points):
    """Grid type, pitch [m] and column-axis angle [deg] of pixel centres ``points`` (n, 2)."""
    tree = KDTree(points)
    pitch = float(np.median(tree.query(points, k=2)[0][:, 1]))
    if pitch <= 0:
        raise ValueError("pixels are not on a grid: several pixels share one position")
    pairs = tree.query_pairs(_NEIGHBOR_RADIUS * pitch, output_type="ndarray")
    step = points[pairs[:, 1]] - points[pairs[:, 0]]
    phi = np.arctan2(step[:, 1], step[:, 0])
    for grid_type, n_fold in (("hexagonal", 6), ("square", 4)):
        order = np.exp(1j * n_fold * phi).mean()
        if abs(order) >= _MIN_ORDER:
            period = 360.0 / n_fold
            angle = round(float(np.rad2deg(np.angle(order))) / n_fold, 6)
            return grid_type, pitch, (angle + period / 2) % period - period / 2
    raise ValueError("pixels are not on a regular hexagonal or square grid: the directions to "
                     "their nearest neighbours do not repeat every 60 or 90 deg")


def _line_indices(u, axis):
    """Integer line index of each coordinate ``u`` [pitch] and the mean coordinate of every line.

    Returns
    -------
    index : numpy.ndarray of int64, shape (n_pixels,)
    centre : numpy.ndarray of float64, shape (n_lines,)
    """
    order = np.argsort(u, kind="stable")
    sorted_u = u[order]
    new_line = np.diff(sorted_u, prepend=-np.inf) > 0.5
    starts = np.flatnonzero(new_line)
    width = np.maximum.reduceat(sorted_u, starts) - np.minimum.reduceat(sorted_u, starts)
    if width.max() > _MAX_LINE_WIDTH:
        raise ValueError(f"pixels are not on a regular grid: the pixels of one {axis} spread over "
                         f"{width.max():.2f} pixel pitches")
    index = np.empty(u.size, np.int64)
    index[order] = np.cumsum(new_line) - 1
    return index, np.bincount(index, weights=u) / np.bincount(index)


def square_grid(pix_x, pix_y):
    """Assign every pixel of a camera to a cell of a square grid.

    Parameters
    ----------
    pix_x, pix_y : array_like, shape (n_pixels,)
        Pixel centres in the camera frame [m].

    Returns
    -------
    SquareGrid

    Raises
    ------
    ValueError
        When there are fewer than two pixels or the pixel centres are not on
        a regular hexagonal or square grid (two pixels would share a cell).

    Examples
    --------
    >>> x = np.array([0.0, 0.05, 0.025, 0.075])
    >>> y = np.array([0.0, 0.0, -0.0433013, -0.0433013])
    >>> grid = square_grid(x, y)
    >>> grid.grid_type, grid.shape, grid.row.tolist(), grid.col.tolist()
    ('hexagonal', (2, 2), [0, 0, 1, 1], [0, 1, 0, 1])
    """
    points = np.column_stack([np.asarray(pix_x, np.float64), np.asarray(pix_y, np.float64)])
    if points.shape[0] < 2:
        raise ValueError(f"a square grid needs at least two pixels, got {points.shape[0]}")
    grid_type, pitch, rotation = _lattice(points)
    angles = np.deg2rad([rotation, rotation - _ROW_TURN[grid_type]])
    basis = pitch * np.array([np.cos(angles), np.sin(angles)])      # columns: a_col, a_row
    u_col, u_row = np.linalg.solve(basis, points.T)
    col, col_centre = _line_indices(u_col, "column")
    row, row_centre = _line_indices(u_row, "row")
    shape = (row_centre.size, col_centre.size)
    pix_index = np.full(shape, -1, np.int32)
    pix_index[row, col] = np.arange(points.shape[0])
    if np.count_nonzero(pix_index >= 0) < points.shape[0]:
        cell = row * shape[1] + col
        _, inverse, count = np.unique(cell, return_inverse=True, return_counts=True)
        shared = np.flatnonzero(inverse == np.argmax(count))
        raise ValueError(f"pixels are not on a regular grid: pixels {shared.tolist()} fall into the same "
                         f"cell (row {row[shared[0]]}, col {col[shared[0]]})")
    cell_x, cell_y = np.tensordot(basis, np.stack(np.meshgrid(col_centre, row_centre)), axes=1)
    return SquareGrid(row, col, shape, pix_index, cell_x, cell_y, grid_type, pitch, rotation)


def scatter_to_square(images, row, col, shape, fill_value, dtype):
    """Place batched pixel values into their grid cells.

    Parameters
    ----------
    images : numpy.ndarray, shape (..., n_pixels)
        Pixel values, any leading (batch) dimensions, e.g. ``tel_event``.
    row, col : numpy.ndarray of int, shape (n_pixels,)
        Cell of each pixel (:class:`SquareGrid`).
    shape : tuple of int
        ``(n_rows, n_cols)``.
    fill_value : scalar
        Value of the cells without a pixel.
    dtype : dtype
        dtype of the result.

    Returns
    -------
    numpy.ndarray, shape (..., n_rows, n_cols)
    """
    out = np.full(images.shape[:-1] + tuple(shape), fill_value, dtype=dtype)
    out[..., row, col] = images
    return out


def gather_from_square(square, row, col):
    """Read batched pixel values back from their grid cells.

    Parameters
    ----------
    square : numpy.ndarray, shape (..., n_rows, n_cols)
        Images on the grid.
    row, col : numpy.ndarray of int, shape (n_pixels,)
        Cell of each pixel (:class:`SquareGrid`).

    Returns
    -------
    numpy.ndarray, shape (..., n_pixels)
        Same dtype as ``square``.
    """
    return square[..., row, col]
