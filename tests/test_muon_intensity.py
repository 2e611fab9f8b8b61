"""Muon intensity fit: chord geometry, light model against a numpy reference, fits of toy rings."""

import math

import numpy as np
import pytest
import xarray as xr
from scipy.special import erf

from iactx.image.muon import fit_muon_efficiency, fit_muon_rings, fit_ring_intensity
from iactx.image.muon.intensity_kernels import (
    AREA_RATIOS,
    FINE_STRUCTURE,
    chord_length,
    expected_light_row,
    expected_ring_light_kernel,
    mirror_chord,
    negative_log_likelihood_row,
)
from muon_toys import camera_dataset, fov, hex_camera

GEOM = hex_camera()
LON, LAT = np.deg2rad(fov(GEOM))
PIXEL = GEOM.pixel_width[0] / 28.0  # rad
MIRROR_RADIUS = math.sqrt(386.73 / math.pi)
HEX = AREA_RATIOS["hexagon"]


def chord_numeric(radius, impact, angle, n=400_001):
    """Length inside the circle of the ray from (impact, 0) in the direction -(cos angle, sin angle)."""
    t = np.linspace(0, 2 * (radius + impact), n)
    x = impact - t * math.cos(angle)
    y = -t * math.sin(angle)
    return np.count_nonzero(np.hypot(x, y) < radius) * (t[1] - t[0])


@pytest.mark.parametrize("impact", [0.0, 2.0, 5.5, 6.9, 8.0, 15.0])
@pytest.mark.parametrize("angle", [0.0, 0.3, 1.2, 2.0, 3.0, -0.7])
def test_chord_length_geometry(impact, angle):
    radius = 7.0
    assert chord_length(radius, impact / radius, angle) == pytest.approx(chord_numeric(radius, impact, angle),
                                                                          abs=2e-3)


def test_mirror_chord_subtracts_the_hole():
    for impact, angle in [(0.3, 0.5), (3.0, 2.5), (0.74, 0.1), (1.0, 3.1)]:
        expected = chord_numeric(MIRROR_RADIUS, impact, angle) - chord_numeric(0.74, impact, angle)
        assert mirror_chord(MIRROR_RADIUS, 0.74, impact, angle) == pytest.approx(expected, abs=3e-3)


def expected_light_reference(pix_x, pix_y, impact, phi, cx, cy, radius, width, efficiency, mirror_radius,
                             hole_radius, pixel_diameter, oversampling=3, min_lambda=300e-9, max_lambda=600e-9,
                             area_ratio=HEX):
    """The light model written out with numpy (np.interp, scipy.special.erf, np.roll)."""
    n = int(2 * np.pi * radius / pixel_diameter) * oversampling
    angles = np.linspace(-np.pi, np.pi, n) - phi
    raw = np.array([mirror_chord(mirror_radius, hole_radius, impact, a) for a in angles])
    smooth = sum(np.roll(raw, oversampling // 2 - j) for j in range(oversampling)) / oversampling
    dx, dy = pix_x - cx, pix_y - cy
    d = np.hypot(dx, dy)

    def cdf(x):
        return 0.5 * (1 + erf((x - radius) / (np.sqrt(2) * width)))

    gauss = cdf(d + pixel_diameter / 2) - cdf(d - pixel_diameter / 2)
    along = np.interp(np.arctan2(dy, dx) - phi, angles, smooth)
    return (along * efficiency * FINE_STRUCTURE * (1 / min_lambda - 1 / max_lambda) * pixel_diameter / radius
            * 0.5 * np.sin(2 * radius) * gauss * area_ratio)


MODELS = [
    # impact, phi, cx, cy, radius, width, efficiency, hole
    (3.0, 0.7, 0.001, -0.002, 0.021, 0.0004, 0.2, 0.74),
    (0.5, -2.0, 0.0, 0.0, 0.019, 0.0003, 0.1, 0.74),
    (9.0, 3.0, 0.01, 0.004, 0.020, 0.0005, 0.25, 0.0),
    (15.0, 1.0, -0.005, 0.0, 0.022, 0.0004, 0.2, 0.59),
]


@pytest.mark.parametrize("model", MODELS)
def test_expected_light_matches_reference(model):
    impact, phi, cx, cy, radius, width, eff, hole = model
    out = np.empty(LON.size)
    expected_light_row(LON, LAT, impact, phi, cx, cy, radius, width, eff, MIRROR_RADIUS, hole, PIXEL, 3,
                       300e-9, 600e-9, HEX, out)
    ref = expected_light_reference(LON, LAT, impact, phi, cx, cy, radius, width, eff, MIRROR_RADIUS, hole, PIXEL)
    np.testing.assert_allclose(out, ref, rtol=1e-9, atol=1e-12)
    assert out.max() > 1.0


def test_batched_model_and_likelihood():
    n = len(MODELS)
    cols = np.array(MODELS, dtype=np.float64).T
    out = np.empty((n, LON.size))
    ones = np.ones(n)
    expected_ring_light_kernel(np.zeros(n, np.int64), LON[None], LAT[None], cols[0], cols[1], cols[2], cols[3],
                               cols[4], cols[5], cols[6], MIRROR_RADIUS * ones, cols[7], PIXEL * ones,
                               np.full(n, 3, np.int64), 300e-9 * ones, 600e-9 * ones, HEX * ones, out)
    for k, model in enumerate(MODELS):
        single = np.empty(LON.size)
        expected_light_row(LON, LAT, *model[:7], MIRROR_RADIUS, model[7], PIXEL, 3, 300e-9, 600e-9, HEX, single)
        np.testing.assert_array_equal(out[k], single)
        image = single + 0.3
        pedestal = np.full(LON.size, 1.1)
        theta = 2 * (pedestal ** 2 + single * 1.25)
        expected = np.sum(np.log(np.pi * theta) / 2 + (image - single) ** 2 / theta)
        nll = negative_log_likelihood_row(image, pedestal, 0.5, LON, LAT, *model[:7], MIRROR_RADIUS, model[7],
                                          PIXEL, 3, 300e-9, 600e-9, HEX)
        assert nll == pytest.approx(expected, rel=1e-12)


def simulate(impact, phi, cx, cy, radius, width, efficiency, hole, seed):
    """A noisy toy ring image from the model, and the pixels near the ring."""
    mu = np.empty(LON.size)
    expected_light_row(LON, LAT, impact, phi, cx, cy, radius, width, efficiency, MIRROR_RADIUS, hole, PIXEL, 3,
                       300e-9, 600e-9, HEX, mu)
    rng = np.random.default_rng(seed)
    image = mu + rng.normal(0, 1, mu.size) * np.sqrt(1.1 ** 2 + mu * 1.25)
    near = np.abs(np.hypot(LON - cx, LAT - cy) - radius) / radius < 0.4
    return image, near


@pytest.mark.parametrize("truth", [
    (3.0, 0.7, 0.0005, -0.001, 0.021, 0.00035, 0.20, 0.74),
    (6.0, -2.5, 0.0, 0.002, 0.020, 0.0004, 0.15, 0.74),
    (1.5, 2.0, 0.0, 0.0, 0.021, 0.0003, 0.22, 0.0),
    (9.0, 1.0, 0.001, 0.0, 0.019, 0.0004, 0.25, 0.74),   # impact outside the mirror
])
def test_toy_rings_fitted(truth):
    impact, phi, cx, cy, radius, width, efficiency, hole = truth
    image, near = simulate(*truth, seed=7)
    result = fit_ring_intensity(image[near], np.full(near.sum(), 1.1), LON[near], LAT[near], cx, cy, radius,
                                mirror_radius=MIRROR_RADIUS, hole_radius=hole, pixel_diameter=PIXEL,
                                area_ratio=HEX, initial_width=1.5 * PIXEL)
    fit_width, fit_impact, ix, iy, fit_eff, valid, at_limit, nll = result
    assert valid and not at_limit
    assert fit_eff == pytest.approx(efficiency, rel=0.03)
    assert fit_width == pytest.approx(width, rel=0.15)  # sub-pixel widths: statistics
    assert fit_impact == pytest.approx(impact, abs=0.05 * MIRROR_RADIUS)
    if impact > 0.25 * MIRROR_RADIUS:  # the azimuthal modulation, hence phi, is weak for central impacts
        dphi = math.atan2(iy, ix) - phi
        assert math.atan2(math.sin(dphi), math.cos(dphi)) == pytest.approx(0.0, abs=0.15)
    assert np.hypot(ix, iy) == pytest.approx(fit_impact)
    # the minimum is no worse than the truth
    truth_nll = negative_log_likelihood_row(image[near], np.full(near.sum(), 1.1), 0.5, LON[near], LAT[near],
                                            impact, phi, cx, cy, radius, width, efficiency, MIRROR_RADIUS, hole,
                                            PIXEL, 3, 300e-9, 600e-9, HEX)
    assert nll <= truth_nll + 1e-6


def test_fit_without_pixels_is_invalid():
    result = fit_ring_intensity(np.empty(0), np.empty(0), np.empty(0), np.empty(0), 0.0, 0.0, 0.02,
                                mirror_radius=MIRROR_RADIUS, hole_radius=0.74, pixel_diameter=PIXEL)
    assert np.isnan(result[4]) and result[5] is False


def test_fit_muon_efficiency_labelled():
    truths = [(3.0, 0.7, 0.0005, -0.001, 0.021, 0.00035, 0.20, 0.74), (5.0, -1.0, 0.0, 0.0, 0.02, 0.0004, 0.18, 0.74)]
    images = [simulate(*t, seed=3)[0] for t in truths]
    images.append(images[0])
    ds = camera_dataset(GEOM, images, [i > 3 for i in images])
    rings, near = fit_muon_rings(ds)
    selected = xr.DataArray([True, True, False], dims="tel_event")
    out = fit_muon_efficiency(ds, rings, near, selected=selected, pedestal=1.1, mirror_radius=MIRROR_RADIUS,
                              hole_radius=0.74)
    assert out["muonefficiency_width"].attrs["units"] == "deg"
    assert out["muonefficiency_is_valid"].dtype == bool
    np.testing.assert_allclose(out["muonefficiency_optical_efficiency"].values[:2], [0.20, 0.18], rtol=0.05)
    assert np.isnan(out["muonefficiency_optical_efficiency"].values[2])
    assert out["muonefficiency_is_valid"].values.tolist() == [True, True, False]
    assert not out["muonefficiency_parameters_at_limit"].values.any()
    np.testing.assert_allclose(out["muonefficiency_width"].values[:2], np.rad2deg([0.00035, 0.0004]), rtol=0.1)
    np.testing.assert_allclose(np.hypot(out["muonefficiency_impact_x"], out["muonefficiency_impact_y"]),
                               out["muonefficiency_impact"])
    if pytest.importorskip("dask"):
        lazy_ds = ds.chunk(tel_event=2)
        lazy_rings, lazy_near = fit_muon_rings(lazy_ds)
        lazy = fit_muon_efficiency(lazy_ds, lazy_rings, lazy_near, selected=selected, pedestal=1.1,
                                   mirror_radius=MIRROR_RADIUS, hole_radius=0.74)
        xr.testing.assert_identical(out, lazy.compute())
