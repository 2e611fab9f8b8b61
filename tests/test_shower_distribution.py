"""The simulated-shower distribution: read with the events, kept on disk and when runs are merged."""

import eventio
import numpy as np
import pytest
from conftest import data_file

import iactx
from iactx.io.simtel_runs import write_run
from iactx.io.shower_distribution import SHOWER_DISTRIBUTION_PATH

pytestmark = pytest.mark.filterwarnings("ignore:.*no effective focal length")


def eventio_histogram(path, hist_id=6):
    with eventio.EventIOFile(str(path)) as f:
        for obj in f:
            if isinstance(obj, eventio.Histograms):
                return next(h for h in obj.parse() if h["id"] == hist_id)
    raise AssertionError(f"{path} has no histograms")


def test_distribution_equals_eventio_histograms(sample_name):
    path = data_file(sample_name)
    expected = eventio_histogram(path)
    dist = iactx.read_simtel(path, calibration_events=sample_name.startswith("calib"))[SHOWER_DISTRIBUTION_PATH].ds
    assert dist["histogram"].shape == (1, expected["n_bins_y"], expected["n_bins_x"])
    np.testing.assert_array_equal(dist["histogram"].values[0], expected["data"])
    assert dist["histogram"].sum() > 0 or expected["entries"] == 0
    np.testing.assert_allclose(dist["bins_core_dist"].values[0], np.linspace(expected["lower_x"], expected["upper_x"],
                                                                              expected["n_bins_x"] + 1))
    np.testing.assert_allclose(np.log10(dist["bins_energy"].values[0]),
                               np.linspace(expected["lower_y"], expected["upper_y"], expected["n_bins_y"] + 1))
    assert int(dist["n_entries"][0]) == expected["entries"]
    assert dist["bins_energy"].attrs["units"] == "TeV" and dist["bins_core_dist"].attrs["units"] == "m"


def test_last_batch_carries_the_distribution():
    path = data_file("lst_muons_with_true_photons.simtel.zst")
    batches = list(iactx.iter_simtel(path, batch_size=1))
    assert [SHOWER_DISTRIBUTION_PATH in {n.path for n in b.subtree} for b in batches] == [False, False, True]
    assert int(batches[-1][SHOWER_DISTRIBUTION_PATH].ds["obs_id"][0]) == int(batches[0]["obs_id"][0])


def test_a_run_cut_short_has_no_distribution():
    tree = iactx.read_simtel(data_file("lst_muons_with_true_photons.simtel.zst"), max_events=1)
    assert SHOWER_DISTRIBUTION_PATH not in {n.path for n in tree.subtree}


def test_two_inputs_give_one_row_each(tmp_path):
    sample = data_file("lst_muons_with_true_photons.simtel.zst")
    inputs = [sample, write_run(sample, tmp_path / "run15.simtel.zst", 15)]
    out = tmp_path / "two.dl1.nc"
    from iactx.tools.cli import main

    assert main(["process", "--input", *map(str, inputs), "--output", str(out), "--no-progress"]) == 0
    dist = iactx.open_dl1(out)[SHOWER_DISTRIBUTION_PATH].ds
    singles = [iactx.read_simtel(p)[SHOWER_DISTRIBUTION_PATH].ds for p in inputs]
    assert dist["obs_id"].values.tolist() == [int(s["obs_id"][0]) for s in singles] == [14, 15]
    for row, single in zip(dist["histogram"].values, singles):
        np.testing.assert_array_equal(row, single["histogram"].values[0])
