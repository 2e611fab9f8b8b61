"""Stereo reconstruction: toy geometry recovery, batched kernel == per-event reference, quality query,
agreement with numbers from ctapipe 0.32's HillasReconstructor, labelled output."""

from itertools import combinations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import iactx
from iactx.coordinates import projections as proj
from iactx.reco import HillasReconstructor, StereoQualityQuery, reconstruct, reconstruct_chain
from iactx.reco.geometry_toy import image_axis_psi, stereo_geometry_toy, toy_subarray
from iactx.reco.hillas_reconstructor import camera_radius

from conftest import data_file

P = "HillasReconstructor"


@pytest.fixture(scope="module")
def on_axis():
    return stereo_geometry_toy(300, seed=11)


@pytest.fixture(scope="module")
def noisy():
    return stereo_geometry_toy(300, seed=12, source_offset=2.5, cog_noise=0.02, psi_noise=3.0)


def separation(ds, alt, az):
    return proj.angular_separation(ds[f"{P}_alt"].values, ds[f"{P}_az"].values, alt, az)


# ------------------------------------------------------------------ toy geometry recovery


def test_on_axis_toy_recovers_direction_core_and_shower_maximum(on_axis):
    out = reconstruct(on_axis)
    ds = out.ds
    valid = ds[f"{P}_is_valid"].values
    n_used = ds[f"{P}_telescopes"].values.sum(axis=1)
    assert valid.sum() > 250
    np.testing.assert_array_equal(valid, n_used >= 2)
    assert separation(ds, ds.true_alt.values, ds.true_az.values)[valid].max() < 1e-9
    np.testing.assert_allclose(ds[f"{P}_h_max"].values[valid], ds.true_h_max.values[valid], atol=1e-6)
    core_error = np.hypot(ds[f"{P}_core_x"] - ds.true_core_x, ds[f"{P}_core_y"] - ds.true_core_y).values
    # exact up to the small-angle approximation of the image axes around the array pointing, which two
    # nearly parallel axes can amplify
    assert np.median(core_error[valid]) < 0.1
    assert core_error[valid & (n_used >= 3)].max() < 1.0
    for name in out.iact.cameras:
        cam = out[name].ds
        used = np.isfinite(cam[f"{P}_tel_impact_distance"].values)
        assert used.sum() > 100
        error = np.abs(cam[f"{P}_tel_impact_distance"].values[used] - cam.true_impact_distance.values[used])
        assert np.median(error) < 0.1


def test_off_axis_toy_recovers_direction_exactly():
    tree = stereo_geometry_toy(200, seed=13, source_offset=3.0, pointing=(60.0, 123.0))
    ds = reconstruct(tree).ds
    valid = ds[f"{P}_is_valid"].values
    assert valid.sum() > 100
    assert separation(ds, ds.true_alt.values, ds.true_az.values)[valid].max() < 1e-9
    np.testing.assert_allclose(ds[f"{P}_h_max"].values[valid], ds.true_h_max.values[valid], atol=1e-6)
    # exact planes: every crossing is the true direction
    assert ds[f"{P}_alt_uncert"].values[valid].max() < 1e-5


def test_divergent_pointing_toy_recovers_direction_exactly():
    tree = stereo_geometry_toy(300, seed=14, divergence=1.5, source_offset=1.0)
    pointings = np.concatenate([tree[n].ds.pointing_alt.values for n in tree.iact.cameras])
    assert np.ptp(pointings) > 2.0
    ds = reconstruct(tree).ds
    valid = ds[f"{P}_is_valid"].values
    assert valid.sum() > 250
    assert separation(ds, ds.true_alt.values, ds.true_az.values)[valid].max() < 1e-9
    np.testing.assert_allclose(ds[f"{P}_h_max"].values[valid], ds.true_h_max.values[valid], atol=1e-6)
    core_error = np.hypot(ds[f"{P}_core_x"] - ds.true_core_x, ds[f"{P}_core_y"] - ds.true_core_y).values[valid]
    assert np.median(core_error) < 1.0


def test_toy_psi_puts_the_second_point_on_the_great_circle():
    rng = np.random.default_rng(0)
    angle = rng.uniform(0, 2 * np.pi, 50)
    normal = np.column_stack([rng.normal(0, 0.02, 50), np.cos(angle), np.sin(angle)])
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    # centroids on the great circles (within a few degrees of the pointing): project points onto them
    v = np.column_stack([np.ones(50), rng.normal(0, 0.02, 50), rng.normal(0, 0.02, 50)])
    v -= np.sum(v * normal, 1, keepdims=True) * normal
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    lon, lat = np.rad2deg(np.arctan2(v[:, 1], v[:, 0])), np.rad2deg(np.arcsin(v[:, 2]))
    keep = np.hypot(lon, lat) < 5
    assert keep.sum() > 40
    step = np.full(keep.sum(), 0.3)
    psi = image_axis_psi(lon[keep], lat[keep], normal[keep], step, guess=np.zeros(keep.sum()))
    assert np.all((psi >= -90) & (psi < 90))
    p_lon = np.deg2rad(lon[keep] + step * np.cos(np.deg2rad(psi)))
    p_lat = np.deg2rad(lat[keep] + step * np.sin(np.deg2rad(psi)))
    p = np.stack([np.cos(p_lat) * np.cos(p_lon), np.cos(p_lat) * np.sin(p_lon), np.sin(p_lat)], -1)
    assert np.abs(np.sum(p * normal[keep], 1)).max() < 1e-14


def test_weighted_core_option(on_axis):
    plain = reconstruct(on_axis).ds
    weighted = reconstruct(on_axis, weighted_core=True).ds
    valid = plain[f"{P}_is_valid"].values
    np.testing.assert_array_equal(plain[f"{P}_alt"].values, weighted[f"{P}_alt"].values)
    n = plain[f"{P}_telescopes"].values.sum(1)
    differs = ~np.isclose(plain[f"{P}_core_x"].values, weighted[f"{P}_core_x"].values, rtol=0, atol=1e-9)
    assert differs[valid & (n >= 3)].any()
    core_error = np.hypot(weighted[f"{P}_core_x"] - weighted.true_core_x,
                          weighted[f"{P}_core_y"] - weighted.true_core_y).values
    assert core_error[valid & (n >= 3)].max() < 1.0


# ------------------------------------------------------------------ batched == per-event reference


def reference_event(rows, c, array_alt, array_az, positions, reference_height, fraction=0.1):
    """Obvious per-event implementation of the algorithm, plain numpy."""
    lon, lat = c["hillas_fov_lon"][rows], c["hillas_fov_lat"][rows]
    psi = np.deg2rad(c["hillas_psi"][rows])
    step = fraction * np.rad2deg(c["camera_radius"][rows] / c["focal_length"][rows])
    p_alt, p_az = c["pointing_alt"][rows], c["pointing_az"][rows]
    cog = proj.telescope_to_altaz(lon, lat, p_alt, p_az)
    p2 = proj.telescope_to_altaz(lon + step * np.cos(psi), lat + step * np.sin(psi), p_alt, p_az)
    cog_v, p2_v = proj.altaz_to_cartesian(*cog), proj.altaz_to_cartesian(*p2)
    normals = np.cross(cog_v, p2_v)
    weights = c["hillas_intensity"][rows] * c["hillas_length"][rows] / c["hillas_width"][rows]
    pairs = np.array(list(combinations(range(len(rows)), 2)))
    crossings = np.cross(normals[pairs[:, 0]], normals[pairs[:, 1]])
    crossings[crossings[:, 2] < 0] *= -1
    direction = np.average(crossings, weights=weights[pairs[:, 0]] * weights[pairs[:, 1]], axis=0)
    direction /= np.linalg.norm(direction)
    cos = crossings @ direction / np.linalg.norm(crossings, axis=1)
    error = np.rad2deg(np.mean(np.arccos(np.clip(cos, -1, 1))))
    alt, az = proj.cartesian_to_altaz(direction)
    # core
    c_lon, c_lat = proj.altaz_to_nominal(*cog, array_alt, array_az)
    q_lon, q_lat = proj.altaz_to_nominal(*p2, array_alt, array_az)
    core_psi = np.arctan((c_lon - q_lon) / (c_lat - q_lat))
    tx, ty, _ = proj.ground_to_tilted(*positions[rows].T, array_alt, array_az)
    a, b = np.zeros((2, 2)), np.zeros(2)
    for k in range(len(rows)):
        u = np.array([np.cos(core_psi[k]), np.sin(core_psi[k])])
        m = np.eye(2) - np.outer(u, u)
        a += m
        b += m @ [tx[k], ty[k]]
    core_t = np.linalg.solve(a, b)
    core_x, core_y = proj.project_to_ground(core_t[0], core_t[1], 0.0, array_alt, array_az)
    # shower maximum
    a3, b3 = np.zeros((3, 3)), np.zeros(3)
    for k in range(len(rows)):
        m = np.eye(3) - np.outer(cog_v[k], cog_v[k])
        a3 += m
        b3 += m @ positions[rows][k]
    h_max = np.linalg.solve(a3, b3)[2] + reference_height
    return {"alt": alt, "az": az, "alt_uncert": error, "core_x": core_x, "core_y": core_y,
            "core_tilted_x": core_t[0], "core_tilted_y": core_t[1], "h_max": h_max,
            "core_psi": np.rad2deg(core_psi)}


def flat_inputs(tree):
    frames = []
    for name in tree.iact.cameras:
        cam = tree[name].ds
        table = cam[["hillas_intensity", "hillas_fov_lon", "hillas_fov_lat", "hillas_psi", "hillas_length",
                     "hillas_width", "morphology_n_pixels", "pointing_alt", "pointing_az", "focal_length"]]
        df = table.reset_index("tel_event").reset_coords()[[*table.data_vars, "obs_id", "event", "tel"]].to_dataframe()
        df["camera_radius"] = camera_radius(cam)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def test_batched_equals_per_event_reference(noisy):
    out = reconstruct(noisy)
    ds = out.ds
    table = flat_inputs(noisy)
    inst = noisy["instrument"].ds
    positions = np.column_stack([inst.pos_x, inst.pos_y, inst.pos_z])
    tel_row = pd.Index(inst.tel.values).get_indexer(table["tel"])
    c = {k: table[k].to_numpy() for k in table.columns}
    passed = StereoQualityQuery()(c)
    checked = 0
    for i, event_id in enumerate(ds.event_id.values):
        rows = np.flatnonzero(passed & (c["event"] == event_id))
        if len(rows) < 2:
            assert not ds[f"{P}_is_valid"].values[i]
            assert np.isnan(ds[f"{P}_alt"].values[i]) and not ds[f"{P}_telescopes"].values[i].any()
            continue
        ref = reference_event(rows, c, ds.array_altitude.values[i], ds.array_azimuth.values[i],
                              positions[tel_row], inst.attrs["reference_height"])
        assert ds[f"{P}_is_valid"].values[i]
        for key in ("alt", "az"):
            assert abs(ds[f"{P}_{key}"].values[i] - ref[key]) < 1e-9, key
        # arccos of a cosine next to 1 resolves angles only to about 1e-6 deg
        assert abs(ds[f"{P}_alt_uncert"].values[i] - ref["alt_uncert"]) < 2e-6
        for key in ("core_x", "core_y", "core_tilted_x", "core_tilted_y", "h_max"):
            assert abs(ds[f"{P}_{key}"].values[i] - ref[key]) < 1e-6, key
        used = np.sort(table["tel"].to_numpy()[rows])
        np.testing.assert_array_equal(inst.tel.values[ds[f"{P}_telescopes"].values[i]], used)
        assert ds[f"{P}_average_intensity"].values[i] == pytest.approx(c["hillas_intensity"][rows].mean())
        checked += 1
    assert checked > 200


def test_parallel_and_serial_kernels_agree(noisy, monkeypatch):
    from iactx.reco import hillas_reconstructor_kernels as kernels

    monkeypatch.setattr(kernels, "PARALLEL_MIN_EVENTS", 0)
    parallel = reconstruct(noisy).to_dataset()
    monkeypatch.setattr(kernels, "PARALLEL_MIN_EVENTS", 10**9)
    serial = reconstruct(noisy).to_dataset()
    xr.testing.assert_identical(parallel, serial)


def test_float32_parameters(noisy):
    nodes = {n.path: n.to_dataset(inherit=False) for n in noisy.subtree}
    for name in noisy.iact.cameras:
        cam = nodes[f"/{name}"]
        nodes[f"/{name}"] = cam.assign({v: cam[v].variable.astype(np.float32) for v in cam.data_vars
                                         if v.startswith("hillas_")})
    single = reconstruct(xr.DataTree.from_dict(nodes)).ds
    double = reconstruct(noisy).ds
    np.testing.assert_array_equal(single[f"{P}_is_valid"], double[f"{P}_is_valid"])
    valid = double[f"{P}_is_valid"].values
    assert single[f"{P}_alt"].dtype == np.float64
    # float32 centroids are good to ~1e-7 deg; two-telescope events amplify that
    assert np.median(separation(single, double[f"{P}_alt"].values, double[f"{P}_az"].values)[valid]) < 1e-5


def test_kernel_float_inputs_and_uncertainties(noisy):
    ds = reconstruct(noisy).ds
    valid = ds[f"{P}_is_valid"].values
    n = ds[f"{P}_telescopes"].values.sum(1)
    # ctapipe's direction uncertainty, also as the angular-distance radius
    np.testing.assert_array_equal(ds[f"{P}_alt_uncert"].values, ds[f"{P}_az_uncert"].values)
    np.testing.assert_array_equal(ds[f"{P}_alt_uncert"].values, ds[f"{P}_ang_distance_uncert"].values)
    assert np.all(ds[f"{P}_alt_uncert"].values[valid & (n >= 3)] > 0)
    assert np.all(ds[f"{P}_alt_uncert"].values[valid & (n == 2)] < 2e-6)  # one crossing: it is the direction
    # least-squares core uncertainty needs three axes; h_max's needs two
    assert np.all(np.isnan(ds[f"{P}_core_uncert_x"].values[valid & (n == 2)]))
    assert np.all(np.isfinite(ds[f"{P}_core_uncert_x"].values[valid & (n >= 3)]))
    assert np.all(np.isfinite(ds[f"{P}_h_max_uncert"].values[valid]))
    assert np.all(np.isnan(ds[f"{P}_h_max_uncert"].values[~valid]))


def test_uncertainties_are_calibrated():
    tree = stereo_geometry_toy(2000, seed=5, cog_noise=0.01, psi_noise=2.0)
    ds = reconstruct(tree, min_pixels=None, min_intensity=None).ds
    n = ds[f"{P}_telescopes"].values.sum(1)
    good = ds[f"{P}_is_valid"].values & (n >= 4)
    for err, unc in ((ds[f"{P}_core_x"] - ds.true_core_x, ds[f"{P}_core_uncert_x"]),
                     (ds[f"{P}_core_y"] - ds.true_core_y, ds[f"{P}_core_uncert_y"]),
                     (ds[f"{P}_h_max"] - ds.true_h_max, ds[f"{P}_h_max_uncert"])):
        pull = (err / unc).values[good]
        assert 0.5 < np.mean(np.abs(pull) < 1) < 0.8


# ------------------------------------------------------------------ quality query


def test_quality_query_defaults_and_switches():
    query = StereoQualityQuery()
    cols = {"hillas_intensity": np.array([51.0, 50.0, 100, 100, np.nan, 100]),
            "hillas_width": np.array([0.1, 0.1, 0.0, 0.1, 0.1, np.nan]),
            "morphology_n_pixels": np.array([4, 10, 10, 3, 10, 10])}
    np.testing.assert_array_equal(query(cols), [True, False, False, False, False, False])
    np.testing.assert_array_equal(StereoQualityQuery(min_pixels=None)(cols), [True, False, False, True, False, False])
    everything = StereoQualityQuery(min_intensity=None, min_width=None, min_pixels=None)
    np.testing.assert_array_equal(everything(cols), np.ones(6, bool))
    assert [name for name, _ in query.criteria()] == ["> 50 phe", "Positive width", "> 3 pixels"]
    with pytest.raises(KeyError, match="morphology_n_pixels"):
        query({k: v for k, v in cols.items() if k != "morphology_n_pixels"})


def test_quality_query_on_a_camera_group(on_axis):
    cam = on_axis["ToyMediumCam"].ds
    mask = StereoQualityQuery(min_intensity=200)(cam)
    assert mask.dims == ("tel_event",) and mask.dtype == bool
    np.testing.assert_array_equal(mask.values, (cam.hillas_intensity > 200) & (cam.morphology_n_pixels > 3))
    assert "hillas_intensity > 200" in mask.attrs["criteria"]


def test_query_changes_the_telescopes_used(on_axis):
    loose = reconstruct(on_axis, min_intensity=None, min_pixels=None).ds
    strict = reconstruct(on_axis, min_intensity=300).ds
    assert loose[f"{P}_telescopes"].values.sum() > strict[f"{P}_telescopes"].values.sum()
    assert loose[f"{P}_is_valid"].sum() >= strict[f"{P}_is_valid"].sum()
    three = reconstruct(on_axis, min_telescopes=3).ds
    n = three[f"{P}_telescopes"].values.sum(1)
    assert np.all(n[three[f"{P}_is_valid"].values] >= 3)
    with pytest.raises(ValueError):
        HillasReconstructor(min_telescopes=1)


def test_missing_morphology_needs_min_pixels_none(on_axis):
    nodes = {n.path: n.to_dataset(inherit=False) for n in on_axis.subtree}
    for name in on_axis.iact.cameras:
        nodes[f"/{name}"] = nodes[f"/{name}"].drop_vars("morphology_n_pixels")
    tree = xr.DataTree.from_dict(nodes)
    with pytest.raises(KeyError, match="morphology_n_pixels"):
        reconstruct(tree)
    ds = reconstruct(tree, min_pixels=None).ds
    assert ds[f"{P}_is_valid"].any()


def test_missing_hillas_parameters_raise(on_axis):
    nodes = {n.path: n.to_dataset(inherit=False) for n in on_axis.subtree}
    nodes["/ToyLargeCam"] = nodes["/ToyLargeCam"].drop_vars("hillas_psi")
    with pytest.raises(KeyError, match="ToyLargeCam.*hillas_psi"):
        reconstruct(xr.DataTree.from_dict(nodes))
    with pytest.raises(ValueError, match="unknown reconstruction method"):
        reconstruct(on_axis, method="ImPACT")


def test_zero_width_invalidates_the_event_like_ctapipe(on_axis):
    """With the width criterion off, a selected image of width 0 makes ctapipe give up on the event."""
    nodes = {n.path: n.to_dataset(inherit=False) for n in on_axis.subtree}
    cam = nodes["/ToyLargeCam"].copy()
    width = cam.hillas_width.values.copy()
    width[0] = 0.0
    cam["hillas_width"] = ("tel_event", width, cam.hillas_width.attrs)
    nodes["/ToyLargeCam"] = cam
    tree = xr.DataTree.from_dict(nodes)
    event = int(cam.event.values[0])
    ds = reconstruct(tree, min_width=None, min_intensity=None, min_pixels=None).ds
    i = int(np.flatnonzero(ds.event_id.values == event)[0])
    assert not ds[f"{P}_is_valid"].values[i] and np.isnan(ds[f"{P}_alt"].values[i])
    assert not ds[f"{P}_telescopes"].values[i].any()
    assert np.isnan(tree["ToyLargeCam"].ds.hillas_width.values[0]) is np.False_  # input untouched


# ------------------------------------------------------------------ labelled output


def test_output_layout_units_and_input_untouched(on_axis):
    before = on_axis.to_dataset(inherit=False).copy(deep=True)
    out = on_axis.iact.reconstruct()
    xr.testing.assert_identical(on_axis.to_dataset(inherit=False), before)
    assert f"{P}_alt" not in on_axis.ds
    ds = out.ds
    units = {"alt": "deg", "az": "deg", "alt_uncert": "deg", "az_uncert": "deg", "ang_distance_uncert": "deg",
             "core_x": "m", "core_y": "m", "core_uncert_x": "m", "core_uncert_y": "m", "core_tilted_x": "m",
             "core_tilted_y": "m", "core_tilted_uncert_x": "m", "core_tilted_uncert_y": "m", "h_max": "m",
             "h_max_uncert": "m"}
    for name, unit in units.items():
        assert ds[f"{P}_{name}"].dims == ("event",) and ds[f"{P}_{name}"].attrs["units"] == unit
    assert ds[f"{P}_is_valid"].dtype == bool
    assert ds[f"{P}_telescopes"].dims == ("event", "tel")
    assert ds[f"{P}_telescopes"].shape == (ds.sizes["event"], on_axis["instrument"].ds.sizes["tel"])
    assert 0 <= ds[f"{P}_az"].min() and ds[f"{P}_az"].max() < 360
    for name in out.iact.cameras:
        cam = out[name].ds
        assert cam[f"{P}_tel_impact_distance"].dims == ("tel_event",)
        assert cam[f"{P}_tel_impact_distance"].attrs["units"] == "m"
        assert cam.core_psi.attrs["units"] == "deg"
        assert cam.indexes["tel_event"].equals(on_axis[name].ds.indexes["tel_event"])
    # accessor == function
    xr.testing.assert_identical(out.to_dataset(), reconstruct(on_axis).to_dataset())


def test_dask_backed_camera_groups_give_the_same_result(on_axis):
    pytest.importorskip("dask")
    nodes = {n.path: n.to_dataset(inherit=False) for n in on_axis.subtree}
    for name in on_axis.iact.cameras:
        nodes[f"/{name}"] = nodes[f"/{name}"].chunk({"tel_event": 100})
    lazy = reconstruct(xr.DataTree.from_dict(nodes))
    xr.testing.assert_identical(lazy.to_dataset(), reconstruct(on_axis).to_dataset())


def test_round_trip_through_a_dl1_file(on_axis, tmp_path):
    out = reconstruct(on_axis)
    path = tmp_path / "reco.nc"
    iactx.write_dl1(out, path)
    back = iactx.open_dl1(path)
    for name in (f"{P}_alt", f"{P}_core_x", f"{P}_is_valid", f"{P}_telescopes"):
        np.testing.assert_array_equal(back.ds[name].values, out.ds[name].values)
    np.testing.assert_array_equal(back["ToyLargeCam"].ds[f"{P}_tel_impact_distance"].values,
                                  out["ToyLargeCam"].ds[f"{P}_tel_impact_distance"].values)


def test_reconstruct_chain_takes_the_tool_configuration(on_axis):
    config = {"StereoQualityQuery": {"min_intensity": 300.0}, "HillasReconstructor": {"min_telescopes": 3},
              "DataWriter": {"output_path": "x.nc"}}
    ds = reconstruct_chain(on_axis, config).to_dataset()
    xr.testing.assert_identical(ds, reconstruct(on_axis, min_intensity=300.0, min_telescopes=3).to_dataset())


def test_components_work_with_the_config_registry(on_axis):
    from iactx.config.files import ConfigError
    from iactx.config.registry import ComponentRegistry
    from iactx.reco import COMPONENTS

    registry = ComponentRegistry(COMPONENTS)
    config = registry.normalize({"StereoQualityQuery": {"min_intensity": 300.0},
                                 "HillasReconstructor": {"min_telescopes": 3}})
    assert registry.create("HillasReconstructor", config).min_telescopes == 3
    assert "--StereoQualityQuery.min_intensity=50.0" in registry.describe()
    assert "quality_query" not in registry.parameter_names("HillasReconstructor")
    with pytest.raises(ConfigError, match="min_telescopes"):
        registry.normalize({"HillasReconstructor": {"min_telescope": 3}})
    with pytest.raises(ConfigError):
        registry.create("HillasReconstructor", {"HillasReconstructor": {"min_telescopes": 1}})
    out = reconstruct_chain(on_axis, config).to_dataset()
    assert out.attrs[f"{P}_quality_criteria"].startswith("hillas_intensity > 300")


def test_empty_inputs():
    tree = stereo_geometry_toy(5, seed=1, core_radius=50_000.0)  # nobody sees anything
    assert all(tree[n].ds.sizes["tel_event"] == 0 for n in tree.iact.cameras)
    ds = reconstruct(tree).ds
    assert ds.sizes["event"] == 5 and not ds[f"{P}_is_valid"].any()
    assert np.isnan(ds[f"{P}_alt"]).all()


def test_events_without_array_pointing_use_the_telescopes_pointing(on_axis):
    nodes = {n.path: n.to_dataset(inherit=False) for n in on_axis.subtree}
    root = nodes["/"].copy()
    root["array_altitude"] = root.array_altitude * np.nan
    nodes["/"] = root
    ds = reconstruct(xr.DataTree.from_dict(nodes)).ds
    xr.testing.assert_allclose(ds[f"{P}_core_x"], reconstruct(on_axis).ds[f"{P}_core_x"], atol=1e-6)


def test_toy_subarray_cameras():
    sub = toy_subarray()
    assert len(sub) == 9 and sub.camera_types == ["ToyLargeCam", "ToyMediumCam"]


# ------------------------------------------------------------------ ctapipe's numbers on camsettings_v6

#: ctapipe 0.32 (EventSource -> CameraCalibrator -> ImageProcessor -> ShowerProcessor, defaults) on
#: camsettings_v6.simtel.zst, dumped by benchmarks/ctapipe_reco_dump.py
CTAPIPE_TEL = pd.DataFrame({
    "tel": [1, 2, 3, 4, 5, 9, 10, 14, 19],
    "hillas_intensity": [854.2245512008667, 320.47186374664307, 373.73865938186646, 748.4011101722717, np.nan,
                         167.0917730331421, 226.56488704681396, np.nan, 154.40456008911133],
    "hillas_fov_lon": [-0.2637325473503697, -0.865027211008216, -0.7995775393647513, -0.19891391625419372, np.nan,
                       0.5017982309662664, 0.5866704026895115, np.nan, -0.5400862909562659],
    "hillas_fov_lat": [0.5197595089861149, 0.25728818644855356, -0.33605964338829575, -0.09528937572934428, np.nan,
                       -0.5790303610848997, 0.4504045818202236, np.nan, 0.102141686667471],
    "hillas_psi": [-61.57342078490962, -12.06120629515331, 22.935126642146976, 7.9402828371825525, np.nan,
                   -47.904901394762334, 46.79699915205693, np.nan, -9.657389507688992],
    "hillas_length": [0.21509036379075355, 0.15296942610594788, 0.19710924502850763, 0.10554880923107196, np.nan,
                      0.17024900520350478, 0.1680883028648645, np.nan, 0.14795266645640262],
    "hillas_width": [0.06641606548314888, 0.043591903208535406, 0.0662117102732191, 0.08487230247881063, np.nan,
                     0.06509646768196439, 0.06754239579753556, np.nan, 0.052405137899541196],
    "morphology_n_pixels": [28, 16, 22, 24, -1, 8, 10, -1, 5],
    "impact_distance": [90.7984495054455, 170.41137456964063, 156.9850334642796, 35.02144977874677,
                        232.40159298532018, 146.82993883088247, 124.29820583025666, 255.7883838156143,
                        98.52665378343075],
    "core_psi": [-28.426579227217392, -77.9387937143222, 67.06487336167211, 82.05971716545127, np.nan,
                 -42.09509861126457, 43.203000865569344, np.nan, -80.34261049829854],
}).set_index("tel")
CTAPIPE_EVENT = {"alt": 69.98683496212594, "az": 180.15543935948003, "alt_uncert": 0.18530603337014184,
                 "core_x": 28.701453183010695, "core_y": -97.0757982782052, "core_tilted_x": -26.970551634870937,
                 "core_tilted_y": 97.07579576904378, "h_max": 11787.762800535513,
                 "average_intensity": 406.4139149529593}


def test_agrees_with_ctapipe_on_camsettings_v6():
    tree = iactx.read_simtel(data_file("camsettings_v6.simtel.zst"))
    nodes = {n.path: n.to_dataset(inherit=False) for n in tree.subtree}
    for name in tree.iact.cameras:
        cam = nodes[f"/{name}"]
        rows = CTAPIPE_TEL.loc[cam.tel.values]
        for var in ("hillas_intensity", "hillas_fov_lon", "hillas_fov_lat", "hillas_psi", "hillas_length",
                    "hillas_width", "morphology_n_pixels"):
            cam[var] = ("tel_event", rows[var].to_numpy())
        nodes[f"/{name}"] = cam
    out = reconstruct(xr.DataTree.from_dict(nodes))
    ds = out.ds
    assert ds[f"{P}_is_valid"].item()
    # direction: same numbers to rounding
    assert abs(ds[f"{P}_alt"].item() - CTAPIPE_EVENT["alt"]) < 1e-9
    assert abs(ds[f"{P}_az"].item() - CTAPIPE_EVENT["az"]) < 1e-9
    assert abs(ds[f"{P}_alt_uncert"].item() - CTAPIPE_EVENT["alt_uncert"]) < 1e-9
    assert ds[f"{P}_average_intensity"].item() == pytest.approx(CTAPIPE_EVENT["average_intensity"], rel=1e-14)
    # core: ctapipe builds the array pointing from float32 radians; agreement to 1e-6 m
    for key in ("core_x", "core_y", "core_tilted_x", "core_tilted_y"):
        assert abs(ds[f"{P}_{key}"].item() - CTAPIPE_EVENT[key]) < 1e-6, key
    assert abs(ds[f"{P}_h_max"].item() - CTAPIPE_EVENT["h_max"]) < 1e-6
    used = tree["instrument"].ds.tel.values[ds[f"{P}_telescopes"].values[0]]
    np.testing.assert_array_equal(used, [1, 2, 3, 4, 9, 10, 19])
    for name in out.iact.cameras:
        cam = out[name].ds
        ref = CTAPIPE_TEL.loc[cam.tel.values]
        np.testing.assert_allclose(cam[f"{P}_tel_impact_distance"].values, ref["impact_distance"], atol=1e-6)
        np.testing.assert_allclose(cam.core_psi.values, ref["core_psi"], atol=1e-6)
    # camera radius as ctapipe's guess_radius (LSTcam, NectarCam)
    assert camera_radius(tree["LSTcam"].ds) == pytest.approx(1.1071927206, abs=1e-9)
    assert camera_radius(tree["NectarCam"].ds) == pytest.approx(1.1071926827, abs=1e-9)
