"""Labelled calibration: camera groups and event trees -> image, peak_time."""

import warnings

import numpy as np
import pytest
import xarray as xr

import iactx
from iactx.calib.calibrator import calibrate, calibrate_tree, tel_types_of
from iactx.calib.extractors import EXTRACTORS, NeighborPeakWindowSum, make_extractor
from iactx.io.event_tree import tel_event_index

from conftest import SAMPLE_FILES, data_file

WINDOWED = ["FixedWindowSum", "GlobalPeakWindowSum", "LocalPeakWindowSum", "SlidingWindowMaxSum",
            "NeighborPeakWindowSum", "BaselineSubtractedNeighborPeakWindowSum", "TwoPassWindowSum"]


def read(name, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # focal-length fallback notes
        return iactx.read_simtel(data_file(name), calibration_events="calib_events" in name, **kwargs)


@pytest.fixture(scope="module")
def lst_group():
    return read("lst_with_photons.simtel.zst")["LSTCam"].to_dataset(inherit=False)


@pytest.fixture(scope="module")
def stereo_tree():
    return read("camsettings_v6.simtel.zst")


# ----------------------------------------------------------------------------- toy waveforms


def toy_group(cam, t0, charges, n_samples=40):
    """The camera group ``cam`` with noiseless pulses: the reference pulse (high gain)
    arriving at ``t0[e]`` ns in every pixel, scaled to ``charges[e, p]`` pe."""
    pulse = cam["reference_pulse_shape"].values[0, 0]
    dt = float(cam.attrs["reference_pulse_sample_width"])
    period = 1.0 / float(cam.attrs["sampling_rate"])
    edges = np.arange(n_samples + 1) * period
    waveforms = []
    for e, start in enumerate(t0):
        sampled, _ = np.histogram(np.arange(pulse.size) * dt + start, edges, weights=pulse)
        sampled /= pulse.sum()
        waveforms.append(charges[e][:, None] * sampled[None, :])
    n = len(t0)
    base = cam.isel(tel_event=np.zeros(n, int)).drop_vars(
        ["tel_event", "obs_id", "event", "tel", "waveform", "selected_gain", "time_shift"])
    base = base.drop_dims("sample", errors="ignore")
    ds = base.assign(
        waveform=(("tel_event", "pixel", "sample"), np.asarray(waveforms, np.float32), {"units": "pe"}),
        selected_gain=(("tel_event", "pixel"), np.zeros((n, cam.sizes["pixel"]), np.int8)),
    )
    tel = int(cam["tel"].values[0])
    return ds.assign_coords(tel_event_index(np.ones(n), np.arange(n) + 1, np.full(n, tel)))


def reference_time(cam, name):
    """Peak time an extractor gives the reference pulse itself when it starts at t = 0 [ns].

    The peak time is a charge-weighted mean inside the window, so it sits a
    camera-dependent constant after the pulse's start (real data remove it
    with the time calibration); a pulse arriving at ``t0`` must come out at
    ``t0`` plus this constant.
    """
    pulse = cam["reference_pulse_shape"].values[0, 0]
    dt = float(cam.attrs["reference_pulse_sample_width"])
    period = 1.0 / float(cam.attrs["sampling_rate"])
    sampled, _ = np.histogram(np.arange(pulse.size) * dt, np.arange(41) * period, weights=pulse)
    if name == "FullWaveformSum":
        start, stop = 0, sampled.size
    elif name == "SlidingWindowMaxSum":
        start = int(np.argmax(np.convolve(sampled, np.ones(7), "valid")))
        stop = start + 7
    elif name == "TwoPassWindowSum":
        centre = int(np.argmax(np.convolve(sampled, np.ones(3), "same")[2:-2])) + 2
        start, stop = centre - 2, centre + 3
    else:
        start = int(np.argmax(sampled)) - 3
        stop = start + 7
    index = np.arange(start, stop)
    weights = np.clip(sampled[start:stop], 0, None)
    return float(np.sum(index * weights) / weights.sum()) * period


def run_toy(cam, name, t0, charges):
    toy = toy_group(cam, t0, charges)
    options = {}
    if name == "FixedWindowSum":
        # one window for every pixel, around the sampled pulse's maximum (t0 must be the same)
        options = {"peak_index": int(np.argmax(toy["waveform"].values[0, 0])), "window_shift": 3}
    return calibrate(toy, name, tel_types={1: "LST_LST_LSTCam"}, **options)


@pytest.mark.parametrize("name", WINDOWED + ["FullWaveformSum"])
def test_toy_pulses_recover_charge_and_time(lst_group, name):
    """Noiseless reference pulses arriving at whole samples: charge within 1 %, time within 0.1 ns."""
    rng = np.random.default_rng(1)
    t0 = np.array([6.0, 9.0, 12.0, 14.0, 15.0, 17.0])
    if name == "FixedWindowSum":
        t0 = np.full(3, 12.0)
    charges = rng.uniform(50, 500, (t0.size, lst_group.sizes["pixel"]))
    out = run_toy(lst_group, name, t0, charges)
    np.testing.assert_allclose(out["image"].values, charges, rtol=0.01)
    expected = t0[:, None] + reference_time(lst_group, name)
    np.testing.assert_allclose(out["peak_time"].values, np.broadcast_to(expected, charges.shape), atol=0.1)
    if name == "TwoPassWindowSum":
        assert out["is_valid"].values.all()


@pytest.mark.parametrize("name", WINDOWED)
def test_toy_pulses_between_samples(lst_group, name):
    """Arrival times between samples: the window sees a slightly different part of the pulse."""
    rng = np.random.default_rng(2)
    t0 = np.array([12.25, 12.5, 12.75, 13.1]) if name != "FixedWindowSum" else np.full(2, 12.25)
    charges = rng.uniform(50, 500, (t0.size, lst_group.sizes["pixel"]))
    out = run_toy(lst_group, name, t0, charges)
    np.testing.assert_allclose(out["image"].values, charges, rtol=0.05)
    expected = t0[:, None] + reference_time(lst_group, name)
    np.testing.assert_allclose(out["peak_time"].values, np.broadcast_to(expected, charges.shape), atol=0.3)


# ----------------------------------------------------------------------------- labelled layer


def test_dims_coords_attrs_and_input_untouched(lst_group):
    before = lst_group.copy(deep=True)
    out = lst_group.iact.calibrate()
    assert lst_group.identical(before)
    assert "image" not in lst_group
    assert out["image"].dims == ("tel_event", "pixel") and out["peak_time"].dims == ("tel_event", "pixel")
    assert out["image"].dtype == np.float32 and out["peak_time"].dtype == np.float32
    assert out["image"].attrs["units"] == "pe" and out["peak_time"].attrs["units"] == "ns"
    assert out["image"].attrs["extractor"] == "NeighborPeakWindowSum"
    assert out["image"].attrs["window_width"] == 7 and out["image"].attrs["window_shift"] == 3
    for name, var in lst_group.variables.items():
        assert out.variables[name].identical(var)
    assert out.indexes["tel_event"].equals(lst_group.indexes["tel_event"])
    assert out.attrs == lst_group.attrs
    assert out["image"].sel(tel=1).shape == (1, lst_group.sizes["pixel"])


def test_results_kept_are_never_overwritten_by_later_calls(lst_group):
    """Images come from memory reused once earlier results are dropped, never while they are alive."""
    first = lst_group.iact.calibrate()
    kept = first["image"].values.copy()
    again = [lst_group.iact.calibrate("LocalPeakWindowSum") for _ in range(3)]
    np.testing.assert_array_equal(first["image"].values, kept)
    del first
    del again[:2]
    repeated = lst_group.iact.calibrate()
    np.testing.assert_array_equal(repeated["image"].values, kept)


def test_camera_constants_changed_in_place_are_not_taken_from_earlier_calls(lst_group):
    """Neighbour lists and integration corrections are remembered by the constants' values, not by the arrays."""
    cam = lst_group.copy(deep=True)
    before = cam.iact.calibrate()
    pulses = cam["reference_pulse_shape"].values
    pulses[:] = np.roll(pulses, 40, axis=-1) ** 2  # in place: the same array object, other values
    neighbors = cam["neighbors"].values
    neighbors[:, 1:] = -1  # one neighbour per pixel at most
    after = cam.iact.calibrate()
    fresh = cam.copy(deep=True).iact.calibrate()  # new arrays with the changed values
    assert not np.array_equal(after["image"].values, before["image"].values)
    xr.testing.assert_identical(after, fresh)


def test_missing_reference_pulses_are_named(stereo_tree):
    cam = stereo_tree["NectarCam"].to_dataset(inherit=False)
    first = int(cam["readout_tel"].values[0])
    assert first in cam["tel"].values
    with pytest.raises(ValueError, match=rf"no reference pulse shape for telescopes \[{first}\]"):
        calibrate(cam.isel(readout_tel=slice(1, None)))
    with pytest.raises(ValueError, match="no reference pulse shape for telescopes"):
        calibrate(cam.isel(readout_tel=slice(0, 0)))


@pytest.mark.parametrize("name", list(EXTRACTORS))
def test_dask_gives_the_same_as_numpy(stereo_tree, name):
    cam = stereo_tree["NectarCam"].to_dataset(inherit=False)
    types = tel_types_of(stereo_tree)
    eager = calibrate(cam, name, tel_types=types)
    lazy = calibrate(cam.chunk({"tel_event": 2}), name, tel_types=types)
    assert lazy["image"].chunks is not None and lazy["peak_time"].chunks is not None
    xr.testing.assert_identical(lazy.compute(), eager)


def test_accessor_options_match_function(stereo_tree):
    cam = stereo_tree["LSTcam"].to_dataset(inherit=False)
    a = cam.iact.calibrate("LocalPeakWindowSum", window_width=5, window_shift=1)
    b = calibrate(cam, "LocalPeakWindowSum", window_width=5, window_shift=1)
    xr.testing.assert_identical(a, b)
    c = cam.iact.calibrate(options={"local_weight": 1})
    d = calibrate(cam, NeighborPeakWindowSum(local_weight=1))
    xr.testing.assert_identical(c, d)
    assert not np.array_equal(c["image"].values, cam.iact.calibrate()["image"].values)
    with pytest.raises(TypeError, match="both"):
        cam.iact.calibrate(window_width=5, options={"window_width": 6})
    with pytest.raises(ValueError, match="did you mean 'window_width'"):
        cam.iact.calibrate(options={"window_widht": 6})
    with pytest.raises(ValueError, match="did you mean 'LocalPeakWindowSum'"):
        cam.iact.calibrate("LocalPeakWindowsum")
    with pytest.raises(ValueError, match="bounds"):
        cam.iact.calibrate(window_width=0)


def test_per_telescope_options_follow_the_rule(stereo_tree):
    width = [("type", "*", 7), ("type", "MST*", 5), ("id", 2, 4)]
    tree = stereo_tree.iact.calibrate(window_width=width)
    lst = stereo_tree["LSTcam"].to_dataset(inherit=False)
    nectar = stereo_tree["NectarCam"].to_dataset(inherit=False)
    xr.testing.assert_identical(tree["NectarCam"].to_dataset(inherit=False), calibrate(nectar, window_width=5))
    got = tree["LSTcam"].to_dataset(inherit=False)
    seven, four = calibrate(lst, window_width=7), calibrate(lst, window_width=4)
    for i, tel in enumerate(lst["tel"].values):
        ref = four if tel == 2 else seven
        np.testing.assert_array_equal(got["image"].values[i], ref["image"].values[i])
        np.testing.assert_array_equal(got["peak_time"].values[i], ref["peak_time"].values[i])
    assert "window_width" not in got["image"].attrs  # not one value for the group
    with pytest.raises(ValueError, match="telescope type"):
        calibrate(lst, window_width=width)  # type rules need tel_types at the group level


def test_extractor_per_telescope(stereo_tree):
    rules = [("type", "*", "NeighborPeakWindowSum"), ("id", 3, "LocalPeakWindowSum"), ("id", 4, "TwoPassWindowSum")]
    lst = stereo_tree["LSTcam"].to_dataset(inherit=False)
    types = tel_types_of(stereo_tree)
    mixed = calibrate(lst, rules, tel_types=types)
    for i, tel in enumerate(lst["tel"].values):
        name = {3: "LocalPeakWindowSum", 4: "TwoPassWindowSum"}.get(int(tel), "NeighborPeakWindowSum")
        ref = calibrate(lst, name, tel_types=types)
        np.testing.assert_array_equal(mixed["image"].values[i], ref["image"].values[i])
    assert mixed["is_valid"].dtype == bool and mixed["is_valid"].dims == ("tel_event",)


def test_time_shift_options(lst_group):
    default = calibrate(lst_group)
    raw = calibrate(lst_group, apply_peak_time_shift=False)
    np.testing.assert_allclose(raw["peak_time"].values - lst_group["time_shift"].values, default["peak_time"].values,
                               atol=1e-5)
    np.testing.assert_array_equal(raw["image"].values, default["image"].values)
    shifted = calibrate(lst_group, apply_waveform_time_shift=True)
    assert np.isfinite(shifted["peak_time"]).all()
    # signal pixels keep their time to a fraction of a sample
    bright = default["image"].values > 50
    assert np.abs(shifted["peak_time"].values[bright] - default["peak_time"].values[bright]).max() < 1.0


def test_broken_pixels_are_interpolated(lst_group):
    broken = np.zeros((lst_group.sizes["tel_event"], lst_group.sizes["pixel"]), bool)
    broken[0, [10, 11, 500]] = True
    cam = lst_group.assign(outlier_mask=(("tel_event", "pixel"), broken))
    out = calibrate(cam)
    free = calibrate(lst_group)
    neighbors = lst_group.iact.geometry().neighbors
    for p in (10, 11, 500):
        good = [n for n in neighbors[p] if not broken[0, n]]
        assert out["image"].values[0, p] == pytest.approx(np.mean(out["image"].values[0, good]), rel=1e-6)
    untouched = ~broken[0]
    for n in np.flatnonzero(broken[0]):
        untouched[neighbors[n]] = False  # their peak search saw fewer neighbours
    np.testing.assert_array_equal(out["image"].values[0, untouched], free["image"].values[0, untouched])
    off = calibrate(cam, invalid_pixel_handler=None)
    assert off["image"].values[0, 10] != out["image"].values[0, 10]


def test_single_sample_readout(lst_group):
    cam = lst_group.isel(sample=[5])
    out = calibrate(cam)
    np.testing.assert_array_equal(out["image"].values, cam["waveform"].values[..., 0])
    assert (out["peak_time"].values == 0).all()


def test_errors(lst_group):
    with pytest.raises(ValueError, match="invalid_pixel_handler"):
        calibrate(lst_group, invalid_pixel_handler="Median")
    with pytest.raises(ValueError, match="waveform"):
        calibrate(lst_group.drop_vars("waveform"))
    with pytest.raises(ValueError, match="at least 5 samples"):
        calibrate(lst_group.isel(sample=slice(0, 4)), "TwoPassWindowSum", tel_types={1: "LST_LST_LSTCam"})
    with pytest.raises(TypeError):
        make_extractor(42)
    with pytest.raises(NotImplementedError):
        make_extractor("TwoPassWindowSum").window(lst_group)


def test_window_and_peaks_describe_the_extraction(lst_group):
    extractor = make_extractor("NeighborPeakWindowSum", window_width=5, window_shift=2)
    start, stop = extractor.window(lst_group)
    assert start.dims == ("tel_event", "pixel")
    peak = extractor.find_peaks(lst_group)
    np.testing.assert_array_equal(start, np.clip(peak - 2, 0, lst_group.sizes["sample"]))
    np.testing.assert_array_equal(stop, np.clip(peak + 3, 0, lst_group.sizes["sample"]))
    # summing the waveform between start and stop (uncorrected) gives the image
    raw = calibrate(lst_group, extractor, apply_integration_correction=False)
    wf = lst_group["waveform"].values.astype(np.float64)
    idx = np.arange(lst_group.sizes["sample"])
    inside = (idx >= start.values[..., None]) & (idx < stop.values[..., None])
    np.testing.assert_allclose(raw["image"].values, (wf * inside).sum(-1), rtol=1e-5, atol=1e-4)


# ----------------------------------------------------------------------------- real files


@pytest.mark.parametrize("name", sorted(SAMPLE_FILES))
def test_real_files_neighbor_peaks_follow_float64_sums(name):
    """On every camera of the sample files the peak is the first maximum of the neighbours' waveforms
    summed in float64 (ctapipe's definition), whatever shortcut the kernel takes."""
    tree = read(name)
    for cam_name in tree.iact.cameras:
        cam = tree[cam_name].to_dataset(inherit=False)
        if cam.sizes["sample"] < 2:
            continue
        peaks = NeighborPeakWindowSum().find_peaks(cam).values
        wf = cam["waveform"].values.astype(np.float64)
        neighbors = cam["neighbors"].values
        broken = cam["outlier_mask"].values if "outlier_mask" in cam else np.zeros(wf.shape[:2], bool)
        expected = np.empty_like(peaks)
        for e in range(wf.shape[0]):
            for p in range(wf.shape[1]):
                total = np.zeros(wf.shape[2])
                for n in neighbors[p][neighbors[p] >= 0]:
                    if not broken[e, n]:
                        total = total + wf[e, n]
                expected[e, p] = np.argmax(total)
        np.testing.assert_array_equal(peaks, expected, err_msg=f"{name} {cam_name}")


@pytest.mark.parametrize("name", sorted(SAMPLE_FILES))
def test_real_files_give_finite_images(name):
    tree = read(name)
    out = tree.iact.calibrate()
    assert set(out.iact.cameras) == set(tree.iact.cameras)
    for cam_name in out.iact.cameras:
        cam = out[cam_name].to_dataset(inherit=False)
        assert np.isfinite(cam["image"].values).all() and np.isfinite(cam["peak_time"].values).all()
        assert cam["image"].shape == cam["waveform"].shape[:2]
        if cam.sizes["sample"] > 1 and "true_image" in cam:
            # images follow the true photo-electrons
            true = cam["true_image"].values
            bright = true > 50
            if bright.any():
                ratio = cam["image"].values[bright].sum() / true[bright].sum()
                assert 0.7 < ratio < 1.3
    # the tree keeps its other nodes
    assert out["instrument"].to_dataset().identical(tree["instrument"].to_dataset())
    xr.testing.assert_identical(out.to_dataset(inherit=False), tree.to_dataset(inherit=False))


def test_tree_calibrate_uses_instrument_types(stereo_tree):
    types = tel_types_of(stereo_tree)
    assert types[1].startswith("LST") and types[5].startswith("MST")
    out = stereo_tree.iact.calibrate("TwoPassWindowSum")
    for cam_name in out.iact.cameras:
        cam = stereo_tree[cam_name].to_dataset(inherit=False)
        ref = calibrate(cam, "TwoPassWindowSum", tel_types=types)
        xr.testing.assert_identical(out[cam_name].to_dataset(inherit=False), ref)
    # MST core threshold 8 differs from LST 6: changing it for MSTs changes NectarCam only
    other = stereo_tree.iact.calibrate("TwoPassWindowSum", options={
        "core_threshold": [("type", "*", 6.0), ("type", "MST*", 50.0)]})
    xr.testing.assert_identical(other["LSTcam"].to_dataset(inherit=False), out["LSTcam"].to_dataset(inherit=False))
    assert calibrate_tree is not None


def test_calibrate_arguments_from_ctapipe_config(lst_group):
    from iactx.calib.calibrator import calibrate_arguments

    config = {"CameraCalibrator": {"image_extractor_type": "LocalPeakWindowSum", "apply_peak_time_shift": False},
              "LocalPeakWindowSum": {"window_width": 5}, "ImageProcessor": {"x": 1}}
    args = calibrate_arguments(config)
    assert args == {"extractor": "LocalPeakWindowSum", "apply_peak_time_shift": False, "window_width": 5}
    xr.testing.assert_identical(calibrate(lst_group, **args),
                                calibrate(lst_group, "LocalPeakWindowSum", window_width=5,
                                          apply_peak_time_shift=False))
    assert calibrate_arguments({}) == {}
    with pytest.raises(ValueError, match="no option"):
        calibrate_arguments({"CameraCalibrator": {"image_extractor": "x"}})


def test_toy_simulation_images_follow_the_truth():
    """The toy event source (pulses at arbitrary times, time gradients along the images)."""
    toy = pytest.importorskip("iactx.io.toy")
    tree = toy.toy_events(40, seed=3, nsb_rate=0.0, electronic_noise=0.0)
    out = tree.iact.calibrate()
    for name in out.iact.cameras:
        cam = out[name].to_dataset(inherit=False)
        true = cam["true_image"].values
        bright = true > 50
        assert bright.sum() > 20
        ratio = cam["image"].values[bright] / true[bright]
        assert np.abs(ratio - 1).max() < 0.06 and abs(np.median(ratio) - 1) < 0.03
        offset = cam["peak_time"].values[bright] - cam["true_peak_time"].values[bright]
        assert np.abs(offset - np.median(offset)).max() < 0.25  # a constant of the pulse shape
