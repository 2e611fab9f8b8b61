"""A production on a real dask LocalCluster (worker processes): outputs, faults, resume, merge, tables."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dask
import h5py
import numpy as np
import pandas as pd
import pytest
import xarray as xr
import zstandard
from conftest import data_file
from distributed import Client, LocalCluster
from worker_faults import KillWhenStarting

import iactx
from iactx.io.simtel_runs import write_run
from iactx.tools.cli import main
from iactx.tools.production import CLUSTER_CONFIG, process_files

pytestmark = pytest.mark.filterwarnings("ignore:.*no effective focal length", "ignore:.*Port .* is already in use")


#: reference-metadata attributes that differ between two runs of the same processing
RUN_RECORD = {"CTA ACTIVITY ID", "CTA ACTIVITY START TIME", "CTA ACTIVITY STOP TIME", "CTA PRODUCT CREATION TIME",
              "CTA PRODUCT ID"}


def assert_same_output(a, b):
    """Two DL1 files identical node by node, but for the records of their runs (provenance, activity times, ids)."""
    x, y = iactx.open_dl1(a), iactx.open_dl1(b)
    assert {n.path for n in x.subtree} == {n.path for n in y.subtree}
    for node in x.subtree:
        left, right = node.to_dataset(inherit=False), y[node.path].to_dataset(inherit=False)
        if node.is_root:
            for attrs in (left.attrs, right.attrs):
                for name in [n for n in attrs if n == "provenance" or n in RUN_RECORD]:
                    del attrs[name]
        xr.testing.assert_identical(left, right)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three runs of two simulations, and a file cut inside its first event."""
    folder = tmp_path_factory.mktemp("runs")
    stereo = data_file("camsettings_v6.simtel.zst")
    muons = data_file("lst_muons_with_true_photons.simtel.zst")
    files = [write_run(stereo, folder / "stereo_101.simtel.zst", 101),
             write_run(stereo, folder / "stereo_102.simtel.zst", 102),
             write_run(muons, folder / "muons_201.simtel.zst", 201)]
    return folder, files


@pytest.fixture(scope="module")
def cluster():
    with dask.config.set({**CLUSTER_CONFIG, "distributed.scheduler.allowed-failures": 1}), \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as local, \
            Client(local) as client:
        yield client


def test_outputs_equal_single_process_runs_and_a_bad_input_is_reported(runs, tmp_path):
    folder, files = runs
    bad = tmp_path / "inputs" / "cut.simtel.zst"
    bad.parent.mkdir()
    bad.write_bytes(files[0].read_bytes()[:3000])
    for path in files:
        shutil.copy(path, bad.parent / path.name)
    out = tmp_path / "dl1"
    # the command line, with its own LocalCluster of two processes; a glob as the input
    assert main(["process", "--input", str(bad.parent / "*.simtel.zst"), "--output-dir", str(out),
                 "--workers", "2", "--no-progress"]) == 1
    assert sorted(p.name for p in out.glob("*.dl1.nc")) == ["muons_201.dl1.nc", "stereo_101.dl1.nc",
                                                            "stereo_102.dl1.nc"]
    assert not list(out.glob(".*.part"))
    for path in files:
        single = tmp_path / f"single_{path.name}.dl1.nc"
        assert main(["process", "--input", str(bad.parent / path.name), "--output", str(single),
                     "--no-progress"]) == 0
        assert_same_output(out / path.name.replace(".simtel.zst", ".dl1.nc"), single)


def test_report_names_the_bad_file_and_a_rerun_processes_only_missing_outputs(runs, tmp_path, cluster):
    folder, files = runs
    bad = tmp_path / "bad.simtel.zst"
    bad.write_bytes(b"not a sim_telarray file at all")
    cut = tmp_path / "cut.simtel"  # inside its third event: two complete ones and a warning
    whole = zstandard.ZstdDecompressor().stream_reader(files[2].read_bytes()).read()
    cut.write_bytes(whole[: int(0.7 * len(whole))])
    out = tmp_path / "dl1"
    report = process_files([*files, bad, cut], out, client=cluster, progress=False)
    assert not report.ok
    assert [f.status for f in report.files] == ["done", "done", "done", "failed", "done"]
    assert str(bad) in report.failed[0].error and str(bad) in str(report)
    assert report.n_tel_events == 9 + 9 + 3 + 2
    assert report.files[-1].n_events == 2
    assert any("cut.simtel is truncated or corrupt after 2 complete events" in w for w in report.files[-1].warnings)
    assert not any("truncated" in w for w in report.files[0].warnings)
    (out / "cut.dl1.nc").unlink()
    assert all(f.peak_memory_mb > 50 and f.seconds > 0 and f.worker for f in report.done)
    (out / "stereo_102.dl1.nc").unlink()
    (out / ".stereo_101.dl1.nc.abc.part").write_bytes(b"left by a killed run")
    with pytest.warns(UserWarning, match=r"temporary files of an interrupted run.*stereo_101"):
        again = process_files(files, out, client=cluster, progress=False)
    assert [f.status for f in again.files] == ["skipped", "done", "skipped"]
    assert again.ok and not list(out.glob(".*.part"))
    forced = process_files(files[:1], out, scheduler=cluster.scheduler.address, progress=False, overwrite=True)
    assert [f.status for f in forced.files] == ["done"]
    # the command line on the same running scheduler
    assert main(["process", "--input", str(files[2]), "--output-dir", str(out), "--scheduler",
                 cluster.scheduler.address, "--overwrite", "--no-progress"]) == 0


def test_cluster_options_need_an_output_directory(runs, tmp_path, capsys):
    folder, files = runs
    assert main(["process", "--input", str(files[0]), "--output", str(tmp_path / "x.nc"), "--workers", "2"]) == 1
    assert "--workers and --scheduler need --output-dir" in capsys.readouterr().err
    assert main(["process", "--input", str(files[0]), "--output", str(tmp_path / "x.nc"), "--output-dir",
                 str(tmp_path / "dl1")]) == 1
    assert "either --output" in capsys.readouterr().err
    assert main(["process", "--output-dir", str(tmp_path / "dl1")]) == 1
    assert "--output-dir needs --input" in capsys.readouterr().err
    assert not (tmp_path / "x.nc").exists()


def test_a_killed_worker_is_retried_then_reported(runs, tmp_path, cluster):
    folder, files = runs
    marks = tmp_path / "marks"
    marks.mkdir()
    cluster.register_plugin(KillWhenStarting("stereo_101", marks, times=1))
    report = process_files(files, tmp_path / "once", client=cluster, progress=False)
    assert report.ok and len(list(marks.iterdir())) == 1  # killed once, done on the second try
    assert_same_output(tmp_path / "once" / "stereo_101.dl1.nc", tmp_path / "once" / "stereo_101.dl1.nc")
    cluster.register_plugin(KillWhenStarting("muons_201", marks, times=10))
    report = process_files(files, tmp_path / "always", client=cluster, progress=False)
    assert [f.status for f in report.files] == ["done", "done", "failed"]
    assert "every worker that tried it died" in report.failed[0].error
    assert not (tmp_path / "always" / "muons_201.dl1.nc").exists()
    assert not list((tmp_path / "always").glob(".*.part"))
    cluster.unregister_worker_plugin("kill-when-starting")


def test_ctrl_c_leaves_complete_outputs_only_and_a_rerun_does_the_rest(tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for run in range(6):
        write_run(data_file("camsettings_v6.simtel.zst"), inputs / f"amp_{run}.simtel.zst", 400 + run, repeats=60)
    out = tmp_path / "dl1"
    command = [str(Path(sys.executable).with_name("iactx")), "process", "--input", str(inputs), "--output-dir",
               str(out), "--workers", "2"]
    job = subprocess.Popen(command, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    deadline = time.monotonic() + 240
    while not list(out.glob("*.dl1.nc")) and time.monotonic() < deadline and job.poll() is None:
        time.sleep(0.1)
    os.killpg(job.pid, signal.SIGINT)  # what Ctrl-C in the terminal does: the whole process group
    _, err = job.communicate(timeout=120)
    assert job.returncode == 130, err
    assert "Traceback" not in err and err.strip().endswith("iactx: interrupted"), err
    assert not list(out.glob(".*.part"))
    finished = sorted(p.name for p in out.glob("*.dl1.nc"))
    assert finished and all(iactx.io.dl1.is_dl1_file(out / name) for name in finished)
    report = process_files(inputs, out, n_workers=2, progress=False)
    assert report.ok
    assert sorted(Path(f.output).name for f in report.skipped) == finished
    assert len(report.done) == 6 - len(finished)
    assert len(list(out.glob("*.dl1.nc"))) == 6


def test_inputs_with_one_output_name_are_refused_before_any_work(runs, tmp_path):
    folder, files = runs
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(files[0], other / files[0].name)
    with pytest.raises(ValueError, match="would both be written to"):
        process_files([files[0], other / files[0].name], tmp_path / "dl1", progress=False)
    with pytest.raises(ValueError, match="NoSuchCleaner"):
        process_files(files, tmp_path / "dl1", config={"NoSuchCleaner": {"x": 1}}, progress=False)
    assert not list((tmp_path / "dl1").iterdir())


@pytest.fixture(scope="module")
def many_runs(tmp_path_factory):
    """60 DL1 files: one processed run, copied under other run numbers."""
    folder = tmp_path_factory.mktemp("many")
    first = folder / "run_0000.dl1.nc"
    assert main(["process", "--input", str(data_file("camsettings_v6.simtel.zst")), "--output", str(first),
                 "--no-progress"]) == 0
    for i in range(1, 60):
        copy = shutil.copy(first, folder / f"run_{i:04d}.dl1.nc")
        with h5py.File(copy, "r+") as f:
            for group in ("", "LSTcam/", "NectarCam/", "simulation/shower_distribution/"):
                f[group + "obs_id"][...] = 1000 + i
    return sorted(folder.glob("run_*.dl1.nc"))


def test_merge_of_sixty_files_equals_the_lazy_tree_of_them(many_runs, tmp_path):
    merged = tmp_path / "merged.dl1.nc"
    assert main(["merge", "--input", str(many_runs[0].parent / "run_*.dl1.nc"), "--output", str(merged)]) == 0
    tree = iactx.open_dl1(merged)
    lazy = iactx.open_dl1(many_runs, chunks={})
    assert lazy["NectarCam"].ds["hillas_intensity"].chunks == ((5,) * 60,)
    np.testing.assert_array_equal(lazy["NectarCam"].ds["hillas_intensity"].values,
                                  tree["NectarCam"].ds["hillas_intensity"].values)
    assert tree.sizes["event"] == 60 and tree["NectarCam"].sizes["tel_event"] == 300
    assert tree["simulation/shower_distribution"].sizes["obs"] == 60
    for node in iactx.open_dl1(many_runs).subtree:
        expected = node.to_dataset(inherit=False)
        got = tree[node.path].to_dataset(inherit=False)
        if node.is_root:
            assert got.attrs["created_by"] == "iactx merge"
            for name in ("provenance", "iactx_version", "created_by"):  # copies of one file share these
                got.attrs.pop(name), expected.attrs.pop(name, None)
        xr.testing.assert_identical(got, expected)
    import json

    record = json.loads(tree.attrs["provenance"])
    assert [i["path"] for i in record["inputs"]] == [str(p) for p in many_runs]
    assert all(i["provenance"]["tool"] == "iactx process" for i in record["inputs"])


def test_merge_refuses_duplicate_keys_and_other_instruments(many_runs, tmp_path):
    out = tmp_path / "merged.dl1.nc"
    with pytest.raises(ValueError, match=rf"appears in more than one of.*{many_runs[3].name}"):
        iactx.tools.merge.merge_files([many_runs[3], many_runs[3]], out)
    other = tmp_path / "muons.dl1.nc"
    assert main(["process", "--input", str(data_file("lst_muons_with_true_photons.simtel.zst")), "--output",
                 str(other), "--no-progress"]) == 0
    assert main(["merge", "--input", str(many_runs[0]), str(other), "--output", str(out)]) == 1
    with pytest.raises(ValueError, match=rf"{other.name}.*cannot merge"):
        iactx.tools.merge.merge_files([many_runs[0], other], out)
    assert not out.exists() and not list(tmp_path.glob(".*.part"))


def test_telescope_events_lazy_equals_eager(many_runs):
    lazy = iactx.open_dl1(many_runs[:4], chunks={})
    eager = iactx.open_dl1(many_runs[:4])
    assert lazy["LSTcam"].ds["hillas_intensity"].chunks is not None  # nothing read
    table = iactx.telescope_events(lazy)
    assert hasattr(table, "compute")
    computed = table.compute().sort_values(["obs_id", "event_id", "tel_id"]).reset_index(drop=True)
    expected = eager.iact.telescope_events().sort_values(["obs_id", "event_id", "tel_id"]).reset_index(drop=True)
    assert len(expected) == 4 * 9
    pd.testing.assert_frame_equal(computed, expected, check_dtype=False)
    columns = ["hillas_intensity", "true_energy"]
    everything = iactx.telescope_events(iactx.open_dl1(many_runs, chunks={}), columns).compute()
    assert len(everything) == 60 * 9
    pd.testing.assert_frame_equal(
        everything.sort_values(["obs_id", "tel_id"]).reset_index(drop=True),
        iactx.telescope_events(iactx.open_dl1(many_runs), columns).sort_values(["obs_id", "tel_id"]).reset_index(
            drop=True), check_dtype=False)
    row = expected.iloc[0]
    assert row["tel_type"] == "LST_LST_LSTcam" and row["camera"] == "LSTcam"
    assert row["true_energy"] == pytest.approx(float(eager["true_energy"][0]))
    lst = eager["LSTcam"].ds
    np.testing.assert_allclose(expected.query("camera == 'LSTcam'")["hillas_intensity"].values,
                               lst["hillas_intensity"].values)
    small = iactx.telescope_events(eager, columns=["hillas_intensity", "true_energy"])
    assert list(small.columns) == ["obs_id", "event_id", "tel_id", "hillas_intensity", "camera", "tel_type",
                                   "true_energy"]
    with pytest.raises(ValueError, match="no column 'hilas_intensity'"):
        iactx.telescope_events(eager, columns=["hilas_intensity"])


def test_workers_drop_only_the_heartbeat_error_of_a_closed_scheduler(monkeypatch, caplog):
    import logging

    from iactx.tools import worker_setup

    monkeypatch.setenv("OMP_WAIT_POLICY", os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))  # restored after
    previous_handler = signal.getsignal(signal.SIGINT)
    dask_logger, worker_logger = logging.getLogger("distributed"), logging.getLogger("distributed.worker")
    previous_level = dask_logger.level
    try:
        worker_setup.dask_setup(worker=None)
        with caplog.at_level(logging.ERROR, logger="distributed.worker"):
            worker_logger.error("Failed to communicate with scheduler during heartbeat.")
            worker_logger.error("Compute Failed")
    finally:
        signal.signal(signal.SIGINT, previous_handler)
        dask_logger.setLevel(previous_level)
        worker_logger.removeFilter(worker_setup._not_a_heartbeat_failure)
    assert [record.getMessage() for record in caplog.records] == ["Compute Failed"]
