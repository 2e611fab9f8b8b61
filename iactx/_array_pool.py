"""Memory for large batch arrays that is reused once the arrays are gone.

A reader fills batch after batch of waveforms, hundreds of megabytes each,
and the kernels write images of every batch. Memory fresh from the
operating system costs a page fault on the first touch of every page (on
virtual machines about 1.5 us per 4 KiB page; with transparent huge pages,
as much as decoding the data), and memory freed is usually handed back to
the system at once.
:class:`ArrayPool` keeps the memory of arrays it handed out and gives it to
the next request once no array refers to it any more: the caller sees
ordinary, independent arrays; only memory nobody can reach is reused.
"""

from __future__ import annotations

import math
import mmap
import threading

import numpy as np

__all__ = ["ArrayPool"]


def _new_block(nbytes):
    """``nbytes`` of fresh anonymous memory as a uint8 array, in small pages.

    Transparent huge pages are declined: the pages of a block are written
    once per batch, in order, where huge pages save little, while faulting
    one in costs far more than a small page on virtual machines whose host
    backs it on demand.
    """
    memory = mmap.mmap(-1, nbytes)
    if hasattr(mmap, "MADV_NOHUGEPAGE"):
        memory.madvise(mmap.MADV_NOHUGEPAGE)
    return np.frombuffer(memory, np.uint8)


class _Lease:
    """Owner of one array's memory; gives the block back to its pool when freed.

    numpy makes an array built from ``__array_interface__`` keep that
    object alive, and every view of the array keeps the array alive, so
    ``__del__`` runs only when no array uses the memory any more.
    """

    def __init__(self, block, free, shape, dtype):
        self._block = block
        self._free = free
        self.__array_interface__ = {"shape": tuple(shape), "typestr": dtype.str, "version": 3,
                                    "data": (block.ctypes.data, False)}

    def __del__(self):
        self._free.append(self._block)


class ArrayPool:
    """Hands out arrays, reusing the memory of those no longer referenced.

    Parameters
    ----------
    max_free : int
        Free blocks kept for reuse at most; beyond that those freed longest
        ago are let go. A block holds physical memory only for the pages
        that were written, so the pool keeps at most what that many of the
        caller's arrays used.
    min_bytes : int
        Smaller arrays come from ``numpy.empty``: the C allocator reuses
        memory of that size itself (below its mmap threshold, 128 KiB and
        more), at a tenth of the pool's cost per array.
    max_oversize : float
        A free block is handed out only for arrays of at least
        ``1 / max_oversize`` of its size, so that a small array (the gain
        choices of a batch) never takes the block a large one (its
        waveforms) is about to ask for again.

    Examples
    --------
    >>> pool = ArrayPool()
    >>> a = pool.empty((100, 1855, 40), np.float32)
    >>> del a                      # nothing refers to the memory any more
    >>> b = pool.empty((50, 1855, 40), np.float32)   # reuses it, no new pages
    """

    def __init__(self, max_free=8, min_bytes=0, max_oversize=4.0):
        self.max_free = int(max_free)
        self.min_bytes = int(min_bytes)
        self.max_oversize = float(max_oversize)
        self._free = []
        # blocks are taken under the lock (threads may share a pool); they come back
        # through list.append, which is atomic
        self._lock = threading.Lock()

    @property
    def n_free(self):
        """Blocks waiting to be handed out again."""
        return len(self._free)

    def empty(self, shape, dtype):
        """An uninitialised C-contiguous array of ``shape`` and ``dtype``.

        Parameters
        ----------
        shape : tuple of int
        dtype : numpy dtype

        Returns
        -------
        ndarray
            Backed by the smallest free block large enough and at most
            ``max_oversize`` times too large, or by new memory (from numpy
            below ``min_bytes``).
        """
        dtype = np.dtype(dtype)
        nbytes = max(math.prod(shape) * dtype.itemsize, 1)
        if nbytes < self.min_bytes:
            return np.empty(shape, dtype)
        with self._lock:
            self._trim()
            fitting = [i for i, block in enumerate(self._free)
                       if nbytes <= block.nbytes <= self.max_oversize * nbytes]
            block = self._free.pop(min(fitting, key=lambda i: self._free[i].nbytes)) if fitting else None
        if block is None:
            block = _new_block(nbytes)
        return np.asarray(_Lease(block, self._free, shape, dtype))

    def _trim(self):
        """Let go of the blocks freed longest ago beyond ``max_free``."""
        del self._free[: max(len(self._free) - self.max_free, 0)]
