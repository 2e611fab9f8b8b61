"""Angular distance between reconstructed directions and a source: theta, theta-square, ON/OFF.

``theta`` is the great-circle distance [deg] between an event's
reconstructed direction and the source (by default the simulated direction
of each event). To estimate the background the same distance is measured
to OFF positions: the source position reflected around the array pointing
(``n_off`` positions on the circle through the source centred on the
pointing, equally spaced, the source excluded), so ON and OFF see the same
acceptance. The OFF counts are scaled by ``alpha = 1 / n_off``.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from .._apply import apply_kernel
from ..coordinates import projections as proj

__all__ = ["source_direction", "theta", "theta_off", "off_positions", "theta2_counts", "li_ma_significance"]


def _root(tree):
    return tree.to_dataset(inherit=False) if isinstance(tree, xr.DataTree) else tree


def _reference_location(tree):
    from astropy import units as u
    from astropy.coordinates import EarthLocation

    attrs = tree["instrument"].attrs
    return EarthLocation(lon=attrs["reference_lon"] * u.deg, lat=attrs["reference_lat"] * u.deg,
                         height=attrs["reference_height"] * u.m)


def _angle_deg(value):
    """A number [deg], a string like ``"70 deg"`` or an astropy angle, as degrees."""
    if isinstance(value, str):
        from astropy import units as u

        return u.Quantity(value).to_value(u.deg)
    if hasattr(value, "unit"):
        from astropy import units as u

        return value.to_value(u.deg)
    return value


def source_direction(tree, source=None):
    """Horizontal direction of the source for every event.

    Parameters
    ----------
    tree : xarray.DataTree or xarray.Dataset
        Event tree (or its root dataset).
    source : None, (alt, az), or astropy SkyCoord
        ``None``: the simulated direction of each event (``true_alt``,
        ``true_az``). A pair ``(alt, az)`` in degrees (numbers, strings
        like ``"70 deg"`` or Quantities): a fixed horizontal direction. A
        ``SkyCoord`` in ``AltAz``: its ``alt``/``az``. A ``SkyCoord`` in any
        other frame (e.g. ICRS): converted to ``AltAz`` at each event's
        ``trigger_time`` and the array's reference location (needs a tree).

    Returns
    -------
    alt, az : xarray.DataArray
        Along ``event`` [deg].
    """
    root = _root(tree)
    n = root.sizes.get("event", 0)
    coords = {k: root[k] for k in ("obs_id", "event_id") if k in root.coords}

    def along_event(values, name):
        values = np.broadcast_to(np.asarray(values, np.float64), (n,)).copy()
        return xr.DataArray(values, dims="event", coords=coords, name=name, attrs={"units": "deg"})

    if source is None:
        if "true_alt" not in root or "true_az" not in root:
            raise KeyError("the tree has no simulated direction (true_alt, true_az); give a source")
        return along_event(root["true_alt"].values, "source_alt"), along_event(root["true_az"].values, "source_az")
    if hasattr(source, "frame") or hasattr(source, "represent_as"):
        from astropy.coordinates import AltAz

        frame = getattr(source, "frame", source)
        if isinstance(frame, AltAz):
            return along_event(source.alt.deg, "source_alt"), along_event(source.az.deg, "source_az")
        if not isinstance(tree, xr.DataTree):
            raise TypeError("a celestial source needs the whole event tree (trigger times and array location)")
        from astropy.time import Time

        times = Time(root["trigger_time"].values, scale="utc")
        altaz = source.transform_to(AltAz(obstime=times, location=_reference_location(tree)))
        return along_event(altaz.alt.deg, "source_alt"), along_event(altaz.az.deg, "source_az")
    try:
        alt, az = source
    except (TypeError, ValueError):
        raise TypeError(f"source must be None, an (alt, az) pair or a SkyCoord, got {source!r}") from None
    return along_event(_angle_deg(alt), "source_alt"), along_event(_angle_deg(az), "source_az")


def _separation(alt1, az1, alt2, az2):
    return apply_kernel(proj.angular_separation, alt1, az1, alt2, az2, input_core_dims=[[], [], [], []],
                        output_core_dims=[[]], output_dtypes=[np.float64])


def _reconstructed(root, method):
    names = (f"{method}_alt", f"{method}_az")
    missing = [n for n in names if n not in root]
    if missing:
        raise KeyError(f"no {missing} at the root: run tree.iact.reconstruct(method={method!r}) first")
    return root[names[0]], root[names[1]]


def theta(tree, source=None, method="HillasReconstructor"):
    """Angular distance [deg] between each event's reconstructed direction and the source.

    Parameters
    ----------
    tree : xarray.DataTree or xarray.Dataset
        Reconstructed event tree (``{method}_alt``, ``{method}_az`` at the root).
    source : see :func:`source_direction`
        Default: the simulated direction of each event.
    method : str
        Prefix of the reconstructed direction.

    Returns
    -------
    xarray.DataArray
        ``theta`` along ``event`` [deg]; NaN where the event was not reconstructed.
    """
    root = _root(tree)
    alt, az = _reconstructed(root, method)
    src_alt, src_az = source_direction(tree, source)
    out = _separation(alt, az, src_alt.data, src_az.data)
    return out.rename("theta").assign_attrs(units="deg", long_name=f"angular distance of the {method} direction "
                                                                   "from the source")


def off_positions(source_alt, source_az, pointing_alt, pointing_az, n_off=3):
    """OFF positions reflected around the pointing.

    The source's offset from the pointing, rotated around the pointing by
    ``k * 360 / (n_off + 1)`` degrees for ``k = 1 .. n_off``.

    Parameters
    ----------
    source_alt, source_az, pointing_alt, pointing_az : array_like [deg]
        Broadcast against each other, shape (...).
    n_off : int
        Number of OFF positions.

    Returns
    -------
    alt, az : ndarray, shape (..., n_off) [deg]
    """
    if n_off < 1:
        raise ValueError(f"n_off must be at least 1, got {n_off}")
    source_alt, source_az, pointing_alt, pointing_az = np.broadcast_arrays(
        *(np.asarray(a, np.float64) for a in (source_alt, source_az, pointing_alt, pointing_az)))
    lon, lat = proj.altaz_to_nominal(source_alt, source_az, pointing_alt, pointing_az)
    # rotate the offset vector (as a direction on the sphere) about the pointing axis
    v = np.stack([np.cos(np.deg2rad(lat)) * np.cos(np.deg2rad(lon)), np.cos(np.deg2rad(lat)) * np.sin(np.deg2rad(lon)),
                  np.sin(np.deg2rad(lat))], axis=-1)
    angles = np.deg2rad(360.0 * np.arange(1, n_off + 1) / (n_off + 1))
    c, s = np.cos(angles), np.sin(angles)
    x = np.broadcast_to(v[..., 0, None], (*v.shape[:-1], n_off))
    y = v[..., 1, None] * c - v[..., 2, None] * s
    z = v[..., 1, None] * s + v[..., 2, None] * c
    off_lon, off_lat = np.rad2deg(np.arctan2(y, x)), np.rad2deg(np.arctan2(z, np.hypot(x, y)))
    return proj.nominal_to_altaz(off_lon, off_lat, pointing_alt[..., None], pointing_az[..., None])


def theta_off(tree, source=None, method="HillasReconstructor", n_off=3):
    """Angular distance [deg] of each reconstructed direction from ``n_off`` reflected OFF positions.

    The OFF positions turn around the array pointing (``array_altitude``,
    ``array_azimuth``) of each event; see :func:`off_positions`.

    Returns
    -------
    xarray.DataArray
        Dims ``(event, off)`` [deg].
    """
    root = _root(tree)
    alt, az = _reconstructed(root, method)
    if "array_altitude" not in root or "array_azimuth" not in root:
        raise KeyError("the root has no array pointing (array_altitude, array_azimuth) to place OFF positions")
    src_alt, src_az = source_direction(tree, source)
    off_alt, off_az = off_positions(src_alt.values, src_az.values, root["array_altitude"].values,
                                    root["array_azimuth"].values, n_off)
    off_alt = xr.DataArray(off_alt, dims=("event", "off"))
    off_az = xr.DataArray(off_az, dims=("event", "off"))
    out = _separation(alt, az, off_alt, off_az)
    return out.rename("theta_off").assign_attrs(units="deg", long_name="angular distance from the OFF positions",
                                                n_off=int(n_off))


def li_ma_significance(n_on, n_off, alpha):
    """Significance of an ON excess (Li & Ma 1983, eq. 17)."""
    n_on, n_off, alpha = (np.asarray(a, np.float64) for a in (n_on, n_off, alpha))
    with np.errstate(divide="ignore", invalid="ignore"):
        total = n_on + n_off
        term_on = np.where(n_on > 0, n_on * np.log((1 + alpha) / alpha * n_on / total), 0.0)
        term_off = np.where(n_off > 0, n_off * np.log((1 + alpha) * n_off / total), 0.0)
        s = np.sqrt(2 * np.maximum(term_on + term_off, 0.0))
    return np.sign(n_on - alpha * n_off) * np.where(total > 0, s, 0.0)


def theta2_counts(theta_on, theta_off_values, cut):
    """ON and OFF counts inside a theta-square cut.

    Parameters
    ----------
    theta_on : array_like, shape (n_events,)
        Theta to the source [deg]; NaN (not reconstructed) never counts.
    theta_off_values : array_like, shape (n_events, n_off)
        Theta to the OFF positions [deg].
    cut : float
        Theta-square cut [deg2].

    Returns
    -------
    dict
        ``n_on``, ``n_off`` (all OFF positions together), ``alpha``
        (``1 / n_off``), ``excess`` (``n_on - alpha n_off``) and
        ``significance`` (Li & Ma).
    """
    on = np.asarray(theta_on, np.float64) ** 2
    off = np.asarray(theta_off_values, np.float64) ** 2
    if off.ndim != 2:
        raise ValueError(f"theta_off_values must be (n_events, n_off), got shape {off.shape}")
    alpha = 1.0 / off.shape[1]
    n_on = int(np.count_nonzero(on < cut))
    n_off = int(np.count_nonzero(off < cut))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        significance = float(li_ma_significance(n_on, n_off, alpha))
    return {"n_on": n_on, "n_off": n_off, "alpha": alpha, "excess": n_on - alpha * n_off,
            "significance": significance}
