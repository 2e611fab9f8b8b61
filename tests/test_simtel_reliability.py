"""The sim_telarray reader on crafted and mutated files: a result or one clean error, never a crash.

The crafted files are recipes (byte edits and cuts of the sample files) in
``tests/data/simtel_reproducers.json``, applied by the mutation engine of
``benchmarks/fuzz_simtel.py``; the engine also runs here on a bounded
number of seeded mutations, in a child process so that a crash or a hang
fails the test instead of the suite.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import data_dir, data_file

import iactx
from iactx.io import TruncatedFileWarning
from iactx.io.simtel import SimtelSource, UndescribedTelescopesWarning

pytestmark = pytest.mark.filterwarnings("ignore:.*no effective focal length")

REPO = Path(__file__).resolve().parent.parent
FUZZ_SCRIPT = REPO / "benchmarks" / "fuzz_simtel.py"
CORPUS = Path(__file__).resolve().parent / "data" / "simtel_reproducers.json"

_spec = importlib.util.spec_from_file_location("fuzz_simtel", FUZZ_SCRIPT)
fuzz = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fuzz)


def crafted(tmp_path, note, compression=""):
    """The corpus file whose note starts with ``note``, written into ``tmp_path``."""
    recipe = next(r for r in json.loads(CORPUS.read_text()) if r["note"].startswith(note))
    data = fuzz.apply_recipe(fuzz.uncompressed(data_file(recipe["file"])), {**recipe})
    return fuzz.write_case(data, {**recipe, "compression": compression}, tmp_path)


def run_fuzz(*args, timeout):
    """Run the fuzz script in a child process; its last line (the counts)."""
    if data_dir() is None:
        data_file("lst_with_photons.simtel.zst")  # skips, or fails under CI, with the reason
    env = {**os.environ, "IACTX_DATA_PATH": str(data_dir())}
    done = subprocess.run([sys.executable, str(FUZZ_SCRIPT), *args], capture_output=True, text=True,
                          timeout=timeout, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def test_every_crafted_reproducer_ends_as_recorded():
    recipes = json.loads(CORPUS.read_text())
    summary = run_fuzz("--replay", str(CORPUS), timeout=300)
    assert summary.startswith(f"cases tried: {len(recipes)}, ")
    assert "other: 0 " in summary


def test_seeded_mutations_end_with_a_result_or_a_clean_error():
    summary = run_fuzz("--cases", "600", "--seed", "15", "--time-limit", "20", timeout=170)
    assert summary.startswith("cases tried: 600, ")
    assert "other: 0 " in summary


@pytest.mark.parametrize("note, problem", [
    ("ADC header: 60x the pixels in one gain", "1 gains, 111300 pixels and 1 samples, the camera has 2 gains, 1855 "
                                               "pixels and 30 samples"),
    ("ADC header: 17 gains", "17 gains, 1855 pixels and 30 samples"),
    ("ADC header: more samples", "2 gains, 1855 pixels and 40 samples, the camera"),
    ("ADC samples: a 6-byte difference", "holds a sample difference longer than 5 bytes"),
    ("ADCSamples length word 4 bytes short", "ends before all samples"),
])
def test_bad_adc_block_names_file_byte_and_telescope(tmp_path, note, problem):
    path = crafted(tmp_path, note)
    message = rf"{path} is truncated or corrupt after 0 complete events .*: ADCSamples block of telescope 1 at " \
              rf"byte 431136: {problem}"
    with pytest.warns(TruncatedFileWarning, match=message), pytest.raises(ValueError, match="contains no events"):
        iactx.read_simtel(path)
    with pytest.raises(ValueError, match=message):
        iactx.read_simtel(path, strict=True)


def test_bad_block_keeps_the_complete_events_before_it(tmp_path):
    whole = iactx.read_simtel(data_file("lst_muons_with_true_photons.simtel.zst"))
    path = crafted(tmp_path, "ADC header of the third event: 3 gains")
    with pytest.warns(TruncatedFileWarning, match=r"after 2 complete events .*ADCSamples block of telescope 1 at "
                                                  r"byte \d+: 3 gains, 1855 pixels"):
        tree = iactx.read_simtel(path)
    assert tree.sizes["event"] == 2
    assert tree["LSTCam"].ds["waveform"].equals(whole["LSTCam"].ds["waveform"].isel(tel_event=slice(0, 2)))


@pytest.mark.parametrize("note, problem", [
    ("laser calibration: one pixel more", r"LaserCalibration block of telescope 1 at byte \d+: cannot be parsed"),
    ("laser calibration: 3 gains", r"LaserCalibration block of telescope 1 at byte \d+: cannot be parsed"),
    ("laser calibration: 0 gains", r"LaserCalibration block of telescope 1 at byte \d+: calib of shape \(0, 1855\), "
                                   "the camera has 2 gains and 1855 pixels"),
])
def test_bad_calibration_block_is_refused(tmp_path, note, problem):
    path = crafted(tmp_path, note)
    with pytest.raises(ValueError, match=f"{path} is truncated or corrupt after 0 complete events .*{problem}"):
        iactx.read_simtel(path, strict=True)


@pytest.mark.parametrize("note, problem", [
    ("PhotoElectrons: a pixel id past the camera", "lists a pixel outside the camera or a negative count"),
    ("PhotoElectrons: 2**20 photo-electrons", "ends before its content"),
])
def test_bad_true_image_block_names_file_byte_and_telescope(tmp_path, note, problem):
    path = crafted(tmp_path, note)
    message = rf"{path} is truncated or corrupt after 0 complete events .*: PhotoElectrons block of telescope 1 " \
              rf"at byte \d+: {problem}"
    with pytest.raises(ValueError, match=message):
        iactx.read_simtel(path, strict=True)


@pytest.mark.parametrize("note, problem", [
    ("HV-disabled pixel 5000", r"HV_disabled pixels \[5000\] outside the camera's 1855"),
    ("HV-disabled pixel -1", r"HV_disabled pixels \[-1\] outside"),
])
def test_disabled_pixels_outside_the_camera_are_refused(tmp_path, note, problem):
    path = crafted(tmp_path, note)
    with pytest.raises(ValueError, match=rf"{path}: cannot read the run header .*description of telescope 1 has "
                                         rf"{problem}"):
        iactx.read_simtel(path)


@pytest.mark.parametrize("compression", ["", ".zst"])
def test_file_cut_between_events_warns_or_fails_in_strict_mode(tmp_path, compression):
    whole = iactx.read_simtel(data_file("lst_muons_with_true_photons.simtel.zst"))
    path = crafted(tmp_path, "cut exactly between the last event", compression)
    message = rf"{path} is truncated or corrupt after 3 complete events .*without the histograms that close"
    with pytest.warns(TruncatedFileWarning, match=message):
        tree = iactx.read_simtel(path)
    assert tree["LSTCam"].ds["waveform"].equals(whole["LSTCam"].ds["waveform"])
    with pytest.raises(ValueError, match=message):
        iactx.read_simtel(path, strict=True)
    path = crafted(tmp_path, "cut exactly between the second and third")
    with pytest.warns(TruncatedFileWarning, match="after 2 complete events .*without the histograms"):
        assert iactx.read_simtel(path).sizes["event"] == 2


def test_telescopes_announced_but_not_described_are_left_out(tmp_path):
    whole = iactx.read_simtel(data_file("lst_with_photons.simtel.zst"))
    path = crafted(tmp_path, "run header announces 2 telescopes")
    with pytest.warns(UndescribedTelescopesWarning, match=f"{path}: the run header announces 2 telescopes, the file "
                                                          "describes 1; reading those, without telescopes 2"):
        tree = iactx.read_simtel(path)
    assert list(tree["instrument"].ds["tel"].values) == [1]
    assert tree["LSTCam"].ds["waveform"].equals(whole["LSTCam"].ds["waveform"])


def test_info_counts_event_types_over_every_batch():
    from iactx.io.summary import summarize
    from iactx.tools.cli import _simtel_summary

    class OneEventBatches(SimtelSource):
        def batches(self, batch_size=100, max_events=None, batch_bytes=None):
            return super().batches(batch_size=1, max_events=max_events, batch_bytes=batch_bytes)

    text = _simtel_summary(data_file("lst_muons_with_true_photons.simtel.zst"), OneEventBatches, summarize)
    assert "events: 3\n" in text
    assert "by type: subarray: 3" in text


def test_kernel_tests_pass_with_numba_bounds_checks(tmp_path):
    """The ADC and R1 kernel tests once more, compiled with bounds checking (fresh cache)."""
    env = {**os.environ, "NUMBA_BOUNDSCHECK": "1", "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    tests = [str(REPO / "tests" / name) for name in ("test_adc_kernels.py", "test_r1_kernels.py")]
    done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
                          capture_output=True, text=True, timeout=600, env=env, cwd=REPO)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert " passed" in done.stdout


def test_process_strict_fails_on_a_file_cut_between_events_and_writes_nothing(tmp_path, capsys, caplog,
                                                                               monkeypatch):
    import warnings

    from iactx.tools.cli import main

    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)
    path = crafted(tmp_path, "cut exactly between the last event")
    output = tmp_path / "out.dl1.nc"
    assert main(["process", "-i", str(path), "-o", str(output), "--EventSource.strict=True"]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and str(path) in error[0] and "without the histograms" in error[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.simtel"]
    caplog.clear()
    assert main(["process", "-i", str(path), "-o", str(output)]) == 0
    assert "after 3 complete events" in caplog.text and "without the histograms" in caplog.text
    assert iactx.open_dl1(output).sizes["event"] == 3


def test_info_on_an_adc_block_larger_than_the_camera_is_one_line(tmp_path, capsys, caplog, monkeypatch):
    import warnings

    from iactx.tools.cli import main

    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)
    path = crafted(tmp_path, "ADC header: 60x the pixels in one gain")
    assert main(["info", str(path)]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert error == [f"iactx info: error: {path} contains no events"]
    assert "ADCSamples block of telescope 1 at byte 431136: 1 gains, 111300 pixels" in caplog.text


@pytest.mark.parametrize("cuts", [(), (250, 251, 400)], ids=["one piece", "four pieces"])
def test_payloads_read_like_a_file_at_their_stream_address_and_views_are_not_copies(cuts):
    import io

    from iactx.io.simtel_stream import _PayloadFile

    data = bytes(range(200)) * 5
    bounds = [100, *cuts, 600]
    pieces = [memoryview(data)[a:b] for a, b in zip(bounds, bounds[1:])]
    payload, reference = _PayloadFile(pieces if cuts else pieces[0], 1000), io.BytesIO(data[100:600])
    for position, whence in [(1010, 0), (5, 1), (-7, 2), (1000, 0), (0, 2), (1700, 0), (1140, 0), (1149, 0)]:
        expected = reference.seek(position - 1000 if whence == 0 else position, whence) + 1000
        assert payload.seek(position, whence) == expected == payload.tell()
        assert payload.read(130) == reference.read(130)
    payload.seek(1020)
    view = payload.view(50)
    assert isinstance(view, memoryview) and view.obj is data and view.tobytes() == data[120:170]
    assert payload.tell() == 1070 and payload.read() == data[170:600]
    with pytest.raises(ValueError, match="negative seek"):
        payload.seek(999)
