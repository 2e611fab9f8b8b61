"""N-d labelled histograms: filling, merging, normalising, interpolating, files."""

import astropy.units as u
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import iactx
from iactx import histograms as H
from tests.conftest import data_file

EDGES = {"x": np.linspace(-2, 2, 9), "y": np.array([0.0, 0.5, 1.5, 3.0]), "z": np.linspace(0, 1, 5)}


@pytest.fixture
def table():
    rng = np.random.default_rng(7)
    n = 5000
    return pd.DataFrame({"x": rng.normal(0, 1, n), "y": rng.exponential(1, n), "z": rng.uniform(0, 1, n),
                         "w": rng.uniform(0.5, 2, n), "v": rng.normal(3, 1, n)})


def test_counts_equal_numpy_histogramdd(table):
    h = H.histogram(table, EDGES)
    expected, _ = np.histogramdd(table[["x", "y", "z"]].to_numpy(), bins=list(EDGES.values()))
    assert h.dims == ("x", "y", "z")
    np.testing.assert_array_equal(h.values, expected)
    for axis, e in EDGES.items():
        np.testing.assert_array_equal(H.edges(h, axis), e)
        np.testing.assert_allclose(h[axis].values, 0.5 * (e[1:] + e[:-1]))
    assert h.attrs["units"] == "" and h.attrs["kind"] == "counts"


def test_weights_column_and_array(table):
    expected, _ = np.histogramdd(table[["x", "y"]].to_numpy(), bins=[EDGES["x"], EDGES["y"]], weights=table.w)
    bins = {"x": EDGES["x"], "y": EDGES["y"]}
    np.testing.assert_allclose(H.histogram(table, bins, weights="w").values, expected)
    np.testing.assert_allclose(H.histogram(table, bins, weights=table.w.to_numpy()).values, expected)
    with pytest.raises(ValueError, match="weights have 3 entries"):
        H.histogram(table, bins, weights=[1, 2, 3])


def test_nan_rows_are_dropped(table):
    t = table.copy()
    t.loc[::10, "x"] = np.nan
    t.loc[5::10, "w"] = np.nan
    h = H.histogram(t, {"x": EDGES["x"]}, weights="w")
    good = t.x.notna() & t.w.notna()
    expected, _ = np.histogram(t.x[good], bins=EDGES["x"], weights=t.w[good])
    np.testing.assert_allclose(h.values, expected)


def test_missing_column_and_bad_edges(table):
    with pytest.raises(KeyError, match="no column 'nope'.*available: x, y"):
        H.histogram(table, {"nope": [0, 1]})
    with pytest.raises(ValueError, match="axis 'x'.*strictly increasing"):
        H.histogram(table, {"x": [0, 2, 1]})


def test_merge_of_two_halves_equals_the_whole(table):
    whole = H.histogram(table, EDGES, weights="w")
    halves = [H.histogram(table.iloc[:2000], EDGES, weights="w"), H.histogram(table.iloc[2000:], EDGES, weights="w")]
    np.testing.assert_allclose(H.merge(*halves).values, whole.values)
    np.testing.assert_allclose(H.merge(halves).values, whole.values)
    xr.testing.assert_identical(H.merge(*halves).coords.to_dataset(), whole.coords.to_dataset())


def test_merge_refuses_other_edges_naming_the_axis(table):
    a = H.histogram(table, EDGES)
    b = H.histogram(table, {**EDGES, "y": [0.0, 0.5, 1.5, 3.5]})
    with pytest.raises(ValueError, match="other bin edges on axis 'y'"):
        H.merge(a, b)
    with pytest.raises(ValueError, match="axes"):
        H.merge(a, H.histogram(table, {"x": EDGES["x"]}))
    mean = H.binned_statistic(table, "v", {"x": EDGES["x"]})
    with pytest.raises(ValueError, match="only counts"):
        H.merge(mean, mean)


def test_dask_partitions_are_summed(table):
    dd = pytest.importorskip("dask.dataframe")
    lazy = dd.from_pandas(table, npartitions=4)
    np.testing.assert_allclose(H.histogram(lazy, EDGES, weights="w").values,
                               H.histogram(table, EDGES, weights="w").values)
    np.testing.assert_allclose(H.binned_statistic(lazy, "v", EDGES).values,
                               H.binned_statistic(table, "v", EDGES).values, equal_nan=True)


def test_dataset_with_units_and_quantity_edges():
    ds = xr.Dataset({"d": ("tel_event", np.array([10.0, 150.0, 250.0, 900.0]), {"units": "m"}),
                     "w": ("tel_event", np.array([1.0, 2.0, 3.0, 4.0]), {"units": "m2"})})
    h = H.histogram(ds, {"d": [0, 0.1, 0.2, 0.3] * u.km}, weights="w")
    np.testing.assert_allclose(h.values, [1, 2, 3])
    assert h["d"].attrs["units"] == "km" and h.attrs["units"] == "m2"
    frame = ds.to_dataframe()
    from_frame = H.histogram(frame, {"d": [0, 0.1, 0.2, 0.3] * u.km}, weights="w", units={"d": "m", "w": u.m ** 2})
    xr.testing.assert_identical(from_frame, h)
    plain = H.histogram(ds, {"d": [0, 100, 200, 300]})
    assert plain["d"].attrs["units"] == "m"
    np.testing.assert_allclose(plain.values, [1, 1, 1])


def test_binned_statistic_mean_and_std(table):
    bins = {"x": EDGES["x"], "y": EDGES["y"]}
    mean = H.binned_statistic(table, "v", bins, weights="w")
    std = H.binned_statistic(table, "v", bins, statistic="std", weights="w")
    ix = np.digitize(table.x, EDGES["x"]) - 1
    iy = np.digitize(table.y, EDGES["y"]) - 1
    for i, j in [(3, 0), (4, 1), (2, 2)]:
        sel = (ix == i) & (iy == j)
        w, v = table.w[sel], table.v[sel]
        m = np.average(v, weights=w)
        assert mean.values[i, j] == pytest.approx(m)
        assert std.values[i, j] == pytest.approx(np.sqrt(np.average((v - m) ** 2, weights=w)))
        assert mean.n_entries.values[i, j] == pytest.approx(w.sum())
    empty = H.binned_statistic(table, "v", {"x": [10.0, 11.0, 12.0]})
    assert np.isnan(empty.values).all() and (empty.n_entries.values == 0).all()
    with pytest.raises(ValueError, match="unknown statistic"):
        H.binned_statistic(table, "v", bins, statistic="median")


def test_normalise_unit_sum_per_axis_and_density(table):
    h = H.histogram(table, EDGES)
    assert float(H.normalise(h).sum()) == pytest.approx(1.0)
    per_x = H.normalise(h, "x")
    assert per_x.dims == h.dims
    np.testing.assert_allclose(per_x.sum("x").values, 1.0)
    dens = H.normalise(h, density=True)
    np.testing.assert_allclose(float((dens * H.bin_volume(h)).sum()), 1.0)
    dens_y = H.normalise(h, "y", density=True)
    widths = np.diff(EDGES["y"])
    np.testing.assert_allclose((dens_y * xr.DataArray(widths, dims="y")).sum("y").values, 1.0)
    # empty slices give NaN, the input is unchanged
    sparse = H.histogram(table, {"x": [10.0, 11.0], "y": EDGES["y"]})
    assert np.isnan(H.normalise(sparse, "y").values).all()
    assert h.attrs["kind"] == "counts"


def test_density_units():
    ds = xr.Dataset({"d": ("tel_event", np.array([10.0, 150.0]), {"units": "m"}),
                     "e": ("tel_event", np.array([1.0, 2.0]), {"units": "TeV"})})
    h = H.histogram(ds, {"d": [0, 100, 200], "e": [0.5, 1.5, 2.5]})
    assert u.Unit(H.normalise(h, density=True).attrs["units"]) == 1 / (u.m * u.TeV)
    assert H.normalise(h, "d").attrs["units"] == ""


def lookup():
    x = np.array([0.0, 1.0, 2.0, 4.0])   # edges -> centres 0.5, 1.5, 3
    y = np.array([0.0, 2.0, 4.0])        # centres 1, 3
    table = pd.DataFrame({"x": [0.5, 1.5, 3.0, 0.5, 1.5, 3.0], "y": [1, 1, 1, 3, 3, 3],
                          "v": [1.0, 2.0, 4.0, 10.0, 20.0, 40.0]})
    return H.binned_statistic(table, "v", {"x": x, "y": y})


def test_interpolate_exact_at_centres_and_linear_between():
    lut = lookup()
    xs, ys = np.meshgrid(lut.x.values, lut.y.values, indexing="ij")
    np.testing.assert_allclose(H.interpolate(lut, {"x": xs, "y": ys}), lut.values)
    assert H.interpolate(lut, {"x": 1.0, "y": 1.0}) == pytest.approx(1.5)
    assert H.interpolate(lut, {"x": 2.25, "y": 1.0}) == pytest.approx(3.0)
    assert H.interpolate(lut, {"x": 0.5, "y": 2.0}) == pytest.approx(5.5)
    assert H.interpolate(lut, {"x": 1.0, "y": 2.0}) == pytest.approx((1 + 2 + 10 + 20) / 4)
    out = H.interpolate(lut, pd.DataFrame({"x": [1.0, 2.25], "y": [1.0, 1.0], "other": [0, 0]}))
    np.testing.assert_allclose(out, [1.5, 3.0])


def test_interpolate_out_of_range_and_nan():
    lut = lookup()
    pts = {"x": [0.1, 3.5, 1.0, np.nan], "y": [1.0, 3.0, 0.0, 1.0]}
    nan = H.interpolate(lut, pts)
    assert np.isnan(nan).all()
    np.testing.assert_allclose(H.interpolate(lut, pts, out_of_range="clamp")[:3], [1.0, 40.0, 1.5])
    assert np.isnan(H.interpolate(lut, pts, out_of_range="clamp")[3])
    assert H.interpolate(lut, {"x": 4.5, "y": 1.0}, out_of_range="extrapolate") == pytest.approx(6.0)
    # a NaN bin spoils the cells that touch it, not the others
    holed = lut.copy(data=lut.values.copy())
    holed.values[2, 1] = np.nan
    assert np.isnan(H.interpolate(holed, {"x": 2.0, "y": 2.0}))
    assert H.interpolate(holed, {"x": 1.0, "y": 2.0}) == pytest.approx(8.25)
    with pytest.raises(KeyError, match="lack the axis 'y'"):
        H.interpolate(lut, {"x": [1.0]})
    with pytest.raises(ValueError, match="out_of_range"):
        H.interpolate(lut, {"x": 1.0, "y": 1.0}, out_of_range="wrap")


def test_interpolate_labelled_points_and_quantities():
    ds = xr.Dataset({"d": ("tel_event", np.array([50.0, 150.0]), {"units": "m"}),
                     "v": ("tel_event", np.array([1.0, 3.0]), {"units": "deg"})})
    lut = H.binned_statistic(ds, "v", {"d": [0, 100, 200] * u.m})
    pts = xr.Dataset({"d": ("tel_event", np.array([0.075, 0.1]), {"units": "km"})})
    out = H.interpolate(lut, pts)
    assert isinstance(out, xr.DataArray) and out.dims == ("tel_event",)
    np.testing.assert_allclose(out.values, [1.5, 2.0])
    assert out.attrs["units"] == "deg"
    np.testing.assert_allclose(H.interpolate(lut, {"d": [7500, 10000] * u.cm}), [1.5, 2.0])
    single = H.binned_statistic(ds, "v", {"d": [0, 200]})
    np.testing.assert_allclose(H.interpolate(single, {"d": [10.0, 300.0]}), [2.0, np.nan])


def test_netcdf_round_trip(table, tmp_path):
    for h in (H.histogram(table, {"x": EDGES["x"] * u.m, "y": EDGES["y"]}, weights="w"),
              H.binned_statistic(table, "v", {"x": EDGES["x"]}), H.normalise(H.histogram(table, EDGES), density=True)):
        path = tmp_path / f"{h.name}.nc"
        h.to_netcdf(path, engine="h5netcdf")
        with xr.open_dataarray(path, engine="h5netcdf") as back:
            back = back.load()
        xr.testing.assert_identical(back, h)
        np.testing.assert_array_equal(H.edges(back, "x"), H.edges(h, "x"))
        assert H.interpolate(back, {d: back[d].values[:1] for d in back.dims}).shape == (1,)


def test_input_not_mutated(table):
    before = table.copy()
    h = H.histogram(table, EDGES)
    copy = h.copy(deep=True)
    H.normalise(h, "x", density=True)
    H.interpolate(h, {d: h[d].values[:2] for d in h.dims})
    pd.testing.assert_frame_equal(table, before)
    xr.testing.assert_identical(h, copy)


def test_public_api():
    assert iactx.histogram is H.histogram and iactx.binned_statistic is H.binned_statistic


def test_real_sample_file_telescope_events():
    from iactx.image.processor import dl1

    tree = dl1(iactx.read_simtel(data_file("camsettings_v6.simtel.zst")))
    table = iactx.telescope_events(tree, ["hillas_intensity", "hillas_width", "true_energy"])
    assert len(table) > 0
    bins = {"hillas_intensity": np.geomspace(1, 1e5, 11), "hillas_width": np.linspace(0, 0.5, 6) * u.deg}
    h = H.histogram(table, bins)
    sample = table[["hillas_intensity", "hillas_width"]].to_numpy()
    expected, _ = np.histogramdd(sample[np.isfinite(sample).all(axis=1)], bins=[bins["hillas_intensity"],
                                                                                 bins["hillas_width"].value])
    np.testing.assert_array_equal(h.values, expected)
    assert h.sum() == np.isfinite(sample).all(axis=1).sum() > 0
    # the camera groups directly, with their units, give the same counts summed
    per_camera = [H.histogram(tree[name].to_dataset(), bins) for name in tree.iact.cameras]
    assert per_camera[0]["hillas_width"].attrs["units"] == "deg"
    np.testing.assert_array_equal(H.merge(*per_camera).values, expected)
    mean = H.binned_statistic(table, "hillas_width", {"hillas_intensity": bins["hillas_intensity"]})
    filled = mean.n_entries.values > 0
    assert np.all(mean.values[filled] > 0) and np.isnan(mean.values[~filled]).all()
