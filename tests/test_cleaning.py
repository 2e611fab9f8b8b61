"""Labelled cleaning: dims and attrs, numpy vs dask, no mutation, cleaners and their options."""

import numpy as np
import pytest
import xarray as xr
from image_toys import camera_group, hex_geometry
from test_cleaning_kernels import random_images, ref_islands, ref_tailcuts

import iactx  # noqa: F401  (registers the accessor)
from iactx.image.cleaning import (CLEANERS, FACTImageCleaner, MARSImageCleaner, TailcutsImageCleaner,
                                  TimeConstrainedImageCleaner, apply_time_delta_cleaning, brightest_island,
                                  clean, dilate, fact_image_cleaning, largest_island, mars_cleaning_1st_pass,
                                  merge_into, number_of_islands, tailcuts_clean, time_constrained_clean)

GEOM = hex_geometry(7)


@pytest.fixture
def cam():
    image, times = random_images(GEOM, 16, np.float32, seed=12)
    tel_ids = np.array([1, 2, 3, 4] * 4)
    return camera_group(GEOM, image, times, tel_ids=tel_ids, event_ids=np.repeat(np.arange(4), 4))


def test_tailcuts_labelled_matches_reference(cam):
    mask = tailcuts_clean(cam, 8.0, 4.0, min_number_picture_neighbors=1)
    assert mask.name == "image_mask" and mask.dims == ("tel_event", "pixel") and mask.dtype == bool
    assert mask.indexes["tel_event"].equals(cam.indexes["tel_event"])
    image = cam.image.values
    expected = [ref_tailcuts(GEOM.neighbors, image[i], np.full(GEOM.n_pixels, np.float32(8)),
                             np.full(GEOM.n_pixels, np.float32(4)), 1, False) for i in range(16)]
    np.testing.assert_array_equal(mask.values, expected)


def test_defaults(cam):
    # the functions have ctapipe's function defaults, the cleaner ctapipe-process's (10, 5, 2, False)
    np.testing.assert_array_equal(tailcuts_clean(cam).values, tailcuts_clean(cam, 7, 5, False, 0).values)
    np.testing.assert_array_equal(TailcutsImageCleaner()(cam).values, tailcuts_clean(cam, 10, 5, False, 2).values)
    np.testing.assert_array_equal(cam.iact.clean().image_mask.values, tailcuts_clean(cam, 10, 5, False, 2).values)
    c = TailcutsImageCleaner()
    assert (c.picture_threshold_pe, c.boundary_threshold_pe, c.min_picture_neighbors, c.keep_isolated_pixels) \
        == (10.0, 5.0, 2, False)
    f = FACTImageCleaner()
    assert f.time_limit_ns == 5.0
    t = TimeConstrainedImageCleaner()
    assert (t.time_limit_core_ns, t.time_limit_boundary_ns) == (4.5, 1.5)
    np.testing.assert_array_equal(MARSImageCleaner()(cam).values, mars_cleaning_1st_pass(cam, 10, 5, False, 2).values)
    np.testing.assert_array_equal(f(cam).values, fact_image_cleaning(cam, 10, 5, 2, 5).values)
    np.testing.assert_array_equal(t(cam).values, time_constrained_clean(cam, 10, 5, 4.5, 1.5, 2).values)


def test_per_telescope_rules(cam):
    tel_types = {1: "LST_LST_LSTCam", 2: "LST_LST_LSTCam", 3: "MST_MST_NectarCam", 4: "MST_MST_NectarCam"}
    rules = [("type", "*", 10.0), ("type", "MST_*", 6.0), ("id", 2, 1000.0)]
    mask = TailcutsImageCleaner(picture_threshold_pe=rules)(cam, tel_types=tel_types).values
    tels = cam.tel.values
    pic = np.select([tels == 2, tels >= 3], [1000.0, 6.0], 10.0)
    for i in range(cam.sizes["tel_event"]):
        expected = tailcuts_clean(cam.isel(tel_event=[i]), pic[i], 5.0, False, 2).values[0]
        np.testing.assert_array_equal(mask[i], expected)
    assert not mask[tels == 2].any()
    with pytest.raises(ValueError, match="telescope type"):
        TailcutsImageCleaner(picture_threshold_pe=rules)(cam)
    with pytest.raises(ValueError):
        TailcutsImageCleaner(min_picture_neighbors=2.5)


def test_options_per_event_and_per_pixel(cam):
    n, p = cam.sizes["tel_event"], cam.sizes["pixel"]
    per_event = np.linspace(5, 15, n)
    per_pixel = np.broadcast_to(per_event[:, None], (n, p))
    a = tailcuts_clean(cam, per_event, 4.0).values
    b = tailcuts_clean(cam, per_pixel, 4.0).values
    c = tailcuts_clean(cam, xr.DataArray(per_event, dims="tel_event"), 4.0).values
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    with pytest.raises(ValueError, match="expected a scalar"):
        tailcuts_clean(cam, np.ones(3))


def test_numpy_and_dask_agree_and_input_not_mutated(cam):
    before = cam.copy(deep=True)
    lazy_cam = cam.chunk(tel_event=5)
    for name, func in (("tailcuts", lambda c: tailcuts_clean(c, 8, 4, False, 1)),
                       ("mars", lambda c: mars_cleaning_1st_pass(c, 8, 4)),
                       ("fact", lambda c: fact_image_cleaning(c, 6, 3, 1, 4)),
                       ("time_constrained", lambda c: time_constrained_clean(c, 6, 3, 4.5, 1.5, 1)),
                       ("cleaner", lambda c: TailcutsImageCleaner(picture_threshold_pe=[("type", "*", 7.0)])(c))):
        eager = func(cam)
        lazy = func(lazy_cam)
        assert lazy.chunks is not None, name
        np.testing.assert_array_equal(eager.values, lazy.values, err_msg=name)
        assert eager.any(), name
    masked = merge_into(cam, tailcuts_clean(cam, 8, 4))
    lazy_masked = masked.chunk(tel_event=5)
    np.testing.assert_array_equal(dilate(masked).values, dilate(lazy_masked).values)
    np.testing.assert_array_equal(apply_time_delta_cleaning(masked, min_number_neighbors=1, time_limit=3).values,
                                  apply_time_delta_cleaning(lazy_masked, min_number_neighbors=1,
                                                            time_limit=3).values)
    n1, l1 = number_of_islands(masked)
    n2, l2 = number_of_islands(lazy_masked)
    np.testing.assert_array_equal(l1.values, l2.values)
    np.testing.assert_array_equal(n1.values, n2.values)
    assert cam.identical(before)


def test_island_functions(cam):
    masked = merge_into(cam, tailcuts_clean(cam, 6, 3))
    n, labels = number_of_islands(masked)
    assert n.dims == ("tel_event",) and labels.dims == ("tel_event", "pixel") and labels.dtype == np.int32
    for i in range(cam.sizes["tel_event"]):
        n_ref, labels_ref = ref_islands(GEOM.neighbors, masked.image_mask.values[i])
        assert n.values[i] == n_ref
        np.testing.assert_array_equal(labels.values[i], labels_ref)
    big = largest_island(labels)
    bright = brightest_island(n, labels, cam.image)
    assert (big.sum("pixel") <= masked.image_mask.sum("pixel")).all()
    assert (bright & ~masked.image_mask).sum() == 0
    grown = dilate(masked)
    assert (grown | ~masked.image_mask).all() and grown.sum() > masked.image_mask.sum()


def test_accessor_clean_methods_and_errors(cam):
    out = cam.iact.clean("mars", picture_threshold_pe=8.0)
    assert "image_mask" in out and "image_mask" not in cam
    np.testing.assert_array_equal(out.image_mask.values, mars_cleaning_1st_pass(cam, 8.0, 5.0, False, 2).values)
    out = cam.iact.clean("TimeConstrainedImageCleaner", time_limit_core_ns=3.0)
    np.testing.assert_array_equal(out.image_mask.values, time_constrained_clean(cam, 10, 5, 3.0, 1.5, 2).values)
    with pytest.raises(ValueError, match="has no option time_limit_ns"):
        cam.iact.clean("tailcuts", time_limit_ns=2.0)
    with pytest.raises(ValueError, match="unknown cleaning method"):
        clean(cam, "magic")
    with pytest.raises(KeyError, match="calibrate"):
        tailcuts_clean(cam.drop_vars("image"))
    assert set(CLEANERS) == {"TailcutsImageCleaner", "MARSImageCleaner", "FACTImageCleaner",
                             "TimeConstrainedImageCleaner"}
