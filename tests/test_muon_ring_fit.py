"""Muon ring fits: kernels against slow references, toy rings recovered, labelled layer."""

import numpy as np
import pytest
import xarray as xr
from scipy.optimize import minimize

from iactx.image.muon import fit_muon_rings
from iactx.image.muon.ring_fit_kernels import (
    FIT_METHODS,
    KUNDU_CHAUDHURI,
    KUNDU_CHAUDHURI_TAUBIN,
    TAUBIN,
    ring_fit_kernel,
    taubin_loss,
)
from muon_toys import camera_dataset, fov, hex_camera, ring_image

GEOM = hex_camera()
LON, LAT = fov(GEOM)
MAX_FOV = 2 * LON.max()


# --------------------------------------------------------------------------- slow references
def kundu_chaudhuri_reference(x, y, w):
    """Kundu & Chaudhuri's linear system, solved with numpy.linalg."""
    mx, my = np.average(x, weights=w), np.average(y, weights=w)
    a = np.array([[np.sum(w * (x - mx) * x), np.sum(w * (x - mx) * y)],
                  [np.sum(w * (y - my) * x), np.sum(w * (y - my) * y)]])
    b = 0.5 * np.array([np.sum(w * (x - mx) * (x ** 2 + y ** 2)), np.sum(w * (y - my) * (x ** 2 + y ** 2))])
    cx, cy = np.linalg.solve(a, b)
    r = np.sqrt(np.average((x - cx) ** 2 + (y - cy) ** 2, weights=w))
    d2 = (x - cx) ** 2 + (y - cy) ** 2
    delta = d2 - r ** 2
    part = np.sqrt(d2 + r ** 2 / 4)
    err = (np.sqrt(np.average((delta - np.average(delta, weights=w)) ** 2, weights=w))
           / np.sqrt(np.average((part - np.average(part, weights=w)) ** 2, weights=w)) / w.sum() / 2 / np.sqrt(2))
    return r, cx, cy, err / 2, err, err


def taubin_reference(x, y, w, start):
    """Taubin loss minimised over (cx, cy, r) by Nelder-Mead; errors from a finite-difference Hessian."""
    def loss(p):
        d2 = (x - p[0]) ** 2 + (y - p[1]) ** 2
        return np.abs(np.sum((w * (d2 - p[2] ** 2)) ** 2)) / np.abs(np.sum(w * d2))

    res = minimize(loss, start, method="Nelder-Mead",
                   options={"xatol": 1e-12, "fatol": 1e-16, "maxiter": 40000, "maxfev": 40000})
    p = res.x
    h = np.empty((3, 3))
    step = 1e-4
    for i in range(3):
        for j in range(3):
            ei, ej = np.eye(3)[i] * step, np.eye(3)[j] * step
            h[i, j] = (loss(p + ei + ej) - loss(p + ei - ej) - loss(p - ei + ej) + loss(p - ei - ej)) / (4 * step ** 2)
    err = np.sqrt(np.diag(2 * np.linalg.inv(h)))
    return p[2], p[0], p[1], err[2], err[0], err[1], loss(p)


def run_kernel(images, masks, method, n_iterations=1, selected=None, refit_width=0.4, lon=LON, lat=LAT):
    images = np.atleast_2d(images)
    n = images.shape[0]
    params = np.empty((n, 6))
    ring_mask = np.empty(images.shape, bool)
    selected = np.ones(n, bool) if selected is None else selected
    ring_fit_kernel(images, np.atleast_2d(masks), selected, np.zeros(n, np.int64), lon[None], lat[None],
                    np.array([2 * lon.max()]), method, n_iterations, refit_width, params, ring_mask)
    return params, ring_mask


def noisy_rings(n, dtype, seed=1):
    rng = np.random.default_rng(seed)
    images, masks = [], []
    for _ in range(n):
        cx, cy = rng.uniform(-0.6, 0.6, 2)
        r = rng.uniform(0.9, 1.4)
        img = ring_image(GEOM, cx, cy, r, 0.05, amplitude=rng.uniform(5, 30), rng=rng, noise=1.0)
        images.append(img.astype(dtype))
        masks.append(img > 4)
    return np.array(images), np.array(masks)


# --------------------------------------------------------------------------- kernels vs references
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kundu_chaudhuri_matches_reference(dtype):
    images, masks = noisy_rings(6, dtype)
    params, _ = run_kernel(images, masks, KUNDU_CHAUDHURI)
    for p, img, m in zip(params, images, masks):
        ref = kundu_chaudhuri_reference(LON[m], LAT[m], img[m].astype(np.float64))
        np.testing.assert_allclose(p, ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("method", [TAUBIN, KUNDU_CHAUDHURI_TAUBIN])
def test_taubin_matches_reference(dtype, method):
    images, masks = noisy_rings(4, dtype, seed=2)
    params, _ = run_kernel(images, masks, method)
    for p, img, m in zip(params, images, masks):
        x, y = LON[m], LAT[m]
        w = np.ones(m.sum()) if method == TAUBIN else img[m].astype(np.float64)
        start = [0.0, 0.0, 1.1] if method == TAUBIN else list(np.array(kundu_chaudhuri_reference(x, y, w))[[1, 2, 0]])
        r, cx, cy, r_err, cx_err, cy_err, ref_loss = taubin_reference(x, y, w, start)
        # the kernel's minimum is at least as good as Nelder-Mead's, and the same point
        assert taubin_loss(x, y, w, p[1], p[2], p[0]) <= ref_loss * (1 + 1e-9)
        np.testing.assert_allclose(p[:3], [r, cx, cy], atol=2e-6)
        np.testing.assert_allclose(p[3:], [r_err, cx_err, cy_err], rtol=2e-3)


def test_iterations_match_manual_refits():
    images, masks = noisy_rings(3, np.float64, seed=3)
    for method in FIT_METHODS.values():
        params, ring_mask = run_kernel(images, masks, method, n_iterations=3)
        for i in range(3):
            mask = masks[i]
            for _ in range(3):
                p, _ = run_kernel(images[i], mask, method)
                d = np.hypot(LON - p[0, 1], LAT - p[0, 2])
                mask = np.abs(d - p[0, 0]) / p[0, 0] < 0.4
            np.testing.assert_allclose(params[i], p[0], rtol=1e-12, equal_nan=True)
            np.testing.assert_array_equal(ring_mask[i], mask)


def test_degenerate_rows_give_nan():
    image = np.zeros((4, GEOM.n_pixels))
    masks = np.zeros_like(image, bool)
    masks[1, :2] = True            # two pixels only
    image[1, :2] = 5.0
    image[2] = np.nan              # NaN charges (the unweighted Taubin fit does not read them)
    masks[2, :100] = True
    ring = ring_image(GEOM, 0.1, 0.1, 1.0, 0.05)
    image[3], masks[3] = ring, ring > 5
    for method in FIT_METHODS.values():
        params, ring_mask = run_kernel(image, masks, method, n_iterations=3,
                                       selected=np.array([True, True, True, False]))
        rows = [0, 1, 3] if method == TAUBIN else [0, 1, 2, 3]
        assert np.isnan(params[rows, :3]).all()
        assert not ring_mask[rows].any()


# --------------------------------------------------------------------------- toy rings recovered
TOYS = [
    # centre lon, lat [deg], radius, width [deg], arc
    (0.0, 0.0, 1.1, 0.04, None),
    (0.4, -0.3, 1.2, 0.06, None),
    (-0.8, 0.5, 0.9, 0.03, None),
    (1.5, 0.2, 1.2, 0.05, None),             # ring crosses the camera edge
    (-1.2, -1.3, 1.0, 0.05, None),           # ring crosses the camera edge
    (0.2, 0.1, 1.15, 0.05, (-2.0, 1.5)),     # partial arc
]


@pytest.mark.parametrize("method", sorted(FIT_METHODS))
@pytest.mark.parametrize("toy", TOYS)
def test_toy_rings_recovered(method, toy):
    cx, cy, r, width, arc = toy
    image = ring_image(GEOM, cx, cy, r, width, amplitude=30.0, arc=arc)
    mask = image > 10.0
    # the unweighted Taubin fit is refitted on charge-less pixels too (as in the reference), so
    # it is checked on the cleaned pixels alone; unweighted, it also feels the pixel sampling
    # of narrow rings, hence the cleaning at a third of the peak charge
    n_iterations = 1 if method == "taubin" else 3
    params, _ = run_kernel(image, mask, FIT_METHODS[method], n_iterations=n_iterations)
    radius, lon, lat = params[0, :3]
    assert abs(radius - r) / r < 0.01
    assert np.hypot(lon - cx, lat - cy) < 0.02
    assert np.all(params[0, 3:] > 0)


# --------------------------------------------------------------------------- labelled layer
def toy_dataset():
    images, masks = [], []
    for cx, cy, r, width, arc in TOYS:
        img = ring_image(GEOM, cx, cy, r, width, amplitude=30.0, arc=arc)
        images.append(img)
        masks.append(img > 3.0)
    return camera_dataset(GEOM, images, masks)


def test_fit_muon_rings_labelled():
    ds = toy_dataset()
    before = ds.copy(deep=True)
    rings, ring_mask = fit_muon_rings(ds)
    xr.testing.assert_identical(ds, before)
    assert rings["muonring_radius"].dims == ("tel_event",)
    assert rings["muonring_radius"].attrs["units"] == "deg"
    assert ring_mask.dims == ("tel_event", "pixel")
    assert (rings.indexes["tel_event"] == ds.indexes["tel_event"]).all()
    truth = np.array([t[:3] for t in TOYS])
    np.testing.assert_allclose(rings["muonring_radius"], truth[:, 2], rtol=0.01)
    np.testing.assert_allclose(rings["muonring_center_distance"], np.hypot(truth[:, 0], truth[:, 1]), atol=0.02)
    np.testing.assert_allclose(rings["muonring_center_phi"],
                               np.rad2deg(np.arctan2(rings["muonring_center_fov_lat"],
                                                     rings["muonring_center_fov_lon"])))


def test_fit_muon_rings_dask_matches_numpy():
    pytest.importorskip("dask")
    ds = toy_dataset()
    eager, eager_mask = fit_muon_rings(ds)
    lazy, lazy_mask = fit_muon_rings(ds.chunk(tel_event=2))
    assert lazy["muonring_radius"].chunks is not None
    xr.testing.assert_identical(eager, lazy.compute())
    xr.testing.assert_identical(eager_mask, lazy_mask.compute())


def test_fit_muon_rings_selected_and_options():
    ds = toy_dataset()
    selected = xr.DataArray(np.arange(len(TOYS)) % 2 == 0, dims="tel_event")
    rings, ring_mask = fit_muon_rings(ds, method="kundu_chaudhuri", selected=selected, n_iterations=1)
    assert np.isnan(rings["muonring_radius"].values[1::2]).all()
    assert np.isfinite(rings["muonring_radius"].values[::2]).all()
    assert not ring_mask.values[1::2].any()
    with pytest.raises(ValueError, match="unknown ring fit method"):
        fit_muon_rings(ds, method="hough")
    with pytest.raises(ValueError, match="n_iterations"):
        fit_muon_rings(ds, n_iterations=0)
    with pytest.raises(ValueError, match="image_mask"):
        fit_muon_rings(ds.drop_vars("image_mask"))


def test_focal_lengths_per_tel_event():
    """Telescope events with another focal length see the same ring at another angular scale."""
    image = ring_image(GEOM, 0.2, 0.1, 1.0, 0.05, amplitude=30.0)
    ds = camera_dataset(GEOM, [image, image], [image > 3, image > 3])
    ds["focal_length"] = ("tel_event", np.array([28.0, 14.0]), {"units": "m"})
    rings, _ = fit_muon_rings(ds)
    np.testing.assert_allclose(rings["muonring_radius"].values[1], 2 * rings["muonring_radius"].values[0],
                               rtol=1e-6)
