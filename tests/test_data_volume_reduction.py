"""Data volume reduction (TailCutsDataVolumeReducer): kernel, labelled layer, calibration, iactx process."""

import json
import warnings

import numpy as np
import pytest
import xarray as xr
from image_toys import hex_geometry, square_geometry

import iactx
from conftest import data_file
from iactx.calib.calibrator import calibrate
from iactx.config.files import ConfigError
from iactx.image import reducer_kernels as K
from iactx.image.processor import dl1
from iactx.image.reducer import (NullDataVolumeReducer, TailCutsDataVolumeReducer, apply_volume_mask,
                                 data_volume_reducer, reduce_volume, tailcuts_volume_mask)
from iactx.io.event_tree import tel_types_of
from iactx.tools.cli import main
from iactx.tools.process import build_registry

pytestmark = pytest.mark.filterwarnings("ignore:.*no effective focal length")

GEOMETRIES = {"hex": hex_geometry(6), "square": square_geometry(11)}


# --------------------------------------------------------------------------- slow numpy reference
def adjacency(geom):
    """Dense (n_pixels, n_pixels) neighbour matrix."""
    n = geom.n_pixels
    adj = np.zeros((n, n), bool)
    for j in range(n):
        adj[j, geom.neighbor_indices[geom.neighbor_indptr[j]:geom.neighbor_indptr[j + 1]]] = True
    return adj


def ref_dilate(adj, mask):
    return mask | (adj & mask[None, :]).any(axis=1)


def ref_mask(adj, img, pic, bnd, min_n, keep_iso, boundary_dilation, n_end):
    above_pic = img >= pic
    above_bnd = img >= bnd
    n_pic_neighbors = (adj & above_pic[None, :]).sum(axis=1)
    in_pic = above_pic if (keep_iso or min_n == 0) else above_pic & (n_pic_neighbors >= min_n)
    boundary_pixels = above_bnd & (adj & in_pic[None, :]).any(axis=1)
    picture_pixels = in_pic & (keep_iso | (adj & above_bnd[None, :]).any(axis=1))
    mask = boundary_pixels | picture_pixels
    previous = None
    while boundary_dilation and (previous is None or not np.array_equal(mask, previous)):
        previous = mask
        mask = ref_dilate(adj, mask) & above_bnd
    for _ in range(n_end):
        mask = ref_dilate(adj, mask)
    return mask


def random_batch(geom, n, dtype, seed):
    """Showers (smooth blobs) on noise, the first image empty (all zero), thresholds per image."""
    rng = np.random.default_rng(seed)
    x, y = geom.pix_x, geom.pix_y
    img = rng.normal(0, 2.5, (n, geom.n_pixels))
    for i in range(1, n):
        cx, cy = rng.uniform(-0.2, 0.2, 2)
        img[i] += rng.uniform(0, 80) * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * rng.uniform(0.03, 0.1) ** 2))
    img[0] = 0.0
    pic = rng.uniform(3, 12, n)
    bnd = rng.uniform(1, 8, n)  # sometimes above the picture threshold
    return (img.astype(dtype), np.repeat(pic[:, None], geom.n_pixels, 1).astype(dtype),
            np.repeat(bnd[:, None], geom.n_pixels, 1).astype(dtype))


@pytest.mark.parametrize("geom_name", sorted(GEOMETRIES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernel_against_reference(geom_name, dtype):
    geom = GEOMETRIES[geom_name]
    adj = adjacency(geom)
    n = 60
    img, pic, bnd = random_batch(geom, n, dtype, seed=3)
    rng = np.random.default_rng(4)
    min_n = rng.integers(0, 4, n)
    keep = rng.random(n) < 0.3
    dilation = rng.random(n) < 0.7
    n_end = rng.integers(0, 3, n)
    out = np.empty(img.shape, bool)
    K.tailcuts_volume_mask_kernel(img, pic, bnd, min_n, keep, dilation, n_end, geom.neighbor_indptr,
                                  geom.neighbor_indices, out)
    expected = np.array([ref_mask(adj, img[i], pic[i], bnd[i], min_n[i], keep[i], dilation[i], n_end[i])
                         for i in range(n)])
    np.testing.assert_array_equal(out, expected)
    assert not out[0].any()  # empty image, even after dilations
    assert out.sum() > 100 and not out.all()
    # boundary dilation only adds pixels here (boundary <= picture) and end dilations grow the mask
    base = np.empty_like(out)
    K.tailcuts_volume_mask_kernel(img, pic, np.minimum(bnd, pic), min_n, keep, np.zeros(n, bool),
                                  np.zeros(n, np.int64),
                                  geom.neighbor_indptr, geom.neighbor_indices, base)
    grown = np.empty_like(out)
    K.tailcuts_volume_mask_kernel(img, pic, np.minimum(bnd, pic), min_n, keep, np.ones(n, bool), np.ones(n, np.int64),
                                  geom.neighbor_indptr, geom.neighbor_indices, grown)
    assert np.all(grown >= base) and grown.sum() > base.sum()


def test_kernel_no_images_and_one_pixel():
    geom = GEOMETRIES["hex"]
    out = np.empty((0, geom.n_pixels), bool)
    K.tailcuts_volume_mask_kernel(np.empty((0, geom.n_pixels)), np.empty((0, geom.n_pixels)),
                                  np.empty((0, geom.n_pixels)), np.empty(0, np.int64), np.empty(0, bool),
                                  np.empty(0, bool), np.empty(0, np.int64), geom.neighbor_indptr,
                                  geom.neighbor_indices, out)
    # one bright pixel with one boundary neighbour: tail cuts keep both (min 1 neighbour), one dilation adds
    # the ring around them
    img = np.zeros((1, geom.n_pixels), np.float32)
    centre = int(np.argmin(geom.pix_x ** 2 + geom.pix_y ** 2))
    neighbor = geom.neighbor_indices[geom.neighbor_indptr[centre]]
    img[0, centre], img[0, neighbor] = 20.0, 6.0
    out = np.empty(img.shape, bool)
    args = (np.full_like(img, 10.0), np.full_like(img, 5.0), np.array([0]), np.array([False]),
            np.array([True]), np.array([1]), geom.neighbor_indptr, geom.neighbor_indices, out)
    K.tailcuts_volume_mask_kernel(img, *args)
    adj = adjacency(geom)
    two = np.zeros(geom.n_pixels, bool)
    two[[centre, neighbor]] = True
    np.testing.assert_array_equal(out[0], ref_dilate(adj, two))
    assert out.sum() == 2 + 8  # two touching hexagons have 8 neighbours between them


# --------------------------------------------------------------------------- real files
def read(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return iactx.read_simtel(data_file(name), calibration_events="calib_events" in name,
                                 focal_length="equivalent")


#: pixels ctapipe 0.32's TailCutsDataVolumeReducer keeps (benchmarks/compare_ctapipe_dvr.py)
CTAPIPE_KEPT = {
    ("lst_with_photons.simtel.zst", "LSTCam"): 284,
    ("lst_muons_with_true_photons.simtel.zst", "LSTCam"): 858,
    ("gamma_with_obslevel_particles.simtel.zst", "HESS-1U"): 56,
    ("camsettings_v6.simtel.zst", "LSTcam"): 226,
    ("camsettings_v6.simtel.zst", "NectarCam"): 78,
}


@pytest.mark.parametrize("name, camera", sorted(CTAPIPE_KEPT))
def test_kept_pixels_as_ctapipe(name, camera):
    tree = read(name)
    cam = tree[camera].to_dataset(inherit=False)
    before = cam["waveform"].values.copy()
    reduced = cam.iact.reduce_volume(tel_types=tel_types_of(tree))
    mask = reduced["dvr_mask"]
    assert mask.dims == ("tel_event", "pixel") and mask.dtype == bool
    assert int(mask.sum()) == CTAPIPE_KEPT[(name, camera)]
    np.testing.assert_array_equal(cam["waveform"].values, before)  # input not modified
    wf = reduced["waveform"]
    assert wf.dtype == cam["waveform"].dtype and wf.attrs == cam["waveform"].attrs
    assert not wf.values[~mask.values].any()
    np.testing.assert_array_equal(wf.values[mask.values], before[mask.values])
    assert reduced.indexes["tel_event"].equals(cam.indexes["tel_event"])


def test_reducer_pieces_agree_and_dask():
    cam = read("lst_muons_with_true_photons.simtel.zst")["LSTCam"].to_dataset(inherit=False)
    reducer = TailCutsDataVolumeReducer()
    image = reducer.charges(cam)
    expected = tailcuts_volume_mask(cam, 10.0, 5.0, False, 2, True, 1, image=image)
    np.testing.assert_array_equal(reducer.select_pixels(cam).values, expected.values)
    # without the growing steps it is the plain tail-cuts mask
    plain = iactx.image.tailcuts_clean(cam, 10.0, 5.0, min_number_picture_neighbors=2, image=image)
    fewer = tailcuts_volume_mask(cam, do_boundary_dilation=False, n_end_dilates=0, image=image)
    np.testing.assert_array_equal(fewer.values, plain.values)
    assert expected.sum() > plain.sum()
    lazy = reduce_volume(cam.chunk({"tel_event": 2}))
    assert lazy["waveform"].chunks is not None
    eager = reduce_volume(cam)
    np.testing.assert_array_equal(lazy["dvr_mask"].values, eager["dvr_mask"].values)
    np.testing.assert_array_equal(lazy["waveform"].values, eager["waveform"].values)


def test_null_reducer_keeps_everything():
    cam = read("lst_with_photons.simtel.zst")["LSTCam"].to_dataset(inherit=False)
    reduced = cam.iact.reduce_volume("NullDataVolumeReducer")
    assert reduced["dvr_mask"].values.all()
    np.testing.assert_array_equal(reduced["waveform"].values, cam["waveform"].values)
    with pytest.raises(TypeError):
        reduce_volume(cam, "NullDataVolumeReducer", n_end_dilates=2)
    with pytest.raises(ValueError, match="unknown data volume reducer"):
        reduce_volume(cam, "NoSuchReducer")


def test_options_change_the_mask():
    cam = read("lst_with_photons.simtel.zst")["LSTCam"].to_dataset(inherit=False)
    default = int(cam.iact.reduce_volume()["dvr_mask"].sum())
    assert int(cam.iact.reduce_volume(n_end_dilates=2)["dvr_mask"].sum()) > default
    assert int(cam.iact.reduce_volume(picture_threshold_pe=30.0)["dvr_mask"].sum()) < default
    assert int(cam.iact.reduce_volume(extractor_options={"window_width": 3})["dvr_mask"].sum()) != default
    # per-telescope rules
    rules = [("type", "*", 1), ("id", 1, 0)]
    no_end = cam.iact.reduce_volume(n_end_dilates=rules)
    np.testing.assert_array_equal(no_end["dvr_mask"].values,
                                  cam.iact.reduce_volume(n_end_dilates=0)["dvr_mask"].values)


def test_calibration_after_reduction_zeroes_the_other_pixels():
    tree = read("lst_muons_with_true_photons.simtel.zst")
    config = {"CameraCalibrator": {"data_volume_reducer_type": "TailCutsDataVolumeReducer"}}
    out = dl1(tree, config)["LSTCam"].ds
    cam = tree["LSTCam"].to_dataset(inherit=False)
    reduced = reduce_volume(cam, tel_types=tel_types_of(tree))
    expected = calibrate(reduced, tel_types=tel_types_of(tree))
    np.testing.assert_array_equal(out["image"].values, expected["image"].values)
    np.testing.assert_array_equal(out["peak_time"].values, expected["peak_time"].values)
    kept = reduced["dvr_mask"].values
    assert not out["image"].values[~kept].any()  # extraction of all-zero waveforms
    # the kept pixels differ from the unreduced calibration only through zeroed neighbours' sums
    full = calibrate(cam)
    assert np.any(out["image"].values[kept] != full["image"].values[kept])
    np.testing.assert_array_equal(out["waveform"].values, cam["waveform"].values)  # R1 kept
    assert "dvr_mask" not in out


# --------------------------------------------------------------------------- configuration
def test_config_sections_as_ctapipe_scopes_them():
    registry = build_registry()
    config = registry.normalize({
        "CameraCalibrator": {"data_volume_reducer_type": "TailCutsDataVolumeReducer",
                             "TailCutsDataVolumeReducer": {"n_end_dilates": 2,
                                                           "TailcutsImageCleaner": {"picture_threshold_pe": 8.0}}},
        "TailCutsDataVolumeReducer": {"n_end_dilates": 3, "do_boundary_dilation": False},
        "TailcutsImageCleaner": {"boundary_threshold_pe": 4.0},
        "NeighborPeakWindowSum": {"window_width": 5},
    })
    registry.validate(config)
    reducer = data_volume_reducer(config)
    assert isinstance(reducer, TailCutsDataVolumeReducer)
    assert reducer.n_end_dilates == 2 and reducer.do_boundary_dilation is False
    assert reducer.cleaner.picture_threshold_pe == 8.0 and reducer.cleaner.boundary_threshold_pe == 4.0
    assert reducer.extractor_options == {"window_width": 5}
    assert isinstance(data_volume_reducer({}), NullDataVolumeReducer)
    with pytest.raises(ConfigError):
        registry.validate(registry.normalize({"CameraCalibrator": {"data_volume_reducer_type": "Nope"}}))
    with pytest.raises(ConfigError):
        registry.validate(registry.normalize({"TailCutsDataVolumeReducer": {"n_end_dilates": -1}}))


def test_process_with_tailcuts_reducer(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = data_file("lst_muons_with_true_photons.simtel.zst")
    config = {"CameraCalibrator": {"data_volume_reducer_type": "TailCutsDataVolumeReducer"},
              "DataWriter": {"write_dl1_images": True}}
    (tmp_path / "dvr.json").write_text(json.dumps(config))
    assert main(["process", "--input", str(path), "--output", "dvr.nc", "--config", "dvr.json"]) == 0
    assert main(["process", "--input", str(path), "--output", "full.nc",
                 "--DataWriter.write_dl1_images=True"]) == 0
    reduced = iactx.open_dl1(tmp_path / "dvr.nc")["LSTCam"].ds
    full = iactx.open_dl1(tmp_path / "full.nc")["LSTCam"].ds
    assert "dvr_mask" not in reduced and "waveform" not in reduced
    # 858 pixels kept by ctapipe's reducer in this file; the others have image 0
    zero = reduced["image"].values == 0
    assert int((~zero).sum()) <= 858 and int((~zero).sum()) > 500
    assert not np.all(full["image"].values[zero] == 0)
    tree = read("lst_muons_with_true_photons.simtel.zst")
    cam = tree["LSTCam"].to_dataset(inherit=False)
    expected = calibrate(reduce_volume(cam, tel_types=tel_types_of(tree)), tel_types=tel_types_of(tree))
    np.testing.assert_allclose(reduced["image"].values, expected["image"].values)


def test_apply_volume_mask_keeps_dtype():
    cam = read("lst_with_photons.simtel.zst")["LSTCam"].to_dataset(inherit=False)
    cam64 = cam.assign(waveform=cam["waveform"].variable.astype(np.float64))
    mask = xr.zeros_like(cam["waveform"].isel(sample=0, drop=True), dtype=bool)
    out = apply_volume_mask(cam64, mask)
    assert out["waveform"].dtype == np.float64 and not out["waveform"].values.any()
