"""Bad input gets a clear error naming the file, never a half result."""

import gzip
import re
import time

import numpy as np
import pytest
import zstandard
from conftest import amplify_tool, data_file

import iactx
from iactx.io import TruncatedFileWarning

pytestmark = pytest.mark.filterwarnings("ignore:.*no effective focal length")


def uncompressed(name):
    with open(data_file(name), "rb") as f:
        return zstandard.ZstdDecompressor().stream_reader(f).read()


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.simtel.zst"
    for call in (iactx.read_simtel, iactx.open_dl1, iactx.open_events):
        with pytest.raises(FileNotFoundError, match="nope.simtel.zst"):
            call(missing)


def test_foreign_file(tmp_path):
    text = tmp_path / "notes.simtel"
    text.write_text("these are not events\n")
    with pytest.raises(ValueError, match=r"notes.simtel is not a sim_telarray \(EventIO\) file.*'these are not e"):
        iactx.read_simtel(text)
    with pytest.raises(ValueError, match=r"no reader recognises .*notes.simtel"):
        iactx.open_events(text)
    with pytest.raises(ValueError, match="notes.simtel is not an iactx event-tree file"):
        iactx.open_dl1(text)
    # compressed garbage is still garbage
    packed = tmp_path / "garbage.simtel.gz"
    packed.write_bytes(gzip.compress(b"\x00" * 64))
    with pytest.raises(ValueError, match="garbage.simtel.gz is not a sim_telarray"):
        iactx.read_simtel(packed)


def test_empty_file(tmp_path):
    empty = tmp_path / "empty.simtel.zst"
    empty.touch()
    with pytest.raises(ValueError, match="input file is empty: .*empty.simtel.zst"):
        iactx.read_simtel(empty)


def test_file_without_events_is_an_error(tmp_path):
    with pytest.raises(ValueError, match=r"calib_events.simtel.gz contains no events \(calibration events are skipped"):
        iactx.read_simtel(data_file("calib_events.simtel.gz"))


@pytest.mark.parametrize("compression", ["", ".gz", ".zst"])
@pytest.mark.parametrize("fraction", [0.5, 0.7, 0.9, 0.99])
def test_truncated_file_yields_complete_events_then_warns(tmp_path, fraction, compression):
    data = uncompressed("lst_muons_with_true_photons.simtel.zst")
    data = data[: int(len(data) * fraction)]
    pack = {"": bytes, ".gz": gzip.compress, ".zst": zstandard.ZstdCompressor().compress}[compression]
    cut = tmp_path / f"cut.simtel{compression}"
    cut.write_bytes(pack(data))
    with pytest.warns(TruncatedFileWarning, match=r"cut.simtel(.gz|.zst)? is truncated or corrupt after \d complete "
                                                  r"events \(near byte \d+"):
        tree = iactx.read_simtel(cut)
    whole = iactx.read_simtel(data_file("lst_muons_with_true_photons.simtel.zst"))
    n = tree.sizes["event"]
    # 0.5: inside the second event, 0.7: inside the third, 0.9 and 0.99: inside the closing histograms
    assert n == {0.5: 1, 0.7: 2, 0.9: 3, 0.99: 3}[fraction]
    assert tree["LSTCam"].ds["waveform"].equals(whole["LSTCam"].ds["waveform"].isel(tel_event=slice(0, n)))
    with pytest.raises(ValueError, match="cut.simtel(.gz|.zst)? is truncated or corrupt"):
        iactx.read_simtel(cut, strict=True)


def test_bad_options_name_themselves():
    path = data_file("lst_with_photons.simtel.zst")
    with pytest.raises(ValueError, match="focal_length must be 'effective' or 'equivalent', got 'nominal'"):
        iactx.read_simtel(path, focal_length="nominal")
    with pytest.raises(ValueError, match="batch_size must be at least 1, got 0"):
        next(iactx.iter_simtel(path, batch_size=0))
    with pytest.raises(ValueError, match="batch_bytes must be at least 1, got -5"):
        next(iactx.iter_simtel(path, batch_bytes=-5))


def test_repeated_event_ids_get_new_unique_ids(tmp_path):
    """Files made by repeating events (the benchmarks' amplify tool) reuse event ids."""
    import subprocess
    import sys

    amplify = amplify_tool()
    repeated = tmp_path / "three.simtel.zst"
    subprocess.run([sys.executable, str(amplify), str(data_file("lst_with_photons.simtel.zst")), str(repeated), "3"],
                   check=True)
    with pytest.warns(iactx.io.simtel.RepeatedEventIdWarning, match="three.simtel.zst: event id .* appears more"):
        tree = iactx.read_simtel(repeated)
    ids = tree.ds["event_id"].values
    assert len(set(ids)) == 3
    assert tree["LSTCam"].ds.indexes["tel_event"].is_unique
    wf = tree["LSTCam"].ds["waveform"].values
    np.testing.assert_array_equal(wf[0], wf[2])


def test_yaml_alias_bomb_is_refused_at_once(tmp_path, capsys):
    from iactx.tools.cli import main

    names = "abcdefghi"
    lines = ["anchors:", '  a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"  {b}: &{b} [{', '.join([f'*{a}'] * 9)}]" for a, b in zip(names, names[1:])]
    lines += ["ImageQualityQuery:", "  quality_criteria: [[big, *i]]"]  # 9**9 strings once expanded
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\n")
    assert len(bomb.read_bytes()) < 1000
    assert main(["process", "--config", str(bomb), "--output", str(tmp_path / "out.nc")]) == 1
    err = capsys.readouterr().err
    assert "bomb.yaml" in err and "aliases (*name) are not allowed" in err and len(err.strip().splitlines()) == 1
    assert main(["process", "--ImageQualityQuery.quality_criteria=&a [*a]", "--output", str(tmp_path / "o.nc")]) == 1
    assert "aliases" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.nc"))


def test_inputs_and_outputs_that_would_lose_data_are_refused(tmp_path, capsys):
    from iactx.tools.cli import main

    source = tmp_path / "run.simtel.zst"
    source.write_bytes(data_file("lst_muons_with_true_photons.simtel.zst").read_bytes())
    before = source.read_bytes()
    cases = [
        (["--input", str(source), "--output", str(source), "--overwrite"], "is the input"),
        (["--input", str(source), str(tmp_path / "." / "run.simtel.zst"), "--output", str(tmp_path / "o.nc")],
         "is given twice as input"),
        (["--input", str(data_file("lst_with_photons.simtel.zst")), str(data_file("camsettings_v6.simtel.zst")),
          "--output", str(tmp_path / "o.nc")], "camsettings_v6.simtel.zst has another subarray"),
        (["--input", str(source), "--output", str(tmp_path)], "is a directory"),
        (["--input", str(source), "--output", str(tmp_path / "o.nc"),
          f"--DataWriter.provenance_log={tmp_path / 'no' / 'such' / 'log.json'}"], "cannot write the provenance log"),
    ]
    for options, message in cases:
        assert main(["process", *options, "--no-progress"]) == 1, options
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert source.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.simtel.zst"]


def test_two_runs_writing_one_output_do_not_replace_each_other(tmp_path):
    from iactx.io.dl1 import EventTreeWriter

    tree = iactx.read_simtel(data_file("lst_with_photons.simtel.zst"))
    first = EventTreeWriter(tmp_path / "out.nc")
    with pytest.warns(UserWarning, match="unless another run is writing it now"):
        second = EventTreeWriter(tmp_path / "out.nc")
    second.append(tree)
    second.update_attrs(run="second")
    second.close()
    first.append(tree)
    with pytest.raises(FileExistsError, match="another run wrote it while this one ran"):
        first.close()
    assert iactx.open_dl1(tmp_path / "out.nc").attrs["run"] == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["out.nc"]


def test_temporary_files_of_a_killed_run_are_named(tmp_path):
    stale = tmp_path / ".out.nc.k2j4.part"
    stale.write_bytes(b"left by a killed run")
    with pytest.warns(UserWarning, match=r"temporary files of an interrupted run .*\.out\.nc\.k2j4\.part"):
        iactx.write_dl1(iactx.read_simtel(data_file("lst_with_photons.simtel.zst")), tmp_path / "out.nc")


def test_an_unexpected_error_is_one_line_on_the_command_line(tmp_path, capsys, monkeypatch):
    from iactx.tools import cli, process

    def broken(*args, **kwargs):
        raise TypeError("int() argument must be a string")

    monkeypatch.setattr(process, "run_processing", broken)
    assert cli.main(["process", "--output", str(tmp_path / "o.nc")]) == 1
    err = capsys.readouterr().err
    assert err.strip() == "iactx process: error: TypeError: int() argument must be a string"


@pytest.mark.parametrize(("option", "message"), [
    ("--NeighborPeakWindowSum.window_width=100000000", "NeighborPeakWindowSum.window_width=100000000: larger than"),
    ("--NeighborPeakWindowSum.window_shift=-500", "NeighborPeakWindowSum.window_shift=500: larger than"),
    ("--NeighborPeakWindowSum.window_width=1180591620717411303424", "outside the bounds"),
    ("--TailcutsImageCleaner.picture_threshold_pe=.nan", "value nan is not allowed"),
])
def test_impossible_options_are_refused_with_one_line(tmp_path, capsys, option, message):
    from iactx.tools.cli import main

    start = time.perf_counter()
    assert main(["process", "--input", str(data_file("lst_with_photons.simtel.zst")), "--output",
                 str(tmp_path / "out.nc"), option, "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert time.perf_counter() - start < 60  # refused, not run for minutes
    assert not list(tmp_path.iterdir())


def test_a_full_file_system_at_the_final_flush_is_named_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    """The HDF5 library says only "HDF error"; with the disk full the message says so, with the path."""
    import shutil
    from collections import namedtuple

    from iactx.io import dl1
    from iactx.tools.cli import main

    def full_disk_flush(self):
        raise RuntimeError("NetCDF: HDF error")

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(dl1.EventTreeWriter, "_flush", full_disk_flush)  # one event: written at the final flush
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 4096, 4096))
    output = tmp_path / "out.nc"
    assert main(["process", "--input", str(data_file("camsettings_v6.simtel.zst")), "--output", str(output),
                 "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == (f"iactx process: error: [Errno 28] no space left on device: {output} not written; "
                           f"0.0 MB free in {tmp_path}")
    assert not list(tmp_path.iterdir())  # neither output, nor provenance log, nor temporary file


def test_other_write_errors_are_not_called_a_full_disk(tmp_path, monkeypatch):
    from iactx.io import dl1

    def failing_flush(self):
        raise RuntimeError("NetCDF: HDF error")

    monkeypatch.setattr(dl1.EventTreeWriter, "_flush", failing_flush)  # plenty of free space in tmp_path
    with pytest.raises(RuntimeError, match="HDF error"):
        iactx.write_dl1(iactx.read_simtel(data_file("lst_with_photons.simtel.zst")), tmp_path / "out.nc")
    assert not list(tmp_path.iterdir())


@pytest.fixture
def small_file_system(tmp_path):
    """A 2 MB tmpfs (needs root and mount(8); the CI machines have both)."""
    import os
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    place = tmp_path / "small"
    place.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(place)]).returncode:
        pytest.skip("this machine refuses to mount a tmpfs")
    yield place
    subprocess.run(["umount", "--lazy", str(place)], check=True)  # HDF5 may still hold a (deleted, empty) file


@pytest.mark.parametrize("output_format", ["netcdf", "ctapipe"])
@pytest.mark.parametrize("free_kb", [5, 300])
def test_a_really_full_file_system_is_named_and_leaves_nothing(small_file_system, capsys, output_format, free_kb):
    import shutil

    from iactx.tools.cli import main

    filler = small_file_system / "filler"
    filler.write_bytes(bytes(shutil.disk_usage(small_file_system).free - free_kb * 1024))
    free = shutil.disk_usage(small_file_system).free
    output = small_file_system / "out.nc"
    assert main(["process", "--input", str(data_file("camsettings_v6.simtel.zst")), "--output", str(output),
                 f"--DataWriter.output_format={output_format}", "--no-progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("iactx process: error: [Errno 28] no space left on device: ") and "not written" in err, err
    assert str(small_file_system) in err
    assert [p.name for p in small_file_system.iterdir()] == ["filler"]
    assert shutil.disk_usage(small_file_system).free == free  # the space of the temporary file is given back


@pytest.mark.parametrize(("output_format", "corrupt_message"), [
    ("netcdf", "is corrupt: the NetCDF-4 library cannot read it"),
    ("ctapipe", "a ctapipe file without the instrument"),
])
def test_truncated_and_corrupt_dl1_files_are_named_as_such(tmp_path, capsys, output_format, corrupt_message):
    from iactx.tools.cli import main

    written = tmp_path / "full.dl1"
    assert main(["process", "--input", str(data_file("lst_muons_with_true_photons.simtel.zst")), "--output",
                 str(written), f"--DataWriter.output_format={output_format}", "--no-progress"]) == 0
    data = written.read_bytes()
    cut, zeroed = tmp_path / "cut.dl1", tmp_path / "zeroed.dl1"
    cut.write_bytes(data[:len(data) // 2])
    n = len(data)
    zeroed.write_bytes(data[:n // 20] + bytes(n - n // 20 - n // 20) + data[n - n // 20:])
    truncated = f"{cut} is a truncated HDF5 file: it has {len(data) // 2} of its {len(data)} bytes"
    for path, message in ((cut, truncated), (zeroed, f"{zeroed}: " if output_format == "ctapipe" else str(zeroed))):
        with pytest.raises(ValueError, match=re.escape(message)):
            iactx.open_dl1(path)
        capsys.readouterr()
        assert main(["info", str(path)]) == 1
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
    with pytest.raises(ValueError, match=corrupt_message):
        iactx.open_dl1(zeroed)
