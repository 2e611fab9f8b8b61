"""Where a tool's time goes: wall and CPU time per stage, for its log."""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager

__all__ = ["StageClock"]


class StageClock:
    """Wall-clock and CPU time [s] accumulated per named stage.

    CPU time is that of the thread that ran the stage
    (:func:`time.thread_time`), so the stages of a thread working beside the
    main one are told apart from the main thread's waiting for it.

    Examples
    --------
    >>> clock = StageClock()
    >>> with clock("writing"):
    ...     pass
    >>> sorted(clock.wall)
    ['writing']
    """

    def __init__(self):
        self.wall = defaultdict(float)
        self.cpu = defaultdict(float)

    @contextmanager
    def __call__(self, stage):
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            self.wall[stage] += time.perf_counter() - wall
            self.cpu[stage] += time.thread_time() - cpu

    def timed_next(self, iterator, stage):
        """``next(iterator)`` timed as ``stage``; None at the end (so the items must not be None)."""
        with self(stage):
            return next(iterator, None)

    def timed_iteration(self, iterable, stage):
        """The items of ``iterable`` (none of them None), the time spent producing each one counted as ``stage``."""
        iterator = iter(iterable)
        try:
            while (item := self.timed_next(iterator, stage)) is not None:
                yield item
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    def summary(self):
        """One line: every stage's wall time (and its CPU time where it differs by more than 10 %)."""
        parts = []
        for stage, wall in self.wall.items():
            cpu = self.cpu[stage]
            parts.append(f"{stage} {wall:.2f} s" + (f" (CPU {cpu:.2f} s)" if abs(cpu - wall) > 0.1 * wall else ""))
        return ", ".join(parts)
