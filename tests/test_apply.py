"""apply_kernel: the same result whichever path it takes (direct on numpy Variables, apply_ufunc otherwise)."""

import dask.array as da
import numpy as np
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
                  _call(values.transpose("pixel", "tel_event"), weights)):  # another layout: apply_ufunc
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
