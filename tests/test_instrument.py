"""Instrument model: geometry, neighbours, readout, optics, subarray."""

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import EarthLocation

from iactx.instrument import (
    CameraDescription,
    CameraGeometry,
    CameraReadout,
    OpticsDescription,
    SubarrayDescription,
    TelescopeDescription,
    guess_telescope,
    size_type_from_mirror_area,
    unknown_telescope,
)


def hex_grid(rings, spacing=0.05):
    """Pixel centres of a hexagonal grid with the given number of rings."""
    points = []
    for q in range(-rings, rings + 1):
        for r in range(max(-rings, -q - rings), min(rings, -q + rings) + 1):
            points.append((spacing * (q + r / 2), spacing * r * np.sqrt(3) / 2))
    return np.array(points)


def square_grid(n, spacing=0.01):
    x, y = np.meshgrid(np.arange(n) * spacing, np.arange(n) * spacing)
    return x.ravel(), y.ravel()


def hex_geometry(rings=4, spacing=0.05):
    xy = hex_grid(rings, spacing)
    area = np.full(len(xy), np.sqrt(3) / 2 * spacing**2)
    return CameraGeometry("HexTest", xy[:, 0], xy[:, 1], area, "hexagon")


def test_hexagonal_neighbours_are_one_spacing_away():
    geom = hex_geometry(rings=4, spacing=0.05)
    assert geom.n_pixels == 61
    counts = np.diff(geom.neighbor_indptr)
    assert counts.max() == 6
    # interior pixels (inside ring 3) all have six neighbours
    r = np.hypot(geom.pix_x, geom.pix_y)
    assert np.all(counts[r < 0.05 * 3 * 0.85] == 6)
    rows = np.repeat(np.arange(geom.n_pixels), counts)
    d = np.hypot(geom.pix_x[rows] - geom.pix_x[geom.neighbor_indices],
                 geom.pix_y[rows] - geom.pix_y[geom.neighbor_indices])
    np.testing.assert_allclose(d, 0.05, rtol=1e-9)
    # the pixel width of a hexagon of this area is its in-circle diameter, the spacing
    np.testing.assert_allclose(geom.pixel_width, 0.05)


def test_square_neighbours_and_border():
    x, y = square_grid(10)
    geom = CameraGeometry("SquareTest", x, y, np.full(100, 1e-4), "square")
    counts = np.diff(geom.neighbor_indptr)
    assert counts.max() == 4
    assert counts.min() == 2  # corners
    border = geom.border_pixel_mask(1)
    assert border.sum() == 36  # the outer ring of a 10 x 10 grid
    # width 2: pixels touching the outer ring, i.e. the outer ring and the one inside it
    assert geom.border_pixel_mask(2).sum() == 36 + 28
    table = geom.neighbor_table
    assert table.shape == (100, 4)
    assert (table[0] >= 0).sum() == 2
    with pytest.raises(ValueError, match="border width"):
        geom.border_pixel_mask(0)


def test_quantities_are_accepted_and_normalised():
    geom = CameraGeometry("Q", [0, 10] * u.cm, [0, 0] * u.cm, [1, 1] * u.cm**2, "square",
                          pix_rotation="10 deg", cam_rotation=0.5 * u.rad)
    np.testing.assert_allclose(geom.pix_x, [0, 0.1])
    np.testing.assert_allclose(geom.pix_area, [1e-4, 1e-4])
    assert geom.pix_rotation == pytest.approx(10)
    assert geom.cam_rotation == pytest.approx(np.rad2deg(0.5))


def test_derotation_turns_positions_and_pixel_rotation():
    geom = CameraGeometry("R", [1.0], [0.0], [1.0], "hexagon", pix_rotation=30.0, cam_rotation=-90.0)
    rot = geom.derotated()
    np.testing.assert_allclose([rot.pix_x[0], rot.pix_y[0]], [0.0, 1.0], atol=1e-12)
    assert rot.cam_rotation == 0
    assert rot.pix_rotation == pytest.approx(120.0)


def test_bad_geometry_is_rejected_with_the_reason():
    with pytest.raises(ValueError, match="pix_y has shape"):
        CameraGeometry("Bad", [0, 1], [0], [1, 1], "hexagon")
    with pytest.raises(ValueError, match="unknown pixel shape 'triangle'"):
        CameraGeometry("Bad", [0], [0], [1], "triangle")


def test_geometry_round_trips_through_coordinates():
    import xarray as xr

    geom = hex_geometry()
    coords, attrs = geom.to_coords()
    back = CameraGeometry.from_dataset(xr.Dataset(coords=coords, attrs=attrs))
    assert back == geom
    np.testing.assert_array_equal(back.neighbor_indices, geom.neighbor_indices)
    np.testing.assert_array_equal(back.neighbor_indptr, geom.neighbor_indptr)


@pytest.mark.parametrize(
    ("n_pixels", "focal", "tiles", "expected"),
    [
        (1855, 28.0, None, ("LST", "LST", "LSTCam")),
        (1855, 16.0, None, ("MST", "MST", "NectarCam")),
        (1764, 16.0, None, ("MST", "MST", "FlashCam")),
        (2048, 2.283, None, ("SST", "GCT", "CHEC")),
        (2368, 2.15, None, ("SST", "ASTRI", "ASTRICam")),
        (1296, 5.6, None, ("SST", "1M", "DigiCam")),
        (11328, 5.5863, None, ("MST", "SCT", "SCTCam")),
        (1039, 16.97, 247, ("LST", "MAGIC-2", "MAGICCam")),
        (960, 15.0, None, ("MST", "HESS-I", "HESS-I")),
        (2048, 36.0, None, ("LST", "HESS-II", "HESS-II")),
        (1440, 4.889, None, ("SST", "FACT", "FACT")),
    ],
)
def test_guess_telescope(n_pixels, focal, tiles, expected):
    guess = guess_telescope(n_pixels, focal * u.m, tiles)
    assert (guess.size_type, guess.name, guess.camera_name) == expected


def test_unknown_telescope_names():
    with pytest.raises(ValueError, match="unknown telescope: 1234 pixels"):
        guess_telescope(1234, 10.0)
    guess = unknown_telescope(100.0, 1234)
    assert guess.camera_name == "UNKNOWN-1234PX"
    assert guess.size_type == "MST"
    assert size_type_from_mirror_area(10.0) == "SST"
    assert size_type_from_mirror_area(400.0) == "LST"


def make_subarray():
    geom = hex_geometry()
    readout = CameraReadout("HexTest", 1.0, np.ones((2, 10)), 0.5, 2, geom.n_pixels, 30)
    camera = CameraDescription("HexTest", geom, readout)
    big = OpticsDescription("BIG", "LST", "parabolic", 1, 28.0, 29.3, 386.0, 198)
    small = OpticsDescription("SMALL", "MST", "hybrid", 1, 16.0, 16.4, 106.0, 86)
    tels = {1: TelescopeDescription("BIG", big, camera), 2: TelescopeDescription("SMALL", small, camera),
            5: TelescopeDescription("SMALL", small, camera)}
    positions = {1: [0, 0, 0], 2: [100, 0, 1], 5: [0, -100, 2]}
    location = EarthLocation(lon=-17.89 * u.deg, lat=28.76 * u.deg, height=2200 * u.m)
    return SubarrayDescription("Test", positions, tels, location)


def test_subarray_selection_and_grouping():
    sub = make_subarray()
    assert len(sub) == 3
    np.testing.assert_array_equal(sub.tel_ids, [1, 2, 5])
    assert sub.telescope_types == ["LST_BIG_HexTest", "MST_SMALL_HexTest"]
    assert sub.ids_by_type() == {"LST_BIG_HexTest": [1], "MST_SMALL_HexTest": [2, 5]}
    assert sub.get_tel_ids("MST*") == [2, 5]
    small = sub.select_subarray([5, 1])
    np.testing.assert_array_equal(small.tel_ids, [1, 5])
    with pytest.raises(KeyError, match=r"telescopes \[7\] are not in subarray"):
        sub.select_subarray([1, 7])


def test_subarray_to_dataset():
    ds = make_subarray().to_dataset()
    assert ds.sizes["tel"] == 3
    assert list(ds["tel_type"].values) == ["LST_BIG_HexTest", "MST_SMALL_HexTest", "MST_SMALL_HexTest"]
    np.testing.assert_allclose(ds["pos_x"], [0, 100, 0])
    assert ds["pos_x"].attrs["units"] == "m"
    np.testing.assert_allclose(ds["effective_focal_length"], [29.3, 16.4, 16.4])
    assert ds.attrs["reference_lat"] == pytest.approx(28.76)


def test_neighbor_csr_of_real_camera_tables_matches_the_neighbour_search():
    import warnings

    import iactx
    from conftest import data_file
    from iactx.instrument.camera import neighbor_csr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = iactx.read_simtel(data_file("camsettings_v6.simtel.zst"))
    for name in tree.iact.cameras:
        cam = tree[name].to_dataset(inherit=False)
        searched = CameraGeometry.from_dataset(cam.drop_vars("neighbors"))  # neighbours found from the positions
        indptr, indices = neighbor_csr(cam["neighbors"].values)
        np.testing.assert_array_equal(indptr, searched.neighbor_indptr)
        np.testing.assert_array_equal(indices, searched.neighbor_indices)
        assert indptr.dtype == np.int32 and neighbor_csr(cam["neighbors"].values, np.int64)[1].dtype == np.int64
        assert indptr[-1] == (cam["neighbors"].values >= 0).sum() > 6 * cam.sizes["pixel"] * 0.8
    empty_indptr, empty_indices = neighbor_csr(np.zeros((3, 0), np.int32))
    np.testing.assert_array_equal(empty_indptr, [0, 0, 0, 0])
    assert empty_indices.size == 0


def test_telescopes_of_one_camera_group_share_their_sampling():
    base = CameraReadout("HexTest", 1.0, np.ones((2, 10)), 0.5, 2, 7, 30)
    close = CameraReadout("HexTest", 1.0 + 1e-7, np.ones((2, 12)), 0.5, 2, 7, 30)  # within np.isclose
    data_vars, coords, attrs = CameraReadout.to_dataset_items({1: base, 2: close})
    assert data_vars["reference_pulse_shape"][1].shape == (2, 2, 12)
    other = CameraReadout("HexTest", 2.0, np.ones((2, 10)), 0.5, 2, 7, 30)
    with pytest.raises(ValueError, match="telescope 3 of camera HexTest has sampling_rate=2.0, others 1.0"):
        CameraReadout.to_dataset_items({1: base, 3: other})
