"""Toy event trees: the reader's data model, known truth, reproducibility."""

import numpy as np
import pytest
import xarray as xr

from conftest import data_file
from iactx.coordinates.projections import altaz_to_telescope, angular_separation
from iactx.image import hillas_parameters
from iactx.instrument import SubarrayDescription
from iactx.instrument.builtin import mini_subarray, toy_subarray
from iactx.io import available_sources, open_events, read_simtel, toy_events
from iactx.io.event_tree import check_tree
from iactx.io.toy import ToySource, toy_event_batches

#: variables the sim_telarray reader puts into every camera group
READER_VARIABLES = ("waveform", "selected_gain", "time_shift", "pointing_alt", "pointing_az", "focal_length",
                    "reference_pulse_shape")
GAMMA_TRUTH = ("true_hillas_intensity", "true_hillas_fov_lon", "true_hillas_fov_lat", "true_hillas_length",
               "true_hillas_width", "true_hillas_psi", "true_hillas_skewness", "true_timing_slope",
               "true_timing_intercept", "true_impact_distance")
MUON_TRUTH = ("true_hillas_intensity", "true_muonring_center_fov_lon", "true_muonring_center_fov_lat",
              "true_muonring_radius", "true_muonring_width", "true_impact_distance")


@pytest.fixture(scope="module")
def gammas():
    return toy_events(150, seed=1)


@pytest.fixture(scope="module")
def muons():
    return toy_events(60, kind="muon", seed=2)


def cameras(tree):
    return [name for name, node in tree.children.items() if "tel_event" in node.dims]


def assert_event_tree(tree):
    """Structure shared by every source: the data-model check plus the reader's variables and dtypes."""
    names = check_tree(tree)
    assert names == cameras(tree) and names
    root = tree.to_dataset(inherit=False)
    assert root["trigger_time"].dtype == np.dtype("datetime64[ns]")
    assert root["event_type"].dtype == np.int16
    assert root["true_shower_primary_id"].dtype == np.int32
    for name in ("true_energy", "true_alt", "true_az", "true_core_x", "true_core_y", "true_x_max",
                 "array_altitude", "array_azimuth"):
        assert root[name].dtype == np.float64 and "units" in root[name].attrs
    assert SubarrayDescription.from_tree(tree).to_dataset().identical(tree["instrument"].to_dataset())
    for name in names:
        cam = tree[name].to_dataset(inherit=False)
        for var in READER_VARIABLES:
            assert var in cam, f"/{name} lacks {var}"
        assert cam["waveform"].dtype == np.float32 and cam["selected_gain"].dtype == np.int8
        assert cam["time_shift"].dtype == np.float32 and cam["focal_length"].dtype == np.float64
        assert cam.sizes["sample"] == cam.attrs["n_samples"]
        assert cam.sizes["pixel"] == cam["pix_x"].size
        if "true_image" in cam:
            assert cam["true_image"].dtype == np.int32


@pytest.mark.parametrize("source", ["toy gamma", "toy muon", "toy mini", "simtel"])
def test_toy_and_simtel_trees_pass_the_same_structural_checks(source, gammas, muons):
    if source == "simtel":
        tree = read_simtel(data_file("camsettings_v6.simtel.zst"))
    else:
        tree = {"toy gamma": gammas, "toy muon": muons}.get(source) or toy_events(10, subarray="mini", seed=3)
    assert_event_tree(tree)


def test_toy_tree_has_the_readers_variables_dtypes_and_units(gammas):
    simtel = read_simtel(data_file("camsettings_v6.simtel.zst"))
    for node in ("/", "/instrument"):
        ours, theirs = gammas[node].to_dataset(inherit=False), simtel[node].to_dataset(inherit=False)
        for var in theirs.variables:
            assert var in ours.variables, f"{node} lacks {var}"
            assert ours[var].dtype.kind == theirs[var].dtype.kind
            assert ours[var].attrs.get("units") == theirs[var].attrs.get("units")
        assert set(theirs.attrs) <= set(ours.attrs)
    ours, theirs = gammas["ToyHexCam"].to_dataset(inherit=False), simtel["LSTcam"].to_dataset(inherit=False)
    for var in theirs.variables:
        assert var in ours.variables, f"camera group lacks {var}"
        same_dtype = ours[var].dtype == theirs[var].dtype or ours[var].dtype.kind == theirs[var].dtype.kind == "U"
        assert ours[var].dims == theirs[var].dims and same_dtype, var
        assert ours[var].attrs.get("units") == theirs[var].attrs.get("units"), var
    assert set(theirs.attrs) <= set(ours.attrs)


def test_gamma_tree_contents(gammas):
    assert gammas.sizes["event"] == 150
    assert cameras(gammas) == ["ToyHexCam", "ToySquareCam"]
    root = gammas.ds
    assert root.attrs["source"] == "toy" and root.attrs["toy_kind"] == "gamma"
    assert np.all(root["true_energy"] >= 0.02) and np.all(root["true_energy"] <= 50)
    np.testing.assert_array_equal(root["true_shower_primary_id"], 0)
    np.testing.assert_array_equal(root["event_type"], 32)
    # point source on the optical axis by default
    np.testing.assert_allclose(angular_separation(root["true_alt"], root["true_az"], 70.0, 0.0), 0, atol=1e-9)
    assert np.all(np.hypot(root["true_core_x"], root["true_core_y"]) <= 400)
    assert np.all(np.diff(root["event_id"].values) > 0)
    assert np.all(np.diff(root["trigger_time"].values) > np.timedelta64(0))
    assert root.attrs["simulation_n_showers"] >= 150
    per_event = np.zeros(150, int)
    for name in cameras(gammas):
        cam = gammas[name].ds
        for var in GAMMA_TRUTH:
            assert cam[var].dims == ("tel_event",) and np.all(np.isfinite(cam[var]))
        assert cam["true_hillas_psi"].attrs["units"] == "deg" and cam["true_timing_slope"].attrs["units"] == "ns / deg"
        assert np.all((cam["true_hillas_psi"] > -90) & (cam["true_hillas_psi"] <= 90))
        assert np.all(cam["true_hillas_width"] <= cam["true_hillas_length"])
        np.testing.assert_array_equal(cam["selected_gain"], 0)
        np.testing.assert_array_equal(cam["pointing_alt"], 70.0)
        assert np.all(cam["true_hillas_intensity"] >= 50)  # trigger threshold
        events = np.searchsorted(root["event_id"].values, cam["event"].values)
        np.add.at(per_event, events, 1)
    assert per_event.min() >= 2  # stereo trigger


def test_gamma_images_point_back_to_the_source():
    tree = toy_events(80, seed=4, viewcone=2.0)
    root = tree.ds
    offsets = angular_separation(root["true_alt"], root["true_az"], 70.0, 0.0)
    assert 0 < offsets.max() <= 2.0
    for name in cameras(tree):
        cam = tree[name].ds
        row = np.searchsorted(root["event_id"].values, cam["event"].values)
        lon, lat = altaz_to_telescope(root["true_alt"].values[row], root["true_az"].values[row], 70.0, 0.0)
        psi = np.deg2rad(cam["true_hillas_psi"].values)
        d_lon, d_lat = lon - cam["true_hillas_fov_lon"].values, lat - cam["true_hillas_fov_lat"].values
        # the major axis passes through the source, the light tail points away from it
        np.testing.assert_allclose(-d_lon * np.sin(psi) + d_lat * np.cos(psi), 0, atol=1e-9)
        along = d_lon * np.cos(psi) + d_lat * np.sin(psi)
        assert np.all(np.sign(cam["true_hillas_skewness"].values) == -np.sign(along))


def test_true_images_carry_the_declared_parameters(gammas):
    for name in cameras(gammas):
        cam = gammas[name].ds
        image = cam["true_image"]
        size = image.sum("pixel").values
        intensity = cam["true_hillas_intensity"].values
        contained = (np.hypot(cam["true_hillas_fov_lon"], cam["true_hillas_fov_lat"]).values
                     + 3 * cam["true_hillas_length"].values < 0.8 * _fov_radius(cam))
        assert contained.sum() > 20
        # Poisson counts of the expected intensity
        pull = (size - intensity)[contained] / np.sqrt(intensity[contained])
        assert abs(pull.mean()) < 4 / np.sqrt(pull.size) and 0.7 < pull.std() < 1.3
        # Hillas parameters of bright true images match the truth on average
        dims = ("tel_event", "pixel")
        hillas = hillas_parameters(cam.assign(image=(dims, image.values.astype(np.float32)),
                                              image_mask=(dims, image.values > 0)))
        bright = contained & (size > 200)
        assert bright.sum() > 10
        for var in ("length", "width"):
            ratio = hillas[f"hillas_{var}"].values[bright] / cam[f"true_hillas_{var}"].values[bright]
            assert np.median(ratio) == pytest.approx(1.0, abs=0.05), (name, var)
        d_psi = (hillas["hillas_psi"].values - cam["true_hillas_psi"].values + 90) % 180 - 90
        assert np.median(np.abs(d_psi[bright])) < 3.0
        for var in ("fov_lon", "fov_lat"):
            error = hillas[f"hillas_{var}"].values[bright] - cam[f"true_hillas_{var}"].values[bright]
            assert np.median(np.abs(error)) < 0.3 * np.median(cam["true_hillas_width"].values[bright])


def _fov_radius(cam):
    return np.rad2deg(np.hypot(cam["pix_x"], cam["pix_y"]).max().item() / cam["focal_length"].values[0])


def test_waveforms_hold_the_true_image():
    tree = toy_events(20, seed=5, nsb_rate=0.0, electronic_noise=0.0)
    for name in cameras(tree):
        cam = tree[name].ds
        charge = cam["waveform"].sum("sample").values
        image = cam["true_image"].values
        # pulses near the window edges lose their tails; elsewhere the sum is the charge
        inside = (cam["true_peak_time"] > 8).values & (cam["true_peak_time"] < 0.6 * cam.attrs["n_samples"]
                                                        / cam.attrs["sampling_rate"]).values
        np.testing.assert_allclose(charge[inside], image[inside], rtol=1e-3)
        np.testing.assert_array_equal(charge[image == 0], 0)
        assert np.all(np.isnan(cam["true_peak_time"].values[image == 0]))


def test_timing_truth_matches_peak_times(gammas):
    cam = gammas["ToyHexCam"].ds
    f = cam["focal_length"].values[:, None]
    lon, lat = np.rad2deg(cam["pix_y"].values / f), np.rad2deg(cam["pix_x"].values / f)
    psi = np.deg2rad(cam["true_hillas_psi"].values)[:, None]
    along = ((lon - cam["true_hillas_fov_lon"].values[:, None]) * np.cos(psi)
             + (lat - cam["true_hillas_fov_lat"].values[:, None]) * np.sin(psi))
    expected = cam["true_timing_intercept"].values[:, None] + cam["true_timing_slope"].values[:, None] * along
    has_signal = cam["true_image"].values > 0
    np.testing.assert_allclose(cam["true_peak_time"].values[has_signal], expected[has_signal], rtol=1e-5, atol=1e-4)


def test_waveform_noise_is_pedestal_subtracted(gammas):
    cam = gammas["ToySquareCam"].ds
    dark = (cam["true_image"] == 0).values
    samples = cam["waveform"].values[dark]
    assert samples.mean() == pytest.approx(0.0, abs=0.01)
    window = cam.attrs["n_samples"] / cam.attrs["sampling_rate"]
    expected = 0.2 * window + 0.2**2 * cam.attrs["n_samples"]  # background and noise of the defaults
    assert samples.sum(axis=-1).var() == pytest.approx(expected, rel=0.1)


def test_muon_tree(muons):
    assert_event_tree(muons)
    root = muons.ds
    assert root.sizes["event"] == 60
    assert set(np.unique(root["true_shower_primary_id"])) <= {5, 6}
    assert np.all(np.isnan(root["true_x_max"]))
    n_tel_events = 0
    for name in cameras(muons):
        cam = muons[name].ds
        n_tel_events += cam.sizes["tel_event"]
        for var in MUON_TRUTH:
            assert var in cam and np.all(np.isfinite(cam[var]))
        assert "true_hillas_psi" not in cam
        radius = cam["true_muonring_radius"].values
        assert np.all((radius > 0.5) & (radius < 1.25))
        mirror = np.sqrt(muons["instrument"].ds["mirror_area"].max().item() / np.pi)
        assert np.all(cam["true_impact_distance"] <= mirror)
        # the ring centre is the muon direction
        row = np.searchsorted(root["event_id"].values, cam["event"].values)
        lon, lat = altaz_to_telescope(root["true_alt"].values[row], root["true_az"].values[row], 70.0, 0.0)
        np.testing.assert_allclose(lon, cam["true_muonring_center_fov_lon"], atol=1e-9)
        np.testing.assert_allclose(lat, cam["true_muonring_center_fov_lat"], atol=1e-9)
    assert n_tel_events == 60  # one telescope per muon


def test_same_seed_same_events_different_seed_different_events():
    a = toy_events(8, subarray="mini", seed=7)
    b = toy_events(8, subarray="mini", seed=7)
    c = toy_events(8, subarray="mini", seed=8)
    assert a.identical(b)
    assert not np.array_equal(a.ds["true_energy"], c.ds["true_energy"])
    assert not np.array_equal(a["ToyMiniCam"].ds["waveform"][0], c["ToyMiniCam"].ds["waveform"][0])


def test_batches_continue_the_run():
    batches = list(toy_event_batches(25, batch_size=10, subarray="mini", seed=9))
    assert [b.sizes["event"] for b in batches] == [10, 10, 5]
    ids = np.concatenate([b.ds["event_id"].values for b in batches])
    assert np.all(np.diff(ids) > 0)
    times = np.concatenate([b.ds["trigger_time"].values for b in batches])
    assert np.all(np.diff(times) > np.timedelta64(0))
    again = list(toy_event_batches(25, batch_size=10, subarray="mini", seed=9))
    assert all(x.identical(y) for x, y in zip(batches, again))


def test_registry_lists_the_toy_source():
    assert "toy" in [s.name for s in available_sources()]
    tree = open_events("toy:muon", n_events=3, seed=1, subarray="mini")
    assert tree.sizes["event"] == 3 and tree.attrs["toy_kind"] == "muon"
    assert open_events("toy", n_events=2, seed=1, subarray="mini").attrs["toy_kind"] == "gamma"
    assert not ToySource.is_compatible(data_file("lst_with_photons.simtel.zst"))
    with pytest.raises(ValueError, match="not a toy address"):
        ToySource.read("gamma")


def test_toy_tree_round_trips_through_a_dl1_file(tmp_path):
    from iactx.io import open_dl1, write_dl1

    tree = toy_events(5, subarray="mini", seed=10)
    write_dl1(tree, tmp_path / "toy.nc")
    back = open_dl1(tmp_path / "toy.nc")
    for node in ("/", "/instrument", "/ToyMiniCam"):
        xr.testing.assert_identical(back[node].to_dataset(inherit=False), tree[node].to_dataset(inherit=False))


def test_custom_subarray_and_options():
    sub = toy_subarray(n_lst=1, n_mst=0)
    tree = toy_events(5, subarray=sub, seed=11, pointing_alt=60.0, pointing_az=90.0, energy_range=(0.1, 1.0))
    assert cameras(tree) == ["ToyHexCam"]
    assert tree.ds.attrs["simulation_energy_min"] == 0.1
    np.testing.assert_array_equal(tree["ToyHexCam"].ds["pointing_az"], 90.0)
    assert np.all((tree.ds["true_energy"] >= 0.1) & (tree.ds["true_energy"] <= 1.0))
    assert len(mini_subarray()) == len(toy_events(2, subarray="mini", seed=1)["instrument"].ds["tel"])


@pytest.mark.parametrize("options, message", [
    ({"kind": "proton"}, "kind 'proton'"),
    ({"nsb_rate": -1}, "nsb_rate"),
    ({"subarray": "huge"}, "subarray"),
    ({"energy_range": (1.0, 0.5)}, "energy_range"),
    ({"min_telescopes": 20}, "min_telescopes"),
    ({"pointing_alt": 95}, "pointing_alt"),
    ({"kind": "muon", "energy_range": (0.001, 0.1)}, "Cherenkov threshold"),
    ({"trigger_threshold": 1e12}, "lower trigger_threshold"),
])
def test_bad_options_are_named(options, message):
    with pytest.raises(ValueError, match=message):
        toy_events(3, **{"subarray": "mini", "seed": 1, **options})


def test_n_events_must_be_positive():
    with pytest.raises(ValueError, match="n_events"):
        toy_events(0)
