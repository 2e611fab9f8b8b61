"""Sums in numpy's pairwise order, for kernels that must reproduce numpy's roundings.

``numpy.sum`` (and ``mean``, ``average``, ``std``) of a float array adds in
blocks: up to 8 values one by one, up to 128 values with 8 interleaved
partial sums, longer arrays split in two halves summed recursively.
:func:`pairwise_sum` follows the same order in the array's own dtype, so a
float32 result equals numpy's bit for bit.

Only numpy, numba and math are imported here.
"""

import numpy as np

from .._numba import kernel

__all__ = ["pairwise_sum"]


@kernel(error_model="numpy")
def _pairwise_leaf(a, lo, n, zero):
    """numpy's pairwise-sum leaf (n <= 128): plain loop below 8, else 8 interleaved partial sums."""
    if n < 8:
        res = zero
        for k in range(lo, lo + n):
            res += a[k]
        return res
    r0 = a[lo]
    r1 = a[lo + 1]
    r2 = a[lo + 2]
    r3 = a[lo + 3]
    r4 = a[lo + 4]
    r5 = a[lo + 5]
    r6 = a[lo + 6]
    r7 = a[lo + 7]
    k = 8
    while k < n - n % 8:
        r0 += a[lo + k]
        r1 += a[lo + k + 1]
        r2 += a[lo + k + 2]
        r3 += a[lo + k + 3]
        r4 += a[lo + k + 4]
        r5 += a[lo + k + 5]
        r6 += a[lo + k + 6]
        r7 += a[lo + k + 7]
        k += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while k < n:
        res += a[lo + k]
        k += 1
    return res


@kernel(error_model="numpy")
def pairwise_sum(a, zero):
    """Sum of ``a`` in its dtype, in numpy's pairwise order (bit for bit).

    Blocks of more than 128 values are split in two (the first part a
    multiple of 8) and the halves summed recursively; the recursion is
    unrolled onto an explicit stack.
    """
    n = a.shape[0]
    if n <= 128:
        return _pairwise_leaf(a, 0, n, zero)
    los = np.empty(64, np.int64)
    ns = np.empty(64, np.int64)
    stage = np.empty(64, np.int64)  # 0: start, 1: left sum known, 2: waiting for left, 3: waiting for right
    left = np.empty(64, a.dtype)
    top = 0
    los[0] = 0
    ns[0] = n
    stage[0] = 0
    while True:
        half = ns[top] // 2
        half -= half % 8
        if stage[top] == 0:
            if half <= 128:
                left[top] = _pairwise_leaf(a, los[top], half, zero)
                stage[top] = 1
            else:
                stage[top] = 2
                top += 1
                los[top] = los[top - 1]
                ns[top] = half
                stage[top] = 0
            continue
        # stage 1: the left half is known, sum the right half
        rest = ns[top] - half
        if rest > 128:
            stage[top] = 3
            top += 1
            los[top] = los[top - 1] + half
            ns[top] = rest
            stage[top] = 0
            continue
        value = left[top] + _pairwise_leaf(a, los[top] + half, rest, zero)
        # hand the finished sum to the waiting parents
        while True:
            top -= 1
            if top < 0:
                return value
            if stage[top] == 2:
                left[top] = value
                stage[top] = 1
                break
            value = left[top] + value
