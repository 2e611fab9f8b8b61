"""Counts of the image quality query per run, in both output formats and through merges."""

import h5py
import numpy as np
import pytest
from conftest import data_file

import iactx
from iactx.datasets import make_runs
from iactx.tools.cli import main

pytestmark = pytest.mark.filterwarnings("ignore:.*no effective focal length")

CRITERIA = ("--ImageQualityQuery.quality_criteria="
            '[["enough_pixels", "np.count_nonzero(image) > 2"], ["enough_charge", "image.sum() > 50"]]')


def expected_counts(tree):
    """TOTAL, pixels > 2, charge > 50 and both, from the written images."""
    counts = np.zeros(4, int)
    for name in tree.iact.cameras:
        cam = tree[name].ds
        image = cam["image"].where(cam["image_mask"], 0.0)
        pixels = (image != 0).sum("pixel").values > 2
        charge = image.sum("pixel").values > 50
        counts += [pixels.size, pixels.sum(), charge.sum(), (pixels & charge).sum()]
    return counts


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("statistics")
    return make_runs(folder / "runs", 2, repeats=2)


def test_counts_per_run_equal_the_images(two_runs, tmp_path):
    out = tmp_path / "both.nc"
    assert main(["process", "--input", *map(str, two_runs), "--output", str(out), "--write-images",
                 CRITERIA, "--no-progress"]) == 0
    tree = iactx.open_dl1(out)
    stats = tree["statistics/image_quality"].ds
    assert stats["criterion"].values.tolist() == ["TOTAL", "enough_pixels", "enough_charge"]
    assert stats["obs_id"].values.tolist() == [1, 2]
    total, pixels, charge, both = expected_counts(tree) // 2  # the two runs hold the same showers
    assert total == 18 and 0 < both < total
    for row in range(2):
        assert stats["counts"].values[row].tolist() == [total, pixels, charge]
        assert stats["cumulative_counts"].values[row].tolist() == [total, pixels, both]
    assert stats["criterion_expression"].values[0] == "True"


def test_merge_and_ctapipe_format_keep_the_counts(two_runs, tmp_path):
    outputs = []
    for run in two_runs:
        outputs.append(tmp_path / f"{run.name}.nc")
        assert main(["process", "--input", str(run), "--output", str(outputs[-1]), CRITERIA, "--no-progress"]) == 0
    single = [iactx.open_dl1(p)["statistics/image_quality"].ds for p in outputs]
    merged = tmp_path / "merged.nc"
    assert main(["merge", "--input", *map(str, outputs), "--output", str(merged)]) == 0
    stats = iactx.open_dl1(merged)["statistics/image_quality"].ds
    np.testing.assert_array_equal(stats["counts"].values, np.concatenate([s["counts"].values for s in single]))
    lazy = iactx.open_dl1(outputs)["statistics/image_quality"].ds
    np.testing.assert_array_equal(lazy["counts"].values, stats["counts"].values)

    h5 = tmp_path / "both.dl1.h5"
    assert main(["process", "--input", *map(str, two_runs), "--output", str(h5), "--output-format", "ctapipe",
                 CRITERIA, "--no-progress"]) == 0
    with h5py.File(h5, "r") as f:
        table = f["/dl1/service/image_statistics"][()]
    assert [c.decode() for c in table["criteria"]] == ["TOTAL", "enough_pixels", "enough_charge"]
    np.testing.assert_array_equal(table["counts"], stats["counts"].values.sum(axis=0))
    np.testing.assert_array_equal(table["cumulative_counts"], stats["cumulative_counts"].values.sum(axis=0))


def test_reprocessing_recounts_and_parameters_only_inputs_keep_their_counts(tmp_path):
    with_images, params_only = tmp_path / "images.nc", tmp_path / "params.nc"
    for out, extra in ((with_images, ["--write-images"]), (params_only, [])):
        assert main(["process", "--input", str(data_file("camsettings_v6.simtel.zst")), "--output", str(out),
                     *extra, "--no-progress"]) == 0
    tree = iactx.open_dl1(with_images)
    first = tree["statistics/image_quality"].ds
    # ctapipe's default criteria: positive size, at least two pixels
    cams = [tree[name].ds for name in tree.iact.cameras]
    positive = sum(int((c["image"].where(c["image_mask"]).sum("pixel") > 0).sum()) for c in cams)
    two_pixels = sum(int((c["image_mask"].sum("pixel") > 1).sum()) for c in cams)
    assert first["counts"].values.tolist() == [[9, positive, two_pixels]]
    for source in (with_images, params_only):
        again = tmp_path / f"again_{source.name}"
        assert main(["process", "--input", str(source), "--output", str(again), CRITERIA, "--no-progress"]) == 0
        stats = iactx.open_dl1(again)["statistics/image_quality"].ds
        if source == with_images:  # recomputed with the new criteria
            assert stats["criterion"].values.tolist() == ["TOTAL", "enough_pixels", "enough_charge"]
        else:  # the parameters and the statistics of the first processing
            np.testing.assert_array_equal(stats["counts"].values, first["counts"].values)
