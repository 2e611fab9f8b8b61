"""Ctrl-C and SIGTERM in the command-line tools.

Both signals raise an exception in the main thread (``KeyboardInterrupt``,
:class:`Terminated`), so that outputs being written are removed as the
stack unwinds. Python runs a signal handler between any two bytecodes,
also inside a ``__del__`` method or a weak-reference callback, where an
exception is printed ("Exception ignored in ...") and dropped: the tool
would go on as if no signal had come (a batch frees thousands of arrays,
so this happens). The handler therefore also remembers the signal, and
the tools' loops call :func:`raise_if_signalled` between units of work
and before an output is made final; the dropped exception is not printed.

Inside :func:`signals_deferred` the handler only remembers the signal:
code that holds a lock of a library between two bytecodes (xarray's file
manager around HDF5 calls) must not be left by an exception there, or the
lock stays taken and the cleanup that follows waits for it forever.
"""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager

__all__ = ["Terminated", "handled_signals", "raise_if_signalled", "signals_deferred"]


class Terminated(BaseException):
    """SIGTERM arrived: unwinds like Ctrl-C, so that no partial output stays behind."""


_EXCEPTIONS = {signal.SIGINT: KeyboardInterrupt, signal.SIGTERM: Terminated}
#: the exception of the signal that arrived while :func:`handled_signals` was active, or None
_arrived = None


#: open :func:`signals_deferred` blocks
_deferring = 0


def _on_signal(signum, frame):
    global _arrived
    _arrived = _EXCEPTIONS[signum]
    if not _deferring:
        raise _arrived


@contextmanager
def signals_deferred():
    """SIGINT and SIGTERM that arrive inside the block are raised when it ends, not where they arrive.

    For calls into libraries that hold a lock across Python code; the
    block must be short (one batch, or one input of a merge, written), since a signal waits for its
    end. A signal remembered before the block is left to the next
    :func:`raise_if_signalled`.
    """
    global _deferring
    pending = _arrived
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
    if not _deferring and pending is None:
        raise_if_signalled()


@contextmanager
def handled_signals():
    """SIGINT and SIGTERM raise their exception and are remembered, inside the block.

    Where Python drops that exception, it is not printed either: the next
    :func:`raise_if_signalled` raises it. Handlers can be set only in the
    main thread; elsewhere (a tool called from a thread) the block runs
    with the signals as they were.
    """
    global _arrived
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _arrived = None
    previous = {signum: signal.signal(signum, _on_signal) for signum in _EXCEPTIONS}
    previous_hook = sys.unraisablehook

    def quiet_for_signals(unraisable):
        if not (_arrived is not None and issubclass(unraisable.exc_type, _arrived)):
            previous_hook(unraisable)

    sys.unraisablehook = quiet_for_signals
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        sys.unraisablehook = previous_hook
        _arrived = None


def raise_if_signalled():
    """Raise the exception of a signal that arrived, in case it was dropped where it was first raised.

    Raises
    ------
    KeyboardInterrupt, Terminated
        If SIGINT or SIGTERM arrived inside :func:`handled_signals`.
    """
    if _arrived is not None:
        raise _arrived
