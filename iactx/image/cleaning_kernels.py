"""Image-cleaning kernels on batches of images.

Every kernel works on a whole batch, ``image`` of shape ``(n_images,
n_pixels)``, with the camera's neighbour table as CSR arrays (``indptr`` of
shape ``(n_pixels + 1,)`` and ``indices``). Thresholds and limits are given
per pixel and image as arrays of shape ``(n_images, n_pixels)`` (broadcast
views of a scalar or per-image value are fine); counts and flags per image,
shape ``(n_images,)``. Thresholds are inclusive (``image >= threshold``);
time differences must be strictly below their limit. Outputs are written to
preallocated arrays.

The semantics are those of the usual IACT cleanings (tail cuts, MARS 1st
pass, FACT, MAGIC time-constrained), so that masks agree pixel for pixel
with the reference implementation. Comparisons happen in the dtype of the
input: callers cast thresholds to the image dtype.

Only numpy, numba and math are imported here.
"""

import numpy as np
from numba import prange

from .._numba import kernel
from ._pairwise import pairwise_sum

__all__ = [
    "tailcuts_clean_kernel",
    "mars_cleaning_kernel",
    "dilate_kernel",
    "number_of_islands_kernel",
    "largest_island_kernel",
    "brightest_island_kernel",
    "time_delta_cleaning_kernel",
    "fact_cleaning_kernel",
    "time_constrained_clean_kernel",
]


# --------------------------------------------------------------------------- row helpers
@kernel
def _count_neighbors(flags, pixel, indptr, indices):
    count = 0
    for k in range(indptr[pixel], indptr[pixel + 1]):
        if flags[indices[k]]:
            count += 1
    return count


@kernel
def _any_neighbor(flags, pixel, indptr, indices):
    for k in range(indptr[pixel], indptr[pixel + 1]):
        if flags[indices[k]]:
            return True
    return False


@kernel
def _tailcuts_row(image, picture, boundary, min_neighbors, keep_isolated, indptr, indices,
                  above_picture, in_picture, above_boundary, out):
    n_pixels = image.shape[0]
    for j in range(n_pixels):
        above_picture[j] = image[j] >= picture[j]
        above_boundary[j] = image[j] >= boundary[j]
    if keep_isolated or min_neighbors == 0:
        for j in range(n_pixels):
            in_picture[j] = above_picture[j]
    else:
        for j in range(n_pixels):
            in_picture[j] = above_picture[j] and (
                _count_neighbors(above_picture, j, indptr, indices) >= min_neighbors)
    for j in range(n_pixels):
        keep = above_boundary[j] and _any_neighbor(in_picture, j, indptr, indices)
        if not keep and in_picture[j]:
            keep = keep_isolated or _any_neighbor(above_boundary, j, indptr, indices)
        out[j] = keep


@kernel
def _label_islands_row(mask, indptr, indices, labels, stack):
    """Connected components of ``mask``; labels 1..n in order of the lowest pixel id, 0 outside."""
    n_pixels = mask.shape[0]
    for j in range(n_pixels):
        labels[j] = 0
    n_islands = 0
    for j in range(n_pixels):
        if not mask[j] or labels[j] != 0:
            continue
        n_islands += 1
        labels[j] = n_islands
        top = 0
        stack[top] = j
        top += 1
        while top > 0:
            top -= 1
            pixel = stack[top]
            for k in range(indptr[pixel], indptr[pixel + 1]):
                neighbor = indices[k]
                if mask[neighbor] and labels[neighbor] == 0:
                    labels[neighbor] = n_islands
                    stack[top] = neighbor
                    top += 1
    return n_islands


@kernel
def _brightest_island_row(labels, n_islands, image, out):
    """Mask of the island with the largest summed image (first one on ties)."""
    n_pixels = labels.shape[0]
    if n_islands == 0:
        for j in range(n_pixels):
            out[j] = False
        return
    brightness = np.zeros(n_islands + 1)
    for j in range(n_pixels):
        if labels[j] > 0:
            brightness[labels[j]] += image[j]
    best = 1
    for island in range(2, n_islands + 1):
        if brightness[island] > brightness[best]:
            best = island
    for j in range(n_pixels):
        out[j] = labels[j] == best


@kernel
def _time_delta_row(mask, times, min_neighbors, time_limit, indptr, indices, out):
    """Keep selected pixels with at least ``min_neighbors`` selected neighbours within the time limit."""
    n_pixels = mask.shape[0]
    for j in range(n_pixels):
        if not mask[j]:
            out[j] = False
            continue
        count = 0
        for k in range(indptr[j], indptr[j + 1]):
            neighbor = indices[k]
            if mask[neighbor] and abs(times[j] - times[neighbor]) < time_limit[j]:
                count += 1
        out[j] = count >= min_neighbors


# --------------------------------------------------------------------------- batch kernels
@kernel(parallel=True)
def tailcuts_clean_kernel(image, picture, boundary, min_neighbors, keep_isolated, indptr, indices, out):
    """Two-threshold tail-cuts cleaning.

    A pixel survives if it is at or above the boundary threshold and has a
    neighbour in the picture, or if it is in the picture and (unless
    isolated pixels are kept) has a neighbour at or above the boundary.
    Picture pixels are those at or above the picture threshold with at least
    ``min_neighbors`` such neighbours (no condition when 0 or when isolated
    pixels are kept).

    Parameters
    ----------
    image, picture, boundary : (n_images, n_pixels) float
    min_neighbors : (n_images,) int
    keep_isolated : (n_images,) bool
    indptr, indices : int CSR neighbour table
    out : (n_images, n_pixels) bool, written
    """
    n_images, n_pixels = image.shape
    for i in prange(n_images):
        above_picture = np.empty(n_pixels, np.bool_)
        in_picture = np.empty(n_pixels, np.bool_)
        above_boundary = np.empty(n_pixels, np.bool_)
        _tailcuts_row(image[i], picture[i], boundary[i], min_neighbors[i], keep_isolated[i], indptr, indices,
                      above_picture, in_picture, above_boundary, out[i])


@kernel(parallel=True)
def mars_cleaning_kernel(image, picture, boundary, min_neighbors, keep_isolated, indptr, indices, out):
    """MARS-like first-pass cleaning: tail cuts plus a second row of boundary pixels.

    Pixels at or above the boundary threshold that neighbour a pixel kept by
    the tail cuts are added; without ``keep_isolated``, tail-cut pixels must
    also neighbour a pixel at or above the boundary. Arguments as
    :func:`tailcuts_clean_kernel`.
    """
    n_images, n_pixels = image.shape
    for i in prange(n_images):
        above_picture = np.empty(n_pixels, np.bool_)
        in_picture = np.empty(n_pixels, np.bool_)
        above_boundary = np.empty(n_pixels, np.bool_)
        first = np.empty(n_pixels, np.bool_)
        _tailcuts_row(image[i], picture[i], boundary[i], min_neighbors[i], keep_isolated[i], indptr, indices,
                      above_picture, in_picture, above_boundary, first)
        for j in range(n_pixels):
            keep = above_boundary[j] and _any_neighbor(first, j, indptr, indices)
            if not keep and first[j]:
                keep = keep_isolated[i] or _any_neighbor(above_boundary, j, indptr, indices)
            out[i, j] = keep


@kernel(parallel=True)
def dilate_kernel(mask, indptr, indices, out):
    """Add one row of neighbours to each mask: ``out = mask | any(neighbour in mask)``."""
    n_images, n_pixels = mask.shape
    for i in prange(n_images):
        for j in range(n_pixels):
            out[i, j] = mask[i, j] or _any_neighbor(mask[i], j, indptr, indices)


@kernel(parallel=True)
def number_of_islands_kernel(mask, indptr, indices, labels, n_islands):
    """Label connected clusters of selected pixels.

    Islands are numbered 1, 2, ... in the order of their lowest pixel index;
    unselected pixels get 0.

    Parameters
    ----------
    mask : (n_images, n_pixels) bool
    indptr, indices : int CSR neighbour table
    labels : (n_images, n_pixels) int, written
    n_islands : (n_images,) int, written
    """
    n_images, n_pixels = mask.shape
    for i in prange(n_images):
        stack = np.empty(n_pixels, np.int64)
        n_islands[i] = _label_islands_row(mask[i], indptr, indices, labels[i], stack)


@kernel(parallel=True)
def largest_island_kernel(labels, n_islands, out):
    """Mask of the island with most pixels (the lowest label on ties); all False without islands."""
    n_images, n_pixels = labels.shape
    for i in prange(n_images):
        if n_islands[i] == 0:
            for j in range(n_pixels):
                out[i, j] = False
            continue
        sizes = np.zeros(n_islands[i] + 1, np.int64)
        for j in range(n_pixels):
            if labels[i, j] > 0:
                sizes[labels[i, j]] += 1
        best = 1
        for island in range(2, n_islands[i] + 1):
            if sizes[island] > sizes[best]:
                best = island
        for j in range(n_pixels):
            out[i, j] = labels[i, j] == best


@kernel(parallel=True)
def brightest_island_kernel(labels, n_islands, image, out):
    """Mask of the island with the largest summed image (the lowest label on ties)."""
    for i in prange(labels.shape[0]):
        _brightest_island_row(labels[i], n_islands[i], image[i], out[i])


@kernel(parallel=True)
def time_delta_cleaning_kernel(mask, times, min_neighbors, time_limit, indptr, indices, out):
    """Remove selected pixels with fewer than ``min_neighbors`` selected neighbours in time.

    A neighbour counts when it is selected in the input mask and its time
    differs by strictly less than the limit.

    Parameters
    ----------
    mask : (n_images, n_pixels) bool
    times : (n_images, n_pixels) float
    min_neighbors : (n_images,) int
    time_limit : (n_images, n_pixels) float
    indptr, indices : int CSR neighbour table
    out : (n_images, n_pixels) bool, written (may not alias ``mask``)
    """
    for i in prange(mask.shape[0]):
        _time_delta_row(mask[i], times[i], min_neighbors[i], time_limit[i], indptr, indices, out[i])


@kernel(parallel=True)
def fact_cleaning_kernel(image, times, picture, boundary, min_neighbors, time_limit, indptr, indices, out):
    """FACT image cleaning.

    1. pixels at or above the picture threshold,
    2. of those, the ones with at least ``min_neighbors`` such neighbours,
    3. plus their neighbours, all required to be at or above the boundary,
    4. time-delta cleaning, 5. neighbour-count cleaning, 6. time-delta cleaning
    (steps 4-6 only when ``min_neighbors > 0``).

    Parameters
    ----------
    image, times, picture, boundary, time_limit : (n_images, n_pixels) float
    min_neighbors : (n_images,) int
    indptr, indices : int CSR neighbour table
    out : (n_images, n_pixels) bool, written
    """
    n_images, n_pixels = image.shape
    for i in prange(n_images):
        a = np.empty(n_pixels, np.bool_)
        b = np.empty(n_pixels, np.bool_)
        minn = min_neighbors[i]
        for j in range(n_pixels):
            a[j] = image[i, j] >= picture[i, j]
        for j in range(n_pixels):
            b[j] = a[j] and _count_neighbors(a, j, indptr, indices) >= minn
        for j in range(n_pixels):
            a[j] = (b[j] or _any_neighbor(b, j, indptr, indices)) and image[i, j] >= boundary[i, j]
        if minn <= 0:
            for j in range(n_pixels):
                out[i, j] = a[j]
            continue
        _time_delta_row(a, times[i], minn, time_limit[i], indptr, indices, b)
        for j in range(n_pixels):
            a[j] = b[j] and _count_neighbors(b, j, indptr, indices) >= minn
        _time_delta_row(a, times[i], minn, time_limit[i], indptr, indices, out[i])


@kernel(parallel=True)
def time_constrained_clean_kernel(image, times, picture, boundary, min_neighbors, time_limit_core,
                                  time_limit_boundary, indptr, indices, out):
    """MAGIC-like time-constrained cleaning.

    Core pixels: at or above the picture threshold with at least
    ``min_neighbors`` such neighbours, then only those whose time is within
    ``time_limit_core`` (doubled for pixels at or above twice the picture
    threshold) of the image**2-weighted mean time of the brightest core
    island. Boundary pixels: not core, at or above the boundary threshold,
    with at least ``min_neighbors`` core neighbours closer in time than
    ``time_limit_boundary``. The mean time is computed in the dtype of
    ``image`` and ``times`` (which must agree) with numpy's summation order.

    Parameters
    ----------
    image, times, picture, boundary, time_limit_core, time_limit_boundary : (n_images, n_pixels) float
    min_neighbors : (n_images,) int
    indptr, indices : int CSR neighbour table
    out : (n_images, n_pixels) bool, written
    """
    n_images, n_pixels = image.shape
    for i in prange(n_images):
        above = np.empty(n_pixels, np.bool_)
        core = np.empty(n_pixels, np.bool_)
        main = np.empty(n_pixels, np.bool_)
        labels = np.empty(n_pixels, np.int64)
        stack = np.empty(n_pixels, np.int64)
        minn = min_neighbors[i]
        for j in range(n_pixels):
            above[j] = image[i, j] >= picture[i, j]
        n_core = 0
        for j in range(n_pixels):
            core[j] = above[j] and _count_neighbors(above, j, indptr, indices) >= minn
            n_core += core[j]
        if n_core > 0:
            n_islands = _label_islands_row(core, indptr, indices, labels, stack)
            _brightest_island_row(labels, n_islands, image[i], main)
            # image**2-weighted mean time, summed like numpy.average in the input dtype
            n_main = 0
            for j in range(n_pixels):
                n_main += main[j]
            weights = np.empty(n_main, image.dtype)
            products = np.empty(n_main, image.dtype)
            k = 0
            for j in range(n_pixels):
                if main[j]:
                    weights[k] = image[i, j] * image[i, j]
                    products[k] = times[i, j] * weights[k]
                    k += 1
            zero = weights[:1].copy()
            zero[0] = 0
            mean_time = pairwise_sum(products, zero[0]) / pairwise_sum(weights, zero[0])
            for j in range(n_pixels):
                if core[j]:
                    limit = time_limit_core[i, j]
                    if not image[i, j] < 2 * picture[i, j]:
                        limit = 2 * limit
                    core[j] = abs(times[i, j] - mean_time) < limit
        for j in range(n_pixels):
            if core[j]:
                out[i, j] = True
                continue
            if not image[i, j] >= boundary[i, j] or not _any_neighbor(core, j, indptr, indices):
                out[i, j] = False
                continue
            count = 0
            for k in range(indptr[j], indptr[j + 1]):
                neighbor = indices[k]
                if core[neighbor] and abs(times[i, j] - times[i, neighbor]) < time_limit_boundary[i, j]:
                    count += 1
            out[i, j] = count >= minn
