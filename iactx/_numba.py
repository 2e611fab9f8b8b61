"""One place that decides how kernels are compiled.

``IACTX_NUMBA_CACHE=0`` turns the on-disk cache of compiled kernels off
(useful on read-only installs or when debugging numba itself). numba
checks only the source file of a cached kernel: after editing a module
whose helpers kernels elsewhere call (such as the intrinsics of
``iactx._simd``), run once with the cache off or delete the ``*.nbi`` and
``*.nbc`` files under ``__pycache__``.

Command-line runs and the workers of a cluster let the threads of
parallel kernels sleep as soon as a kernel ends
(:func:`threads_sleep_between_kernels`).
"""

import os

import numba

CACHE = os.environ.get("IACTX_NUMBA_CACHE", "1") not in ("0", "false", "no")


def threads_sleep_between_kernels():
    """Let the threads of parallel kernels sleep as soon as a kernel ends (``OMP_WAIT_POLICY=PASSIVE``).

    By default OpenMP keeps them spinning for a while after every parallel
    region. That makes the next kernel start sooner -- right for a notebook
    calling kernels one after the other -- but takes a core from the other
    threads of a pipeline: in ``iactx process`` (reader, decompression and
    hashing threads beside the kernels) about 1 ms of CPU per telescope
    event with small batches. A value already set in the environment is
    kept. OpenMP reads it when the first parallel kernel starts its
    threads: call this before.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def kernel(*args, parallel=False, **kwargs):
    """``numba.njit`` with the project's defaults (nogil, cache switch)."""
    return numba.njit(*args, cache=CACHE, nogil=True, parallel=parallel, **kwargs)
