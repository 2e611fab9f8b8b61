"""`iactx process`: end to end on the sample files, configuration, errors, interruption."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import xarray as xr
from conftest import data_file

import iactx
from iactx.image.cleaning import tailcuts_clean
from iactx.tools.cli import main

pytestmark = pytest.mark.filterwarnings("ignore:.*no effective focal length")

STAGE1 = {
    "Stage1ProcessorTool": {
        "config_file": "",
        "output_path": "events.dl1.h5",
        "overwrite": True,
        "write_images": True,
        "image_extractor_type": "NeighborPeakWindowSum",
        "image_cleaner_type": "TailcutsImageCleaner",
    },
    "TailcutsImageCleaner": {
        "boundary_threshold_pe": [
            {"type": "*", "value": 5.0}, {"type": "LST*", "value": 3.0}, {"type": "MST*", "value": 4.0}],
        "min_picture_neighbors": [{"type": "*", "value": 2}],
        "picture_threshold_pe": [
            {"type": "*", "value": 10.0}, {"type": "LST_LST_LSTCam", "value": 6.0},
            {"type": "MST_MST_NectarCam", "value": 6.0}],
    },
    "ImageQualityQuery": {
        "quality_criteria": [
            {"enough_pixels": "lambda im: np.count_nonzero(im) > 2"},
            {"enough_charge": "lambda im: im.sum() > 50"},
        ]
    },
}


def test_process_sample_file(tmp_path, capsys):
    out = tmp_path / "events.dl1.nc"
    assert main(["process", "--input", str(data_file("camsettings_v6.simtel.zst")), "--output", str(out)]) == 0
    assert "processed 1 events" in capsys.readouterr().out
    tree = iactx.open_dl1(out)
    plain = xr.open_datatree(out, engine="h5netcdf")
    assert set(plain.children) == {"instrument", "LSTcam", "NectarCam", "simulation", "statistics"}
    assert int(tree["simulation/shower_distribution"].ds["n_entries"][0]) > 0
    lst = tree["LSTcam"].ds
    assert lst["tel"].values.tolist() == [1, 2, 3, 4]
    assert lst["hillas_intensity"].attrs["units"] == "pe"
    assert np.all(lst["hillas_intensity"].fillna(0) >= 0)
    assert "waveform" not in lst and "image" not in lst  # parameters only by default
    record = json.loads((tmp_path / "events.dl1.nc.provenance.json").read_text())
    assert record["n_events"] == 1
    assert record["inputs"][0]["sha256"] == \
        "83cb1ea018099365f1fbb41af977eff6d288acca7fb99829a76857e59e83b99f"
    assert json.loads(tree.attrs["provenance"])["tool"] == "iactx process"


def test_reconstruct_writes_the_stereo_geometry(tmp_path):
    out = tmp_path / "stereo.nc"
    assert main(["process", "--input", str(data_file("camsettings_v6.simtel.zst")), "--output", str(out),
                 "--reconstruct"]) == 0
    tree = iactx.open_dl1(out)
    assert tree.ds["HillasReconstructor_is_valid"].values.tolist() == [True]
    assert tree.ds["HillasReconstructor_alt"].attrs["units"] == "deg"
    # a 200 GeV gamma seen by 7 telescopes: the direction within a quarter degree of the truth
    assert abs(tree.ds["HillasReconstructor_alt"].item() - tree.ds["true_alt"].item()) < 0.25
    assert abs(tree.ds["HillasReconstructor_az"].item() - tree.ds["true_az"].item()) < 0.5
    assert "HillasReconstructor_tel_impact_distance" in tree["LSTcam"].ds
    plain = tmp_path / "plain.nc"
    assert main(["process", "--input", str(data_file("camsettings_v6.simtel.zst")), "--output", str(plain)]) == 0
    assert not any(v.startswith("HillasReconstructor") for v in iactx.open_dl1(plain).ds.data_vars)


def test_ctapipe_stage1_config_runs_unchanged(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "stage1.json").write_text(json.dumps(STAGE1))
    path = data_file("lst_muons_with_true_photons.simtel.zst")
    assert main(["process", "--input", str(path), "--config", "stage1.json"]) == 0
    tree = iactx.open_dl1(tmp_path / "events.dl1.h5")
    cam = tree["LSTCam"].ds
    # the LST telescopes were cleaned with 6 / 3 p.e.
    expected = tailcuts_clean(cam, picture_thresh=6.0, boundary_thresh=3.0, min_number_picture_neighbors=2)
    np.testing.assert_array_equal(cam["image_mask"].values, expected.values)
    default = tailcuts_clean(cam, picture_thresh=10.0, boundary_thresh=5.0, min_number_picture_neighbors=2)
    assert cam["image_mask"].sum() > default.sum()
    # images with fewer than 3 pixels or 50 p.e. fail the quality query and get no parameters
    n_pixels = cam["image_mask"].sum("pixel")
    charge = cam["image"].where(cam["image_mask"]).sum("pixel")
    fails = (n_pixels <= 2) | (charge <= 50)
    assert np.all(np.isnan(cam["hillas_intensity"].values[fails.values]))
    assert np.all(np.isfinite(cam["hillas_intensity"].values[~fails.values]))


def test_toy_simulation_without_input(tmp_path):
    out = tmp_path / "toy.nc"
    assert main(["process", "--output", str(out), "--max-events", "30", "--EventSource.batch_size=10",
                 "--write-images"]) == 0
    tree = iactx.open_dl1(out)
    assert tree.sizes["event"] == 30
    assert any("image" in tree[c].ds for c in tree.iact.cameras)


def test_show_config_and_help_all(capsys):
    assert main(["process", "--show-config", "--TailcutsImageCleaner.picture_threshold_pe=8",
                 "--output", "x.nc"]) == 0
    text = capsys.readouterr().out
    assert "picture_threshold_pe: 8" in text
    assert "output_path: x.nc" in text
    assert main(["process", "--help-all"]) == 0
    text = capsys.readouterr().out
    assert "--TailcutsImageCleaner.picture_threshold_pe=10.0" in text
    assert "--NeighborPeakWindowSum.window_width=7" in text


@pytest.mark.parametrize(("args", "message"), [
    (["--input", "/no/such/file.simtel.zst"], "input file not found: /no/such/file.simtel.zst"),
    (["--TailcutsImageCleaner.picture_treshold_pe=5"], "did you mean 'picture_threshold_pe'"),
    (["--Cleaner.x=1"], "unknown configuration section 'Cleaner'"),
    (["--NeighborPeakWindowSum.window_width=0"], "NeighborPeakWindowSum.window_width"),
    (["--TailcutsImageCleaner.min_picture_neighbors=two"], "TailcutsImageCleaner.min_picture_neighbors"),
    (["--ImageQualityQuery.quality_criteria=[[evil, \"lambda im: __import__('os')\"]]"],
     "quality criterion 'evil'"),
    (["--config", "/no/such/config.yaml"], "config file not found: /no/such/config.yaml"),
    (["--max-events", "0"], "EventSource.max_events"),
])
def test_bad_input_gives_one_line_and_no_output(tmp_path, capsys, args, message):
    out = tmp_path / "out.nc"
    assert main(["process", "--output", str(out), "--max-events", "2", *args]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1]
    assert err[-1].startswith("iactx process: error:")
    assert list(tmp_path.iterdir()) == []


def test_foreign_input_file(tmp_path, capsys):
    foreign = tmp_path / "table.csv"
    foreign.write_text("a,b\n1,2\n")
    assert main(["process", "--input", str(foreign), "--output", str(tmp_path / "o.nc")]) == 1
    assert "table.csv" in capsys.readouterr().err
    assert not (tmp_path / "o.nc").exists()


def test_existing_output_is_refused(tmp_path, capsys):
    out = tmp_path / "o.nc"
    out.write_text("keep me")
    assert main(["process", "--output", str(out), "--max-events", "2"]) == 1
    assert "output file exists" in capsys.readouterr().err
    assert out.read_text() == "keep me"


@pytest.mark.parametrize(("signum", "code", "said"), [(signal.SIGINT, 130, "interrupted"),
                                                      (signal.SIGTERM, 143, "terminated")])
def test_interrupted_run_leaves_no_output(tmp_path, signum, code, said):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    out = run_dir / "big.nc"
    err_path = tmp_path / "stderr.txt"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(err_path, "w") as err_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "iactx.tools.cli", "process", "--output", str(out),
             "--EventSource.toy_events=100000", "--EventSource.batch_size=20"],
            cwd=run_dir, env=env, stderr=err_file, stdout=subprocess.DEVNULL)

        def part_size():
            # the output's and the provenance log's (empty until the end)
            return max((p.stat().st_size for p in run_dir.iterdir() if p.name.endswith(".part")), default=0)

        # wait until at least two batches are in the temporary file: every kernel is compiled by then
        deadline, sizes = time.time() + 600, set()
        while time.time() < deadline and proc.poll() is None and len(sizes - {0}) < 2:
            sizes.add(part_size())
            time.sleep(0.2)
        assert proc.poll() is None, err_path.read_text()
        proc.send_signal(signum)
        proc.wait(timeout=300)
    err = err_path.read_text()
    assert proc.returncode == code, err
    assert "stopped after" in err and "no output written" in err and f"iactx: {said}" in err
    assert "Traceback" not in err
    assert list(run_dir.iterdir()) == []


def test_each_batch_returns_its_waveform_memory_before_the_next_is_read(tmp_path, monkeypatch):
    """``iactx process`` frees every tree it made of a batch, so the reader refills the same blocks.

    With the cyclic garbage collector off, a tree left to it (the output of an
    intermediate step) would keep its batch's waveforms alive and the reader
    would map a new set of blocks for every batch. The waveforms are dropped
    once calibrated, before the next batch is read: one block of them serves
    every batch.
    """
    import gc

    from conftest import amplify_tool

    from iactx import _array_pool

    repeated = tmp_path / "eight.simtel.zst"
    subprocess.run([sys.executable, str(amplify_tool()), str(data_file("lst_muons_with_true_photons.simtel.zst")),
                    str(repeated), "8"], check=True)
    created = []
    new_block = _array_pool._new_block
    monkeypatch.setattr(_array_pool, "_new_block", lambda nbytes: created.append(nbytes) or new_block(nbytes))
    gc.collect()
    gc.disable()
    try:
        assert main(["process", "--input", str(repeated), "--output", str(tmp_path / "out.dl1.nc"),
                     "--EventSource.batch_size=1", "--no-progress"]) == 0  # warns of the repeated event ids
    finally:
        gc.enable()
    n_batches = 24  # 3 events, repeated 8 times
    assert len(iactx.open_dl1(tmp_path / "out.dl1.nc").ds["event_id"]) == n_batches
    waveform_bytes = 1855 * 30 * 4  # one LSTCam telescope event: pixels, samples, float32
    assert created.count(waveform_bytes) == 1  # 2 with both batches' waveforms alive, 48 with the old leak
    assert len(created) <= 1 + 3  # and the selected gains of two batches (processed, read ahead), one spare
