"""Array display: telescope positions, triggered telescopes, image axes projected on the ground.

Positions are drawn in the ground frame of the event tree (``pos_x`` north,
``pos_y`` west, metres), ``x`` to the right and ``y`` up as in ctapipe's
ArrayDisplay.

The image axis of a telescope is a great circle on the sky; together with
the telescope position it spans a plane that contains the shower axis.
Where this plane meets the ground (``z = 0``) is a line through (about)
the telescope that the shower core lies on; with several telescopes the
lines cross at the core. :func:`image_axis_on_ground` computes these lines
from the pointing and the Hillas centroid and angle in the telescope frame.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .camera import _style

__all__ = ["array", "image_axis_on_ground", "telescope_to_ground_direction", "triggered_telescopes"]


def telescope_to_ground_direction(pointing_alt, pointing_az, fov_lon, fov_lat):
    """Unit vectors of telescope-frame directions in the ground frame (x north, y west, z up).

    The telescope frame is the sky offset frame centred on the pointing:
    ``fov_lon`` grows with azimuth, ``fov_lat`` with altitude; azimuth is
    counted from north towards east (:mod:`iactx.coordinates.projections`).
    All angles in degrees; arrays broadcast.

    Returns
    -------
    ndarray, shape (..., 3)
    """
    from ..coordinates.projections import altaz_to_cartesian, telescope_to_altaz

    alt, az = telescope_to_altaz(fov_lon, fov_lat, pointing_alt, pointing_az)
    return altaz_to_cartesian(alt, az)


def image_axis_on_ground(pos_x, pos_y, pos_z, pointing_alt, pointing_az, fov_lon, fov_lat, psi):
    """Lines on the ground (z = 0) where each telescope's image-axis plane meets it.

    Parameters
    ----------
    pos_x, pos_y, pos_z : array_like, shape (n,)
        Telescope positions [m] (x north, y west, z up).
    pointing_alt, pointing_az : array_like, shape (n,)
        Telescope pointing [deg].
    fov_lon, fov_lat, psi : array_like, shape (n,)
        Hillas centroid and axis angle in the telescope frame [deg] (psi
        from the ``fov_lon`` axis towards ``fov_lat``).

    Returns
    -------
    point : ndarray, shape (n, 2)
        A point of each line, the one closest to the telescope [m].
    direction : ndarray, shape (n, 2)
        Unit vector along each line.
    """
    lon = np.asarray(fov_lon, np.float64)
    lat = np.asarray(fov_lat, np.float64)
    step = 0.1  # deg along the image axis; the plane does not depend on it
    d1 = telescope_to_ground_direction(pointing_alt, pointing_az, lon, lat)
    d2 = telescope_to_ground_direction(pointing_alt, pointing_az, lon + step * np.cos(np.deg2rad(psi)),
                                       lat + step * np.sin(np.deg2rad(psi)))
    normal = np.cross(d1, d2)
    horizontal = normal[..., 0] ** 2 + normal[..., 1] ** 2
    direction = np.stack([normal[..., 1], -normal[..., 0]], axis=-1) / np.sqrt(horizontal)[..., None]
    # the plane n . (X - P) = 0 at z = 0: closest point to (P_x, P_y)
    shift = normal[..., 2] * np.asarray(pos_z, np.float64) / horizontal
    point = np.stack([np.asarray(pos_x, np.float64), np.asarray(pos_y, np.float64)], axis=-1)
    point = point + shift[..., None] * normal[..., :2]
    return point, direction


def _event_mask(index, event, obs_id):
    keep = np.asarray(index.get_level_values("event")) == event
    if obs_id is not None and "obs_id" in index.names:
        keep &= np.asarray(index.get_level_values("obs_id")) == obs_id
    return keep


def triggered_telescopes(tree, event, obs_id=None):
    """Telescope ids with data in event ``event`` (any camera group), sorted."""
    from ..accessor import camera_groups

    tels = set()
    for name in camera_groups(tree):
        index = tree[name].ds.indexes["tel_event"]
        keep = _event_mask(index, event, obs_id)
        tels.update(int(t) for t in np.asarray(index.get_level_values("tel"))[keep])
    return sorted(tels)


def _hillas_rows(tree, event, obs_id):
    """Telescope-frame Hillas centroid/psi and pointing of the telescopes of one event."""
    from ..accessor import camera_groups

    rows = []
    for name in camera_groups(tree):
        ds = tree[name].to_dataset()
        keep = _event_mask(ds.indexes["tel_event"], event, obs_id)
        if not keep.any() or "pointing_alt" not in ds or "pointing_az" not in ds:
            continue
        sub = ds.isel(tel_event=np.flatnonzero(keep))
        tels = np.asarray(sub.indexes["tel_event"].get_level_values("tel"))
        if all(f"hillas_{k}" in sub for k in ("fov_lon", "fov_lat", "psi")):
            lon, lat, psi = (sub[f"hillas_{k}"].values for k in ("fov_lon", "fov_lat", "psi"))
        elif all(f"camera_frame_hillas_{k}" in sub for k in ("x", "y", "psi")) and "focal_length" in sub:
            f = sub["focal_length"].values
            lat = np.rad2deg(sub["camera_frame_hillas_x"].values / f)
            lon = np.rad2deg(sub["camera_frame_hillas_y"].values / f)
            psi = 90.0 - sub["camera_frame_hillas_psi"].values
        else:
            continue
        for i, tel in enumerate(tels):
            values = (lon[i], lat[i], psi[i], sub["pointing_alt"].values[i], sub["pointing_az"].values[i])
            if np.all(np.isfinite(values)):
                rows.append((int(tel), *map(float, values)))
    return rows


def _true_core(tree, event, obs_id):
    root = tree.to_dataset(inherit=False)
    if "true_core_x" not in root or "event_id" not in root.coords:
        return None
    keep = np.asarray(root["event_id"].values) == event
    if obs_id is not None and "obs_id" in root.coords:
        keep &= np.asarray(root["obs_id"].values) == obs_id
    if keep.sum() != 1:
        return None
    i = int(np.flatnonzero(keep)[0])
    x, y = float(root["true_core_x"].values[i]), float(root["true_core_y"].values[i])
    return (x, y) if np.isfinite(x) and np.isfinite(y) else None


def array(tree, event=None, *, obs_id=None, axes=True, axis_length=None, labels=None, title=None):
    """Top view of the telescope array, optionally for one event.

    Parameters
    ----------
    tree : xarray.DataTree
        An event tree with ``/instrument`` (and camera groups for events).
    event : int, optional
        Event id: telescopes with data in this event are circled, their
        image axes drawn on the ground (when Hillas parameters exist) and
        the true core marked (simulations).
    obs_id : int, optional
        Run, when the tree holds several.
    axes : bool
        Draw the image axes projected on the ground.
    axis_length : float, optional
        Half length of the drawn axes [m]; by default the array's size.
    labels : bool, optional
        Write telescope ids (default: for arrays of up to 40 telescopes).
    title : str, optional

    Returns
    -------
    holoviews.Overlay
        ``hv.Points`` per telescope type (labelled with the type), then
        ``hv.Points`` (triggered telescopes, true core), ``hv.Segments``
        (image axes) and ``hv.Labels`` (telescope ids) as applicable.
    """
    import holoviews as hv

    from .waveforms import PALETTE

    if not isinstance(tree, xr.DataTree):
        raise TypeError(f"array() needs an event tree (xarray.DataTree), got {type(tree).__name__}")
    inst = tree["instrument"].to_dataset()
    tel = np.asarray(inst["tel"].values)
    x, y = np.asarray(inst["pos_x"].values), np.asarray(inst["pos_y"].values)
    z = np.asarray(inst["pos_z"].values) if "pos_z" in inst else np.zeros_like(x)
    types = np.asarray(inst["tel_type"].values).astype(str)
    area = np.asarray(inst["mirror_area"].values) if "mirror_area" in inst else np.full(x.shape, 100.0)
    size = 6.0 + 2.0 * np.sqrt(np.nan_to_num(area, nan=100.0) / np.pi)
    kdims = [hv.Dimension("x", label="x (north)", unit="m"), hv.Dimension("y", label="y (west)", unit="m")]
    layers = []
    for k, kind in enumerate(sorted(set(types))):
        sel = types == kind
        points = hv.Points({"x": x[sel], "y": y[sel], "tel": tel[sel], "tel_type": types[sel], "size": size[sel]},
                           kdims=kdims, vdims=["tel", "tel_type", "size"], label=kind)
        color = PALETTE[k % len(PALETTE)]
        layers.append(_style(points, bokeh={"color": color, "size": hv.dim("size"), "alpha": 0.8,
                                            "tools": ["hover"]},
                             matplotlib={"color": color, "s": (0.6 * hv.dim("size")) ** 2, "alpha": 0.8}))
    reach = max(float(np.max(np.hypot(x - x.mean(), y - y.mean()))), 50.0)
    parts = [str(tree["instrument"].attrs.get("subarray_name", "array"))]
    if event is not None:
        parts.append(f"event {event}")
        hit = np.isin(tel, triggered_telescopes(tree, event, obs_id))
        ring = hv.Points({"x": x[hit], "y": y[hit], "tel": tel[hit], "size": size[hit] + 8}, kdims=kdims,
                         vdims=["tel", "size"], label="triggered")
        layers.append(_style(ring, bokeh={"fill_alpha": 0, "line_color": "black", "line_width": 2,
                                          "size": hv.dim("size")},
                             matplotlib={"facecolors": "none", "edgecolors": "black", "linewidth": 1.5,
                                         "s": (0.6 * hv.dim("size")) ** 2}))
        rows = _hillas_rows(tree, event, obs_id) if axes else []
        if rows:
            position = {int(t): i for i, t in enumerate(tel)}
            rows = [r for r in rows if r[0] in position]
            idx = np.array([position[r[0]] for r in rows])
            lon, lat, psi, alt, az = np.array([r[1:] for r in rows]).T
            point, direction = image_axis_on_ground(x[idx], y[idx], z[idx], alt, az, lon, lat, psi)
            length = reach * 1.5 if axis_length is None else float(axis_length)
            start, stop = point - length * direction, point + length * direction
            segments = hv.Segments((start[:, 0], start[:, 1], stop[:, 0], stop[:, 1]),
                                   kdims=[kdims[0], kdims[1], "x1", "y1"], label="image axes")
            layers.append(_style(segments, bokeh={"color": "#555555", "line_width": 1.5, "alpha": 0.8},
                                 matplotlib={"color": "#555555", "linewidth": 1.2, "alpha": 0.8}))
        core = _true_core(tree, event, obs_id)
        if core is not None:
            star = hv.Points([core], kdims=kdims, label="true core")
            layers.append(_style(star, bokeh={"color": "red", "marker": "star", "size": 16},
                                 matplotlib={"color": "red", "marker": "*", "s": 200}))
    if labels is None:
        labels = tel.size <= 40
    if labels:
        text = hv.Labels({"x": x, "y": y, "text": [str(t) for t in tel]}, kdims=kdims, vdims="text")
        layers.append(_style(text, bokeh={"text_font_size": "8pt", "text_color": "black"},
                             matplotlib={"size": 7, "color": "black"}))
    result = layers[0]
    for layer in layers[1:]:
        result = result * layer
    title = ", ".join(parts) if title is None else title
    common = {"title": title, "legend_position": "right", "show_legend": True}
    return _style(result, bokeh={**common, "data_aspect": 1, "frame_width": 450},
                  matplotlib={**common, "aspect": "equal", "data_aspect": 1})
