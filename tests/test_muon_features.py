"""Muon ring parameters: containment against numeric integration, kernels against numpy references."""

import numpy as np
import pytest
import xarray as xr

from iactx.image.muon import fit_muon_rings, muon_ring_parameters, ring_containment
from iactx.image.muon.features_kernels import PARAMETER_NAMES, ring_parameters_kernel
from muon_toys import camera_dataset, fov, hex_camera, ring_image

GEOM = hex_camera()
LON, LAT = fov(GEOM)
WIDTH = np.rad2deg(GEOM.pixel_width / 28.0)
CAMERA_RADIUS = 2.2


def containment_numeric(radius, cx, cy, camera_radius, n=200_000):
    """Fraction of points evenly spread along the ring that lie inside the camera circle."""
    t = (np.arange(n) + 0.5) / n * 2 * np.pi
    return np.mean(np.hypot(cx + radius * np.cos(t), cy + radius * np.sin(t)) < camera_radius)


@pytest.mark.parametrize("ring", [
    (1.0, 0.0, 0.0),      # centred, inside
    (1.0, 1.1, 0.3),      # inside, close to the edge
    (1.2, 1.5, 0.0),      # across the edge
    (1.2, -1.0, 1.6),     # across the edge
    (1.0, 2.2, 0.0),      # centre on the edge
    (1.1, 0.0, -3.2),     # touching from outside... almost
    (1.0, 3.5, 0.5),      # outside
    (3.0, 0.2, 0.1),      # encloses the camera
    (2.5, 0.9, 0.0),      # larger than the camera, across
])
def test_containment_matches_numeric_integration(ring):
    radius, cx, cy = ring
    expected = containment_numeric(radius, cx, cy, CAMERA_RADIUS)
    assert ring_containment(radius, cx, cy, CAMERA_RADIUS) == pytest.approx(expected, abs=1e-4)


def test_containment_vectorised_and_nan():
    out = ring_containment(np.array([1.0, np.nan, 1.2]), np.array([0.0, 0.0, 1.5]), 0.0, CAMERA_RADIUS)
    assert out.shape == (3,)
    assert out[0] == 1.0 and np.isnan(out[1])
    assert out[2] == pytest.approx(containment_numeric(1.2, 1.5, 0.0, CAMERA_RADIUS), abs=1e-4)


def parameters_reference(image, mask, ring, camera_radius, threshold=30.0, ratio_width=1.5, integration=0.25,
                         outer=0.2, n_bins=30):
    """The ring parameters with plain numpy."""
    r, cx, cy = ring
    image = image.astype(np.float64)
    d = np.hypot(LON - cx, LAT - cy)
    hist, _ = np.histogram(np.arctan2(LAT - cy, LON - cx), bins=n_bins, range=[-np.pi, np.pi], weights=image)
    band = np.abs(d - r) < r * integration
    outer_band = ~band & (np.abs(d - r) < r * (integration + outer))
    in_ratio = (d[mask] >= r - 0.5 * ratio_width * WIDTH[mask]) & (d[mask] <= r + 0.5 * ratio_width * WIDTH[mask])
    mean = np.average(d, weights=image)
    var = np.average((d - mean) ** 2, weights=image)
    std = np.sqrt(var) if var >= 0 else np.nan
    return np.array([
        containment_numeric(r, cx, cy, camera_radius, 400_000),
        np.sum(hist > threshold) / n_bins,
        image[mask][in_ratio].sum() / image[mask].sum(),
        np.average((d[mask] - r) ** 2, weights=image[mask]),
        image[band].sum(),
        image[~band & mask].sum(),
        np.sum(band & mask),
        image[outer_band].mean() if outer_band.any() else np.nan,
        std,
        np.average((d - mean) ** 3, weights=image) / std ** 3,
        np.average((d - mean) ** 4, weights=image) / std ** 4 - 3,
    ])


def run_kernel(images, masks, rings, selected=None, camera_radius=CAMERA_RADIUS, **options):
    n = len(images)
    out = np.empty((n, len(PARAMETER_NAMES)))
    selected = np.ones(n, bool) if selected is None else selected

    def row(name, default):
        return np.full(n, float(options.get(name, default)))

    ring_parameters_kernel(np.asarray(images), np.asarray(masks), selected, np.zeros(n, np.int64), LON[None],
                           LAT[None], WIDTH[None], np.array([camera_radius]), np.asarray(rings, np.float64),
                           row("threshold", 30.0), row("ratio_width", 1.5), row("integration", 0.25),
                           row("outer", 0.2), 30, out)
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_parameters_match_reference(dtype):
    rng = np.random.default_rng(5)
    images, masks, rings = [], [], []
    for k in range(8):
        ring = (rng.uniform(0.9, 1.3), rng.uniform(-1.5, 1.5), rng.uniform(-1.5, 1.5))
        arc = None if k % 2 else (-2.5, 1.0)
        img = ring_image(GEOM, ring[1], ring[2], ring[0], 0.05, amplitude=20.0, arc=arc, rng=rng, noise=1.0)
        images.append(img.astype(dtype))
        masks.append(img > 5)
        # a ring slightly off the true one, as a fit would give
        rings.append((ring[0] * 1.01, ring[1] + 0.01, ring[2] - 0.01))
    out = run_kernel(images, masks, rings)
    for k in range(8):
        ref = parameters_reference(images[k], masks[k], rings[k], CAMERA_RADIUS)
        np.testing.assert_allclose(out[k, 0], ref[0], atol=1e-4)
        np.testing.assert_allclose(out[k, 1:], ref[1:], rtol=1e-6 if dtype == np.float64 else 2e-5,
                                   atol=1e-12, equal_nan=True)


def test_completeness_of_arcs():
    full = ring_image(GEOM, 0.0, 0.0, 1.1, 0.05, amplitude=40.0)
    half = ring_image(GEOM, 0.0, 0.0, 1.1, 0.05, amplitude=40.0, arc=(0.0, np.pi))
    out = run_kernel([full, half], [full > 5, half > 5], [(1.1, 0.0, 0.0)] * 2)
    assert out[0, 1] == 1.0
    assert out[1, 1] == pytest.approx(0.5, abs=1 / 30 + 1e-9)
    # most light within 0.75 pixel widths of the ring, none beyond a quarter radius
    assert 0.8 < out[0, 2] < 1.0
    assert out[0, 5] == 0.0
    assert out[0, 8] == pytest.approx(0.05, rel=0.2)  # radial spread ~ ring width


def test_no_ring_gives_nan_and_minus_one():
    image = ring_image(GEOM, 0.0, 0.0, 1.1, 0.05, amplitude=40.0)
    out = run_kernel([image, image, image], [image > 5] * 3, [(np.nan, 0.0, 0.0), (1.1, 0.0, 0.0), (1.1, 0, 0)],
                     selected=np.array([True, False, True]))
    assert np.isnan(np.delete(out[0], 6)).all() and out[0, 6] == -1
    assert np.isnan(np.delete(out[1], 6)).all() and out[1, 6] == -1
    assert np.isfinite(out[2]).all()


def test_zero_image_moments_are_nan():
    image = np.zeros(GEOM.n_pixels)
    out = run_kernel([image], [image > 5], [(1.1, 0.0, 0.0)])
    assert np.isnan(out[0, 8:]).all()
    assert out[0, 1] == 0.0


def test_muon_ring_parameters_labelled():
    images = [ring_image(GEOM, 0.3, -0.2, 1.1, 0.05, amplitude=40.0),
              ring_image(GEOM, 1.6, 0.0, 1.2, 0.05, amplitude=40.0)]
    ds = camera_dataset(GEOM, images, [i > 10 for i in images])
    rings, _ = fit_muon_rings(ds)
    before = ds.copy(deep=True)
    params = muon_ring_parameters(ds, rings, completeness_threshold=[30.0, 10.0])
    xr.testing.assert_identical(ds, before)
    assert set(params.data_vars) == {f"muonparameters_{n}" for n in PARAMETER_NAMES}
    assert params["muonparameters_n_pixels_in_ring"].dtype == np.int64
    assert params["muonparameters_mean_squared_error"].attrs["units"] == "deg2"
    contained = params["muonparameters_containment"].values
    assert contained[0] == 1.0
    radius = rings["muonring_radius"].values[1]
    expected = containment_numeric(radius, rings["muonring_center_fov_lon"].values[1],
                                   rings["muonring_center_fov_lat"].values[1],
                                   np.hypot(LON, LAT)[GEOM.border_pixel_mask()].mean())
    assert contained[1] == pytest.approx(expected, abs=1e-3)
    assert 0.4 < contained[1] < 0.9
    with pytest.raises(ValueError, match="completeness_threshold"):
        muon_ring_parameters(ds, rings, completeness_threshold=[1.0, 2.0, 3.0])


def test_muon_ring_parameters_dask_matches_numpy():
    pytest.importorskip("dask")
    images = [ring_image(GEOM, 0.1 * k, -0.1 * k, 1.0 + 0.05 * k, 0.05, amplitude=40.0) for k in range(5)]
    ds = camera_dataset(GEOM, images, [i > 10 for i in images])
    rings, _ = fit_muon_rings(ds)
    eager = muon_ring_parameters(ds, rings)
    lazy_ds = ds.chunk(tel_event=2)
    lazy_rings, _ = fit_muon_rings(lazy_ds)
    lazy = muon_ring_parameters(lazy_ds, lazy_rings)
    assert lazy["muonparameters_containment"].chunks is not None
    xr.testing.assert_identical(eager, lazy.compute())
