"""Event browser: camera image and the waveform of a clicked pixel, over events and telescopes.

One call gives a HoloViews layout of two DynamicMaps with the key
dimensions ``event`` and ``tel``; in Jupyter (Bokeh backend) they show as
one display with two selection widgets. Clicking a pixel of the camera
(a ``hv.streams.Tap`` on it) marks the pixel and draws its waveform with
the integration window. Telescopes without data in the chosen event show
an empty (grey) camera.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from .camera import _as_dataset, camera, camera_pixels
from .geometry import derotate
from .waveforms import waveforms

__all__ = ["browser", "nearest_pixel"]


def nearest_pixel(ds, x, y):
    """Id of the pixel whose centre (camera rotation undone) is closest to ``(x, y)`` [m]."""
    px, py, _ = derotate(ds["pix_x"].values, ds["pix_y"].values, ds.attrs.get("pix_rotation", 0.0),
                         ds.attrs.get("cam_rotation", 0.0))
    i = int(np.argmin((px - x) ** 2 + (py - y) ** 2))
    return int(ds["pixel"].values[i]) if "pixel" in ds.coords else i


def _blank(ds, event, tel):
    """A telescope event with the group's layout and no data (NaN, masks False) labelled (event, tel)."""
    one = ds.isel(tel_event=[0])
    filled = {}
    for name, var in one.data_vars.items():
        if "tel_event" not in var.dims:
            continue
        if var.dtype == bool:
            filled[name] = (var.dims, np.zeros(var.shape, bool), var.attrs)
        else:
            filled[name] = (var.dims, np.full(var.shape, np.nan), var.attrs)
    one = one.assign(filled)
    index = one.indexes["tel_event"]
    obs = np.asarray(index.get_level_values("obs_id")) if "obs_id" in index.names else None
    arrays = {"obs_id": obs, "event": [event], "tel": [tel]} if obs is not None else {"event": [event], "tel": [tel]}
    multi = pd.MultiIndex.from_arrays(list(arrays.values()), names=list(arrays))
    one = one.drop_vars(["tel_event", *index.names])
    return one.assign_coords(xr.Coordinates.from_pandas_multiindex(multi, "tel_event"))


def browser(data, var="image", *, sample=None, waveform="waveform", mask=None, hillas=None, window=None,
            scale="linear", linthresh=1.0, cmap="viridis", clim=None):
    """Browse the events of one camera group: image with widgets, waveform of the clicked pixel.

    Parameters
    ----------
    data : xarray.Dataset
        A camera group of an event tree.
    var : str or xarray.DataArray
        Per-pixel quantity to show (see :func:`iactx.plotting.camera`).
    sample : int, optional
        Sample index for variables with a ``sample`` dimension.
    waveform : str
        Waveform variable drawn for the selected pixel.
    mask, hillas : optional
        Overlays, as in :func:`iactx.plotting.camera` (variable name or
        ``True``; values given explicitly would be the same for every event).
    window : optional
        Integration window, as in :func:`iactx.plotting.waveforms`.
    scale, linthresh, cmap, clim
        Colour scaling, as in :func:`iactx.plotting.camera`.

    Returns
    -------
    holoviews.Layout
        Camera ``DynamicMap`` (the image overlaid with a marker of the
        selected pixel) and waveform ``DynamicMap``, both with key
        dimensions ``event`` and ``tel`` and the same ``Tap`` stream on the
        camera as ``streams[0]`` (``x``, ``y`` in metres; ``None`` selects
        the brightest pixel). Camera plots are cached per key (the last
        32), so a click redraws only the marker and the waveform.
    """
    import holoviews as hv

    from .camera import _style
    from .elements import register

    register()
    ds = _as_dataset(data)
    if "tel_event" not in ds.dims or ds.sizes["tel_event"] == 0:
        raise ValueError("the camera group has no telescope events to browse")
    index = ds.indexes["tel_event"]
    events = sorted({int(e) for e in index.get_level_values("event")})
    tels = sorted({int(t) for t in index.get_level_values("tel")})
    present = {(int(e), int(t)) for e, t in zip(index.get_level_values("event"), index.get_level_values("tel"))}
    if "obs_id" in index.names and len(set(index.get_level_values("obs_id"))) > 1:
        raise ValueError("the camera group holds several runs (obs_id); select one first, "
                         "e.g. cam.sel(obs_id=...)")
    first = next(iter(sorted(present)))
    kdims = [hv.Dimension("event", values=events, default=first[0]),
             hv.Dimension("tel", values=tels, default=first[1])]

    def source(event, tel):
        if (int(event), int(tel)) in present:
            return ds
        return _blank(ds, int(event), int(tel))

    cache = {}

    def base_image(event, tel):
        """The camera plot of one key, built once so that clicks do not resend the pixels."""
        key = (int(event), int(tel))
        if key not in cache:
            if len(cache) >= 32:
                cache.pop(next(iter(cache)))
            values = var
            if isinstance(var, xr.DataArray) and key not in present:
                values = xr.full_like(var.isel(tel_event=0), np.nan, dtype=np.float64)
            cache[key] = camera(source(event, tel), values, event=key[0], tel=key[1], sample=sample, mask=mask,
                                hillas=hillas, scale=scale, linthresh=linthresh, cmap=cmap, clim=clim)
        return cache[key]

    def marker(x, y):
        if x is None or y is None:
            points = hv.Points([], kdims=["x", "y"], label="selected pixel")
        else:
            i = int(np.flatnonzero(ds["pixel"].values == nearest_pixel(ds, x, y))[0])
            px, py, _ = derotate(ds["pix_x"].values[i:i + 1], ds["pix_y"].values[i:i + 1],
                                 0.0, ds.attrs.get("cam_rotation", 0.0))
            points = hv.Points([(float(px[0]), float(py[0]))], kdims=["x", "y"], label="selected pixel")
        return _style(points, bokeh={"color": "red", "marker": "circle", "fill_alpha": 0, "size": 14,
                                     "line_width": 2},
                      matplotlib={"facecolors": "none", "edgecolors": "red", "s": 150, "linewidth": 2})

    name = ds.attrs.get("camera_name", "camera")

    from .camera import _frame_size

    size = _frame_size(camera_pixels(ds, np.zeros(ds.sizes["pixel"])))

    def image(event, tel, x, y):
        plot = base_image(event, tel) * marker(x, y)
        if (int(event), int(tel)) in present:
            title = f"{name}, tel {tel}, event {event}"
        else:
            title = f"{name}, tel {tel}: no data in event {event}"
        return _style(plot, bokeh={"title": title, "legend_position": "right", **size},
                      matplotlib={"title": title, "aspect": "equal", "data_aspect": 1,
                                  "legend_position": "bottom_left"})

    tap = hv.streams.Tap(x=None, y=None)
    camera_map = hv.DynamicMap(image, kdims=kdims, streams=[tap])
    tap.source = camera_map

    def trace(event, tel, x, y):
        one = source(event, tel)
        pixel = None if x is None or y is None else nearest_pixel(one, x, y)
        return waveforms(one, event=int(event), tel=int(tel), pixels=pixel, var=waveform, window=window)

    waveform_map = hv.DynamicMap(trace, kdims=kdims, streams=[tap])
    return (camera_map + waveform_map).cols(2)
