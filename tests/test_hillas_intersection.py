"""HillasIntersection: exact crossings in the kernel, kernel == per-event numpy reference, toy geometry
recovered, ctapipe's validity rules and numbers on camsettings_v6, both reconstructors through ShowerProcessor
with scoped quality queries, ctapipe 0.32 configuration forms in ``iactx process``."""

from itertools import combinations

import numpy as np
import pytest
import xarray as xr
from conftest import data_file
from test_reconstruction import CTAPIPE_TEL

import iactx
from iactx.config.files import ConfigError
from iactx.coordinates import projections as proj
from iactx.image.processor import dl1
from iactx.reco import HillasIntersection, StereoQualityQuery, reconstruct, reconstruct_chain
from iactx.reco.geometry_toy import stereo_geometry_toy
from iactx.reco.hillas_intersection_kernels import WEIGHTINGS, hillas_intersection_kernel
from iactx.tools.cli import main
from iactx.tools.process import build_registry

P = "HillasIntersection"


def run_kernel(offsets, lon, lat, psi, intensity, tx, ty, weighting=0):
    n = offsets.size - 1
    out = [np.empty((n, 2)) for _ in range(4)] + [np.empty(n)]
    hillas_intersection_kernel(offsets, lon, lat, psi, intensity, tx, ty, weighting, *out)
    return out


def random_events(rng, sizes):
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    n = offsets[-1]
    return offsets, n


def test_kernel_finds_common_crossings_exactly():
    rng = np.random.default_rng(1)
    sizes = rng.integers(2, 7, 200)
    offsets, n = random_events(rng, sizes)
    event = np.repeat(np.arange(sizes.size), sizes)
    source = rng.normal(0, 0.03, (sizes.size, 2))          # nominal frame [rad]
    core = rng.normal(0, 200, (sizes.size, 2))              # tilted frame [m]
    psi = rng.uniform(-np.pi / 2, np.pi / 2, n)
    disp = rng.uniform(0.002, 0.03, n)                       # centroid to source [rad]
    impact = rng.uniform(20, 400, n)                         # telescope to core [m]
    lon = source[event, 0] - disp * np.cos(psi)
    lat = source[event, 1] - disp * np.sin(psi)
    # in the tilted frame the axis through the telescope has direction (sin psi, cos psi) in (x, y)
    tx = core[event, 0] - impact * np.sin(psi)
    ty = core[event, 1] - impact * np.cos(psi)
    intensity = rng.uniform(50, 5000, n)
    src, src_spread, core_out, core_spread, distance = run_kernel(offsets, lon, lat, psi, intensity, tx, ty)
    np.testing.assert_allclose(src, source, atol=1e-12)
    np.testing.assert_allclose(core_out, core, atol=1e-8)
    np.testing.assert_allclose(src_spread, 0.0, atol=1e-12)
    np.testing.assert_allclose(core_spread, 0.0, atol=1e-7)
    expected = np.bincount(event, intensity * impact / disp) / np.bincount(event, intensity)
    np.testing.assert_allclose(distance, expected, rtol=1e-9)


def reference_event(lon, lat, psi, intensity, tx, ty, hess=False):
    """One event after the published algorithm: weighted mean and spread of all pair crossings."""
    def cross(x1, y1, p1, x2, y2, p2):
        # solve x1 + s cos p1 = x2 + t cos p2, y1 + s sin p1 = y2 + t sin p2
        m = np.array([[np.cos(p1), -np.cos(p2)], [np.sin(p1), -np.sin(p2)]])
        s = np.linalg.solve(m, [x2 - x1, y2 - y1])[0]
        return x1 + s * np.cos(p1), y1 + s * np.sin(p1)

    pairs = list(combinations(range(lon.size), 2))
    a, b = intensity[[p[0] for p in pairs]], intensity[[p[1] for p in pairs]]
    w = (1 / (1 / a + 1 / b) if hess else a * b / (a + b)) * np.abs(
        np.sin([psi[i] - psi[j] for i, j in pairs]))
    src = np.array([cross(lon[i], lat[i], psi[i], lon[j], lat[j], psi[j]) for i, j in pairs])
    cor = np.array([cross(ty[i], tx[i], psi[i], ty[j], tx[j], psi[j])[::-1] for i, j in pairs])
    mean_s, mean_c = np.average(src, axis=0, weights=w), np.average(cor, axis=0, weights=w)
    spread_s = np.sqrt(np.average((src - mean_s) ** 2, axis=0, weights=w))
    spread_c = np.sqrt(np.average((cor - mean_c) ** 2, axis=0, weights=w))
    height = np.hypot(tx - mean_c[0], ty - mean_c[1]) / np.hypot(lon - mean_s[0], lat - mean_s[1])
    return mean_s, spread_s, mean_c, spread_c, np.average(height, weights=intensity)


@pytest.mark.parametrize("weighting", ["harmonic-mean-intensity", "HESS"])
def test_kernel_equals_per_event_reference_on_random_inputs(weighting):
    rng = np.random.default_rng(2)
    sizes = rng.integers(2, 8, 100)
    offsets, n = random_events(rng, sizes)
    lon, lat = rng.normal(0, 0.02, n), rng.normal(0, 0.02, n)
    psi = rng.uniform(-np.pi / 2, np.pi / 2, n)
    intensity = rng.uniform(50, 5000, n)
    tx, ty = rng.uniform(-300, 300, n), rng.uniform(-300, 300, n)
    out = run_kernel(offsets, lon, lat, psi, intensity, tx, ty, WEIGHTINGS[weighting])
    for i in range(sizes.size):
        r = slice(offsets[i], offsets[i + 1])
        expected = reference_event(lon[r], lat[r], psi[r], intensity[r], tx[r], ty[r], hess=weighting == "HESS")
        for got, want in zip(out, expected):
            np.testing.assert_allclose(got[i], want, rtol=1e-8, atol=1e-10)


def test_kernel_single_image_and_parallel_axes_give_nan():
    offsets = np.array([0, 1, 3], np.int64)
    lon, lat = np.array([0.01, 0.0, 0.01]), np.array([0.0, 0.0, 0.01])
    psi = np.array([0.3, 0.5, 0.5])  # the second event's axes are parallel
    out = run_kernel(offsets, lon, lat, psi, np.full(3, 100.0), np.zeros(3), np.array([0.0, 0.0, 50.0]))
    for values in out:
        assert np.isnan(values).all()


# ------------------------------------------------------------------ the labelled reconstruction


@pytest.fixture(scope="module")
def on_axis():
    return stereo_geometry_toy(300, seed=11)


def test_toy_geometry_is_recovered(on_axis):
    ds = reconstruct(on_axis, P).ds
    valid = ds[f"{P}_is_valid"].values
    assert valid.sum() > 250
    np.testing.assert_array_equal(valid, ds[f"{P}_telescopes"].values.sum(axis=1) >= 2)
    # straight image axes in the nominal frame: exact up to the curvature of the axes on the sky
    separation = proj.angular_separation(ds[f"{P}_alt"].values, ds[f"{P}_az"].values, ds.true_alt.values,
                                         ds.true_az.values)[valid]
    assert np.median(separation) < 1e-3 and separation.max() < 0.01
    core_error = np.hypot(ds[f"{P}_core_x"] - ds.true_core_x, ds[f"{P}_core_y"] - ds.true_core_y).values[valid]
    assert np.median(core_error) < 0.2
    # shower maximum from impact / disp (small angles): within a percent
    h_error = np.abs(ds[f"{P}_h_max"] / ds.true_h_max - 1).values[valid]
    assert np.median(h_error) < 0.01
    assert ds[f"{P}_alt"].attrs["units"] == "deg" and ds[f"{P}_core_x"].attrs["units"] == "m"
    for name in ("ang_distance_uncert", "core_uncert_x", "h_max_uncert"):
        assert np.isnan(ds[f"{P}_{name}"]).all()
    two = valid & (ds[f"{P}_telescopes"].values.sum(axis=1) == 2)
    assert two.any() and (ds[f"{P}_alt_uncert"].values[two] < 1e-15).all()  # one crossing: no spread


def test_impact_distances_and_no_core_psi(on_axis):
    out = reconstruct(on_axis, P)
    for name in out.iact.cameras:
        cam = out[name].ds
        assert "core_psi" not in cam
        used = np.isfinite(cam[f"{P}_tel_impact_distance"].values)
        error = np.abs(cam[f"{P}_tel_impact_distance"].values[used] - cam.true_impact_distance.values[used])
        assert used.sum() > 100 and np.median(error) < 0.2


def test_weightings_agree_and_weighting_is_checked(on_axis):
    konrad = reconstruct(on_axis, P, weighting="Konrad").ds
    hess = reconstruct(on_axis, P, weighting="HESS").ds
    default = reconstruct(on_axis, P).ds
    np.testing.assert_array_equal(konrad[f"{P}_alt"].values, default[f"{P}_alt"].values)
    np.testing.assert_allclose(hess[f"{P}_alt"].values, konrad[f"{P}_alt"].values, rtol=1e-12)
    with pytest.raises(ValueError, match="weighting"):
        HillasIntersection(weighting="Fancy")


def test_near_parallel_axes_put_the_source_outside_the_field_and_the_event_is_not_valid(on_axis):
    nodes = {node.path: node.to_dataset(inherit=False) for node in on_axis.subtree}
    for name in on_axis.iact.cameras:
        cam = nodes[f"/{name}"]
        psi = 30.0 + 1e-4 * np.arange(cam.sizes["tel_event"]) % 1e-3
        nodes[f"/{name}"] = cam.assign(hillas_psi=("tel_event", psi, {"units": "deg"}))

    ds = reconstruct(xr.DataTree.from_dict(nodes), P).ds
    assert not ds[f"{P}_is_valid"].values.any()
    assert np.isnan(ds[f"{P}_alt"]).all() and not ds[f"{P}_telescopes"].values.any()


def test_shower_processor_runs_both_with_scoped_quality_queries(on_axis):
    config = {"ShowerProcessor": {"reconstructor_types": ["HillasReconstructor", P]},
              "StereoQualityQuery": {"min_intensity": 100.0},
              "ShowerProcessor.HillasIntersection.StereoQualityQuery": {"min_intensity": 500.0},
              "ShowerProcessor.HillasIntersection": {"weighting": "HESS"}}
    ds = reconstruct_chain(on_axis, config).ds
    assert ds.attrs["HillasReconstructor_quality_criteria"].startswith("hillas_intensity > 100")
    assert ds.attrs[f"{P}_quality_criteria"].startswith("hillas_intensity > 500")
    alone = HillasIntersection(quality_query=StereoQualityQuery(min_intensity=500.0), weighting="HESS")(on_axis).ds
    np.testing.assert_array_equal(ds[f"{P}_alt"].values, alone[f"{P}_alt"].values)
    assert ds["HillasReconstructor_is_valid"].sum() > ds[f"{P}_is_valid"].sum()


# ------------------------------------------------------------------ ctapipe's numbers on camsettings_v6

#: ctapipe 0.32's HillasIntersection (default chain, ShowerProcessor(reconstructor_types=["HillasIntersection"]))
#: on camsettings_v6.simtel.zst from its own Hillas parameters (test_reconstruction.CTAPIPE_TEL), dumped by
#: benchmarks/ctapipe_reco_dump.py
CTAPIPE_EVENT = {"alt": 69.98320661259193, "az": 180.17928540158934, "alt_uncert": 0.139523468584441,
                 "core_x": 28.716170798432465, "core_y": -98.4975160751806, "core_tilted_x": -26.984381786220982,
                 "core_tilted_y": 98.49751356473251, "core_tilted_uncert_x": 11.150163918490007,
                 "core_tilted_uncert_y": 24.2705483504774, "h_max": 10584.784891739067,
                 "average_intensity": 406.4139149529593}
CTAPIPE_IMPACT = {1: 91.51289345001236, 2: 171.76903689387652, 3: 158.31615022324831, 4: 36.336797061465425,
                  5: 233.02965784284777, 9: 145.93181632162754, 10: 123.26374833328217, 14: 254.37680643121186,
                  19: 99.92397221581362}


def test_agrees_with_ctapipe_on_camsettings_v6():
    tree = iactx.read_simtel(data_file("camsettings_v6.simtel.zst"))
    nodes = {n.path: n.to_dataset(inherit=False) for n in tree.subtree}
    for name in tree.iact.cameras:
        ref = CTAPIPE_TEL.loc[nodes[f"/{name}"].tel.values]
        nodes[f"/{name}"] = nodes[f"/{name}"].assign({v: ("tel_event", ref[v].to_numpy()) for v in (
            "hillas_intensity", "hillas_fov_lon", "hillas_fov_lat", "hillas_psi", "hillas_length", "hillas_width",
            "morphology_n_pixels")})
    out = reconstruct(xr.DataTree.from_dict(nodes), P)
    ds = out.ds
    assert ds[f"{P}_is_valid"].item()
    np.testing.assert_array_equal(tree["instrument"].ds.tel.values[ds[f"{P}_telescopes"].values[0]],
                                  [1, 2, 3, 4, 9, 10, 19])
    # ctapipe's array pointing is float32 radians: 1e-6 deg and 1e-6 m instead of rounding
    for key in ("alt", "az"):
        assert abs(ds[f"{P}_{key}"].item() - CTAPIPE_EVENT[key]) < 1e-6, key
    assert ds[f"{P}_alt_uncert"].item() == pytest.approx(CTAPIPE_EVENT["alt_uncert"], abs=1e-9)
    assert ds[f"{P}_az_uncert"].item() == ds[f"{P}_alt_uncert"].item()
    for key in ("core_x", "core_y", "core_tilted_x", "core_tilted_y", "core_tilted_uncert_x", "core_tilted_uncert_y"):
        assert abs(ds[f"{P}_{key}"].item() - CTAPIPE_EVENT[key]) < 1e-6, key
    assert abs(ds[f"{P}_h_max"].item() - CTAPIPE_EVENT["h_max"]) < 1e-5
    assert ds[f"{P}_average_intensity"].item() == pytest.approx(CTAPIPE_EVENT["average_intensity"], rel=1e-14)
    for name in ("ang_distance_uncert", "core_uncert_x", "core_uncert_y", "h_max_uncert"):
        assert np.isnan(ds[f"{P}_{name}"].item()) and "not estimated" in ds[f"{P}_{name}"].attrs["long_name"]
    for name in out.iact.cameras:
        cam = out[name].ds
        np.testing.assert_allclose(cam[f"{P}_tel_impact_distance"].values,
                                   [CTAPIPE_IMPACT[t] for t in cam.tel.values], atol=1e-6)


# ------------------------------------------------------------------ ctapipe 0.32 configuration, iactx process


CONFIG_032 = """
ShowerProcessor:
  reconstructor_types: [HillasReconstructor, HillasIntersection]
  HillasIntersection:
    StereoQualityQuery:
      min_intensity: 200
HillasIntersection:
  weighting: HARMONIC-MEAN-INTENSITY
"""


def test_ctapipe_032_config_selects_hillas_intersection_in_process(tmp_path):
    (tmp_path / "stereo.yaml").write_text(CONFIG_032)
    out, path = tmp_path / "stereo.nc", data_file("camsettings_v6.simtel.zst")
    assert main(["process", "--input", str(path), "--output", str(out), "--reconstruct", "--config",
                 str(tmp_path / "stereo.yaml")]) == 0
    tree = iactx.open_dl1(out)
    ds, tel_ids = tree.ds, tree["instrument"].ds.tel.values
    assert ds[f"{P}_is_valid"].item() and ds["HillasReconstructor_is_valid"].item()
    # the nested quality query applies to HillasIntersection only (images above 200 pe: telescopes 1-4, 10)
    assert ds.attrs[f"{P}_quality_criteria"].startswith("hillas_intensity > 200")
    assert ds.attrs["HillasReconstructor_quality_criteria"].startswith("hillas_intensity > 50")
    np.testing.assert_array_equal(tel_ids[ds[f"{P}_telescopes"].values[0]], [1, 2, 3, 4, 10])
    np.testing.assert_array_equal(tel_ids[ds["HillasReconstructor_telescopes"].values[0]], [1, 2, 3, 4, 9, 10, 19])
    # the numbers of the component configured by hand on the same DL1 parameters
    alone = HillasIntersection(quality_query=StereoQualityQuery(min_intensity=200.0))(dl1(iactx.read_simtel(path)))
    for key in ("alt", "az", "core_x", "core_y", "h_max"):
        assert ds[f"{P}_{key}"].item() == alone.ds[f"{P}_{key}"].item(), key
    # a 200 GeV gamma: the direction within a quarter degree of the truth
    assert abs(ds[f"{P}_alt"].item() - ds.true_alt.item()) < 0.25
    assert abs(ds[f"{P}_az"].item() - ds.true_az.item()) < 0.5
    for name in tree.iact.cameras:
        assert np.isfinite(tree[name].ds[f"{P}_tel_impact_distance"]).any()


@pytest.mark.parametrize("config, message", [
    ({"HillasIntersection": {"weightng": "HESS"}}, "did you mean 'weighting'"),
    ({"ShowerProcessor": {"reconstructor_types": ["HillasIntersecton"]}}, "ShowerProcessor.reconstructor_types"),
    ({"ShowerProcessor": {"HillasIntersection": {"weighting": "Fancy"}}}, "HillasIntersection.weighting"),
])
def test_bad_stereo_configuration_is_refused(config, message):
    registry = build_registry()
    with pytest.raises(ConfigError, match=message):
        registry.validate(registry.normalize(config))


def test_config_names_are_case_insensitive_and_nested_sections_scoped():
    config = build_registry().normalize({"ProcessorTool": {"ShowerProcessor": {
        "reconstructor_types": ["hillasintersection"], "HillasIntersection": {"weighting": "hess"}}}})
    assert config == {"ShowerProcessor": {"reconstructor_types": ["HillasIntersection"]},
                      "ShowerProcessor.HillasIntersection": {"weighting": "HESS"}}
