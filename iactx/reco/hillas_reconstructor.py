"""Stereo geometry from Hillas parameters, as ctapipe's ``HillasReconstructor``.

For every array event, the telescope events passing a
:class:`StereoQualityQuery` contribute their image axis:

1. The image centroid and a second point on the major axis (offset by a
   tenth of the camera radius) are taken from the telescope frame to the
   sky; with the telescope they span a plane containing the shower axis.
2. The direction is the weighted mean of the crossings of every pair of
   planes (weights ``intensity * length / width`` of both images), and its
   uncertainty the mean angle between the direction and the crossings.
3. The image axes, re-expressed in a camera-like frame around the array
   pointing (``core_psi``), are lines through the telescopes in the tilted
   frame perpendicular to the pointing; their least-squares intersection,
   projected along the pointing onto the ground, is the core.
4. The lines from the telescopes towards their image centroids meet near
   the shower maximum; the height of their least-squares intersection
   above the array plus the array's altitude is ``h_max``.

Outputs follow ctapipe's column names and units (angles in degrees, lengths
in metres). Where ctapipe leaves uncertainties undefined, they are filled
from the scatter of the least-squares intersections: the core and ``h_max``
covariance is ``chi2 / dof`` times the inverse normal matrix (``dof = n - 2``
lines in the plane for the core, ``2 n - 3`` in space for ``h_max``), so
the core uncertainty needs at least three telescopes.
``ang_distance_uncert`` is the same mean off-angle ctapipe stores as
``alt_uncert`` and ``az_uncert``.

Everything is batched: the telescope events of all array events go through
one numba call (:mod:`.hillas_reconstructor_kernels`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import param
import xarray as xr

from ..coordinates import projections as proj
from .hillas_reconstructor_kernels import hillas_stereo_kernel, impact_distance_kernel

__all__ = ["StereoQualityQuery", "HillasReconstructor", "HILLAS_INPUTS", "camera_radius", "reconstruct_chain"]

#: per-telescope-event variables the reconstruction reads (telescope frame, degrees)
HILLAS_INPUTS = ("hillas_intensity", "hillas_fov_lon", "hillas_fov_lat", "hillas_psi", "hillas_length",
                 "hillas_width")
_CONTEXT = ("pointing_alt", "pointing_az", "focal_length")


class StereoQualityQuery(param.Parameterized):
    """Which telescope events enter the stereo reconstruction.

    ctapipe's default criteria: ``hillas_intensity > 50``,
    ``hillas_width > 0`` and ``morphology_n_pixels > 3``. Every bound is
    exclusive; ``None`` switches a criterion off. NaN never passes.
    """

    min_intensity = param.Number(default=50.0, allow_None=True, doc=(
        "Keep images with hillas_intensity above this [pe]."))
    min_width = param.Number(default=0.0, allow_None=True, doc=(
        "Keep images with hillas_width above this [deg]."))
    min_pixels = param.Integer(default=3, allow_None=True, doc=(
        "Keep images with more than this many pixels after cleaning (morphology_n_pixels)."))

    def criteria(self):
        """The active criteria as ``(name, text)`` pairs, in ctapipe's style."""
        out = []
        if self.min_intensity is not None:
            out.append((f"> {self.min_intensity:g} phe", f"hillas_intensity > {self.min_intensity:g}"))
        if self.min_width is not None:
            out.append(("Positive width" if self.min_width == 0 else f"width > {self.min_width:g} deg",
                        f"hillas_width > {self.min_width:g}"))
        if self.min_pixels is not None:
            out.append((f"> {self.min_pixels} pixels", f"morphology_n_pixels > {self.min_pixels}"))
        return out

    def required_variables(self):
        """Variables the active criteria read."""
        names = []
        if self.min_intensity is not None:
            names.append("hillas_intensity")
        if self.min_width is not None:
            names.append("hillas_width")
        if self.min_pixels is not None:
            names.append("morphology_n_pixels")
        return names

    def __call__(self, cam):
        """Which telescope events pass.

        Parameters
        ----------
        cam : xarray.Dataset or mapping of arrays
            A camera group (or plain arrays) with the variables of
            :meth:`required_variables`.

        Returns
        -------
        xarray.DataArray or ndarray of bool
            Along ``tel_event`` (same type as the inputs; lazy for dask).
        """
        missing = [v for v in self.required_variables() if v not in cam]
        if missing:
            raise KeyError(f"the stereo quality query needs {missing}; compute the image parameters first "
                           "(cam.iact.parameters()) or switch the criterion off (None)")
        passed = True
        if self.min_intensity is not None:
            passed = passed & (cam["hillas_intensity"] > self.min_intensity)
        if self.min_width is not None:
            passed = passed & (cam["hillas_width"] > self.min_width)
        if self.min_pixels is not None:
            passed = passed & (cam["morphology_n_pixels"] > self.min_pixels)
        if passed is True:
            passed = xr.ones_like(cam[HILLAS_INPUTS[0]], dtype=bool) if isinstance(cam, xr.Dataset) \
                else np.ones(np.shape(cam[HILLAS_INPUTS[0]]), bool)
        if isinstance(passed, xr.DataArray):
            passed = passed.rename("stereo_quality").assign_attrs(
                long_name="passes the stereo quality query", criteria="; ".join(t for _, t in self.criteria()))
        return passed


def camera_radius(cam):
    """Camera radius [m]: mean distance of the outermost pixels from the pixel centroid.

    The outermost pixels are those with fewer neighbours than the most any
    pixel has (ctapipe's ``guess_radius``).
    """
    from ..instrument import CameraGeometry

    geometry = CameraGeometry.from_dataset(cam)
    border = geometry.border_pixel_mask(1)
    if not border.any():
        border = np.ones(geometry.n_pixels, bool)
    x, y = geometry.pix_x, geometry.pix_y
    return float(np.mean(np.hypot(x[border] - x.mean(), y[border] - y.mean())))


@dataclass
class _TelEvents:
    """Per-telescope-event inputs of all camera groups, concatenated."""

    groups: list          # (camera name, start, stop)
    event: np.ndarray      # row of the root event, -1 if none
    tel: np.ndarray
    columns: dict


def _collect(tree, event_keys):
    from ..accessor import camera_groups

    groups, events, tels, columns = [], [], [], {}
    start = 0
    instrument = tree["instrument"].to_dataset()
    for name in camera_groups(tree):
        cam = tree[name].to_dataset(inherit=False)
        n = cam.sizes["tel_event"]
        if n == 0:
            continue
        missing = [v for v in (*HILLAS_INPUTS, *_CONTEXT) if v not in cam]
        if missing:
            raise KeyError(f"camera group {name!r} lacks {missing}; the stereo reconstruction needs the "
                           "Hillas parameters in the telescope frame (cam.iact.parameters())")
        keys = pd.MultiIndex.from_arrays([cam["obs_id"].values, cam["event"].values])
        events.append(event_keys.get_indexer(keys))
        tels.append(cam["tel"].values.astype(np.int64))
        data = {v: np.asarray(cam[v].values, np.float64) for v in (*HILLAS_INPUTS, *_CONTEXT)}
        if "morphology_n_pixels" in cam:
            data["morphology_n_pixels"] = np.asarray(cam["morphology_n_pixels"].values)
        data["camera_radius"] = np.full(n, camera_radius(cam))
        for key, value in data.items():
            columns.setdefault(key, []).append(value)
        groups.append((name, start, start + n))
        start += n
    if not groups:
        empty = {k: np.zeros(0) for k in (*HILLAS_INPUTS, *_CONTEXT, "morphology_n_pixels", "camera_radius")}
        return _TelEvents([], np.zeros(0, np.int64), np.zeros(0, np.int64), empty), instrument
    n_total = start
    merged = {}
    for key, parts in columns.items():
        if len(parts) != len(groups):  # present in some groups only (morphology_n_pixels)
            continue
        merged[key] = np.concatenate(parts)
    assert all(len(v) == n_total for v in merged.values())
    return _TelEvents(groups, np.concatenate(events), np.concatenate(tels), merged), instrument


def _event_offsets(event_rows, n_events):
    counts = np.bincount(event_rows, minlength=n_events)
    offsets = np.zeros(n_events + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets


def _array_pointing(root, te, n_events):
    """Array pointing per event [deg]; where the root has none, the mean pointing of the event's telescopes."""
    if "array_altitude" in root and "array_azimuth" in root:
        alt = np.asarray(root["array_altitude"].values, np.float64).copy()
        az = np.asarray(root["array_azimuth"].values, np.float64).copy()
    else:
        alt, az = np.full(n_events, np.nan), np.full(n_events, np.nan)
    missing = ~(np.isfinite(alt) & np.isfinite(az))
    if missing.any() and te.event.size:
        rows = te.event >= 0
        vectors = np.zeros((n_events, 3))
        np.add.at(vectors, te.event[rows],
                  proj.altaz_to_cartesian(te.columns["pointing_alt"][rows], te.columns["pointing_az"][rows]))
        mean_alt, mean_az = proj.cartesian_to_altaz(vectors)
        alt[missing], az[missing] = mean_alt[missing], mean_az[missing]
        empty = np.linalg.norm(vectors, axis=1) == 0
        alt[empty & missing], az[empty & missing] = np.nan, np.nan
    return alt, az


class HillasReconstructor(param.Parameterized):
    """Shower direction, core and height of maximum from the Hillas ellipses of several telescopes.

    Reproduces ctapipe's ``HillasReconstructor`` (telescope-frame Hillas
    parameters). Call it on an event tree whose camera groups carry the
    Hillas parameters; it returns a new tree with ``HillasReconstructor_*``
    variables at the root (along ``event``) and the impact distance of
    every telescope event in the camera groups.

    Parameters
    ----------
    quality_query : StereoQualityQuery, optional
        Which telescope events enter; default ctapipe's criteria.
    **params
        The parameters below (``min_telescopes``, ``weighted_core``,
        ``camera_radius_fraction``).

    Examples
    --------
    >>> reco = HillasReconstructor(min_telescopes=3)            # doctest: +SKIP
    >>> tree = reco(tree)                                          # doctest: +SKIP
    >>> tree.ds[["HillasReconstructor_alt", "HillasReconstructor_az"]]   # doctest: +SKIP
    """

    min_telescopes = param.Integer(default=2, bounds=(2, None), doc=(
        "Events with fewer telescopes passing the quality query are not reconstructed."))
    weighted_core = param.Boolean(default=False, doc=(
        "Weight the image axes by intensity * length / width in the core intersection "
        "(ctapipe 0.32 does not: False reproduces its numbers)."))
    camera_radius_fraction = param.Number(default=0.1, bounds=(0, None), inclusive_bounds=(False, True), doc=(
        "Second point on each image axis at this fraction of the camera radius from the centroid."))

    #: prefix of the output variables
    prefix = "HillasReconstructor"

    def __init__(self, quality_query=None, **params):
        super().__init__(**params)
        #: the :class:`StereoQualityQuery` deciding which telescope events enter
        self.quality_query = quality_query if quality_query is not None else StereoQualityQuery()

    def __call__(self, tree):
        """Reconstruct every event of ``tree``; returns a new tree (the input is not changed)."""
        root = tree.to_dataset(inherit=False)
        event_keys = pd.MultiIndex.from_arrays([root["obs_id"].values, root["event_id"].values])
        if not event_keys.is_unique:
            raise ValueError("the root's (obs_id, event_id) keys are not unique")
        te, instrument = _collect(tree, event_keys)
        n_events = root.sizes.get("event", 0)
        out = self._reconstruct(te, instrument, root, n_events)
        return self._assemble(tree, root, te, instrument, out)

    # ------------------------------------------------------------------ numbers

    def _reconstruct(self, te, instrument, root, n_events):
        c = te.columns
        n_rows = te.event.size
        tel_ids = instrument["tel"].values.astype(np.int64)
        tel_row = pd.Index(tel_ids).get_indexer(te.tel)
        if (tel_row < 0).any():
            raise ValueError(f"telescopes {sorted(set(te.tel[tel_row < 0].tolist()))} are not in /instrument")
        positions = np.column_stack([instrument[k].values for k in ("pos_x", "pos_y", "pos_z")]).astype(np.float64)
        row_pos = positions[tel_row] if n_rows else np.zeros((0, 3))
        array_alt, array_az = _array_pointing(root, te, n_events)

        if self.quality_query.min_pixels is not None and "morphology_n_pixels" not in c:
            raise KeyError("the stereo quality query needs morphology_n_pixels in every camera group; "
                           "compute the image parameters or set min_pixels=None")
        passed = np.asarray(self.quality_query(c), bool) & (te.event >= 0)
        # ctapipe gives up on an event where a selected image has no usable width
        bad_width = passed & ~(np.isfinite(c["hillas_width"]) & (c["hillas_width"] != 0))
        bad_event = np.bincount(te.event[bad_width], minlength=n_events) > 0
        n_passed = np.bincount(te.event[passed], minlength=n_events)
        reconstructed = (n_passed >= self.min_telescopes) & ~bad_event
        used = passed & reconstructed[np.maximum(te.event, 0)] if n_events else passed

        rows = np.flatnonzero(used)
        rows = rows[np.argsort(te.event[rows], kind="stable")]
        ev = te.event[rows]
        offsets = _event_offsets(ev, n_events)

        # image axes on the sky: centroid and a second point along psi
        lon, lat = c["hillas_fov_lon"][rows], c["hillas_fov_lat"][rows]
        psi = np.deg2rad(c["hillas_psi"][rows])
        p_alt, p_az = c["pointing_alt"][rows], c["pointing_az"][rows]
        radius_deg = np.rad2deg(c["camera_radius"][rows] / c["focal_length"][rows])
        step = self.camera_radius_fraction * radius_deg
        cog_alt, cog_az = proj.telescope_to_altaz(lon, lat, p_alt, p_az)
        p2_alt, p2_az = proj.telescope_to_altaz(lon + step * np.cos(psi), lat + step * np.sin(psi), p_alt, p_az)
        cog_dir = proj.altaz_to_cartesian(cog_alt, cog_az)
        normals = np.cross(cog_dir, proj.altaz_to_cartesian(p2_alt, p2_az))
        # the axis seen from the array pointing, in camera-frame orientation (x ~ fov_lat, y ~ fov_lon)
        a_alt, a_az = array_alt[ev], array_az[ev]
        cog_lon, cog_lat = proj.altaz_to_nominal(cog_alt, cog_az, a_alt, a_az)
        p2_lon, p2_lat = proj.altaz_to_nominal(p2_alt, p2_az, a_alt, a_az)
        with np.errstate(divide="ignore", invalid="ignore"):
            core_psi = np.arctan((cog_lon - p2_lon) / (cog_lat - p2_lat))
            weights = c["hillas_intensity"][rows] * c["hillas_length"][rows] / c["hillas_width"][rows]
        tx, ty, _ = proj.ground_to_tilted(row_pos[rows, 0], row_pos[rows, 1], row_pos[rows, 2], a_alt, a_az)
        core_weights = weights if self.weighted_core else np.ones(rows.size)

        direction = np.empty((n_events, 3))
        direction_error = np.empty(n_events)
        core_tilted = np.empty((n_events, 2))
        core_cov = np.empty((n_events, 3))
        shower_max = np.empty((n_events, 3))
        shower_max_var = np.empty(n_events)
        hillas_stereo_kernel(offsets, np.ascontiguousarray(normals), np.ascontiguousarray(weights), core_psi,
                             np.ascontiguousarray(np.column_stack([tx, ty])), np.ascontiguousarray(core_weights),
                             np.ascontiguousarray(cog_dir), np.ascontiguousarray(row_pos[rows]),
                             direction, direction_error, core_tilted, core_cov, shower_max, shower_max_var)

        alt, az = proj.cartesian_to_altaz(direction)
        core_x, core_y = proj.project_to_ground(core_tilted[:, 0], core_tilted[:, 1], 0.0, array_alt, array_az)
        # the projection is linear in the tilted (x, y): propagate the covariance through it
        jx = np.stack(proj.project_to_ground(1.0, 0.0, 0.0, array_alt, array_az), axis=-1)
        jy = np.stack(proj.project_to_ground(0.0, 1.0, 0.0, array_alt, array_az), axis=-1)
        jac = np.stack([jx, jy], axis=-1)  # (n_events, 2 ground, 2 tilted)
        cov_t = np.stack([np.stack([core_cov[:, 0], core_cov[:, 1]], -1),
                          np.stack([core_cov[:, 1], core_cov[:, 2]], -1)], -2)
        cov_g = jac @ cov_t @ np.swapaxes(jac, -1, -2)
        is_valid = reconstructed & np.isfinite(alt) & np.isfinite(core_x) & np.isfinite(core_y)
        error_deg = np.rad2deg(direction_error)
        reference_height = float(instrument.attrs.get("reference_height", 0.0))

        intensity_sum = np.bincount(ev, weights=c["hillas_intensity"][rows], minlength=n_events)
        n_used = np.bincount(ev, minlength=n_events)
        telescopes = np.zeros((n_events, tel_ids.size), bool)
        telescopes[ev, tel_row[rows]] = True

        nan = np.full(n_events, np.nan)

        def valid(values):
            return np.where(is_valid, values, np.nan)

        with np.errstate(invalid="ignore", divide="ignore"):
            geometry = {
                "alt": (valid(alt), "deg", "reconstructed altitude"),
                "alt_uncert": (valid(error_deg), "deg", "reconstructed altitude uncertainty"),
                "az": (valid(az), "deg", "reconstructed azimuth"),
                "az_uncert": (valid(error_deg), "deg", "reconstructed azimuth uncertainty"),
                "ang_distance_uncert": (valid(error_deg), "deg", (
                    "uncertainty radius of the direction: mean angle between the direction and the plane "
                    "crossings")),
                "core_x": (valid(core_x), "m", "reconstructed x coordinate of the core position"),
                "core_y": (valid(core_y), "m", "reconstructed y coordinate of the core position"),
                "core_uncert_x": (valid(np.sqrt(cov_g[:, 0, 0])), "m",
                                  "core position uncertainty along ground frame X axis"),
                "core_uncert_y": (valid(np.sqrt(cov_g[:, 1, 1])), "m",
                                  "core position uncertainty along ground frame Y axis"),
                "core_tilted_x": (valid(core_tilted[:, 0]), "m", "core position in the tilted frame, x"),
                "core_tilted_y": (valid(core_tilted[:, 1]), "m", "core position in the tilted frame, y"),
                "core_tilted_uncert_x": (valid(np.sqrt(core_cov[:, 0])), "m",
                                         "core position uncertainty along tilted frame X axis"),
                "core_tilted_uncert_y": (valid(np.sqrt(core_cov[:, 2])), "m",
                                         "core position uncertainty along tilted frame Y axis"),
                "h_max": (valid(shower_max[:, 2] + reference_height), "m",
                          "reconstructed vertical height above sea level of the shower maximum"),
                "h_max_uncert": (valid(np.sqrt(shower_max_var)), "m", "uncertainty of h_max"),
                "average_intensity": (valid(intensity_sum / n_used), None,
                                      "average intensity of the images used"),
            }
        if not n_events:
            geometry = {k: (nan, unit, doc) for k, (_, unit, doc) in geometry.items()}
        telescopes[~is_valid] = False

        # impact distance of every telescope event with a root event
        impact = np.full(n_rows, np.nan)
        has_event = te.event >= 0
        e = te.event[has_event]
        distance = np.empty(e.size)
        impact_distance_kernel(np.ascontiguousarray(row_pos[has_event]),
                               np.ascontiguousarray(np.column_stack([core_x[e], core_y[e]])),
                               np.ascontiguousarray(direction[e]), distance)
        impact[has_event] = np.where(is_valid[e], distance, np.nan)
        row_core_psi = np.full(n_rows, np.nan)
        row_core_psi[rows] = np.where(is_valid[ev], np.rad2deg(core_psi), np.nan)
        return {"geometry": geometry, "is_valid": is_valid, "telescopes": telescopes, "impact": impact,
                "core_psi": row_core_psi}

    # ------------------------------------------------------------------ labelled output

    def _assemble(self, tree, root, te, instrument, out):
        p = self.prefix
        variables = {}
        for name, (values, units, doc) in out["geometry"].items():
            attrs = {"long_name": doc}
            if units:
                attrs["units"] = units
            variables[f"{p}_{name}"] = xr.Variable("event", values, attrs)
        variables[f"{p}_is_valid"] = xr.Variable("event", out["is_valid"], {
            "long_name": "geometry validity flag: True if the shower geometry was reconstructed"})
        variables[f"{p}_telescopes"] = xr.Variable(("event", "tel"), out["telescopes"], {
            "long_name": "telescopes used, along tel in the order of /instrument"})
        new_root = root.assign(variables)
        new_root.attrs[f"{p}_quality_criteria"] = "; ".join(t for _, t in self.quality_query.criteria())
        nodes = {node.path: node.to_dataset(inherit=False) for node in tree.subtree}
        nodes["/"] = new_root
        for name, start, stop in te.groups:
            nodes[f"/{name}"] = nodes[f"/{name}"].assign({
                f"{p}_tel_impact_distance": xr.Variable("tel_event", out["impact"][start:stop], {
                    "units": "m", "long_name": "distance of the telescope to the reconstructed shower axis"}),
                f"{p}_tel_impact_distance_uncert": xr.Variable("tel_event", np.full(stop - start, np.nan), {
                    "units": "m", "long_name": "uncertainty of the impact distance (not estimated)"}),
                "core_psi": xr.Variable("tel_event", out["core_psi"][start:stop], {
                    "units": "deg", "long_name": (
                        f"image axis angle in the tilted frame of the array pointing, used for the core ({p})")}),
            })
        return xr.DataTree.from_dict(nodes)


def reconstruct_chain(tree, config=None):
    """The stereo step of ``iactx process --reconstruct``.

    Parameters
    ----------
    tree : xarray.DataTree
        A batch of events with DL1 parameters.
    config : dict, optional
        Normalised configuration ``{section: {parameter: value}}``; the
        sections ``HillasReconstructor`` and ``StereoQualityQuery`` configure
        the step, other sections are ignored.

    Returns
    -------
    xarray.DataTree
    """
    config = config or {}
    query = StereoQualityQuery(**config.get("StereoQualityQuery", {}))
    return HillasReconstructor(quality_query=query, **config.get("HillasReconstructor", {}))(tree)
