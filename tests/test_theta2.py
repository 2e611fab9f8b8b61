"""Theta, OFF positions, ON/OFF counts and the theta-square plot."""

import math
import subprocess
import sys

import astropy.units as u
import numpy as np
import pytest
import xarray as xr
from astropy.coordinates import ICRS, AltAz, EarthLocation, SkyCoord
from astropy.time import Time

from iactx.coordinates import projections as proj
from iactx.reco import off_positions, reconstruct, source_direction, theta, theta2_counts
from iactx.reco.geometry_toy import stereo_geometry_toy
from iactx.reco.theta import li_ma_significance, theta_off

POINTING = (70.0, 0.0)
WOBBLE = (0.5, 0.0)


@pytest.fixture(scope="module")
def gammas():
    return reconstruct(stereo_geometry_toy(400, seed=21, wobble=WOBBLE, cog_noise=0.03, psi_noise=4.0))


@pytest.fixture(scope="module")
def background():
    tree = stereo_geometry_toy(3000, seed=22, source_offset=2.5, first_event_id=100_000, cog_noise=0.03,
                               psi_noise=4.0)
    return reconstruct(tree)


def source_altaz():
    return proj.nominal_to_altaz(*WOBBLE, *POINTING)


def test_theta_to_the_true_direction_of_exact_toys():
    tree = reconstruct(stereo_geometry_toy(100, seed=3, source_offset=2.0))
    th = theta(tree)
    assert th.dims == ("event",) and th.attrs["units"] == "deg"
    valid = tree.ds.HillasReconstructor_is_valid.values
    assert th.values[valid].max() < 1e-9
    assert np.all(np.isnan(th.values[~valid]))
    xr.testing.assert_identical(tree.iact.theta(), th)


def test_source_forms_agree(gammas):
    alt, az = source_altaz()
    reference = theta(gammas, (alt, az))
    for source in ((f"{alt} deg", f"{az} deg"), (alt * u.deg, az * u.deg), np.deg2rad([alt, az]) * u.rad,
                   SkyCoord(alt=alt * u.deg, az=az * u.deg, frame=AltAz())):
        np.testing.assert_allclose(theta(gammas, source).values, reference.values, atol=1e-9)
    expected = proj.angular_separation(gammas.ds.HillasReconstructor_alt, gammas.ds.HillasReconstructor_az, alt, az)
    np.testing.assert_allclose(reference.values, expected, atol=1e-12)
    # the point source of the toy is the simulated direction
    np.testing.assert_allclose(theta(gammas).values, reference.values, atol=1e-9)
    with pytest.raises(TypeError):
        theta(gammas, source=42)


def test_celestial_source_uses_trigger_times_and_the_array_location(gammas):
    nodes = {n.path: n.to_dataset(inherit=False) for n in gammas.subtree}
    n = nodes["/"].sizes["event"]
    times = np.datetime64("2024-02-01T23:00:00") + np.arange(n) * np.timedelta64(30, "s")
    nodes["/"]["trigger_time"] = ("event", times)
    tree = xr.DataTree.from_dict(nodes)
    attrs = tree["instrument"].attrs
    location = EarthLocation(lon=attrs["reference_lon"] * u.deg, lat=attrs["reference_lat"] * u.deg,
                             height=attrs["reference_height"] * u.m)
    # a fixed sky position that is, at each event's time, where the reconstruction found it
    ds = tree.ds
    reco = SkyCoord(alt=ds.HillasReconstructor_alt.values[0] * u.deg, az=ds.HillasReconstructor_az.values[0] * u.deg,
                    frame=AltAz(obstime=Time(times[0]), location=location))
    star = reco.transform_to(ICRS())
    alt, az = source_direction(tree, star)
    assert alt.values[0] == pytest.approx(ds.HillasReconstructor_alt.values[0], abs=1e-8)
    assert theta(tree, star).values[0] < 1e-8
    # the sky turns: 30 s later the same star is ~0.1 deg away
    assert 0.05 < proj.angular_separation(alt.values[0], az.values[0], alt.values[1], az.values[1]) < 0.2
    with pytest.raises(TypeError, match="whole event tree"):
        source_direction(tree.to_dataset(), star)


def test_off_positions_reflect_around_the_pointing():
    alt, az = source_altaz()
    off_alt, off_az = off_positions(alt, az, *POINTING, n_off=1)
    assert off_alt.shape == (1,)
    lon, lat = proj.altaz_to_nominal(off_alt, off_az, *POINTING)
    np.testing.assert_allclose([lon[0], lat[0]], [-WOBBLE[0], -WOBBLE[1]], atol=1e-12)
    off_alt, off_az = off_positions([alt, alt], [az, az], *POINTING, n_off=5)
    assert off_alt.shape == (2, 5)
    # all on the circle through the source, equally spaced, the source excluded
    radius = proj.angular_separation(off_alt, off_az, *POINTING)
    np.testing.assert_allclose(radius, 0.5, atol=1e-12)
    positions = np.concatenate([[[alt, az]], np.stack([off_alt[0], off_az[0]], -1)])
    gaps = proj.angular_separation(positions[:, 0], positions[:, 1], np.roll(positions[:, 0], -1),
                                   np.roll(positions[:, 1], -1))
    np.testing.assert_allclose(gaps, gaps[0], rtol=1e-9)
    assert proj.angular_separation(off_alt[0], off_az[0], alt, az).min() > 0.4
    with pytest.raises(ValueError):
        off_positions(alt, az, *POINTING, n_off=0)


def test_theta_off(gammas):
    th_off = theta_off(gammas, n_off=3)
    assert th_off.dims == ("event", "off") and th_off.shape == (gammas.ds.sizes["event"], 3)
    valid = gammas.ds.HillasReconstructor_is_valid.values
    # a point source at 0.5 deg: the OFF positions are 2 * 0.5 * sin(45 deg) and 1 deg away from it
    np.testing.assert_allclose(np.median(th_off.values[valid], axis=0), [0.707, 1.0, 0.707], atol=0.05)


def test_counts_and_significance():
    on = np.array([0.05, 0.1, 0.19, 0.3, np.nan])
    off = np.array([[0.1, 0.5], [0.3, 0.15], [0.25, 0.4], [0.05, 0.9], [np.nan, np.nan]])
    counts = theta2_counts(on, off, cut=0.04)
    assert counts["n_on"] == 3 and counts["n_off"] == 3 and counts["alpha"] == 0.5
    assert counts["excess"] == pytest.approx(1.5)
    n_on, n_off, alpha = 130, 300, 1 / 3
    expected = math.sqrt(2 * (n_on * math.log((1 + alpha) / alpha * n_on / (n_on + n_off))
                              + n_off * math.log((1 + alpha) * n_off / (n_on + n_off))))
    assert li_ma_significance(n_on, n_off, alpha) == pytest.approx(expected, rel=1e-12)
    assert li_ma_significance(100, 300, 1 / 3) == pytest.approx(0, abs=1e-12)
    assert li_ma_significance(50, 300, 1 / 3) < 0
    assert li_ma_significance(0, 0, 0.5) == 0
    with pytest.raises(ValueError):
        theta2_counts(on, off[:, 0], 0.04)


def test_gammas_give_an_excess_and_background_none(gammas, background):
    alt, az = source_altaz()
    on = theta(gammas, (alt, az)).values
    off = theta_off(gammas, (alt, az), n_off=3).values
    valid = np.isfinite(on)
    counts = theta2_counts(on[valid], off[valid], 0.04)
    assert counts["n_on"] > 0.8 * valid.sum() and counts["n_off"] == 0
    on = theta(background, (alt, az)).values
    off = theta_off(background, (alt, az), n_off=3).values
    valid = np.isfinite(on)
    counts = theta2_counts(on[valid], off[valid], 0.04)
    assert counts["n_on"] > 5 and counts["n_off"] > 15
    assert abs(counts["significance"]) < 4  # isotropic background: ON and alpha * OFF agree


def test_import_iactx_does_not_import_holoviews():
    code = "import sys, iactx, iactx.reco, iactx.coordinates; assert 'holoviews' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_theta2_plot(gammas, background, tmp_path):
    hv = pytest.importorskip("holoviews")
    from iactx.plotting import theta2

    alt, az = source_altaz()
    plot = theta2([gammas, background], source=(alt, az), cut=0.04, n_off=3, bins=25, max_theta2=0.5)
    assert isinstance(plot, hv.Overlay)
    histograms = [el for el in plot if isinstance(el, hv.Histogram)]
    lines = [el for el in plot if isinstance(el, hv.VLine)]
    assert len(histograms) == 2 and len(lines) == 1 and lines[0].data == 0.04
    on_theta = np.concatenate([theta(t, (alt, az)).values for t in (gammas, background)])
    n_on = int(np.count_nonzero(on_theta**2 < 0.04))
    assert histograms[0].label == f"ON: {n_on} in cut"
    assert histograms[1].label.startswith("OFF × 0.333: ")
    edges = histograms[0].edges
    assert len(edges) == 26 and edges[-1] == pytest.approx(0.5)
    np.testing.assert_array_equal(histograms[0].dimension_values(1),
                                  np.histogram(on_theta[np.isfinite(on_theta)] ** 2, bins=edges)[0])
    # OFF scaled by alpha
    off_theta = np.concatenate([theta_off(t, (alt, az), n_off=3).values[np.isfinite(theta(t, (alt, az)).values)]
                                for t in (gammas, background)])
    np.testing.assert_allclose(histograms[1].dimension_values(1),
                               np.histogram(off_theta.ravel() ** 2, bins=edges)[0] / 3)
    hv.render(plot, backend="bokeh")
    # from a file too, and without OFF
    import iactx

    path = tmp_path / "gammas.nc"
    iactx.write_dl1(gammas, path)
    single = theta2(path, source=(alt, az), n_off=0)
    assert sum(isinstance(el, hv.Histogram) for el in single) == 1
    # on-axis events: OFF positions overlap ON, with a warning
    on_axis = reconstruct(stereo_geometry_toy(50, seed=4))
    with pytest.warns(UserWarning, match="overlap"):
        theta2(on_axis)
