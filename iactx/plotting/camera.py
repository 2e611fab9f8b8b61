"""Camera images: every pixel with its true shape, plus mask, Hillas and ring overlays.

Everything is drawn in the camera frame [m] with the camera rotation
undone (the orientation of ``pix_x``, ``pix_y`` in the event tree). Overlays
given in the telescope frame [deg] are converted with the focal length of
the telescope event (see :func:`hillas_in_camera_frame`).
HoloViews is imported when a function here is called, not before.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from .geometry import (
    corner_radius,
    derotate,
    ellipse_outline,
    circle_outline,
    mask_outline,
    pixel_shape,
    regular_polygons,
)
from ..coordinates.projections import telescope_to_camera

__all__ = ["camera", "camera_pixels", "select_tel_event", "hillas_in_camera_frame", "ring_in_camera_frame",
           "OVERLAY_COLORS"]

#: colours of the overlays (mask outline, Hillas ellipse and axis, muon ring)
OVERLAY_COLORS = {"mask": "#e41a1c", "hillas": "#ff7f00", "ring": "#f781bf"}

_HILLAS_CAMERA = ("x", "y", "length", "width", "psi")
_HILLAS_TELESCOPE = ("fov_lon", "fov_lat", "length", "width", "psi")


def _as_dataset(data):
    if isinstance(data, xr.Dataset):
        return data
    if isinstance(data, xr.DataTree):
        return data.to_dataset()
    raise TypeError(f"expected a camera group (xarray.Dataset or DataTree node), got {type(data).__name__}")


def _describe(index, limit=12):
    keys = [tuple(int(v) for v in key) for key in index[:limit]]
    more = f" ... ({len(index)} in all)" if len(index) > limit else ""
    return f"{keys}{more}"


def select_tel_event(data, *, event=None, tel=None, obs_id=None):
    """One telescope event of a camera group (or of a variable along ``tel_event``).

    Parameters
    ----------
    data : xarray.Dataset or xarray.DataArray
        With a ``tel_event`` MultiIndex (levels ``obs_id``, ``event``, ``tel``),
        or already without ``tel_event``.
    event, tel, obs_id : int, optional
        Values of the index levels; together they must pick exactly one
        telescope event. With a single telescope event none are needed.

    Returns
    -------
    The same type without the ``tel_event`` dimension (the levels become
    scalar coordinates).

    Raises
    ------
    KeyError
        No telescope event matches.
    ValueError
        Several match; the message lists them.
    """
    if "tel_event" not in data.dims:
        return data
    index = data.indexes["tel_event"]
    keep = np.ones(len(index), bool)
    asked = {}
    for level, value in (("obs_id", obs_id), ("event", event), ("tel", tel)):
        if value is None:
            continue
        if level not in index.names:
            raise KeyError(f"tel_event has no level {level!r} (levels: {list(index.names)})")
        keep &= np.asarray(index.get_level_values(level)) == value
        asked[level] = value
    found = np.flatnonzero(keep)
    names = ", ".join(index.names)
    if found.size == 0:
        raise KeyError(f"no telescope event with {asked}; available ({names}): {_describe(index)}")
    if found.size > 1:
        raise ValueError(f"{found.size} telescope events match {asked}; pass event= and tel= to pick one "
                         f"of ({names}): {_describe(index[found])}")
    return data.isel(tel_event=int(found[0]))


def _pixel_values(ds, var, sample, selection):
    """The per-pixel values to colour by, as a 1-d DataArray on ``pixel``."""
    if isinstance(var, str):
        if var not in ds.variables:
            per_pixel = [name for name, v in ds.data_vars.items() if "pixel" in v.dims and "tel_event" in v.dims]
            raise KeyError(f"{var!r} is not in the camera group; per-pixel variables: {per_pixel}")
        values = ds[var]
    elif isinstance(var, xr.DataArray):
        values = select_tel_event(var, **selection)
    else:
        array = np.asarray(var)
        if array.shape != (ds.sizes["pixel"],):
            raise ValueError(f"values have shape {array.shape}, expected ({ds.sizes['pixel']},) (one per pixel)")
        values = xr.DataArray(array, dims="pixel", name="value")
    if "sample" in values.dims:
        if sample is None:
            raise ValueError(f"{values.name or 'the values'} has a sample dimension; pass sample= "
                             f"(0 .. {values.sizes['sample'] - 1}) or reduce it first, e.g. .max('sample')")
        values = values.isel(sample=int(sample))
    extra = [d for d in values.dims if d != "pixel"]
    if extra:
        raise ValueError(f"{values.name or 'the values'} has dimensions {extra} besides pixel; select them first")
    if values.dtype == bool:
        values = values.astype(np.int8)
    return values


def camera_pixels(geometry, values, *, name=None, units=None, label=None, n_circle=None, **params):
    """The :class:`~iactx.plotting.elements.CameraPixels` element of one image.

    Parameters
    ----------
    geometry : xarray.Dataset
        Camera group (``pix_x``, ``pix_y``, ``pix_area``, attributes
        ``pix_type``, ``pix_rotation``, ``cam_rotation``).
    values : array_like, shape (n_pixels,)
        Value of every pixel.
    name, units, label : str, optional
        Name, unit and long label of the value dimension.
    n_circle : int, optional
        Corners drawn for circular pixels (default 32).
    **params
        Passed to the element (``label``, ``group`` ...).
    """
    import holoviews as hv

    from .elements import CameraPixels

    attrs = geometry.attrs
    x, y, rotation = derotate(geometry["pix_x"].values, geometry["pix_y"].values,
                              attrs.get("pix_rotation", 0.0), attrs.get("cam_rotation", 0.0))
    n_corners, orientation = pixel_shape(attrs["pix_type"], rotation, n_circle)
    radius = corner_radius(geometry["pix_area"].values, n_corners)
    pixel_ids = geometry["pixel"].values if "pixel" in geometry.coords else np.arange(x.size)
    name = name or "value"
    vdims = [hv.Dimension(name, label=label or name, unit=units or None),
             hv.Dimension("pixel", label="pixel id"), hv.Dimension("radius", unit="m")]
    kdims = [hv.Dimension("x", unit="m"), hv.Dimension("y", unit="m")]
    data = {"x": x, "y": y, name: np.asarray(values, np.float64), "pixel": pixel_ids, "radius": radius}
    return CameraPixels(data, kdims=kdims, vdims=vdims, n_corners=n_corners, orientation=orientation, **params)


def _scalar(value, unit):
    from ..instrument._units import to_value

    value = value.values if isinstance(value, xr.DataArray) else value
    return float(np.asarray(to_value(value, unit)).reshape(()))


def _strip(mapping, prefixes):
    out = {}
    for key, value in mapping.items():
        for prefix in prefixes:
            if key.startswith(prefix):
                key = key[len(prefix):]
                break
        out[key] = value
    return out


def _focal_length(one, focal_length):
    if focal_length is not None:
        return _scalar(focal_length, "m")
    if "focal_length" in one.variables:
        return float(one["focal_length"].values)
    raise ValueError("converting telescope-frame [deg] overlays to the camera frame needs the focal length; "
                     "the data has no focal_length variable, pass focal_length=")


def hillas_in_camera_frame(hillas, one=None, focal_length=None):
    """Hillas centroid, length, width [m] and psi [deg] in the camera frame.

    Parameters
    ----------
    hillas : Mapping or True
        Either camera-frame values ``x``, ``y``, ``length``, ``width`` [m]
        and ``psi`` [deg], or telescope-frame values ``fov_lon``,
        ``fov_lat``, ``length``, ``width``, ``psi`` [deg]; keys may carry
        the prefixes ``camera_frame_hillas_`` or ``hillas_`` (so a row of
        DL1 parameters works). ``True`` takes them from the variables of
        ``one``, camera frame first.
    one : xarray.Dataset, optional
        One telescope event of a camera group (for ``True`` and for the
        focal length).
    focal_length : float, optional
        Overrides the telescope event's ``focal_length`` [m].

    Returns
    -------
    dict
        ``x``, ``y``, ``length``, ``width`` [m], ``psi`` [deg].

    Notes
    -----
    Telescope-frame values are converted with the equidistant mapping of
    the camera frame (:func:`iactx.coordinates.projections.telescope_to_camera`,
    ctapipe's convention): ``x = f * fov_lat``, ``y = f * fov_lon``,
    lengths ``f * angle`` (angles in radians) and
    ``psi_camera = 90 deg - psi_telescope``.
    """
    if hillas is True:
        if one is None:
            raise ValueError("hillas=True needs the telescope event's data")
        if all(f"camera_frame_hillas_{k}" in one.variables for k in _HILLAS_CAMERA):
            hillas = {k: one[f"camera_frame_hillas_{k}"] for k in _HILLAS_CAMERA}
        elif all(f"hillas_{k}" in one.variables for k in _HILLAS_TELESCOPE):
            hillas = {f"fov_{k[4:]}" if k.startswith("fov_") else k: one[f"hillas_{k}"] for k in _HILLAS_TELESCOPE}
        else:
            raise KeyError("hillas=True but the camera group has neither camera_frame_hillas_* nor hillas_* "
                           "variables; run the parameters step or pass the values as a dict")
    if not isinstance(hillas, Mapping):
        raise TypeError(f"hillas must be True or a mapping of Hillas parameters, got {type(hillas).__name__}")
    h = _strip(hillas, ("camera_frame_hillas_", "hillas_"))
    if all(k in h for k in _HILLAS_CAMERA):
        out = {k: _scalar(h[k], "m") for k in ("x", "y", "length", "width")}
        out["psi"] = _scalar(h["psi"], "deg")
        return out
    if all(k in h for k in _HILLAS_TELESCOPE):
        f = _focal_length(one, focal_length) if focal_length is None else _scalar(focal_length, "m")
        x, y = telescope_to_camera(_scalar(h["fov_lon"], "deg"), _scalar(h["fov_lat"], "deg"), f)
        return {"x": float(x), "y": float(y), "length": f * np.deg2rad(_scalar(h["length"], "deg")),
                "width": f * np.deg2rad(_scalar(h["width"], "deg")), "psi": 90.0 - _scalar(h["psi"], "deg")}
    raise KeyError(f"Hillas values need keys {_HILLAS_CAMERA} (camera frame, m and deg) or {_HILLAS_TELESCOPE} "
                   f"(telescope frame, deg); got {sorted(hillas)}")


def ring_in_camera_frame(ring, one=None, focal_length=None):
    """Muon-ring centre and radius [m] in the camera frame.

    ``ring`` is either ``center_x``, ``center_y``, ``radius`` [m], or
    ``center_fov_lon``, ``center_fov_lat``, ``radius`` [deg] (telescope
    frame), keys optionally prefixed ``muonring_``; ``True`` takes the
    ``muonring_*`` variables of ``one`` (telescope frame, deg).
    """
    if ring is True:
        if one is None:
            raise ValueError("ring=True needs the telescope event's data")
        names = ("muonring_center_fov_lon", "muonring_center_fov_lat", "muonring_radius")
        missing = [n for n in names if n not in one.variables]
        if missing:
            raise KeyError(f"ring=True but the camera group lacks {missing}; run the muon fit or pass a dict")
        ring = {n: one[n] for n in names}
    if not isinstance(ring, Mapping):
        raise TypeError(f"ring must be True or a mapping, got {type(ring).__name__}")
    r = _strip(ring, ("muonring_",))
    if all(k in r for k in ("center_x", "center_y", "radius")):
        return {"x": _scalar(r["center_x"], "m"), "y": _scalar(r["center_y"], "m"),
                "radius": _scalar(r["radius"], "m")}
    if all(k in r for k in ("center_fov_lon", "center_fov_lat", "radius")):
        f = _focal_length(one, focal_length) if focal_length is None else _scalar(focal_length, "m")
        x, y = telescope_to_camera(_scalar(r["center_fov_lon"], "deg"), _scalar(r["center_fov_lat"], "deg"), f)
        return {"x": float(x), "y": float(y), "radius": f * np.deg2rad(_scalar(r["radius"], "deg"))}
    raise KeyError(f"ring values need center_x, center_y, radius [m] or center_fov_lon, center_fov_lat, "
                   f"radius [deg]; got {sorted(ring)}")


def _mask_values(mask, one, selection, n_pixels):
    if mask is True:
        mask = "image_mask"
    if isinstance(mask, str):
        if mask not in one.variables:
            raise KeyError(f"mask variable {mask!r} is not in the camera group; run the cleaning or pass a mask")
        mask = one[mask]
    elif isinstance(mask, xr.DataArray):
        mask = select_tel_event(mask, **selection)
    mask = np.asarray(getattr(mask, "values", mask)).astype(bool)
    if mask.shape != (n_pixels,):
        raise ValueError(f"mask has shape {mask.shape}, expected ({n_pixels},)")
    return mask


def _style(element, **per_backend):
    """Apply options per backend, only for the backends that are registered."""
    from .elements import register

    backends = register()
    for backend, options in per_backend.items():
        if backend in backends and options:
            element = element.opts(backend=backend, **options)
    return element


def _line_style(element, color, width=2.0, dash="solid"):
    mpl_dash = {"solid": "-", "dashed": "--", "dotted": ":"}[dash]
    return _style(element, bokeh={"color": color, "line_width": width, "line_dash": dash, "show_legend": True},
                  matplotlib={"color": color, "linewidth": width, "linestyle": mpl_dash, "show_legend": True})


def mask_overlay(pixels, mask, color=OVERLAY_COLORS["mask"]):
    """Outline of the selected pixels of a CameraPixels element, as hv.Segments."""
    import holoviews as hv

    xs, ys = regular_polygons(pixels.dimension_values(0), pixels.dimension_values(1),
                              pixels.dimension_values(pixels.vdims[2]), pixels.n_corners, pixels.orientation)
    ex, ey = mask_outline(xs, ys, mask)
    segments = hv.Segments((ex[:, 0], ey[:, 0], ex[:, 1], ey[:, 1]), kdims=["x", "y", "x1", "y1"],
                           label="cleaning mask")
    return _line_style(segments, color, 2.0)


def _axis_segment(x, y, psi, reach):
    """Ends of the line through (x, y) at angle psi [deg], clipped to a circle of radius ``reach``."""
    ux, uy = np.cos(np.deg2rad(psi)), np.sin(np.deg2rad(psi))
    b = x * ux + y * uy
    disc = b * b - (x * x + y * y - reach * reach)
    if disc <= 0:  # centroid outside the camera: a short line
        t = np.array([-0.1 * reach, 0.1 * reach])
    else:
        t = np.array([-b - np.sqrt(disc), -b + np.sqrt(disc)])
    return x + ux * t, y + uy * t


def hillas_overlay(h, reach, n_sigma=1.0, color=OVERLAY_COLORS["hillas"]):
    """Hillas ellipse (``n_sigma`` times length and width), centroid and major axis.

    The axis is drawn across the circle of radius ``reach`` [m] about the
    camera centre. Returns ``hv.Path * hv.Path * hv.Points``.
    """
    import holoviews as hv

    ex, ey = ellipse_outline(h["x"], h["y"], n_sigma * h["length"], n_sigma * h["width"], h["psi"])
    ax, ay = _axis_segment(h["x"], h["y"], h["psi"], reach)
    ellipse = _line_style(hv.Path([(ex, ey)], label="Hillas ellipse"), color, 2.0)
    axis = _line_style(hv.Path([(ax, ay)], label="Hillas axis"), color, 1.5, "dashed")
    centre = hv.Points([(h["x"], h["y"])], label="Hillas centroid")
    centre = _style(centre, bokeh={"color": color, "size": 10, "marker": "x", "line_width": 2},
                    matplotlib={"color": color, "s": 60, "marker": "X"})
    return ellipse * axis * centre


def ring_overlay(r, color=OVERLAY_COLORS["ring"]):
    """Muon ring and its centre, as hv.Path and hv.Points."""
    import holoviews as hv

    cx, cy = circle_outline(r["x"], r["y"], r["radius"])
    ring = _line_style(hv.Path([(cx, cy)], label="muon ring"), color, 2.0)
    centre = _style(hv.Points([(r["x"], r["y"])], label="ring centre"),
                    bokeh={"color": color, "size": 8, "marker": "cross"},
                    matplotlib={"color": color, "s": 60, "marker": "P"})
    return ring * centre


def _frame_size(pixels, width=400):
    """Bokeh frame width and height [px] with equal scales on both axes."""
    x0, x1 = pixels.range("x")
    y0, y1 = pixels.range("y")
    ratio = (y1 - y0) / (x1 - x0) if np.isfinite(x1 - x0) and x1 > x0 and np.isfinite(y1 - y0) else 1.0
    return {"frame_width": width, "frame_height": max(100, int(round(width * ratio))), "data_aspect": 1}


def _title(ds, one):
    name = ds.attrs.get("camera_name", "camera")
    parts = [name]
    for level, text in (("tel", "tel {}"), ("event", "event {}")):
        if level in one.coords and one[level].ndim == 0:
            parts.append(text.format(int(one[level].values)))
    return ", ".join(parts)


def camera(data, var="image", *, event=None, tel=None, obs_id=None, sample=None, mask=None, hillas=None,
           ring=None, scale="linear", linthresh=1.0, cmap="viridis", clim=None, title=None, n_sigma=1.0,
           focal_length=None, n_circle=32):
    """Camera image of one telescope event, every pixel drawn with its true shape.

    Parameters
    ----------
    data : xarray.Dataset
        A camera group of an event tree (``tree["LSTCam"]``), with the pixel
        geometry as coordinates and attributes.
    var : str, xarray.DataArray or array_like, default "image"
        What to colour by: the name of a per-pixel variable (``"image"``,
        ``"peak_time"``, ``"true_image"``, ``"waveform"`` with ``sample=``,
        ...), a DataArray on ``pixel`` (and optionally ``tel_event``,
        ``sample``) such as ``cam.waveform.max("sample")``, or one value
        per pixel.
    event, tel, obs_id : int, optional
        The telescope event; not needed when the group holds only one.
    sample : int, optional
        Sample index, for variables with a ``sample`` dimension.
    mask : str, xarray.DataArray, array_like of bool or True, optional
        Pixels whose outline is drawn (``True`` means ``"image_mask"``).
    hillas : Mapping or True, optional
        Hillas parameters to draw as ellipse, centroid and major axis; see
        :func:`hillas_in_camera_frame` (``True`` reads the ``hillas_*``
        variables of the data).
    ring : Mapping or True, optional
        Muon ring to draw; see :func:`ring_in_camera_frame`.
    scale : {"linear", "log", "symlog"}
        Colour scale; ``symlog`` maps ``sign(v) log10(1 + |v| / linthresh)``.
    linthresh : float
        Linear range of the symlog scale, in the units of the values.
    cmap : str
        Colour map name.
    clim : (float, float), optional
        Colour limits; ``None`` or NaN entries mean "from the data".
    title : str, optional
        Plot title, by default camera name, telescope and event.
    n_sigma : float
        Size of the drawn Hillas ellipse in units of length and width.
    focal_length : float, optional
        Focal length [m] for telescope-frame overlays, by default the
        telescope event's ``focal_length``.
    n_circle : int
        Corners drawn for circular pixels.

    Returns
    -------
    holoviews.Element or holoviews.Overlay
        A :class:`~iactx.plotting.elements.CameraPixels` element, overlaid
        with ``hv.Segments`` (mask outline), ``hv.Path`` and ``hv.Points``
        (Hillas ellipse, axis, centroid; muon ring) when asked for.

    Examples
    --------
    >>> import holoviews as hv; hv.extension("bokeh")            # doctest: +SKIP
    >>> cam = tree["LSTCam"].to_dataset()                         # doctest: +SKIP
    >>> camera(cam, cam.waveform.max("sample"), event=2, tel=1)   # doctest: +SKIP
    >>> camera(cam, "image", event=2, tel=1, mask="image_mask", hillas=True, scale="symlog")  # doctest: +SKIP
    >>> hv.save(_, "event.png", backend="matplotlib")              # doctest: +SKIP
    """
    ds = _as_dataset(data)
    if scale not in ("linear", "log", "symlog"):
        raise ValueError(f"scale must be 'linear', 'log' or 'symlog', got {scale!r}")
    selection = {"event": event, "tel": tel, "obs_id": obs_id}
    one = select_tel_event(ds, **selection)
    values = _pixel_values(one, var, sample, selection)
    name = values.name if isinstance(values.name, str) else "value"
    if sample is not None:
        name = f"{name}[{int(sample)}]" if name != "value" else name
    units = values.attrs.get("units")
    title = _title(ds, one) if title is None else title
    pixels = camera_pixels(ds, values.values, name=name, units=units, n_circle=n_circle)
    lim = (np.nan, np.nan) if clim is None else tuple(np.nan if c is None else float(c) for c in clim)
    common = {"scale": scale, "linthresh": float(linthresh), "clim": lim, "title": title,
              "cmap": cmap, "xlabel": "x [m]", "ylabel": "y [m]"}
    size = _frame_size(pixels)
    pixels = _style(pixels, bokeh={**common, **size}, matplotlib=common)
    layers = []
    if mask is not None and mask is not False:
        layers.append(mask_overlay(pixels, _mask_values(mask, one, selection, ds.sizes["pixel"])))
    if hillas is not None and hillas is not False:
        reach = float(np.max(np.hypot(pixels.dimension_values(0), pixels.dimension_values(1))))
        layers.append(hillas_overlay(hillas_in_camera_frame(hillas, one, focal_length), reach, n_sigma))
    if ring is not None and ring is not False:
        layers.append(ring_overlay(ring_in_camera_frame(ring, one, focal_length)))
    if not layers:
        return pixels
    overlay = pixels
    for layer in layers:
        overlay = overlay * layer
    return _style(overlay, bokeh={"title": title, "legend_position": "right", **size},
                  matplotlib={"title": title, "legend_position": "bottom_left", "legend_opts": {"fontsize": 7},
                              "aspect": "equal", "data_aspect": 1})
