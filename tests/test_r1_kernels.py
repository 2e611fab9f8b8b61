"""R0 -> R1 kernels: values, and refusal of arrays that do not fit together."""

import numpy as np
import pytest

from iactx.calib.r1_kernels import calibrate_selected_gain, select_gain_threshold


def test_threshold_selects_the_low_gain_above_the_threshold():
    high_gain = np.array([[[10, 20, 30], [10, 4001, 5]]], np.uint16)
    selected = np.full((1, 2), -1, np.int8)
    select_gain_threshold(high_gain, 4000.0, selected)
    np.testing.assert_array_equal(selected, [[0, 1]])


def test_calibration_of_the_selected_channel():
    r0 = np.array([[[[110, 120]], [[15, 25]]]], np.uint16)  # (1 event, 2 gains, 1 pixel, 2 samples)
    pedestal = np.array([[[100.0], [5.0]]], np.float32)
    dc_to_pe = np.array([[[0.5], [2.0]]], np.float32)
    out = np.zeros((1, 1, 2), np.float32)
    for gain, expected in ((0, [5.0, 10.0]), (1, [20.0, 40.0])):
        calibrate_selected_gain(r0, np.array([[gain]], np.int8), pedestal, dc_to_pe, out)
        np.testing.assert_array_equal(out[0, 0], expected)


def test_mismatched_shapes_and_channels_are_refused():
    r0 = np.zeros((1, 1, 4, 3), np.uint16)
    good = np.zeros((1, 2, 4), np.float32)
    out = np.zeros((1, 4, 3), np.float32)
    selected = np.zeros((1, 4), np.int8)
    calibrate_selected_gain(r0, selected, good, good, out)
    with pytest.raises(ValueError, match="pedestal and dc_to_pe must have shape"):
        calibrate_selected_gain(r0, selected, np.zeros((1, 2, 3), np.float32), good, out)
    with pytest.raises(ValueError, match="pedestal and dc_to_pe must have shape"):
        calibrate_selected_gain(np.zeros((1, 2, 4, 3), np.uint16), selected, good, np.zeros((1, 1, 4), np.float32),
                                out)
    with pytest.raises(ValueError, match="selected_gain and out must match r0"):
        calibrate_selected_gain(r0, selected, good, good, np.zeros((1, 4, 2), np.float32))
    with pytest.raises(ValueError, match="a selected channel is not in r0"):
        calibrate_selected_gain(r0, np.ones((1, 4), np.int8), good, good, out)
    with pytest.raises(ValueError, match="out must have shape"):
        select_gain_threshold(r0[:, 0], 1.0, np.zeros((1, 3), np.int8))
