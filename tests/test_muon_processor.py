"""The muon processor: components, selection, muon_fit on toys and on the sample muon file."""

import inspect
import warnings

import numpy as np
import pytest
import xarray as xr

import iactx
from iactx.config.files import ConfigError
from iactx.image.muon import (
    MUON_COMPONENTS,
    MUON_VARIABLES,
    ImageParameterQuery,
    MuonIntensityFitter,
    MuonProcessor,
    MuonRingFitter,
    RingQuery,
    muon_fit,
    muon_table,
    muon_tree,
)
from iactx.image.muon._query import compile_criteria
from conftest import data_file
from muon_toys import camera_dataset, hex_camera, instrument_dataset, model_ring_image

GEOM = hex_camera()
MUON_FILE = "lst_muons_with_true_photons.simtel.zst"

# ctapipe 0.32 MuonProcessor on the sample file (ctapipe-process defaults, equivalent focal length)
CTAPIPE_RADIUS = np.array([1.20766534, 1.20074651, 1.20136826])
CTAPIPE_CENTER_LON = np.array([0.03173501, 0.02554656, 0.02722376])
CTAPIPE_CENTER_LAT = np.array([0.02131052, 0.04079889, -0.00114046])
CTAPIPE_EFFICIENCY = np.array([0.22885404, 0.22210771, 0.19545372])


# --------------------------------------------------------------------------- components and config
def test_component_defaults_are_ctapipes():
    processor = MuonProcessor()
    assert (processor.completeness_threshold, processor.ratio_width, processor.pedestal,
            processor.ring_integration_width, processor.outer_ring_width) == (30.0, 1.5, 1.1, 0.25, 0.2)
    assert MuonRingFitter().fit_method == "kundu_chaudhuri_taubin"
    fitter = MuonIntensityFitter()
    assert (fitter.spe_width, fitter.min_lambda_m, fitter.max_lambda_m, fitter.oversampling) == \
        (0.5, 300e-9, 600e-9, 3)
    assert ("type", "LST_*", 0.74) in fitter.hole_radius_m
    assert [c[0] for c in ImageParameterQuery().quality_criteria] == ["min_pixels", "min_intensity"]
    assert [c[0] for c in RingQuery().quality_criteria] == ["radius_not_nan", "min_pixels", "ring_containment"]
    assert set(MUON_COMPONENTS) == {"MuonProcessor", "MuonRingFitter", "MuonIntensityFitter",
                                    "ImageParameterQuery", "RingQuery"}


def test_bad_configuration_is_reported():
    ds = toy_group()[0]
    with pytest.raises(ConfigError, match="did you mean 'pedestal'"):
        muon_fit(ds, instrument_dataset(), config={"MuonProcessor": {"pedestl": 1.0}})
    with pytest.raises(ConfigError, match="MuonRingFitter.fit_method"):
        muon_fit(ds, instrument_dataset(), config={"MuonRingFitter": {"fit_method": "hough"}})
    with pytest.raises(ValueError, match="may be called"):
        muon_fit(ds, instrument_dataset(), config={"RingQuery": {"quality_criteria": [("x", "__import__('os')")]}})


# --------------------------------------------------------------------------- criteria
def test_criteria_ctapipe_and_iactx_spellings():
    n = 4
    da = xr.DataArray
    columns = {
        "hillas_intensity": da([600.0, 400.0, np.nan, 900.0], dims="tel_event"),
        "morphology_n_pixels": da([150, 150, 150, 90], dims="tel_event"),
        "muonring_radius": da([1.1, np.nan, 1.0, 1.2], dims="tel_event"),
        "mask": da(np.arange(n * 10).reshape(n, 10) % 3 == 0, dims=("tel_event", "pixel")),
    }
    like = da(np.ones(n, bool), dims="tel_event")
    for text, expected in [
        ("dl1_params.hillas.intensity > 500", [True, False, False, True]),
        ("hillas_intensity > 500", [True, False, False, True]),
        ("np.isfinite(ring.radius.value)", [True, False, True, True]),
        ("np.count_nonzero(mask) > 3", [True, False, False, True]),
        ("ring.radius < 1.15 * u.deg", [True, False, True, False]),
        ("ring.radius > 0.018 * u.rad", [True, False, False, True]),
        ("not (dl1_params.morphology.n_pixels <= 100) and 500 < hillas_intensity < 800",
         [True, False, False, False]),
        ("(hillas_intensity > 500) | ~np.isfinite(hillas_intensity)", [True, False, True, True]),
    ]:
        result = compile_criteria([("c", text)]).all(columns, like)
        assert result.values.tolist() == expected, text


@pytest.mark.parametrize("text", [
    "__import__('os').system('true')",
    "dl1_params.hillas.intensity.__class__",
    "(lambda x: x)(1)",
    "hillas_intensity[0] > 1",
    "'a' == 'a'",
    "np.count_nonzero(mask, axis=0) > 1",
    "os.system",
])
def test_criteria_reject_anything_else(text):
    with pytest.raises(ValueError, match="quality criterion"):
        compile_criteria([("bad", text)])


def test_criteria_name_missing_columns():
    criteria = compile_criteria([("c", "dl1_params.leakage.intensity_width_2 < 0.2")])
    with pytest.raises(ValueError, match="leakage_intensity_width_2"):
        criteria.all({}, xr.DataArray([True], dims="tel_event"))


# --------------------------------------------------------------------------- toy camera groups
TRUTH = [
    # impact [m], phi, centre lon, lat, radius, width [deg], efficiency
    (4.0, 0.5, 0.1, -0.2, 1.15, 0.02, 0.20),
    (7.0, -2.0, -0.3, 0.2, 1.2, 0.025, 0.15),
    (2.0, 2.5, 0.0, 0.05, 1.1, 0.02, 0.25),
]


def toy_group(seed=0):
    rng = np.random.default_rng(seed)
    images = [model_ring_image(GEOM, *t, rng=rng) for t in TRUTH]
    images.append(rng.normal(0, 1.1, GEOM.n_pixels) + 0.02 * images[0])      # too faint
    images.append(model_ring_image(GEOM, 4.0, 0.0, 1.9, 0.0, 1.2, 0.06, 0.6, rng=rng))  # mostly outside
    masks = [img > 6 for img in images]
    return camera_dataset(GEOM, images, masks), images


def test_muon_fit_on_toys():
    ds, _ = toy_group()
    before = ds.copy(deep=True)
    out = muon_fit(ds, instrument_dataset())
    xr.testing.assert_identical(ds, before)
    assert set(MUON_VARIABLES) <= set(out.data_vars)
    for name in MUON_VARIABLES:
        assert out[name].dims == ("tel_event",)
    truth = np.array(TRUTH)
    np.testing.assert_allclose(out["muonring_radius"].values[:3], truth[:, 4], rtol=0.01)
    np.testing.assert_allclose(out["muonring_center_fov_lon"].values[:3], truth[:, 2], atol=0.02)
    np.testing.assert_allclose(out["muonring_center_fov_lat"].values[:3], truth[:, 3], atol=0.02)
    np.testing.assert_allclose(out["muonefficiency_optical_efficiency"].values[:3], truth[:, 6], rtol=0.05)
    assert out["muonefficiency_is_valid"].values.tolist() == [True, True, True, False, False]
    # the faint image is not searched: NaN everywhere, -1 pixels in the ring
    assert np.isnan(out["muonring_radius"].values[3])
    assert np.isnan(out["muonparameters_containment"].values[3])
    assert out["muonparameters_n_pixels_in_ring"].values[3] == -1
    # the ring outside the camera is fitted, but fails the containment: no efficiency
    assert np.isfinite(out["muonring_radius"].values[4])
    assert out["muonparameters_containment"].values[4] < 0.5
    assert np.isnan(out["muonefficiency_optical_efficiency"].values[4])
    assert (out["muonparameters_completeness"].values[:3] > 0.9).all()


def test_muon_fit_options():
    ds, _ = toy_group()
    inst = instrument_dataset()
    # stricter image query: only the brightest rings
    out = muon_fit(ds, inst, config={"ImageParameterQuery": {"quality_criteria": [
        ("bright", "dl1_params.hillas.intensity > 1e9")]}}, intensity_fit=False)
    assert np.isnan(out["muonring_radius"]).all()
    # per-telescope-type pedestal and the fit method shortcut
    out = muon_fit(ds, inst, fit_method="kundu_chaudhuri",
                   config={"MuonProcessor": {"pedestal": [("type", "*", 1.1), ("type", "LST_*", 2.0)]},
                           "MuonRingFitter": MuonRingFitter(n_iterations=1)}, ring_mask=True)
    assert out["muon_ring_mask"].dims == ("tel_event", "pixel")
    np.testing.assert_allclose(out["muonring_radius"].values[:3], np.array(TRUTH)[:, 4], rtol=0.01)
    assert np.isfinite(out["muonring_radius_err"].values[:3]).all()
    # without the intensity fit no instrument is needed
    out = muon_fit(ds, intensity_fit=False)
    assert np.isnan(out["muonefficiency_optical_efficiency"]).all()
    assert not out["muonefficiency_is_valid"].values.any()
    with pytest.raises(ValueError, match="instrument="):
        muon_fit(ds)


def test_muon_fit_dual_mirror_telescopes_are_skipped():
    ds, _ = toy_group()
    with pytest.warns(UserWarning, match="two mirrors"):
        out = muon_fit(ds, instrument_dataset(n_mirrors=2))
    assert np.isnan(out["muonring_radius"]).all()


def test_muon_fit_cleans_when_needed_and_accessor():
    ds, _ = toy_group()
    ds = ds.drop_vars("image_mask")
    out = ds.iact.muon_fit(instrument_dataset())
    assert "image_mask" in out
    np.testing.assert_allclose(out["muonefficiency_optical_efficiency"].values[:3], np.array(TRUTH)[:, 6],
                               rtol=0.05)
    signature = inspect.signature(ds.iact.muon_fit)
    assert list(signature.parameters) == ["instrument", "config", "fit_method", "intensity_fit", "ring_mask",
                                          "tel_types"]


def test_muon_fit_dask_matches_numpy():
    pytest.importorskip("dask")
    ds, _ = toy_group()
    inst = instrument_dataset()
    eager = muon_fit(ds, inst)
    lazy = muon_fit(ds.chunk(tel_event=2), inst)
    assert lazy["muonring_radius"].chunks is not None
    xr.testing.assert_identical(eager, lazy.compute())


# --------------------------------------------------------------------------- the sample muon file
@pytest.fixture(scope="module")
def muon_tree_file():
    path = data_file(MUON_FILE)
    pytest.importorskip("iactx.calib.calibrator", reason="needs the calibration (cam.iact.calibrate())")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return iactx.read_simtel(path)


def test_sample_file_matches_ctapipe(muon_tree_file):
    tree = muon_tree_file
    cam = tree["LSTCam"].to_dataset().iact.calibrate().iact.clean()
    out = cam.iact.muon_fit(tree["instrument"])
    radius = out["muonring_radius"].values
    assert np.isfinite(radius).all() and out["muonefficiency_is_valid"].values.all()
    np.testing.assert_allclose(radius, CTAPIPE_RADIUS, rtol=0.01)
    # centres within 1 % of the ring radius
    assert (np.abs(out["muonring_center_fov_lon"].values - CTAPIPE_CENTER_LON) < 0.01 * radius).all()
    assert (np.abs(out["muonring_center_fov_lat"].values - CTAPIPE_CENTER_LAT) < 0.01 * radius).all()
    np.testing.assert_allclose(out["muonefficiency_optical_efficiency"].values, CTAPIPE_EFFICIENCY, rtol=0.05)
    np.testing.assert_array_equal(out["muonparameters_n_pixels_in_ring"].values, [114, 122, 125])
    np.testing.assert_array_equal(out["muonparameters_containment"].values, [1.0, 1.0, 1.0])


def test_sample_file_tree_and_batches(muon_tree_file):
    whole = muon_tree(muon_tree_file)
    cam = whole["LSTCam"].to_dataset()
    assert set(MUON_VARIABLES) <= set(cam.data_vars)
    assert "waveform" not in cam and "image" not in cam
    np.testing.assert_allclose(cam["muonring_radius"].values, CTAPIPE_RADIUS, rtol=0.01)
    everything = muon_tree(muon_tree_file, only_muons=False)["LSTCam"].to_dataset()
    assert {"image", "image_mask", "hillas_intensity", "muonring_radius"} <= set(everything.data_vars)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batches = iactx.iter_simtel(data_file(MUON_FILE), batch_size=1)
        table = muon_table(batches)
    joined = table["LSTCam"].to_dataset()
    assert joined.sizes["tel_event"] == 3 and table.to_dataset().sizes["event"] == 3
    for name in MUON_VARIABLES:
        np.testing.assert_array_equal(joined[name].values, cam[name].values, err_msg=name)
