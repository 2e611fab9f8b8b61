"""One place that decides how kernels are compiled.

``IACTX_NUMBA_CACHE=0`` turns the on-disk cache of compiled kernels off
(useful on read-only installs or when debugging numba itself). numba
checks only the source file of a cached kernel: after editing a module
whose helpers kernels elsewhere call (such as the intrinsics of
``iactx._simd``), run once with the cache off or delete the ``*.nbi`` and
``*.nbc`` files under ``__pycache__``.
"""

import os

import numba

CACHE = os.environ.get("IACTX_NUMBA_CACHE", "1") not in ("0", "false", "no")


def kernel(*args, parallel=False, **kwargs):
    """``numba.njit`` with the project's defaults (nogil, cache switch)."""
    return numba.njit(*args, cache=CACHE, nogil=True, parallel=parallel, **kwargs)
