"""One place that decides how kernels are compiled.

``IACTX_NUMBA_CACHE=0`` turns the on-disk cache of compiled kernels off
(useful on read-only installs or when debugging numba itself). numba
checks only the source file of a cached kernel: after editing a module
whose helpers kernels elsewhere call (such as the intrinsics of
``iactx._simd``), run once with the cache off or delete the ``*.nbi`` and
``*.nbc`` files under ``__pycache__``.

The threads of parallel kernels sleep as soon as a kernel ends
(``OMP_WAIT_POLICY=PASSIVE`` unless set otherwise): by default OpenMP keeps
them spinning for a while after every parallel region, which on a busy
machine takes a core from the rest of the work (in ``iactx process``, the
reader thread) -- about 1 ms of CPU per telescope event with small batches.
"""

import os

# read by OpenMP when numba first starts its threads, after this import
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numba  # noqa: E402

CACHE = os.environ.get("IACTX_NUMBA_CACHE", "1") not in ("0", "false", "no")


def kernel(*args, parallel=False, **kwargs):
    """``numba.njit`` with the project's defaults (nogil, cache switch)."""
    return numba.njit(*args, cache=CACHE, nogil=True, parallel=parallel, **kwargs)
