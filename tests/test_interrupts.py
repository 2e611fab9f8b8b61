"""Ctrl-C and SIGTERM stop the tools even where Python drops the exception of the signal handler."""

import os
import signal
import sys

import pytest

import iactx.tools.process as process_module
from iactx.tools.cli import main
from iactx.tools.interrupts import Terminated, handled_signals, raise_if_signalled, signals_deferred


class _SignalledWhileFreed:
    """Sends a signal from ``__del__``: its handler raises there, and Python drops the exception."""

    def __init__(self, signum):
        self.signum = signum

    def __del__(self):
        os.kill(os.getpid(), self.signum)
        [i for i in range(10)]  # the handler runs at the next bytecode check, still in __del__


def _drop_signal(signum):
    _SignalledWhileFreed(signum)  # freed at once: the signal's exception is lost


@pytest.fixture
def dropped(monkeypatch):
    """The exceptions Python drops and would print ("Exception ignored in ..."), in order."""
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: seen.append(unraisable.exc_type))
    return seen


@pytest.mark.parametrize(("signum", "exception"), [(signal.SIGINT, KeyboardInterrupt),
                                                   (signal.SIGTERM, Terminated)])
def test_a_signal_dropped_in_a_finalizer_is_raised_again(dropped, signum, exception):
    with handled_signals():
        _drop_signal(signum)  # returns: the exception was dropped
        with pytest.raises(exception):
            raise_if_signalled()
    assert dropped == []  # and not printed
    raise_if_signalled()  # forgotten once the block is left


def test_other_dropped_exceptions_are_still_printed(dropped):
    class FailsWhileFreed:
        def __del__(self):
            raise ValueError("in __del__")

    with handled_signals():
        FailsWhileFreed()
    assert dropped == [ValueError]


@pytest.mark.parametrize(("signum", "exception"), [(signal.SIGINT, KeyboardInterrupt),
                                                   (signal.SIGTERM, Terminated)])
def test_a_signal_inside_a_deferring_block_is_raised_when_the_block_ends(signum, exception):
    # as around a write through xarray, whose file lock an exception raised inside would leave taken
    done = []
    with handled_signals(), pytest.raises(exception):
        with signals_deferred():
            with signals_deferred():
                os.kill(os.getpid(), signum)
                [i for i in range(10)]  # the handler runs here, and raises nothing
                done.append("inner")
            done.append("outer")  # still deferred: the outer block is open
        done.append("after")  # never reached
    assert done == ["inner", "outer"]


def test_handlers_are_restored():
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with handled_signals():
        assert signal.getsignal(signal.SIGTERM) is not before[signal.SIGTERM]
    assert {s: signal.getsignal(s) for s in before} == before


@pytest.mark.parametrize(("signum", "code", "said"), [(signal.SIGINT, 130, "interrupted"),
                                                      (signal.SIGTERM, 143, "terminated")])
def test_process_stops_on_a_dropped_signal(tmp_path, monkeypatch, capsys, caplog, dropped, signum, code, said):
    select_output = process_module.select_output

    def select_and_drop_a_signal(tree, writer_config):
        _drop_signal(signum)
        return select_output(tree, writer_config)

    monkeypatch.setattr(process_module, "select_output", select_and_drop_a_signal)
    assert main(["process", "--output", str(tmp_path / "o.nc"), "--max-events", "30",
                 "--EventSource.batch_size=10"]) == code
    err = capsys.readouterr().err
    assert f"iactx: {said}" in err and "Exception ignored" not in err and dropped == []
    assert "stopped after 10 events; no output written" in caplog.text
    assert list(tmp_path.iterdir()) == []


def test_merge_finishes_the_input_being_written_then_stops_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    from iactx.datasets import make_runs
    from iactx.io.dl1 import EventTreeWriter

    inputs = []
    for run in make_runs(tmp_path / "runs", 2):
        inputs.append(tmp_path / f"{run.name}.nc")
        assert main(["process", "--input", str(run), "--output", str(inputs[-1]), "--no-progress"]) == 0
    append = EventTreeWriter.append
    appended = []

    def append_with_a_signal_inside(self, tree):
        os.kill(os.getpid(), signal.SIGINT)  # arrives inside the write of the first input
        append(self, tree)
        appended.append(tree.sizes["event"])

    monkeypatch.setattr(EventTreeWriter, "append", append_with_a_signal_inside)
    merged = tmp_path / "merged.nc"
    assert main(["merge", "--input", *map(str, inputs), "--output", str(merged)]) == 130
    assert len(appended) == 1 and appended[0] > 0  # the first input written whole, the second never started
    assert "iactx: interrupted" in capsys.readouterr().err
    assert not merged.exists() and not any(p.name.startswith("merged") for p in tmp_path.iterdir())
