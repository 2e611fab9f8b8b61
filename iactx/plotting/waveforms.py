"""Waveforms of selected pixels with the integration window of the charge extractor.

The window is where the extractor sums the samples. It is computed here
from the extractor's name and parameters, with the rules of ctapipe's
extractors (``start = peak - window_shift``, ``stop = start +
window_width``, clipped to the readout window):

``FixedWindowSum``
    peak at ``peak_index`` for every pixel;
``LocalPeakWindowSum``
    peak at the maximum of the pixel's own waveform;
``NeighborPeakWindowSum``
    peak at the maximum of the sum of the neighbours' waveforms plus
    ``lwt`` times the pixel's own (neighbours from the ``neighbors``
    coordinate of the camera group);
``GlobalPeakWindowSum``
    peak at the maximum of the mean waveform of the ``pixel_fraction``
    brightest pixels (all pixels by default);
``SlidingWindowMaxSum``
    the ``window_width`` consecutive samples with the largest sum.

``FullWaveformSum``
    all samples.

The extractor is given explicitly (``window=``) or found in the attributes
of the camera group's ``image`` variable, as ``iactx.calib`` writes them:
``extractor`` (the name) and its parameters ``window_width``,
``window_shift``, ``peak_index``, ``local_weight`` (ctapipe's ``lwt``) and
``pixel_fraction`` as attributes of the same names. An extractor object
with a ``window(ds)`` method (``iactx.calib`` extractors) is asked for its
own window, which takes per-telescope parameters into account.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .camera import _as_dataset, _style, select_tel_event

__all__ = ["waveforms", "integration_window", "EXTRACTORS", "PALETTE"]

#: extractors whose windows can be drawn
EXTRACTORS = ("FixedWindowSum", "LocalPeakWindowSum", "NeighborPeakWindowSum", "GlobalPeakWindowSum",
              "SlidingWindowMaxSum", "FullWaveformSum")

#: line colours of successive pixels (Category10)
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")

_PARAMETERS = ("window_width", "window_shift", "peak_index", "lwt", "local_weight", "pixel_fraction")
_DEFAULTS = {"window_width": 7, "window_shift": 3, "peak_index": 0, "lwt": 0, "pixel_fraction": 1.0}


def integration_window(waveform, extractor, *, window_width=7, window_shift=3, peak_index=0, lwt=0,
                       pixel_fraction=1.0, neighbors=None):
    """First and one-past-last sample summed by an extractor, per pixel.

    Parameters
    ----------
    waveform : array_like, shape (n_pixels, n_samples)
        Waveforms of one telescope event.
    extractor : str
        One of :data:`EXTRACTORS`.
    window_width, window_shift, peak_index, lwt, pixel_fraction
        The extractor's parameters (ctapipe's names and defaults).
    neighbors : array_like of int, shape (n_pixels, max_neighbors), optional
        Neighbour table padded with -1, needed by ``NeighborPeakWindowSum``.

    Returns
    -------
    start, stop : ndarray of int, shape (n_pixels,)
        Samples ``start <= i < stop`` are summed.
    """
    wf = np.asarray(waveform, np.float64)
    n_pixels, n_samples = wf.shape
    width = int(window_width)
    if extractor == "FullWaveformSum":
        return np.zeros(n_pixels, int), np.full(n_pixels, n_samples)
    if extractor == "FixedWindowSum":
        peak = np.full(n_pixels, int(peak_index))
    elif extractor == "LocalPeakWindowSum":
        peak = np.argmax(wf, axis=1)
    elif extractor == "NeighborPeakWindowSum":
        if neighbors is None:
            raise ValueError("NeighborPeakWindowSum needs the neighbour table (the camera group's neighbors)")
        table = np.asarray(neighbors)
        valid = table >= 0
        summed = (wf[np.where(valid, table, 0)] * valid[..., None]).sum(axis=1) + lwt * wf
        peak = np.argmax(summed, axis=1)
    elif extractor == "GlobalPeakWindowSum":
        n_bright = max(1, int(pixel_fraction * n_pixels))
        bright = np.argsort(wf.max(axis=1))[::-1][:n_bright]
        peak = np.full(n_pixels, int(np.argmax(wf[bright].mean(axis=0))))
    elif extractor == "SlidingWindowMaxSum":
        width = min(width, n_samples)
        cumulative = np.concatenate([np.zeros((n_pixels, 1)), np.cumsum(wf, axis=1)], axis=1)
        start = np.argmax(cumulative[:, width:] - cumulative[:, :-width], axis=1)
        return start, start + width
    else:
        raise ValueError(f"cannot draw the window of extractor {extractor!r}; known: {EXTRACTORS}")
    start = peak - int(window_shift)
    return np.clip(start, 0, n_samples), np.clip(start + width, 0, n_samples)


def _number(value, name):
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"extractor parameter {name}={value!r} is not a number; pass window=(start, stop) "
                        "or a dict with plain values") from None


def _parameters(get, names):
    params = dict(_DEFAULTS)
    for key in names:
        value = _number(get(key), key)
        params["lwt" if key == "local_weight" else key] = value
    return params


def _extractor_spec(window, ds):
    """(name, parameters) from a window argument or the image attributes, or None."""
    if window is None:
        attrs = ds["image"].attrs if "image" in ds.variables else {}
        if attrs.get("extractor") not in EXTRACTORS:  # none, "integrated", or several extractors
            return None
        return attrs["extractor"], _parameters(attrs.get, [k for k in _PARAMETERS if k in attrs])
    if isinstance(window, str):
        return window, dict(_DEFAULTS)
    if isinstance(window, Mapping):
        if "extractor" not in window:
            raise KeyError("a window dict needs the key 'extractor' (e.g. 'NeighborPeakWindowSum')")
        return str(window["extractor"]), _parameters(window.get, [k for k in _PARAMETERS if k in window])
    if any(hasattr(window, k) for k in _PARAMETERS):  # an extractor object without a window method
        return type(window).__name__, _parameters(lambda k: getattr(window, k),
                                                  [k for k in _PARAMETERS if hasattr(window, k)])
    return None


def _windows(window, ds, one, wf, position):
    """(start, stop) per pixel in samples, or None."""
    if window is False:
        return None
    if callable(getattr(window, "window", None)):  # an iactx.calib extractor knows its own window
        data = ds.isel(tel_event=[position]) if position is not None else one
        start, stop = window.window(data)
        return np.asarray(start).reshape(-1), np.asarray(stop).reshape(-1)
    if isinstance(window, tuple) and len(window) == 2:
        n = wf.shape[0]
        return (np.broadcast_to(np.asarray(window[0]), (n,)), np.broadcast_to(np.asarray(window[1]), (n,)))
    spec = _extractor_spec(window, ds)
    if spec is None:
        if window is not None:
            raise TypeError(f"window must be (start, stop), an extractor name, dict or object, got {window!r}")
        return None
    name, params = spec
    neighbors = one["neighbors"].values if "neighbors" in one.coords else None
    return integration_window(wf, name, neighbors=neighbors, **params)


def _position(ds, one):
    """Position of the selected telescope event along ``tel_event`` of ``ds``, or None."""
    if "tel_event" not in ds.dims:
        return None
    index = ds.indexes["tel_event"]
    key = tuple(int(one[name].values) for name in index.names)
    return int(index.get_loc(key))


def _default_pixels(one, wf, n):
    if "image" in one.variables:
        brightness = np.nan_to_num(one["image"].values, nan=-np.inf)
    else:
        brightness = wf.max(axis=1)
    return list(np.argsort(brightness)[::-1][:n])


def waveforms(data, *, event=None, tel=None, obs_id=None, pixels=None, var="waveform", window=None,
              n_brightest=1, title=None):
    """Waveforms of some pixels of one telescope event, with the integration window.

    Parameters
    ----------
    data : xarray.Dataset
        A camera group with a ``waveform`` (``tel_event, pixel, sample``) variable.
    event, tel, obs_id : int, optional
        The telescope event (not needed when there is only one).
    pixels : int or sequence of int, optional
        Pixel ids; by default the ``n_brightest`` pixels of ``image`` (or
        of the waveform maximum when there is no image).
    var : str
        Waveform variable to draw.
    window : None, False, (start, stop), str, dict or extractor object
        Integration window in samples (``stop`` excluded), scalars or one
        per pixel of the camera; an extractor name or a dict
        ``{"extractor": name, "window_width": ..., ...}`` (see
        :func:`integration_window`); an extractor object: its
        ``window(ds)`` method when it has one, else its attributes of those
        names. ``None`` looks for the extractor in the attributes of
        ``image``; ``False`` draws none.
    n_brightest : int
        Number of pixels drawn when ``pixels`` is not given.
    title : str, optional

    Returns
    -------
    holoviews.Overlay
        ``hv.Curve`` (time [ns], waveform) labelled ``pixel <id>``, one per
        pixel, followed by ``hv.VSpans`` of the windows when there is one: sample ``i`` is drawn at ``i / sampling_rate`` and a window
        spans its summed samples plus half a sample on either side.
    """
    import holoviews as hv

    ds = _as_dataset(data)
    if var not in ds.variables:
        raise KeyError(f"{var!r} is not in the camera group")
    one = select_tel_event(ds, event=event, tel=tel, obs_id=obs_id)
    wf = np.asarray(one[var].transpose("pixel", "sample").values, np.float64)
    rate = float(ds.attrs.get("sampling_rate", 1.0))
    time = np.arange(wf.shape[1]) / rate
    pixel_ids = np.asarray(ds["pixel"].values) if "pixel" in ds.coords else np.arange(wf.shape[0])
    if pixels is None:
        positions = _default_pixels(one, wf, int(n_brightest))
    else:
        wanted = np.atleast_1d(np.asarray(pixels))
        lookup = {int(p): i for i, p in enumerate(pixel_ids)}
        missing = [int(p) for p in wanted if int(p) not in lookup]
        if missing:
            raise KeyError(f"pixels {missing} are not in the camera (ids {pixel_ids.min()}..{pixel_ids.max()})")
        positions = [lookup[int(p)] for p in wanted]
    units = one[var].attrs.get("units")
    tdim = hv.Dimension("time", unit="ns")
    vdim = hv.Dimension(var, unit=units or None)
    layers = []
    for k, i in enumerate(positions):
        curve = hv.Curve((time, wf[i]), kdims=[tdim], vdims=[vdim], label=f"pixel {int(pixel_ids[i])}")
        color = PALETTE[k % len(PALETTE)]
        layers.append(_style(curve, bokeh={"color": color, "line_width": 2},
                             matplotlib={"color": color, "linewidth": 2}))
    if title is None:
        parts = [ds.attrs.get("camera_name", "camera")]
        for level in ("tel", "event"):
            if level in one.coords and one[level].ndim == 0:
                parts.append(f"{level} {int(one[level].values)}")
        title = ", ".join(parts)
    windows = _windows(window, ds, one, wf, _position(ds, one))
    if windows is not None:
        start, stop = (np.asarray(w) for w in windows)
        for k, i in enumerate(positions):
            color = PALETTE[k % len(PALETTE)]
            span = hv.VSpans(([(start[i] - 0.5) / rate], [(stop[i] - 0.5) / rate]), kdims=[tdim, "x1"],
                             label=f"window {int(pixel_ids[i])}")
            layers.append(_style(span, bokeh={"color": color, "alpha": 0.15},
                                 matplotlib={"color": color, "alpha": 0.15}))
    result = hv.Overlay(layers)
    ylabel = f"{var} [{units}]" if units else var
    opts = {"title": title, "show_legend": True, "legend_position": "top_right", "xlabel": "time [ns]",
            "ylabel": ylabel}
    return _style(result, bokeh={**opts, "width": 500, "height": 300}, matplotlib=opts)
