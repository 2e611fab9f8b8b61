"""Leakage, concentration, morphology, statistics and timing against numpy references;
the labelled layer: names, dims, attrs, numpy vs dask, no mutation, quality query."""

import numpy as np
import pytest
from image_toys import camera_group, hex_geometry, shower_image, square_geometry

from iactx.image.cleaning import tailcuts_clean
from iactx.image.parameter_kernels import lts_linear_regression
from iactx.image.parameters import (draw_timing_starts, hillas_parameters, image_parameters,
                                    parameter_names)
from iactx.image.quality import ImageQualityQuery, image_quality


def noisy_batch(geom, n=30, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    images = np.empty((n, geom.n_pixels))
    for i in range(n):
        img, _ = shower_image(geom, x=rng.uniform(-0.3, 0.3), y=rng.uniform(-0.3, 0.3),
                              length=rng.uniform(0.05, 0.2), width=rng.uniform(0.02, 0.06),
                              psi_deg=rng.uniform(-180, 180), intensity=rng.uniform(50, 3000))
        images[i] = img + rng.normal(0, 2.0, geom.n_pixels)
    times = rng.normal(20, 3, images.shape)
    mask = images > 7
    mask |= (rng.random(images.shape) < 0.01) & (images > 0)  # a few isolated pixels: more islands
    mask[0] = False  # empty
    mask[1] = False
    mask[1, 5] = True  # one pixel
    return camera_group(geom, images.astype(dtype), times.astype(dtype), mask=mask,
                        focal_length=rng.uniform(10, 30, n))


def islands(geom, mask):
    labels = np.zeros(mask.size, int)
    n = 0
    for j in np.flatnonzero(mask):
        if labels[j]:
            continue
        n += 1
        todo = [j]
        while todo:
            p = todo.pop()
            if not labels[p]:
                labels[p] = n
                todo.extend(k for k in geom.neighbors[p] if mask[k] and not labels[k])
    return n, np.bincount(labels, minlength=n + 1)[1:]


@pytest.mark.parametrize("geom", [hex_geometry(14), square_geometry(25)], ids=["hex", "square"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_parameters_against_numpy_reference(geom, dtype):
    cam = noisy_batch(geom, dtype=dtype)
    p = image_parameters(cam, "camera")
    h = hillas_parameters(cam, "camera")
    image, times, mask = cam.image.values, cam.peak_time.values, cam.image_mask.values
    border1, border2 = geom.border_pixel_mask(1), geom.border_pixel_mask(2)
    for i in range(cam.sizes["tel_event"]):
        m = mask[i]
        sel, t = image[i][m], times[i][m]
        if m.sum() < 2:
            assert np.isnan(p.camera_frame_hillas_intensity.values[i])
            assert np.isnan(p.leakage_pixels_width_1.values[i]) and np.isnan(p.intensity_mean.values[i])
            assert p.morphology_n_pixels.values[i] == -1 and p.morphology_n_islands.values[i] == -1
            continue
        # leakage
        assert p.leakage_pixels_width_1.values[i] == pytest.approx((m & border1).sum() / m.sum())
        assert p.leakage_pixels_width_2.values[i] == pytest.approx((m & border2).sum() / m.sum())
        size = sel.astype(float).sum()
        assert p.leakage_intensity_width_1.values[i] == pytest.approx(image[i][m & border1].sum() / size, rel=1e-6)
        assert p.leakage_intensity_width_2.values[i] == pytest.approx(image[i][m & border2].sum() / size, rel=1e-6)
        # concentration: one pixel width around the centroid, inside the ellipse, brightest pixel
        cx, cy = h.camera_frame_hillas_x.values[i], h.camera_frame_hillas_y.values[i]
        dx, dy = geom.pix_x[m] - cx, geom.pix_y[m] - cy
        near = dx**2 + dy**2 < geom.pixel_width[m] ** 2
        psi = np.deg2rad(h.camera_frame_hillas_psi.values[i])
        longi = dx * np.cos(psi) + dy * np.sin(psi)
        trans = -dx * np.sin(psi) + dy * np.cos(psi)
        inside = (longi / h.camera_frame_hillas_length.values[i]) ** 2 \
            + (trans / h.camera_frame_hillas_width.values[i]) ** 2 <= 1
        assert p.concentration_cog.values[i] == pytest.approx(sel[near].sum() / size, rel=1e-6, abs=1e-12)
        assert p.concentration_core.values[i] == pytest.approx(sel[inside].sum() / size, rel=1e-6, abs=1e-12)
        assert p.concentration_pixel.values[i] == pytest.approx(sel.max() / size, rel=1e-6)
        # morphology
        n_islands, sizes = islands(geom, m)
        assert p.morphology_n_pixels.values[i] == m.sum()
        assert p.morphology_n_islands.values[i] == n_islands
        assert p.morphology_n_small_islands.values[i] == (sizes <= 2).sum()
        assert p.morphology_n_medium_islands.values[i] == ((sizes > 2) & (sizes <= 50)).sum()
        assert p.morphology_n_large_islands.values[i] == (sizes > 50).sum()
        # statistics: mean and std exactly numpy's in the image dtype
        for group, values in (("intensity", sel), ("peak_time", t)):
            assert p[f"{group}_max"].values[i] == values.max()
            assert p[f"{group}_min"].values[i] == values.min()
            assert p[f"{group}_mean"].values[i] == values.mean()
            assert p[f"{group}_std"].values[i] == values.std()
            z = (values.astype(float) - values.astype(float).mean()) / values.astype(float).std()
            assert p[f"{group}_skewness"].values[i] == pytest.approx(np.mean(z**3), rel=1e-4, abs=1e-5)
            assert p[f"{group}_kurtosis"].values[i] == pytest.approx(np.mean(z**4) - 3, rel=1e-4, abs=1e-5)
        # timing deviation: rms residual of the fitted line over all pixels
        slope = p.camera_frame_timing_slope.values[i]
        intercept = p.camera_frame_timing_intercept.values[i]
        assert p.camera_frame_timing_deviation.values[i] == pytest.approx(
            np.sqrt(np.mean((longi * slope + intercept - t) ** 2)), rel=1e-9)
    assert (p.morphology_n_islands.values > 1).any() and (p.morphology_n_small_islands.values > 0).any()


def test_lts_is_robust_and_deterministic():
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, 80)
    y = 3.0 * x + 2.0 + rng.normal(0, 0.01, 80)
    y[:8] += 25.0  # 10 % outliers
    empty = np.zeros((0, 2), np.int64)
    slope, intercept, error = lts_linear_regression(x, y, empty)
    assert slope == pytest.approx(3.0, abs=0.01) and intercept == pytest.approx(2.0, abs=0.01)
    starts = draw_timing_starts(np.array([80]), np.random.default_rng(0))[0]
    assert starts.shape == (5, 2) and np.all(starts[:, 0] != starts[:, 1])
    s2, i2, _ = lts_linear_regression(x, y, starts)
    assert s2 == pytest.approx(3.0, abs=0.01)
    # NaNs are dropped, fewer than two points give NaN
    y[10] = np.nan
    assert np.isfinite(lts_linear_regression(x, y, empty)[0])
    assert all(np.isnan(v) for v in lts_linear_regression(x[:1], y[:1], empty))


def test_random_starts_follow_the_generator_and_the_order():
    counts = np.array([10, 0, 1, 25])
    a = draw_timing_starts(counts, np.random.default_rng(0))
    assert (a[1] == -1).all() and (a[2] == -1).all()
    assert (a[0] < 10).all() and (a[3] < 25).all()
    # images without a fit draw nothing: the later images see the same numbers
    b = draw_timing_starts(np.array([10, 25]), np.random.default_rng(0))
    np.testing.assert_array_equal(a[[0, 3]], b)


def test_labelled_output_names_dims_attrs():
    geom = hex_geometry(8)
    cam = noisy_batch(geom, n=6)
    for frame in ("telescope", "camera"):
        p = image_parameters(cam, frame)
        assert list(p.data_vars) == parameter_names(frame)
        for name, var in p.data_vars.items():
            assert var.dims == ("tel_event",), name
            assert "long_name" in var.attrs, name
            assert var.dtype == (np.int32 if name.startswith("morphology_") else np.float64), name
        assert p.indexes["tel_event"].equals(cam.indexes["tel_event"])
    tel = image_parameters(cam)
    assert "hillas_fov_lon" in tel and "timing_slope" in tel and "leakage_pixels_width_1" in tel
    assert tel.hillas_length.attrs["units"] == "deg" and tel.hillas_intensity.attrs["units"] == "pe"
    assert tel.peak_time_mean.attrs["units"] == "ns" and "units" not in tel.hillas_skewness.attrs
    cam_frame = image_parameters(cam, "camera")
    assert "camera_frame_hillas_x" in cam_frame and "camera_frame_timing_slope" in cam_frame
    assert cam_frame.camera_frame_hillas_length.attrs["units"] == "m"
    assert "leakage_pixels_width_1" in cam_frame  # only hillas and timing carry the frame prefix
    # non-geometric parameters do not depend on the frame
    for name in ("leakage_intensity_width_2", "concentration_cog", "concentration_core", "intensity_std",
                 "peak_time_kurtosis", "morphology_n_islands"):
        np.testing.assert_allclose(tel[name], cam_frame[name], rtol=1e-9, err_msg=name)
    with pytest.raises(ValueError, match="frame"):
        image_parameters(cam, "nominal")
    with pytest.raises(KeyError, match="focal_length"):
        image_parameters(cam.drop_vars("focal_length"))
    with pytest.raises(KeyError, match="clean"):
        image_parameters(cam.drop_vars("image_mask"))


def test_numpy_and_dask_agree_and_input_is_not_mutated():
    geom = hex_geometry(8)
    cam = noisy_batch(geom, n=12)
    before = cam.copy(deep=True)
    eager = image_parameters(cam)
    lazy = image_parameters(cam.chunk(tel_event=5))
    assert lazy.hillas_length.chunks is not None
    lazy = lazy.compute()
    for name in eager.data_vars:
        np.testing.assert_array_equal(eager[name].values, lazy[name].values, err_msg=name)
    h_lazy = hillas_parameters(cam.chunk(tel_event=4), "camera").compute()
    h_eager = hillas_parameters(cam, "camera")
    for name in h_eager.data_vars:
        np.testing.assert_array_equal(h_eager[name].values, h_lazy[name].values)
    assert cam.identical(before)


def test_no_peak_time_gives_nan_timing():
    geom = hex_geometry(8)
    cam = noisy_batch(geom, n=5).drop_vars("peak_time")
    p = image_parameters(cam)
    assert np.isnan(p.timing_slope.values).all() and np.isnan(p.peak_time_mean.values).all()
    assert np.isfinite(p.hillas_length.values[2:]).all()


def test_quality_query_decides_which_images_get_parameters():
    geom = hex_geometry(8)
    cam = noisy_batch(geom, n=8)
    n_pix = cam.image_mask.sum("pixel").values
    query = ImageQualityQuery(quality_criteria=[("many_pixels", "image.size >= 10"),
                                                ("bright", "lambda im: im.sum() > 100")])
    p = image_parameters(cam, quality=query)
    size = cam.image.where(cam.image_mask).sum("pixel").values
    passed = (n_pix >= 10) & (size > 100)
    assert passed.any() and not passed.all()
    np.testing.assert_array_equal(np.isfinite(p.hillas_intensity.values), passed)
    np.testing.assert_array_equal(p.morphology_n_pixels.values == -1, ~passed)
    q = image_quality(cam, query)
    assert q.dims == ("tel_event", "criterion") and q.criterion.values.tolist() == ["many_pixels", "bright"]
    np.testing.assert_array_equal(q.values.all(axis=1), passed)
    default = image_quality(cam)
    np.testing.assert_array_equal(default.values[:, 1], n_pix > 1)
    with pytest.raises(ValueError, match="not allowed"):
        ImageQualityQuery(quality_criteria=[("evil", "__import__('os')")]).names


def test_integer_images_and_edge_cases():
    geom = hex_geometry(4)
    rng = np.random.default_rng(2)
    counts = rng.poisson(3, (3, geom.n_pixels)).astype(np.int32)
    cam = camera_group(geom, counts, mask=counts > 3)
    p = image_parameters(cam, peak_time=False)
    for i in range(3):
        values = counts[i][counts[i] > 3]
        assert p.intensity_mean.values[i] == values.mean() and p.intensity_std.values[i] == values.std()
    # thresholds keep their fractional part on integer images
    as_float = cam.assign(image=(("tel_event", "pixel"), counts.astype(float)))
    np.testing.assert_array_equal(tailcuts_clean(cam, 5.5, 3.5).values, tailcuts_clean(as_float, 5.5, 3.5).values)
    # no telescope events at all
    empty = camera_group(geom, np.zeros((0, geom.n_pixels), np.float32), np.zeros((0, geom.n_pixels), np.float32))
    out = empty.iact.clean().iact.parameters()
    assert out.sizes["tel_event"] == 0 and "hillas_intensity" in out
    # NaN pixels and times: no exception, NaN where they enter
    image = rng.normal(5, 10, (3, geom.n_pixels))
    image[0] = np.nan
    times = rng.normal(10, 1, image.shape)
    times[2] = np.nan
    out = camera_group(geom, image, times).iact.clean().iact.parameters()
    assert np.isnan(out.hillas_intensity.values[0]) and out.morphology_n_pixels.values[0] == -1
    assert np.isnan(out.timing_slope.values[2]) and np.isnan(out.peak_time_mean.values[2])
