"""Integration correction: the fraction of a pulse a charge-extraction window sees.

A window of a few samples around the peak misses the tails of the pulse. The
correction is the factor that turns the sum over the window of a noiseless
pulse of unit charge back into 1. It follows from the camera's reference
pulse shape (one per gain channel, finely sampled), rebinned to the
waveform sampling, for the window width and shift of the extractor.

These functions work on plain arrays; :func:`correction_table` evaluates
them for every telescope of a camera group.
"""

from __future__ import annotations

import numpy as np

__all__ = ["integration_correction", "sliding_window_correction", "correction_table"]


def _rebinned_pulse(pulse, pulse_sample_width, sample_width):
    """The pulse integrated into waveform samples, normalised to unit area.

    The pulse samples sit at ``i * pulse_sample_width``; the waveform sample
    edges at ``k * sample_width`` up to (not including) the end of the pulse.
    The result is a density: its sum times ``sample_width`` is one.
    """
    n = pulse.shape[-1]
    duration = n * pulse_sample_width
    times = np.arange(n) * pulse_sample_width
    edges = np.arange(0.0, duration, sample_width)
    if edges.size < 2:
        return np.zeros(0)
    rebinned, _ = np.histogram(times, edges, weights=pulse, density=True)
    return rebinned


def integration_correction(reference_pulse_shape, reference_pulse_sample_width, sample_width,
                           window_width, window_shift):
    """Correction factor of a window placed around the pulse maximum.

    Parameters
    ----------
    reference_pulse_shape : ndarray, shape (n_gains, n_pulse_samples)
        Reference pulse of each gain channel (any normalisation).
    reference_pulse_sample_width : float
        Time step of the reference pulse [ns].
    sample_width : float
        Time step of the waveform, ``1 / sampling_rate`` [ns].
    window_width : int
        Width of the integration window [samples].
    window_shift : int
        Samples the window starts before the peak.

    Returns
    -------
    ndarray of float64, shape (n_gains,)
        ``1 / (fraction of the pulse inside the window)``; 1 where the
        window misses the rebinned pulse entirely.

    Notes
    -----
    The window is clipped at the ends of the rebinned pulse exactly as the
    extractors clip it at the ends of the trace: it is truncated, not moved.
    """
    pulses = np.atleast_2d(np.asarray(reference_pulse_shape, np.float64))
    correction = np.ones(pulses.shape[0])
    for gain, pulse in enumerate(pulses):
        rebinned = _rebinned_pulse(pulse, float(reference_pulse_sample_width), float(sample_width))
        if rebinned.size == 0 or not np.any(np.isfinite(rebinned)):
            continue
        start = max(int(np.argmax(rebinned)) - int(window_shift), 0)
        end = min(start + int(window_width), rebinned.size)
        if start >= end:
            continue
        correction[gain] = 1.0 / np.sum(rebinned[start:end] * sample_width)
    return correction


def sliding_window_correction(reference_pulse_shape, reference_pulse_sample_width, sample_width,
                              window_width):
    """Correction factor of the sliding window with the largest sum.

    The window width is converted to reference-pulse samples (rounded to
    the nearest integer, at least 1, at most the pulse length); the
    correction is the pulse area over its largest sum in such a window.

    Parameters
    ----------
    reference_pulse_shape : ndarray, shape (n_gains, n_pulse_samples)
    reference_pulse_sample_width, sample_width : float
        Time steps of the pulse and of the waveform [ns].
    window_width : int
        Window width [waveform samples].

    Returns
    -------
    ndarray of float64, shape (n_gains,)
    """
    pulses = np.atleast_2d(np.asarray(reference_pulse_shape, np.float64))
    width = int(round(window_width * sample_width / reference_pulse_sample_width))
    width = min(max(width, 1), pulses.shape[1])
    correction = np.ones(pulses.shape[0])
    for gain, pulse in enumerate(pulses):
        cumulative = np.concatenate(([0.0], np.cumsum(pulse)))
        best = np.max(cumulative[width:] - cumulative[:-width])
        if best != 0 and np.isfinite(best):
            correction[gain] = np.sum(pulse) / best
    return correction


def correction_table(pulses, pulse_sample_width, sample_width, widths, shifts=None, enabled=None,
                     kind="peak"):
    """Correction factors of every telescope of a camera group.

    Parameters
    ----------
    pulses : ndarray, shape (n_tels, n_gains, n_pulse_samples)
        Reference pulse of each telescope (``reference_pulse_shape`` of the group).
    pulse_sample_width, sample_width : float
        Time steps of the pulse and of the waveform [ns].
    widths, shifts : array_like of int, shape (n_tels,)
        Window of each telescope (``shifts`` unused for ``kind="sliding"``).
    enabled : array_like of bool, shape (n_tels,), optional
        Telescopes whose correction is applied; the others get 1.
    kind : {"peak", "sliding"}
        :func:`integration_correction` or :func:`sliding_window_correction`.

    Returns
    -------
    ndarray of float64, shape (n_tels, n_gains)
    """
    pulses = np.asarray(pulses, np.float64)
    n_tels, n_gains = pulses.shape[:2]
    enabled = np.ones(n_tels, bool) if enabled is None else np.asarray(enabled, bool)
    out = np.ones((n_tels, n_gains))
    cache = {}
    for i in range(n_tels):
        if not enabled[i]:
            continue
        key = (pulses[i].tobytes(), int(widths[i]), 0 if shifts is None else int(shifts[i]))
        if key not in cache:
            if kind == "sliding":
                cache[key] = sliding_window_correction(pulses[i], pulse_sample_width, sample_width, widths[i])
            else:
                cache[key] = integration_correction(pulses[i], pulse_sample_width, sample_width,
                                                    widths[i], shifts[i])
        out[i] = cache[key]
    return out
