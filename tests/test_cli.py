"""The iactx command: summaries and one-line errors with exit codes."""

import pytest
from conftest import SAMPLE_FILES, data_file

import iactx
from iactx.tools.cli import main

pytestmark = pytest.mark.filterwarnings("ignore:.*no effective focal length")


def test_info_on_every_sample_file(sample_name, capsys):
    assert main(["info", str(data_file(sample_name))]) == 0
    out = capsys.readouterr().out
    expected = SAMPLE_FILES[sample_name]
    assert f"{expected['n_tels']} telescopes" in out
    assert f"events: {expected['n_events']}" in out
    for camera in expected["cameras"]:
        assert camera in out
    assert "data levels: R1" in out


def test_info_on_an_event_tree_file(tmp_path, capsys):
    tree = iactx.read_simtel(data_file("camsettings_v6.simtel.zst"), keep_r0=True)
    path = iactx.write_dl1(tree, tmp_path / "events.dl1.nc")
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "(iactx event tree)" in out
    assert "4 x LST_LST_LSTcam" in out and "ids 1-4" in out
    assert "15 x MST_MST_NectarCam" in out and "ids 5-19" in out
    assert "data levels: R0, R1" in out


def test_errors_are_one_line_with_exit_code(tmp_path, capsys):
    assert main(["info", str(tmp_path / "missing.simtel")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"iactx info: error: input file not found: {tmp_path / 'missing.simtel'}"
    foreign = tmp_path / "table.csv"
    foreign.write_text("a,b\n1,2\n")
    assert main(["info", str(foreign)]) == 1
    assert "table.csv is neither a sim_telarray nor an iactx event-tree file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["info"])
    assert exit_info.value.code == 2


def test_the_command_exits_with_main_s_code_and_complete_output(tmp_path):
    """console_main ends the process without the interpreter's teardown: nothing printed may be lost."""
    import subprocess
    import sys

    path = data_file("lst_muons_with_true_photons.simtel.zst")
    ok = subprocess.run([sys.executable, "-m", "iactx.tools.cli", "info", str(path)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.rstrip().endswith(main_output(path).rstrip())
    missing = subprocess.run([sys.executable, "-m", "iactx.tools.cli", "info", str(tmp_path / "no.simtel")],
                             capture_output=True, text=True)
    assert missing.returncode == 1
    assert missing.stderr.strip().endswith(f"input file not found: {tmp_path / 'no.simtel'}")
    output = tmp_path / "out.nc"
    run = subprocess.run([sys.executable, "-m", "iactx.tools.cli", "process", "--input", str(path), "--output",
                          str(output), "--no-progress"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert iactx.open_dl1(output).sizes["event"] == 3  # complete and readable
    assert (tmp_path / "out.nc.provenance.json").read_text().rstrip().endswith("}")


def main_output(path):
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["info", str(path)]) == 0
    return buffer.getvalue()
