"""Camera images on a square grid: the grid of every sample camera, exact round trips, labels, dask, bad input."""

import warnings
from functools import cache

import numpy as np
import pytest
import xarray as xr
from conftest import data_file
from image_toys import camera_group, hex_geometry, square_geometry

import iactx
from iactx.image import camera_square_grid, from_square_image, to_square_image
from iactx.image.square_image_kernels import (
    gather_from_square,
    scatter_to_square,
    square_grid,
)
from iactx.instrument import CameraGeometry

#: every camera group of the sample files, with its pixel grid
SAMPLE_CAMERAS = [
    ("calib_events.simtel.gz", "LSTCam", "hexagonal"),
    ("calib_events.simtel.gz", "NectarCam", "hexagonal"),
    ("calib_events.simtel.gz", "FlashCam", "hexagonal"),
    ("calib_events.simtel.gz", "DigiCam", "hexagonal"),
    ("calib_events.simtel.gz", "ASTRICam", "square"),
    ("calib_events.simtel.gz", "CHEC", "square"),
    ("calib_events.simtel.gz", "SCTCam", "square"),
    ("camsettings_v6.simtel.zst", "LSTcam", "hexagonal"),
    ("camsettings_v6.simtel.zst", "NectarCam", "hexagonal"),
    ("gamma_with_obslevel_particles.simtel.zst", "HESS-1U", "hexagonal"),
    ("lst_with_photons.simtel.zst", "LSTCam", "hexagonal"),
    ("lst_muons_with_true_photons.simtel.zst", "LSTCam", "hexagonal"),
]

#: cell offsets (row, col) of the six (four) neighbours of a cell
NEIGHBOR_STEPS = {"hexagonal": {(0, 1), (0, -1), (1, 0), (-1, 0), (1, -1), (-1, 1)},
                  "square": {(0, 1), (0, -1), (1, 0), (-1, 0)}}


@cache
def _tree(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return iactx.read_simtel(data_file(name), calibration_events="calib_events" in name)


def sample_camera(name, camera):
    """A camera group of a sample file with an ``image`` [pe]: the waveform sums."""
    cam = _tree(name)[camera].ds
    image = cam.waveform.sum("sample").astype(np.float32).assign_attrs(units="pe", long_name="summed waveform")
    return cam.assign(image=image.variable)


def toy_group(geom, n_events=6, dtype=np.float32, seed=1):
    rng = np.random.default_rng(seed)
    image = rng.normal(5, 3, (n_events, geom.n_pixels)).astype(dtype)
    return camera_group(geom, image, tel_ids=np.arange(n_events) % 3 + 1, event_ids=np.arange(n_events) // 3)


# --------------------------------------------------------------------------- sample cameras
def test_every_sample_camera_is_listed(sample_name):
    listed = {camera for name, camera, _ in SAMPLE_CAMERAS if name == sample_name}
    assert listed == set(_tree(sample_name).iact.cameras)


@pytest.mark.parametrize(("name", "camera", "grid_type"), SAMPLE_CAMERAS)
def test_round_trip_is_exact_on_every_sample_camera(name, camera, grid_type):
    cam = sample_camera(name, camera)
    square = cam.iact.to_square()
    assert square.attrs["grid_type"] == grid_type
    assert int((square.pix_id >= 0).sum()) == cam.sizes["pixel"]
    xr.testing.assert_identical(cam.iact.from_square(square), cam.image)
    # the waveforms too, sample by sample, in their integer dtype
    waveform = to_square_image(cam, "waveform")
    assert waveform.dims == ("tel_event", "sample", "row", "col") and waveform.dtype == cam.waveform.dtype
    back = from_square_image(waveform, cam)
    xr.testing.assert_identical(back.transpose(*cam.waveform.dims), cam.waveform)


@pytest.mark.parametrize(("name", "camera", "grid_type"), SAMPLE_CAMERAS)
def test_grid_is_one_to_one_and_keeps_neighbours(name, camera, grid_type):
    cam = _tree(name)[camera].ds
    geom = cam.iact.geometry()
    grid = camera_square_grid(cam)
    assert grid.grid_type == grid_type == ("square" if geom.pix_type == "square" else "hexagonal")
    # one pixel per cell, every pixel in one cell
    cells = grid.row * grid.shape[1] + grid.col
    assert np.unique(cells).size == geom.n_pixels
    np.testing.assert_array_equal(grid.pix_index[grid.row, grid.col], np.arange(geom.n_pixels))
    assert np.count_nonzero(grid.pix_index >= 0) == geom.n_pixels
    # neighbouring pixels are neighbouring cells
    first = np.repeat(np.arange(geom.n_pixels), np.diff(geom.neighbor_indptr))
    steps = set(zip((grid.row[geom.neighbor_indices] - grid.row[first]).tolist(),
                    (grid.col[geom.neighbor_indices] - grid.col[first]).tolist()))
    assert steps <= NEIGHBOR_STEPS[grid_type]
    # each pixel sits at the centre of its cell; no empty outer rows or columns
    np.testing.assert_allclose(grid.cell_x[grid.row, grid.col], geom.pix_x, atol=1e-3 * grid.pitch)
    np.testing.assert_allclose(grid.cell_y[grid.row, grid.col], geom.pix_y, atol=1e-3 * grid.pitch)
    assert grid.row.min() == grid.col.min() == 0
    assert (grid.row.max() + 1, grid.col.max() + 1) == grid.shape


def test_rows_run_down_and_columns_right():
    cam = sample_camera("calib_events.simtel.gz", "FlashCam")
    square = cam.iact.to_square()
    valid = square.pix_id >= 0
    # FlashCam's pixel columns are vertical: along a column x is constant and y falls row by row
    assert float(square.x.where(valid).std("row").max()) < 1e-6
    assert bool((square.y.diff("row") < 0).all()) and bool((square.x.diff("col") > 0).all())


def test_module_gaps_are_closed_up():
    cam = _tree("calib_events.simtel.gz")["CHEC"].ds
    grid = camera_square_grid(cam)
    # CHEC: 32 modules of 8 x 8 pixels, almost two pixels apart, in a 6 x 6 square without corners
    assert grid.shape == (48, 48)
    assert not (grid.pix_index < 0).all(axis=0).any() and not (grid.pix_index < 0).all(axis=1).any()
    assert np.count_nonzero(grid.pix_index[:8, :8] >= 0) == 0 and np.count_nonzero(grid.pix_index[8:16, :8] >= 0) == 64
    # the cell centres are the pixel positions: wider steps between modules
    steps = np.unique(np.round(np.diff(grid.cell_x[20]) / grid.pitch, 2))
    np.testing.assert_array_equal(steps, [1.0, 1.86])


# --------------------------------------------------------------------------- labelled layer
def test_dims_coords_and_units():
    cam = toy_group(hex_geometry(4))
    square = to_square_image(cam)
    assert square.name == "image" and square.dims == ("tel_event", "row", "col")
    assert square.attrs == {"units": "pe", "grid_type": "hexagonal"}
    assert square.indexes["tel_event"].equals(cam.indexes["tel_event"])
    np.testing.assert_array_equal(square.row, np.arange(square.sizes["row"]))
    np.testing.assert_array_equal(square.col, np.arange(square.sizes["col"]))
    for name in ("x", "y", "pix_id"):
        assert square[name].dims == ("row", "col")
    assert square.x.attrs["units"] == square.y.attrs["units"] == "m"
    assert square.pix_id.dtype == np.int32
    # the cell of each pixel holds its value; the others NaN
    filled = square.pix_id >= 0
    assert bool(square.where(~filled).isnull().all())
    one = square.isel(tel_event=4)
    np.testing.assert_array_equal(one.values[filled.values],
                                  cam.image.values[4, one.pix_id.values[filled.values]])
    np.testing.assert_allclose(square.x.values[filled.values], cam.pix_x.values[square.pix_id.values[filled.values]],
                               atol=1e-12)


def test_pix_id_follows_the_pixel_coordinate():
    geom = hex_geometry(3)
    geom = CameraGeometry(geom.name, geom.pix_x, geom.pix_y, geom.pix_area, geom.pix_type,
                          pix_id=np.arange(geom.n_pixels) + 100)
    square = to_square_image(toy_group(geom))
    assert set(square.pix_id.values[square.pix_id.values >= 0]) == set(range(100, 100 + geom.n_pixels))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_dtypes_and_fill_value(dtype):
    cam = toy_group(square_geometry(5), dtype=dtype)
    square = to_square_image(cam)
    assert square.dtype == dtype and square.attrs["grid_type"] == "square"
    assert square.shape == (6, 5, 5) and not bool(square.isnull().any())    # a full square grid
    hexagonal = to_square_image(toy_group(hex_geometry(3), dtype=dtype), fill_value=-1.0)
    assert hexagonal.dtype == dtype
    np.testing.assert_array_equal(hexagonal.values[:, hexagonal.pix_id.values < 0], -1)


def test_integer_and_boolean_images():
    cam = toy_group(hex_geometry(3))
    cam = cam.assign(counts=cam.image.variable.astype(np.int32), image_mask=cam.image.variable > 5)
    counts = to_square_image(cam, "counts")
    assert counts.dtype == np.int32 and int(counts.where(counts.pix_id < 0).max()) == 0
    assert to_square_image(cam, "counts", fill_value=np.nan).dtype == np.float64
    mask = cam.iact.to_square("image_mask")
    assert mask.dtype == bool and not bool(mask.where(mask.pix_id < 0, False).any())
    xr.testing.assert_identical(cam.iact.from_square(mask), cam.image_mask)
    xr.testing.assert_identical(from_square_image(counts, cam.iact.geometry()), cam.counts)


def test_dask_chunked_along_tel_event():
    cam = sample_camera("camsettings_v6.simtel.zst", "NectarCam")
    lazy = cam.chunk({"tel_event": 2})
    square = lazy.iact.to_square()
    assert square.chunks is not None and square.chunksizes["tel_event"] == (2, 2, 1)
    xr.testing.assert_identical(square.compute(), cam.iact.to_square())
    back = lazy.iact.from_square(square)
    assert back.chunks is not None
    xr.testing.assert_identical(back.compute(), cam.image)


def test_input_is_not_mutated():
    cam = toy_group(hex_geometry(3))
    before = cam.copy(deep=True)
    from_square_image(to_square_image(cam), cam)
    xr.testing.assert_identical(cam, before)


def test_accessor_matches_functions():
    cam = toy_group(hex_geometry(3))
    xr.testing.assert_identical(cam.iact.to_square(fill_value=0.0), to_square_image(cam, fill_value=0.0))
    square = to_square_image(cam.image)                                  # a DataArray works too
    xr.testing.assert_identical(square, cam.iact.to_square())
    xr.testing.assert_identical(cam.iact.from_square(square), from_square_image(square, cam))


def test_grid_does_not_depend_on_small_rotations():
    x, y = hex_geometry(5).pix_x, hex_geometry(5).pix_y
    reference = square_grid(x, y)
    for angle in (-25.0, -7.0, 3.0, 29.0):
        c, s = np.cos(np.deg2rad(angle)), np.sin(np.deg2rad(angle))
        turned = square_grid(c * x - s * y, s * x + c * y)
        np.testing.assert_array_equal(turned.row, reference.row)
        np.testing.assert_array_equal(turned.col, reference.col)
        assert turned.rotation == pytest.approx(angle)


# --------------------------------------------------------------------------- kernels
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernels_against_a_loop(dtype):
    grid = square_grid(hex_geometry(4).pix_x, hex_geometry(4).pix_y)
    images = np.random.default_rng(3).normal(size=(5, grid.row.size)).astype(dtype)
    images[2] = np.nan
    square = scatter_to_square(images, grid.row, grid.col, grid.shape, np.nan, dtype)
    expected = np.full((5,) + grid.shape, np.nan, dtype)
    for i in range(5):
        for pixel in range(grid.row.size):
            expected[i, grid.row[pixel], grid.col[pixel]] = images[i, pixel]
    np.testing.assert_array_equal(square, expected)
    assert square.dtype == dtype
    np.testing.assert_array_equal(gather_from_square(square, grid.row, grid.col), images)
    empty = scatter_to_square(images[:0], grid.row, grid.col, grid.shape, np.nan, dtype)
    assert empty.shape == (0,) + grid.shape
    assert gather_from_square(empty, grid.row, grid.col).shape == (0, grid.row.size)


def test_smallest_grids():
    two = square_grid([0.0, 0.05], [0.0, 0.0])
    assert two.shape == (1, 2) and two.grid_type == "hexagonal"
    seven = square_grid(hex_geometry(1).pix_x, hex_geometry(1).pix_y)
    assert seven.shape == (3, 3) and np.count_nonzero(seven.pix_index < 0) == 2


# --------------------------------------------------------------------------- bad input
def test_variable_without_pixel_dim():
    cam = toy_group(hex_geometry(3))
    with pytest.raises(ValueError, match="focal_length has dims \\('tel_event',\\), no 'pixel' dimension"):
        to_square_image(cam, "focal_length")
    with pytest.raises(KeyError, match="no variable 'peak_time'"):
        cam.iact.to_square("peak_time")


def test_data_without_pixel_positions():
    image = xr.DataArray(np.zeros((2, 7)), dims=("tel_event", "pixel"), name="image")
    with pytest.raises(ValueError, match=r"no pixel positions: coordinates \['pix_x', 'pix_y'\]"):
        to_square_image(image)


def test_pixels_not_on_a_grid():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="not on a regular hexagonal or square grid"):
        square_grid(rng.uniform(-1, 1, 400), rng.uniform(-1, 1, 400))
    geom = hex_geometry(3)
    x = geom.pix_x.copy()
    x[5] += 0.4 * 0.05                          # one pixel off the grid
    with pytest.raises(ValueError, match="pixels are not on a regular grid"):
        square_grid(x, geom.pix_y)
    with pytest.raises(ValueError, match=r"pixels \[0, 37\] fall into the same cell \(row 6, col 0\)"):
        square_grid(np.r_[geom.pix_x, geom.pix_x[0]], np.r_[geom.pix_y, geom.pix_y[0]])
    with pytest.raises(ValueError, match="several pixels share one position"):
        square_grid(np.r_[geom.pix_x, geom.pix_x], np.r_[geom.pix_y, geom.pix_y])
    with pytest.raises(ValueError, match="at least two pixels, got 1"):
        square_grid([0.0], [0.0])
    cam = camera_group(CameraGeometry("Random", rng.uniform(-1, 1, 50), rng.uniform(-1, 1, 50),
                                      np.full(50, 1e-3), "hexagon"), np.zeros((2, 50)))
    with pytest.raises(ValueError, match="not on a regular"):
        cam.iact.to_square()


def test_square_of_another_camera():
    square = to_square_image(toy_group(hex_geometry(3)))
    with pytest.raises(ValueError, match=r"\(row, col\) sizes \(7, 7\), the grid of camera ToyHex \(9, 9\)"):
        from_square_image(square, hex_geometry(4))
    with pytest.raises(ValueError, match=r"\(row, col\) sizes \(None, None\)"):
        from_square_image(xr.DataArray(np.zeros((2, 3)), dims=("tel_event", "pixel")), hex_geometry(3))
