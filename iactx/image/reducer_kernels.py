"""Data-volume-reduction kernel on batches of extracted charges.

The pixels kept are those of ctapipe's ``TailCutsDataVolumeReducer``: a
tail-cuts mask, grown (optionally) by repeated dilations restricted to
pixels at or above the boundary threshold until it stops changing, then
dilated ``n_end_dilates`` more times without condition. The tail-cuts and
neighbour helpers are the cleaning kernels' own.

Only numpy, numba and the cleaning kernels are imported here.
"""

import numpy as np
from numba import prange

from .._numba import kernel
from .cleaning_kernels import _any_neighbor, _tailcuts_row

__all__ = ["tailcuts_volume_mask_kernel"]


@kernel
def _dilate_row(mask, indptr, indices, out):
    """``out = mask | any(neighbour in mask)`` for one image."""
    for j in range(mask.shape[0]):
        out[j] = mask[j] or _any_neighbor(mask, j, indptr, indices)


@kernel(parallel=True)
def tailcuts_volume_mask_kernel(image, picture, boundary, min_neighbors, keep_isolated, boundary_dilation,
                                n_end_dilates, indptr, indices, out):
    """Pixels kept by tail-cuts data volume reduction.

    1. tail-cuts cleaning (as :func:`~iactx.image.cleaning_kernels.tailcuts_clean_kernel`);
    2. when ``boundary_dilation``: ``mask = dilate(mask) & (image >= boundary)``
       repeated until the mask no longer changes;
    3. ``n_end_dilates`` plain dilations.

    Parameters
    ----------
    image, picture, boundary : (n_images, n_pixels) float
        Extracted charges and thresholds [p.e.], all in the same dtype
        (float32 or float64); thresholds inclusive.
    min_neighbors : (n_images,) int
        Picture neighbours a picture pixel needs.
    keep_isolated : (n_images,) bool
        Keep picture pixels without boundary neighbours.
    boundary_dilation : (n_images,) bool
        Run step 2.
    n_end_dilates : (n_images,) int
        Dilations of step 3 (0 for none).
    indptr, indices : int CSR neighbour table
    out : (n_images, n_pixels) bool, written
    """
    n_images, n_pixels = image.shape
    for i in prange(n_images):
        above_picture = np.empty(n_pixels, np.bool_)
        in_picture = np.empty(n_pixels, np.bool_)
        above_boundary = np.empty(n_pixels, np.bool_)
        mask = np.empty(n_pixels, np.bool_)
        grown = np.empty(n_pixels, np.bool_)
        _tailcuts_row(image[i], picture[i], boundary[i], min_neighbors[i], keep_isolated[i], indptr, indices,
                      above_picture, in_picture, above_boundary, mask)
        changed = boundary_dilation[i]
        while changed:
            _dilate_row(mask, indptr, indices, grown)
            changed = False
            for j in range(n_pixels):
                keep = grown[j] and above_boundary[j]
                changed = changed or keep != mask[j]
                mask[j] = keep
        for _ in range(n_end_dilates[i]):
            _dilate_row(mask, indptr, indices, grown)
            mask[:] = grown
        out[i] = mask
