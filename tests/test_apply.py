"""apply_kernel: the same result whichever path it takes (direct on numpy-backed data, apply_ufunc otherwise)."""

import dask.array as da
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from iactx._apply import apply_kernel


def _scaled_sum(values, weights, *, factor):
    return (values * weights[:, None]).sum(axis=1) * factor, values.max(axis=1)


def _call(values, weights):
    return apply_kernel(_scaled_sum, values, weights, input_core_dims=[["pixel"], []],
                        output_core_dims=[[], []], output_dtypes=[np.float64, np.float64], kwargs={"factor": 2.0})


@pytest.fixture
def inputs():
    rng = np.random.default_rng(3)
    return (xr.Variable(("tel_event", "pixel"), rng.normal(size=(5, 7))),
            xr.Variable(("tel_event",), rng.uniform(size=5)))


def test_numpy_variables_match_apply_ufunc_on_dask_and_other_layouts(inputs):
    values, weights = inputs
    direct = _call(values, weights)
    assert all(isinstance(v, xr.Variable) and v.dims == ("tel_event",) for v in direct)
    for other in (_call(values.chunk({"tel_event": 2}), weights.chunk({"tel_event": 2})),  # dask: apply_ufunc
                  _call(values.transpose("pixel", "tel_event"), weights)):  # another layout: transposed
        for mine, theirs in zip(direct, other):
            np.testing.assert_array_equal(mine.values, np.asarray(theirs.values))
    assert isinstance(_call(values.chunk({"tel_event": 2}), weights.chunk({"tel_event": 2}))[0].data, da.Array)


def test_dataarrays_keep_their_coordinates(inputs):
    values, weights = inputs
    coords = {"tel_event": np.arange(5) + 10, "pixel": np.arange(7)}
    image = xr.DataArray(values, coords=coords)
    weight = xr.DataArray(weights, coords={"tel_event": coords["tel_event"]})
    total, peak = _call(image, weight)
    assert list(total.coords) == ["tel_event"] and total["tel_event"].values.tolist() == list(range(10, 15))
    np.testing.assert_array_equal(total.values, _call(values, weights)[0].values)


def test_mismatched_sizes_and_outputs_are_errors(inputs):
    values, weights = inputs
    with pytest.raises(ValueError, match="tel_event"):
        _call(values, xr.Variable(("tel_event",), np.ones(4)))
    with pytest.raises(ValueError, match="does not match its dimensions"):
        apply_kernel(lambda v: v[:2], values, input_core_dims=[["pixel"]], output_core_dims=[["pixel"]],
                     output_dtypes=[np.float64])


def _through_apply_ufunc(func, *args, input_core_dims, output_core_dims, kwargs=None):
    """What apply_kernel gives when it takes apply_ufunc's path."""
    return xr.apply_ufunc(func, *args, input_core_dims=input_core_dims, output_core_dims=output_core_dims,
                          kwargs=kwargs or {}, keep_attrs=False)


@pytest.fixture
def camera_group(inputs):
    """A camera group as the readers make it: tel_event MultiIndex, pixel coordinates with attributes."""
    values, weights = inputs
    tel_event = xr.Coordinates.from_pandas_multiindex(
        pd.MultiIndex.from_arrays([np.full(5, 7), np.arange(5) // 2, np.arange(5) % 2 + 1],
                                  names=["obs_id", "event", "tel"]), "tel_event")
    ds = xr.Dataset({"image": values, "weight": weights}, coords=tel_event)
    ds = ds.assign_coords(pixel=("pixel", np.arange(7)), pix_x=("pixel", np.linspace(0, 1, 7), {"units": "m"}))
    ds["obs_id"].attrs["long_name"] = "observation block"
    return ds


def test_dataarrays_of_one_group_give_apply_ufuncs_result(camera_group, monkeypatch):
    image, weight = camera_group["image"], camera_group["weight"]
    cases = [  # arguments, core dimensions: same-group DataArrays, a coordinate-free one, a 0-d Variable
        ((image, weight), [["pixel"], []]),
        ((image, xr.DataArray(np.arange(5.0), dims="tel_event")), [["pixel"], []]),
        ((image.transpose(), xr.Variable((), 3.0)), [["pixel"], []]),
        ((image, image.rename("other")), [["pixel"], ["pixel"]]),
    ]
    for args, core in cases:
        def func(*arrays):
            total = sum(a if a.ndim != 1 else a[:, None] for a in arrays)  # (tel_event,) against (tel_event, pixel)
            return total.sum(axis=1), total

        with monkeypatch.context() as patch:  # the direct path, not apply_ufunc
            patch.setattr(xr, "apply_ufunc", None)
            direct = apply_kernel(func, *args, input_core_dims=core, output_core_dims=[[], ["pixel"]],
                                  output_dtypes=[np.float64, np.float64])
        expected = _through_apply_ufunc(func, *args, input_core_dims=core, output_core_dims=[[], ["pixel"]])
        for mine, theirs in zip(direct, expected, strict=True):
            xr.testing.assert_identical(mine, theirs)
            assert list(mine.xindexes) == list(theirs.xindexes)
    assert direct[0].name is None and apply_kernel(
        lambda v: v.sum(axis=1), image, input_core_dims=[["pixel"]], output_core_dims=[[]],
        output_dtypes=[np.float64]).name == "image"


def test_dataarrays_with_equal_but_other_coordinates_go_through_apply_ufunc_alike(camera_group):
    image, weight = camera_group["image"], camera_group["weight"]

    def func(v, w):
        return v.sum(axis=1) * w

    options = {"input_core_dims": [["pixel"], []], "output_core_dims": [[]], "output_dtypes": [np.float64]}
    xr.testing.assert_identical(apply_kernel(func, image, weight.copy(deep=True), **options),
                                apply_kernel(func, image, weight, **options))
