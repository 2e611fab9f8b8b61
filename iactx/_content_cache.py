"""Results derived from camera constants, remembered while the constants hold the same values."""

from __future__ import annotations

import threading

import numpy as np

__all__ = ["ContentCache"]


class ContentCache:
    """The last few results of ``func(array, *args)``, found again by comparing the array's bytes.

    The labelled layer derives tables from a camera group's constants on
    every call (neighbour lists from ``neighbors``, integration corrections
    from ``reference_pulse_shape``: 10-100 kB each). On a small batch that
    is a quarter of the kernel's time (16 LSTCam telescope events). Hashing
    the bytes to look a result up costs a good part of that again; comparing
    them with a remembered copy (memcmp) is several times cheaper, and as
    exact: a result is reused only for an array of the same dtype, shape
    and bytes, and the same ``args``.

    Parameters
    ----------
    func : callable
        ``func(array, *args)``, called with a C-contiguous array; its result
        is shared between callers and must not be modified (make it
        read-only where its users allow: numba compiles kernels anew for
        read-only arrays).
    maxsize : int
        Results kept, the most recently used first.
    """

    def __init__(self, func, maxsize=16):
        self._func = func
        self._maxsize = maxsize
        self._entries = []  # (key, bytes, result), most recently used first
        self._lock = threading.Lock()  # callers may be on several threads

    def __call__(self, array, *args):
        array = np.ascontiguousarray(array)
        key = (array.dtype.str, array.shape, args)
        data = array.tobytes()
        with self._lock:
            for i, entry in enumerate(self._entries):
                if entry[0] == key and entry[1] == data:
                    if i:
                        self._entries.insert(0, self._entries.pop(i))
                    return entry[2]
        result = self._func(array, *args)
        with self._lock:
            self._entries.insert(0, (key, data, result))
            del self._entries[self._maxsize:]
        return result
