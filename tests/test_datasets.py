"""Example data: sample files found locally, downloaded or reported missing; toy datasets."""

import hashlib
import os
import shutil

import pytest

from conftest import SAMPLE_FILES, data_dir, data_file
from iactx import datasets

#: the sample files' folder, read before any test changes IACTX_DATA_PATH
_DATA = data_dir()


def _real(name):
    """A sample file from the real data folder; skip (or fail under CI) without it."""
    if _DATA is None or not (_DATA / name).is_file():
        return data_file(name)
    return _DATA / name


@pytest.fixture
def no_download(monkeypatch):
    """pooch that fails like a machine without network."""
    import pooch

    calls = []

    def offline(url, **kwargs):
        calls.append((url, kwargs))
        raise OSError("network is unreachable")

    monkeypatch.setattr(pooch, "retrieve", offline)
    return calls


@pytest.fixture
def empty_places(tmp_path, monkeypatch):
    """No local copies: an empty data folder and an empty cache."""
    (tmp_path / "data").mkdir()
    monkeypatch.setenv("IACTX_DATA_PATH", str(tmp_path / "data"))
    monkeypatch.setenv("IACTX_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_registry_lists_the_sample_files_with_their_addresses():
    assert set(datasets.SAMPLE_FILES) == set(SAMPLE_FILES)
    for name, sample in datasets.SAMPLE_FILES.items():
        assert len(sample.sha256) == 64 and int(sample.sha256, 16) >= 0
        assert sample.url == f"https://github.com/cta-observatory/pyeventio/raw/main/tests/resources/{name}"
    assert datasets.names()[: len(SAMPLE_FILES)] == list(datasets.SAMPLE_FILES)
    assert {"toy_gamma", "toy_muon", "toy_mini"} <= set(datasets.names())


def test_published_sums_match_the_local_files(sample_name):
    path = data_file(sample_name)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == datasets.SAMPLE_FILES[sample_name].sha256


def test_get_finds_the_file_in_iactx_data_path(sample_name, no_download):
    path = data_file(sample_name)
    assert datasets.get(sample_name) == path
    assert not no_download


def test_several_folders_in_iactx_data_path(tmp_path, monkeypatch, no_download):
    source = _real("lst_with_photons.simtel.zst")
    (tmp_path / "b").mkdir()
    shutil.copy(source, tmp_path / "b")
    monkeypatch.setenv("IACTX_DATA_PATH", os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b")]))
    assert datasets.get("lst_with_photons.simtel.zst") == tmp_path / "b" / "lst_with_photons.simtel.zst"


def test_missing_file_without_network_says_where_to_put_it(empty_places, no_download):
    name = "camsettings_v6.simtel.zst"
    with pytest.raises(datasets.DatasetNotFoundError) as info:
        datasets.get(name)
    message = str(info.value)
    assert name in message and "IACTX_DATA_PATH" in message
    assert str(empty_places / "data") in message and str(empty_places / "cache") in message
    assert datasets.SAMPLE_FILES[name].url in message and "network is unreachable" in message
    assert isinstance(info.value, FileNotFoundError)
    url, kwargs = no_download[0]
    assert url == datasets.SAMPLE_FILES[name].url
    assert kwargs["known_hash"] == f"sha256:{datasets.SAMPLE_FILES[name].sha256}"


def test_download_goes_to_the_cache_and_is_found_there(empty_places, monkeypatch):
    import pooch

    name = "lst_with_photons.simtel.zst"
    source = _real(name)
    calls = []

    def fake_retrieve(url, known_hash, fname, path, progressbar):
        calls.append(url)
        path.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, path / fname)
        return str(path / fname)

    monkeypatch.setattr(pooch, "retrieve", fake_retrieve)
    first = datasets.get(name)
    assert first == empty_places / "cache" / name and len(calls) == 1
    assert datasets.get(name) == first and len(calls) == 1  # the cached copy, checked, no new download


def test_corrupt_local_copy_is_refused(empty_places, no_download):
    name = "lst_with_photons.simtel.zst"
    (empty_places / "data" / name).write_bytes(b"not the file")
    with pytest.raises(ValueError, match="does not match the published"):
        datasets.get(name)


def test_unknown_names_suggest_close_ones():
    with pytest.raises(KeyError, match="did you mean 'lst_with_photons.simtel.zst'"):
        datasets.get("lst_with_photon.simtel.zst")
    with pytest.raises(KeyError, match="toy dataset"):
        datasets.get("toy_gamma")


def test_load_reads_sample_files():
    data_file("lst_muons_with_true_photons.simtel.zst")
    tree = datasets.load("lst_muons_with_true_photons.simtel.zst")
    assert tree.sizes["event"] == 3


def test_toy_datasets_are_reproducible():
    a = datasets.load("toy_mini")
    assert a.sizes["event"] == 50 and a.attrs["toy_kind"] == "gamma"
    assert a.identical(datasets.load("toy_mini"))
    small = datasets.load("toy_muon", n_events=4, subarray="mini")
    assert small.sizes["event"] == 4 and small.attrs["toy_kind"] == "muon"


def test_make_runs_gives_distinct_runs_of_the_same_events(tmp_path):
    import warnings

    import numpy as np

    import iactx

    paths = datasets.make_runs(tmp_path / "prod", 2, sample="lst_muons_with_true_photons.simtel.zst", repeats=2,
                               first_run=7)
    assert [p.name for p in paths] == ["run_000007.simtel.zst", "run_000008.simtel.zst"]
    original = iactx.read_simtel(data_file("lst_muons_with_true_photons.simtel.zst"))
    for run, path in zip((7, 8), paths):
        with warnings.catch_warnings():
            warnings.simplefilter("error", iactx.io.simtel.RepeatedEventIdWarning)  # the repeats have new ids
            tree = iactx.read_simtel(path)
        assert set(tree["obs_id"].values.tolist()) == {run}
        assert tree["event_id"].values.tolist() == [100, 200, 300, 500, 600, 700]  # 100 * shower + reuse
        waveform = tree["LSTCam"].ds["waveform"].values
        np.testing.assert_array_equal(waveform[:3], original["LSTCam"].ds["waveform"].values)
        np.testing.assert_array_equal(waveform[3:], waveform[:3])
        np.testing.assert_array_equal(tree["true_energy"].values, np.tile(original["true_energy"].values, 2))
        assert tree["simulation/shower_distribution"].ds["obs_id"].values.tolist() == [run]
    with pytest.raises(ValueError, match="repeats must be at least 1"):
        datasets.make_runs(tmp_path / "none", 1, repeats=0)
