"""Iterate in a thread, ahead of the caller."""

from __future__ import annotations

import queue
import threading

__all__ = ["prefetched"]

#: what the thread puts last
_END = object()
#: seconds between two checks of the stop request while the caller is not taking items
_POLL = 0.1


def _put(items, stop, item):
    """Queue ``item``, waiting for room; False if the caller stopped meanwhile."""
    while not stop.is_set():
        try:
            items.put(item, timeout=_POLL)
            return True
        except queue.Full:
            continue
    return False


def _acquire(slots, stop):
    """Take a slot, waiting for one; False if the caller stopped meanwhile."""
    while not stop.is_set():
        if slots.acquire(timeout=_POLL):
            return True
    return False


def _produce(iterable, items, slots, stop):
    iterator = iter(iterable)
    try:
        while _acquire(slots, stop):
            item = next(iterator, _END)
            if item is _END or not _put(items, stop, (item, None)):
                break
    except BaseException as err:  # noqa: BLE001 - raised again in the caller's thread
        _put(items, stop, (None, err))
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()  # a generator is closed in the thread that ran it
        _put(items, stop, _END)


def prefetched(iterable, *, ahead=1, name="iactx prefetch"):
    """The items of ``iterable``, produced in a thread ``ahead`` items before the caller takes them.

    Work that releases the interpreter lock (file reading, decompression,
    numba kernels) in producing the next item then overlaps with the
    caller's work on the current one. The thread starts an item only when
    fewer than ``ahead`` are waiting or being made, so at most ``ahead``
    items exist beside the one the caller holds (items of a reader are
    batches of hundreds of megabytes).

    Parameters
    ----------
    iterable : iterable
        Iterated in the thread, and closed there (a generator's cleanup
        runs in the thread that ran it).
    ahead : int
        Items produced and waiting at most.
    name : str
        Name of the thread.

    Yields
    ------
    object
        The items in order; an exception of the iteration is raised where
        its item would have come.

    Notes
    -----
    When the caller stops early (``break``, an error, Ctrl-C), the thread
    finishes the item it is producing, closes ``iterable`` and ends before
    this generator returns.
    """
    ahead = max(1, int(ahead))
    items = queue.Queue(maxsize=ahead)
    slots = threading.Semaphore(ahead)
    stop = threading.Event()
    thread = threading.Thread(target=_produce, args=(iterable, items, slots, stop), name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is _END:
                return
            slots.release()
            value, error = item
            if error is not None:
                raise error
            yield value
    finally:
        stop.set()
        thread.join()
