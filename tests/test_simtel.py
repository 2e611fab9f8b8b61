"""The sim_telarray reader on every sample file, checked against the file itself."""


import numpy as np
import pytest
from conftest import SAMPLE_FILES, data_file
from eventio import SimTelFile

import iactx
from iactx.io.event_tree import check_tree
from iactx.io.simtel import GAIN_THRESHOLD

pytestmark = pytest.mark.filterwarnings("ignore:.*no effective focal length")


def read(name, **options):
    calibration = name.startswith("calib")
    return iactx.read_simtel(data_file(name), calibration_events=calibration, **options)


def test_counts_and_cameras(sample_name):
    tree = read(sample_name)
    expected = SAMPLE_FILES[sample_name]
    assert tree.sizes["event"] == expected["n_events"]
    assert tree["instrument"].sizes["tel"] == expected["n_tels"]
    assert set(tree.iact.cameras) == expected["cameras"]
    assert check_tree(tree)


def test_groups_have_the_data_model_layout(sample_name):
    tree = read(sample_name)
    for name in tree.iact.cameras:
        cam = tree[name].ds
        n_pixels = cam.sizes["pixel"]
        assert list(cam.indexes["tel_event"].names) == ["obs_id", "event", "tel"]
        assert cam["waveform"].dims == ("tel_event", "pixel", "sample")
        assert cam["waveform"].dtype == np.float32
        assert cam["waveform"].attrs["units"] == "pe"
        assert cam["selected_gain"].dtype == np.int8
        assert cam.sizes["sample"] == cam.attrs["n_samples"]
        assert cam["pix_x"].shape == (n_pixels,)
        assert cam["neighbors"].shape[0] == n_pixels
        assert cam["reference_pulse_shape"].dims == ("readout_tel", "gain", "pulse_sample")
        assert set(cam["readout_tel"].values) == set(
            tree["instrument"].ds["tel"].values[tree["instrument"].ds["camera_name"].values == name])
        assert np.all(cam["focal_length"] > 0)


def _expected_event_ids(events):
    """Event ids as the reader assigns them: calibration events without id count down from -1."""
    ids, pseudo = [], 0
    for event in events:
        if event.get("event_id", 0) == 0:
            pseudo -= 1
        ids.append(event.get("event_id", 0) or pseudo)
    return ids


def _selected_gain(adc):
    if adc.shape[0] == 1:
        return np.zeros(adc.shape[1], np.int8)
    return (adc[0] > GAIN_THRESHOLD).any(axis=-1).astype(np.int8)


def test_waveform_is_the_calibration_formula_of_the_raw_samples(sample_name):
    """Recompute R1 from eventio's raw samples and the file's calibration."""
    calibration = sample_name.startswith("calib")
    tree = read(sample_name, keep_r0=True)
    checked = 0
    with SimTelFile(str(data_file(sample_name)), skip_calibration=not calibration) as f:
        events = list(f)
    for event_id, event in zip(_expected_event_ids(events), events):
        for tel_id, tel_event in event["telescope_events"].items():
            camera = tree["instrument"].ds["camera_name"].sel(tel=tel_id).item()
            obs_id = tree.ds["obs_id"].values[0]
            cam = tree[camera].ds.sel(tel_event=(obs_id, event_id, tel_id))
            adc = tel_event.get("adc_samples")
            if adc is None:
                adc = tel_event["adc_sums"][:, :, np.newaxis]
            monitoring = event["camera_monitorings"][tel_id]
            pedestal = monitoring["pedestal"] / monitoring["n_ped_slices"]
            dc_to_pe = event["laser_calibrations"][tel_id]["calib"]
            gain = _selected_gain(adc)
            pixels = np.arange(adc.shape[1])
            expected = (adc[gain, pixels].astype(np.float64) - pedestal[gain, pixels, None]) \
                * dc_to_pe[gain, pixels, None]
            np.testing.assert_array_equal(cam["selected_gain"].values, gain)
            np.testing.assert_allclose(cam["waveform"].values, expected, rtol=1e-5, atol=1e-5)
            np.testing.assert_array_equal(cam["r0"].values, adc)
            checked += 1
    assert checked == sum(tree[c].sizes["tel_event"] for c in tree.iact.cameras)


def test_truth_and_positions_as_in_the_file(sample_name):
    calibration = sample_name.startswith("calib")
    tree = read(sample_name)
    with SimTelFile(str(data_file(sample_name)), skip_calibration=not calibration) as f:
        positions = dict(zip(f.header["tel_id"], f.header["tel_pos"]))
        events = list(f)
    inst = tree["instrument"].ds
    for tel_id in inst["tel"].values:
        np.testing.assert_allclose(
            [inst["pos_x"].sel(tel=tel_id), inst["pos_y"].sel(tel=tel_id), inst["pos_z"].sel(tel=tel_id)],
            positions[tel_id], rtol=1e-6)
    np.testing.assert_array_equal(tree.ds["event_id"].values, _expected_event_ids(events))
    for i, event in enumerate(events):
        if event["type"] == "data":
            assert tree.ds["true_energy"].values[i] == pytest.approx(event["mc_shower"]["energy"], rel=1e-6)
            assert tree.ds["true_core_x"].values[i] == pytest.approx(event["mc_event"]["xcore"], rel=1e-6)
            assert tree.ds["true_az"].values[i] == pytest.approx(np.rad2deg(event["mc_shower"]["azimuth"]) % 360, abs=1e-5) \
                or tree.ds["true_az"].values[i] == pytest.approx(np.rad2deg(event["mc_shower"]["azimuth"]), abs=1e-5)
            assert tree.ds["event_type"].values[i] == 32
        else:
            assert np.isnan(tree.ds["true_energy"].values[i])


def test_stereo_event_of_camsettings_v6():
    tree = read("camsettings_v6.simtel.zst")
    assert tree["LSTcam"].ds["tel"].values.tolist() == [1, 2, 3, 4]
    assert tree["NectarCam"].ds["tel"].values.tolist() == [5, 9, 10, 14, 19]
    assert tree.ds["true_energy"].item() == pytest.approx(0.2, rel=1e-6)
    assert tree["LSTcam"].ds.sizes["sample"] == 40
    assert tree["NectarCam"].ds.sizes["sample"] == 60
    # effective focal lengths from the file
    np.testing.assert_allclose(tree["LSTcam"].ds["focal_length"], 29.237, atol=1e-3)
    # LST-1 has its own reference pulse
    pulses = tree["LSTcam"].ds["reference_pulse_shape"]
    assert not np.allclose(pulses.sel(readout_tel=1), pulses.sel(readout_tel=2))
    np.testing.assert_allclose(pulses.sel(readout_tel=2), pulses.sel(readout_tel=3))


def test_true_images_and_selection():
    tree = read("lst_muons_with_true_photons.simtel.zst")
    true_image = tree["LSTCam"].ds["true_image"]
    assert true_image.dtype == np.int32
    assert true_image.sum() > 1000  # three muon rings
    one = iactx.read_simtel(data_file("lst_muons_with_true_photons.simtel.zst"), max_events=2)
    assert one.sizes["event"] == 2
    with pytest.raises(ValueError, match=r"allowed_tels \[42\] are not in the file"):
        iactx.read_simtel(data_file("lst_muons_with_true_photons.simtel.zst"), allowed_tels=[42])


def test_allowed_tels_selects_telescopes():
    tree = iactx.read_simtel(data_file("camsettings_v6.simtel.zst"), allowed_tels=[1, 5, 9])
    assert tree["instrument"].ds["tel"].values.tolist() == [1, 5, 9]
    assert tree["LSTcam"].ds["tel"].values.tolist() == [1]
    assert tree["NectarCam"].ds["tel"].values.tolist() == [5, 9]


def test_focal_length_fallback_warns():
    with pytest.warns(iactx.io.FocalLengthFallbackWarning, match="no effective focal length for telescopes"):
        tree = iactx.read_simtel(data_file("calib_events.simtel.gz"), calibration_events=True)
    np.testing.assert_allclose(tree["LSTCam"].ds["focal_length"], 28.0)
    equivalent = iactx.read_simtel(data_file("camsettings_v6.simtel.zst"), focal_length="equivalent")
    np.testing.assert_allclose(equivalent["LSTcam"].ds["focal_length"], 28.0)


def test_batches_cover_the_file():
    path = data_file("lst_muons_with_true_photons.simtel.zst")
    batches = list(iactx.iter_simtel(path, batch_size=2))
    assert [b.sizes["event"] for b in batches] == [2, 1]
    whole = iactx.read_simtel(path)
    np.testing.assert_array_equal(
        np.concatenate([b["LSTCam"].ds["waveform"].values for b in batches]), whole["LSTCam"].ds["waveform"].values)
    # one telescope event of this file is 1855 pixels x 30 samples of float32 = 222 600 bytes
    by_bytes = list(iactx.iter_simtel(path, batch_size=100, batch_bytes=2 * 222_600))
    assert [b.sizes["event"] for b in by_bytes] == [2, 1]
    assert [b.sizes["event"] for b in iactx.iter_simtel(path, batch_bytes=1)] == [1, 1, 1]


def test_open_events_picks_the_reader_by_content(tmp_path):
    source = data_file("lst_with_photons.simtel.zst")
    renamed = tmp_path / "no_extension"
    renamed.write_bytes(source.read_bytes())
    tree = iactx.open_events(renamed)
    assert tree.sizes["event"] == 1
    out = tmp_path / "events.h5"
    iactx.write_dl1(tree, out)
    assert iactx.open_events(out).sizes["event"] == 1


def test_camera_groups_carry_their_telescopes_columns():
    tree = read("camsettings_v6.simtel.zst")
    inst = tree["instrument"].ds
    for name in tree.iact.cameras:
        cam = tree[name].ds
        rows = inst.sel(tel=cam["readout_tel"].values)
        for column in ("tel_type", "mirror_area", "n_mirrors", "equivalent_focal_length"):
            np.testing.assert_array_equal(cam[column].values, rows[column].values)


def test_muon_chain_on_a_bare_camera_group():
    """The chain of the muon issue, with default options, on a group alone."""
    cam = read("lst_muons_with_true_photons.simtel.zst")["LSTCam"].to_dataset()
    muons = cam.iact.calibrate().iact.clean().iact.muon_fit()
    np.testing.assert_allclose(muons["muonring_radius"], 1.2, atol=0.05)
    assert np.all(muons["muonefficiency_optical_efficiency"] > 0.1)


def test_true_images_are_the_counts_eventio_parses(sample_name, monkeypatch):
    from iactx.io import simtel_stream

    counted = simtel_stream._photoelectron_counts
    compared = []

    def compared_with_eventio(block):
        counts = counted(block)
        expected = simtel_stream._parse(block)["photoelectrons"]
        assert counts.dtype == np.int32
        np.testing.assert_array_equal(counts, expected)
        compared.append(int(counts.sum()))
        return counts

    monkeypatch.setattr(simtel_stream, "_photoelectron_counts", compared_with_eventio)
    tree = read(sample_name)
    if sample_name.startswith("lst"):  # the samples with true images
        assert compared and sum(compared) > 0
        assert all("true_image" in tree[name].ds for name in tree.iact.cameras)
