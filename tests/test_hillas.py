"""Hillas parameters: toy images with known moments are recovered, in both frames.

The idea of ctapipe's test_hillas.py: noiseless elliptical images with known
centroid, length, width, orientation and skewness, on many random
orientations, in one batch; plus an independent numpy reference of every
definition (including the uncertainties), and the timing gradient of toy
peak times.
"""

import numpy as np
import pytest
from image_toys import camera_group, hex_geometry, shower_image

from iactx.image.parameters import hillas_parameters, image_parameters

GEOM = hex_geometry(n_rings=70, spacing=0.01, name="FineHex")  # 14911 pixels, 1.4 m across
FOCAL = 16.0
K_DEG = np.rad2deg(1.0) / FOCAL  # telescope-frame degrees per metre


def wrap_psi(deg):
    """Orientation folded into (-90, 90] degrees."""
    return (np.asarray(deg) + 90.0) % 180.0 - 90.0 + np.where((np.asarray(deg) + 90.0) % 180.0 == 0, 180.0, 0.0)


def toy_batch(n=60, seed=0):
    rng = np.random.default_rng(seed)
    truth = {
        "x": rng.uniform(-0.12, 0.12, n), "y": rng.uniform(-0.12, 0.12, n),
        "length": rng.uniform(0.05, 0.09, n), "width": rng.uniform(0.02, 0.035, n),
        "direction": rng.uniform(-180, 180, n), "intensity": rng.uniform(100, 5000, n),
        "skew_shape": rng.choice([0.0, 2.0, 5.0], n),
    }
    images, skews, kurts = [], [], []
    for i in range(n):
        img, moments = shower_image(GEOM, x=truth["x"][i], y=truth["y"][i], length=truth["length"][i],
                                    width=truth["width"][i], psi_deg=truth["direction"][i],
                                    intensity=truth["intensity"][i], skew_shape=truth["skew_shape"][i])
        images.append(img)
        skews.append(moments["skewness"])
        kurts.append(moments["kurtosis"])
    truth["skewness"], truth["kurtosis"] = np.array(skews), np.array(kurts)
    images = np.array(images)
    mask = images > 0  # noiseless: every pixel, so only the (distant) camera edge truncates
    return camera_group(GEOM, images, focal_length=FOCAL, mask=mask), truth


@pytest.fixture(scope="module")
def toys():
    return toy_batch()


def expected_orientation(direction_deg):
    """psi in (-90, 90] and the sign the skewness gets along psi's direction."""
    psi = wrap_psi(direction_deg)
    sign = np.where(np.isclose(np.cos(np.deg2rad(psi - direction_deg)), 1.0), 1.0, -1.0)
    return psi, sign


def test_camera_frame_recovers_known_moments(toys):
    cam, truth = toys
    h = hillas_parameters(cam, "camera")
    np.testing.assert_allclose(h.camera_frame_hillas_x, truth["x"], atol=2e-4)
    np.testing.assert_allclose(h.camera_frame_hillas_y, truth["y"], atol=2e-4)
    np.testing.assert_allclose(h.camera_frame_hillas_length, truth["length"], rtol=5e-3)
    np.testing.assert_allclose(h.camera_frame_hillas_width, truth["width"], rtol=1e-2)
    psi, sign = expected_orientation(truth["direction"])
    d_psi = (h.camera_frame_hillas_psi.values - psi + 90) % 180 - 90
    np.testing.assert_allclose(d_psi, 0, atol=0.05)
    np.testing.assert_allclose(h.camera_frame_hillas_skewness, sign * truth["skewness"], atol=0.02)
    np.testing.assert_allclose(h.camera_frame_hillas_kurtosis, truth["kurtosis"], rtol=0.02)
    np.testing.assert_allclose(h.camera_frame_hillas_intensity, cam.image.where(cam.image_mask).sum("pixel"),
                               rtol=1e-12)
    np.testing.assert_allclose(h.camera_frame_hillas_r, np.hypot(truth["x"], truth["y"]), atol=2e-4)
    phi = np.rad2deg(np.arctan2(truth["y"], truth["x"]))
    np.testing.assert_allclose((h.camera_frame_hillas_phi - phi + 180) % 360 - 180, 0, atol=0.1)
    for name in ("length_uncertainty", "width_uncertainty", "psi_uncertainty", "transverse_cog_uncertainty"):
        values = h[f"camera_frame_hillas_{name}"].values
        assert np.all(np.isfinite(values)) and np.all(values > 0), name


def test_telescope_frame_recovers_known_moments(toys):
    cam, truth = toys
    h = hillas_parameters(cam)  # telescope frame by default
    assert h.hillas_fov_lon.attrs["units"] == "deg" and h.hillas_psi.attrs["units"] == "deg"
    # fov_lon follows camera y, fov_lat camera x, scaled by 1 / focal length
    np.testing.assert_allclose(h.hillas_fov_lon, truth["y"] * K_DEG, atol=2e-4 * K_DEG)
    np.testing.assert_allclose(h.hillas_fov_lat, truth["x"] * K_DEG, atol=2e-4 * K_DEG)
    np.testing.assert_allclose(h.hillas_length, truth["length"] * K_DEG, rtol=5e-3)
    np.testing.assert_allclose(h.hillas_width, truth["width"] * K_DEG, rtol=1e-2)
    # the axis direction (cos a, sin a) maps to (sin a, cos a): angle 90 - a
    psi, sign = expected_orientation(90.0 - truth["direction"])
    d_psi = (h.hillas_psi.values - psi + 90) % 180 - 90
    np.testing.assert_allclose(d_psi, 0, atol=0.05)
    np.testing.assert_allclose(h.hillas_skewness, sign * truth["skewness"], atol=0.02)
    np.testing.assert_allclose(h.hillas_kurtosis, truth["kurtosis"], rtol=0.02)
    # angular sizes are the camera-frame ones times 1 / f; psi uncertainty is frame independent
    c = hillas_parameters(cam, "camera")
    for name in ("length_uncertainty", "width_uncertainty", "transverse_cog_uncertainty", "r"):
        np.testing.assert_allclose(h[f"hillas_{name}"], c[f"camera_frame_hillas_{name}"] * K_DEG, rtol=1e-9)
    np.testing.assert_allclose(h.hillas_psi_uncertainty, c.camera_frame_hillas_psi_uncertainty, rtol=1e-9)


# --------------------------------------------------------------------------- numpy reference
def reference_hillas(x, y, area, w):
    """Hillas moments of one image, written with numpy's statistics and linear algebra."""
    size = w.sum()
    cx, cy = np.average(x, weights=w), np.average(y, weights=w)
    dx, dy = x - cx, y - cy
    cov = np.cov(dx, dy, aweights=w, ddof=0)
    vals, vecs = np.linalg.eigh(cov)
    vals[np.abs(vals) <= np.finfo(float).eps] = 0
    width, length = np.sqrt(vals)
    vx, vy = vecs[:, 1]
    psi = np.arctan(vy / vx) if vx != 0 else np.pi / 2
    longi = dx * np.cos(psi) + dy * np.sin(psi)
    trans = -dx * np.sin(psi) + dy * np.cos(psi)
    # weighted straight-line fit of trans against longi, weights charge / area
    sw = np.sqrt(w / area)
    design = np.column_stack([longi, np.ones_like(longi)])
    fit_cov = np.linalg.inv((design * (w / area)[:, None]).T @ design)
    slope, _ = np.linalg.lstsq(design * sw[:, None], trans * sw, rcond=None)[0]
    psi_unc = np.sqrt(fit_cov[0, 0] + slope**2) * (1 + np.tan(width / length * np.pi / 2) ** 2)
    trans_unc = np.sqrt(fit_cov[1, 1] * (1 + np.sin(slope) ** 2))
    # second-moment propagation
    a, b, c = np.cos(psi) ** 2, np.sin(psi) ** 2, np.sin(2 * psi)
    da = (dx**2 - cov[0, 0]) / size
    db = (dy**2 - cov[1, 1]) / size
    dc = (dx * dy - cov[0, 1]) / size
    length_unc = np.sqrt(np.sum((a * da + b * db + c * dc) ** 2 * w)) / (2 * length)
    width_unc = np.sqrt(np.sum((b * da + a * db - c * dc) ** 2 * w)) / (2 * width)
    return {
        "intensity": size, "x": cx, "y": cy, "r": np.hypot(cx, cy), "phi": np.rad2deg(np.arctan2(cy, cx)),
        "length": length, "width": width, "psi": np.rad2deg(psi),
        "skewness": np.average(longi**3, weights=w) / length**3,
        "kurtosis": np.average(longi**4, weights=w) / length**4,
        "psi_uncertainty": np.rad2deg(psi_unc), "transverse_cog_uncertainty": trans_unc,
        "length_uncertainty": length_unc, "width_uncertainty": width_unc,
    }


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("frame", ["camera", "telescope"])
def test_against_numpy_reference_on_noisy_images(dtype, frame):
    geom = hex_geometry(12, 0.05)
    rng = np.random.default_rng(7)
    n = 25
    images = np.empty((n, geom.n_pixels))
    for i in range(n):
        img, _ = shower_image(geom, x=rng.uniform(-0.2, 0.2), y=rng.uniform(-0.2, 0.2),
                              length=rng.uniform(0.08, 0.2), width=rng.uniform(0.03, 0.06),
                              psi_deg=rng.uniform(-180, 180), intensity=rng.uniform(200, 3000),
                              skew_shape=rng.uniform(0, 4))
        images[i] = img + rng.normal(0, 2, geom.n_pixels)
    images = images.astype(dtype)
    mask = images > 6
    cam = camera_group(geom, images, mask=mask, focal_length=rng.uniform(10, 30, n))
    h = hillas_parameters(cam, frame)
    prefix = "hillas_" if frame == "telescope" else "camera_frame_hillas_"
    scale = np.rad2deg(1.0) / cam.focal_length.values if frame == "telescope" else np.ones(n)
    for i in range(n):
        m = mask[i]
        if frame == "telescope":
            x, y = geom.pix_y[m] * scale[i], geom.pix_x[m] * scale[i]
        else:
            x, y = geom.pix_x[m], geom.pix_y[m]
        ref = reference_hillas(x, y, geom.pix_area[m] * scale[i] ** 2, images[i][m].astype(np.float64))
        for name, value in ref.items():
            key = {"x": "fov_lon", "y": "fov_lat"}.get(name, name) if frame == "telescope" else name
            np.testing.assert_allclose(h[prefix + key].values[i], value, rtol=1e-9, atol=1e-12,
                                       err_msg=f"{name} of image {i}")


def test_degenerate_images_give_nan_not_errors():
    geom = hex_geometry(4)
    images = np.zeros((5, geom.n_pixels), np.float32)
    mask = np.zeros(images.shape, bool)
    images[1, 3] = 10.0
    mask[1, 3] = True  # one pixel
    images[2, [3, 4]] = 10.0
    mask[2, [3, 4]] = True  # two pixels: a line, width 0
    mask[3, [3, 4]] = True  # zero size
    images[4, :] = -1.0
    mask[4, :] = True  # negative size
    cam = camera_group(geom, images, mask=mask)
    h = hillas_parameters(cam, "camera")
    for i in (0, 1, 3, 4):
        assert all(np.isnan(h[v].values[i]) for v in h.data_vars), i
    assert h.camera_frame_hillas_width.values[2] == 0
    assert h.camera_frame_hillas_length.values[2] == pytest.approx(0.025)
    assert np.isnan(h.camera_frame_hillas_width_uncertainty.values[2])
    assert h.camera_frame_hillas_psi.values[2] == pytest.approx(0.0, abs=1e-9)


# --------------------------------------------------------------------------- timing gradient
@pytest.mark.parametrize("frame", ["camera", "telescope"])
def test_timing_slope_recovered_from_toy_peak_times(toys, frame):
    cam, truth = toys
    rng = np.random.default_rng(11)
    image = cam.image.values
    cam = cam.assign(image_mask=(("tel_event", "pixel"), image > 0.02 * image.max(axis=1, keepdims=True)))
    h = hillas_parameters(cam, "camera")  # a few hundred pixels per image, as real images
    slope_true = rng.uniform(-60, 60, cam.sizes["tel_event"])  # ns / m along psi
    intercept_true = rng.uniform(10, 30, cam.sizes["tel_event"])
    psi = np.deg2rad(h.camera_frame_hillas_psi.values)[:, None]
    longi = ((GEOM.pix_x - h.camera_frame_hillas_x.values[:, None]) * np.cos(psi)
             + (GEOM.pix_y - h.camera_frame_hillas_y.values[:, None]) * np.sin(psi))
    times = intercept_true[:, None] + slope_true[:, None] * longi + rng.normal(0, 0.05, longi.shape)
    outliers = rng.random(longi.shape) < 0.03
    times[outliers] += rng.uniform(10, 30, outliers.sum())  # a few pixels far off: the fit is robust
    cam = cam.assign(peak_time=(("tel_event", "pixel"), times.astype(np.float32), {"units": "ns"}))
    for starts in ("random", "deterministic"):
        p = image_parameters(cam, frame, timing_starts=starts)
        if frame == "camera":
            slope = p.camera_frame_timing_slope.values
            assert p.camera_frame_timing_slope.attrs["units"] == "ns m-1"
        else:  # ns / deg, along the telescope-frame axis (opposite to the camera one where psi wraps)
            _, sign = expected_orientation(90.0 - h.camera_frame_hillas_psi.values)
            slope = sign * p.timing_slope.values * K_DEG
            assert p.timing_slope.attrs["units"] == "ns deg-1"
        intercept = p[("camera_frame_" if frame == "camera" else "") + "timing_intercept"].values
        np.testing.assert_allclose(slope, slope_true, atol=0.5)
        np.testing.assert_allclose(intercept, intercept_true, atol=0.02)
