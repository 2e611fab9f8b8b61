"""The built-in toy instrument: analytic cameras, readouts, optics and subarrays."""

import numpy as np
import pytest

from iactx.instrument import SubarrayDescription
from iactx.instrument.builtin import (
    hexagonal_camera,
    mini_camera,
    mini_subarray,
    reference_pulse,
    square_camera,
    toy_optics,
    toy_subarray,
    toy_telescope,
)


def _nearest_distances(geometry):
    d = np.hypot(geometry.pix_x[:, None] - geometry.pix_x, geometry.pix_y[:, None] - geometry.pix_y)
    np.fill_diagonal(d, np.inf)
    return d.min(axis=1)


def _same_point_set(x1, y1, x2, y2):
    a = np.round(np.column_stack([x1, y1]), 9)
    b = np.round(np.column_stack([x2, y2]), 9)
    return np.array_equal(a[np.lexsort(a.T)], b[np.lexsort(b.T)])


def test_hexagonal_camera_has_lstcam_pixel_count_and_spacing():
    geom = hexagonal_camera()
    assert geom.n_pixels == 1855 and geom.pix_type == "hexagon"
    np.testing.assert_allclose(_nearest_distances(geom), 0.05)
    # touching hexagons: flat-to-flat width equals the spacing
    np.testing.assert_allclose(geom.pixel_width, 0.05)
    assert (geom.pix_x[0], geom.pix_y[0]) == (0.0, 0.0)
    np.testing.assert_allclose([geom.pix_x.mean(), geom.pix_y.mean()], 0, atol=1e-12)
    counts = np.diff(geom.neighbor_indptr)
    assert counts.max() == 6 and np.sum(counts == 6) > 0.9 * geom.n_pixels


def test_hexagonal_camera_keeps_sixfold_symmetry():
    geom = hexagonal_camera()
    c, s = np.cos(np.pi / 3), np.sin(np.pi / 3)
    x, y = c * geom.pix_x - s * geom.pix_y, s * geom.pix_x + c * geom.pix_y
    assert _same_point_set(geom.pix_x, geom.pix_y, x, y)
    assert _same_point_set(geom.pix_x, geom.pix_y, geom.pix_x, -geom.pix_y)


def test_square_and_mini_cameras():
    square = square_camera()
    assert square.n_pixels == 1600 and square.pix_type == "square"
    np.testing.assert_allclose(square.pix_area, 0.0025)
    np.testing.assert_allclose(_nearest_distances(square), 0.05)
    assert np.diff(square.neighbor_indptr).max() == 4
    np.testing.assert_allclose([square.pix_x.mean(), square.pix_y.mean()], 0, atol=1e-12)
    mini = mini_camera()
    assert mini.n_pixels == 127
    np.testing.assert_allclose(_nearest_distances(mini), 0.08)


def test_camera_arguments_are_checked():
    with pytest.raises(ValueError, match="n_pixels"):
        hexagonal_camera(n_pixels=0)
    with pytest.raises(ValueError, match="n_side"):
        square_camera(n_side=0)


def test_reference_pulse_has_requested_width():
    step = 0.001
    pulse = reference_pulse(3.0, sample_width=step)
    above = np.flatnonzero(pulse >= 0.5)
    assert (above[-1] - above[0]) * step == pytest.approx(3.0, abs=2 * step)
    assert pulse.max() == pytest.approx(1.0, abs=1e-6)
    assert pulse[-1] < 1e-6 and pulse[0] == 0.0
    with pytest.raises(ValueError, match="fwhm"):
        reference_pulse(0.0)


@pytest.mark.parametrize("kind, camera, n_samples, rate, n_channels", [
    ("LST", "ToyHexCam", 40, 1.0, 2), ("MST", "ToySquareCam", 30, 0.5, 1), ("MINI", "ToyMiniCam", 20, 1.0, 1),
])
def test_toy_telescopes(kind, camera, n_samples, rate, n_channels):
    tel = toy_telescope(kind)
    readout = tel.camera.readout
    assert tel.camera.name == camera and tel.camera.geometry.n_pixels == readout.n_pixels
    assert (readout.n_samples, readout.sampling_rate, readout.n_channels) == (n_samples, rate, n_channels)
    assert readout.reference_pulse_shape.shape[0] == n_channels
    assert tel.type == f"{'LST' if kind == 'LST' else 'MST'}_{tel.optics.name}_{camera}"


def test_toy_optics():
    lst, mst = toy_optics("LST"), toy_optics("MST")
    assert (lst.size_type, mst.size_type) == ("LST", "MST")
    assert (lst.equivalent_focal_length, mst.equivalent_focal_length) == (28.0, 16.0)
    assert lst.effective_focal_length > lst.equivalent_focal_length
    with pytest.raises(ValueError, match="SST"):
        toy_optics("SST")


def test_toy_subarray_layout():
    sub = toy_subarray()
    assert isinstance(sub, SubarrayDescription)
    assert sub.ids_by_type() == {"LST_LST_ToyHexCam": [1, 2, 3, 4], "MST_MST_ToySquareCam": list(range(5, 14))}
    pos = np.array([sub.positions[t] for t in sub.tel])
    distances = np.hypot(pos[:, None, 0] - pos[:, 0], pos[:, None, 1] - pos[:, 1])
    np.fill_diagonal(distances, np.inf)
    assert 90 < distances[:4, :4].min() < 110  # LSTs about 100 m apart
    assert distances.min() > 80
    assert abs(sub.reference_location.lat.deg - 28.76) < 0.01
    assert len(toy_subarray(2, 3)) == 5
    with pytest.raises(ValueError, match="LSTs"):
        toy_subarray(5, 0)


def test_toy_subarrays_make_instrument_nodes():
    for sub in (toy_subarray(), mini_subarray()):
        ds = sub.to_dataset()
        assert ds.sizes["tel"] == len(sub)
        assert set(ds["camera_name"].values) == set(sub.camera_types)
    assert len(mini_subarray(1)) == 1
    with pytest.raises(ValueError, match="1 to 3"):
        mini_subarray(4)
