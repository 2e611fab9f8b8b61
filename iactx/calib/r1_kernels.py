"""R0 -> R1 for sim_telarray data: pedestal subtraction, dc-to-pe and gain selection.

Plain-array kernels, batched over telescope events.
"""

import numpy as np

from .._numba import kernel

__all__ = ["select_gain_threshold", "calibrate_selected_gain"]


@kernel
def select_gain_threshold(high_gain, threshold, out):
    """Threshold gain selection of two-gain data, from the high-gain samples.

    A pixel uses the low gain (1) when any high-gain sample exceeds
    ``threshold``, else the high gain (0).

    Parameters
    ----------
    high_gain : ndarray, shape (n_tel_events, n_pixels, n_samples)
        Raw high-gain ADC samples.
    threshold : float
        Threshold on the high-gain samples [ADC counts].
    out : ndarray of int8, shape (n_tel_events, n_pixels)
        Selected channel per pixel, written in place.

    Raises
    ------
    ValueError
        ``out`` does not have the shape of the pixels.
    """
    n_events, n_pixels, n_samples = high_gain.shape
    if out.shape[0] != n_events or out.shape[1] != n_pixels:
        raise ValueError("select_gain_threshold: out must have shape (n_tel_events, n_pixels)")
    for e in range(n_events):
        for p in range(n_pixels):
            # the peak of a branch-free loop vectorises; testing every sample does not
            peak = high_gain[e, p, 0] if n_samples > 0 else 0
            for s in range(1, n_samples):
                peak = max(peak, high_gain[e, p, s])
            out[e, p] = 1 if peak > threshold else 0


@kernel
def _covers(shape, n_events, n_gains, n_pixels):
    """Whether a calibration array of ``shape`` has values for every event, channel and pixel of the samples."""
    return shape[0] == n_events and shape[1] >= n_gains and shape[2] == n_pixels


@kernel
def calibrate_selected_gain(r0, selected_gain, pedestal, dc_to_pe, out):
    """R1 waveforms of the selected channel: ``(r0 - pedestal) * dc_to_pe``.

    Parameters
    ----------
    r0 : ndarray, shape (n_tel_events, n_channels, n_pixels, n_samples)
        Raw ADC samples of at least the channels selected.
    selected_gain : ndarray of int8, shape (n_tel_events, n_pixels)
        Channel to use per pixel.
    pedestal : ndarray of float32, shape (n_tel_events, n_gains, n_pixels)
        Pedestal per sample [ADC counts].
    dc_to_pe : ndarray of float32, shape (n_tel_events, n_gains, n_pixels)
        Conversion factor [p.e. / ADC count].
    out : ndarray of float32, shape (n_tel_events, n_pixels, n_samples)
        Calibrated waveforms [p.e.], written in place.

    Raises
    ------
    ValueError
        The arrays disagree in shape (the calibration needs at least the
        channels of ``r0``), or a selected channel is not in ``r0``.
    """
    n_events, n_gains, n_pixels, n_samples = r0.shape
    if not (_covers(pedestal.shape, n_events, n_gains, n_pixels) and _covers(dc_to_pe.shape, n_events, n_gains,
                                                                             n_pixels)):
        raise ValueError("calibrate_selected_gain: pedestal and dc_to_pe must have shape "
                         "(n_tel_events, n_gains, n_pixels) with at least the channels of r0")
    if (selected_gain.shape[0] != n_events or selected_gain.shape[1] != n_pixels or out.shape[0] != n_events
            or out.shape[1] != n_pixels or out.shape[2] != n_samples):
        raise ValueError("calibrate_selected_gain: selected_gain and out must match r0 in events, pixels, samples")
    for e in range(n_events):
        for p in range(n_pixels):
            g = selected_gain[e, p]
            if g < 0 or g >= n_gains:
                raise ValueError("calibrate_selected_gain: a selected channel is not in r0")
            ped = pedestal[e, g, p]
            factor = dc_to_pe[e, g, p]
            for s in range(n_samples):
                out[e, p, s] = (np.float32(r0[e, g, p, s]) - ped) * factor
