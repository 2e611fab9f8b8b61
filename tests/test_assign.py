"""with_variables: the same Dataset as assign, without the index alignment."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from iactx._assign import with_variables


@pytest.fixture
def camera_group():
    index = pd.MultiIndex.from_arrays([[1, 1, 2], [10, 11, 10]], names=("event", "tel"))
    coords = xr.Coordinates.from_pandas_multiindex(index, "tel_event")
    ds = xr.Dataset({"image": (("tel_event", "pixel"), np.arange(12.0).reshape(3, 4), {"unit": "pe"})},
                    coords=coords).assign_coords(pixel=np.arange(4), pix_x=("pixel", np.linspace(0, 1, 4)))
    ds.attrs["camera"] = "test"
    return ds


def test_same_as_assign_for_new_and_replaced_variables(camera_group):
    new = {"image": xr.Variable(("tel_event", "pixel"), np.ones((3, 4)), {"unit": "pe"}),
           "size": xr.Variable(("tel_event",), np.array([1.0, 2.0, 3.0]))}
    out = with_variables(camera_group, new)
    xr.testing.assert_identical(out, camera_group.assign(new))
    assert list(out.variables) == list(camera_group.assign(new).variables)
    assert out.xindexes["tel_event"] is camera_group.xindexes["tel_event"]
    assert camera_group["image"].values[0, 0] == 0  # the input is left alone


@pytest.mark.parametrize("new", [
    {"extra": xr.Variable(("sample",), np.zeros(5))},  # a new dimension
    {"image": xr.Variable(("tel_event", "pixel"), np.zeros((2, 4)))},  # another size: assign raises
    {"pix_x": xr.Variable(("pixel",), np.zeros(4))},  # a coordinate
])
def test_anything_else_goes_through_assign(camera_group, new):
    try:
        expected = camera_group.assign(new)
    except ValueError as err:
        with pytest.raises(ValueError, match=str(err)[:30]):
            with_variables(camera_group, new)
    else:
        xr.testing.assert_identical(with_variables(camera_group, new), expected)
