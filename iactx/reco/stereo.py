"""What the Hillas-based geometry reconstructors share.

- :class:`StereoQualityQuery`: which telescope events enter;
- gathering the per-telescope-event inputs of every camera group into flat
  arrays, with the row of each telescope event's array event;
- :class:`GeometryReconstructor`: the base of
  :class:`~iactx.reco.hillas_reconstructor.HillasReconstructor` and
  :class:`~iactx.reco.hillas_intersection.HillasIntersection`. It selects
  the telescope events (quality query, ``min_telescopes``, ctapipe's
  rejection of events with an image of zero or NaN width), groups them by
  array event, and turns a subclass's geometry into the labelled output:
  ``{prefix}_*`` variables along ``event`` at the root, the impact distance
  of every telescope event in the camera groups.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import param
import xarray as xr

from ..config.criteria import compile_parameter_criterion, criterion_pairs
from ..coordinates import projections as proj
from .hillas_reconstructor_kernels import impact_distance_kernel

__all__ = ["StereoQualityQuery", "GeometryReconstructor", "GEOMETRY_FIELDS", "HILLAS_INPUTS", "camera_radius"]

#: per-telescope-event variables the reconstruction reads (telescope frame, degrees)
HILLAS_INPUTS = ("hillas_intensity", "hillas_fov_lon", "hillas_fov_lat", "hillas_psi", "hillas_length",
                 "hillas_width")
_CONTEXT = ("pointing_alt", "pointing_az", "focal_length")
#: outputs along ``event`` of every geometry reconstructor (ctapipe's ReconstructedGeometryContainer
#: fields) as ``{name: (units, long_name)}``; ``average_intensity`` is added by the base class
GEOMETRY_FIELDS = {
    "alt": ("deg", "reconstructed altitude"),
    "alt_uncert": ("deg", "reconstructed altitude uncertainty"),
    "az": ("deg", "reconstructed azimuth"),
    "az_uncert": ("deg", "reconstructed azimuth uncertainty"),
    "ang_distance_uncert": ("deg", "uncertainty radius of the reconstructed direction"),
    "core_x": ("m", "reconstructed x coordinate of the core position"),
    "core_y": ("m", "reconstructed y coordinate of the core position"),
    "core_uncert_x": ("m", "core position uncertainty along ground frame X axis"),
    "core_uncert_y": ("m", "core position uncertainty along ground frame Y axis"),
    "core_tilted_x": ("m", "core position in the tilted frame, x"),
    "core_tilted_y": ("m", "core position in the tilted frame, y"),
    "core_tilted_uncert_x": ("m", "core position uncertainty along tilted frame X axis"),
    "core_tilted_uncert_y": ("m", "core position uncertainty along tilted frame Y axis"),
    "h_max": ("m", "reconstructed vertical height above sea level of the shower maximum"),
    "h_max_uncert": ("m", "uncertainty of h_max"),
}


class StereoQualityQuery(param.Parameterized):
    """Which telescope events enter the stereo reconstruction.

    ctapipe's default criteria: ``hillas_intensity > 50``,
    ``hillas_width > 0`` and ``morphology_n_pixels > 3``. Every bound is
    exclusive; ``None`` switches a criterion off. NaN never passes.
    ``quality_criteria`` (ctapipe's form) replaces the three bounds when given.
    """

    min_intensity = param.Number(default=50.0, allow_None=True, doc=(
        "Keep images with hillas_intensity above this [pe]."))
    min_width = param.Number(default=0.0, allow_None=True, doc=(
        "Keep images with hillas_width above this [deg]."))
    min_pixels = param.Integer(default=3, allow_None=True, doc=(
        "Keep images with more than this many pixels after cleaning (morphology_n_pixels)."))
    quality_criteria = param.List(default=None, allow_None=True, doc=(
        "Ordered (name, expression) pairs as in ctapipe's files, replacing min_intensity, min_width and "
        "min_pixels: an expression reads the image parameters as parameters.<group>.<field> "
        "(e.g. 'parameters.hillas.intensity > 50', 'parameters.leakage.intensity_width_2 < 0.5'; "
        "'.value' after a field is ignored), with numbers, arithmetic, comparisons, and/or/not and "
        "np.abs/sqrt/log10/log/isfinite."))

    def __init__(self, **params):
        super().__init__(**params)
        self.compiled_criteria()  # check the expressions now, not at the first event

    def compiled_criteria(self):
        """The checked ``quality_criteria`` (empty when the bounds are used)."""
        return [compile_parameter_criterion(name, text) for name, text in
                criterion_pairs(self.quality_criteria or [], "StereoQualityQuery.quality_criteria")]

    def _bounds(self):
        """The active bounds as ``(name, column, bound)``, when ``quality_criteria`` is not given."""
        if self.quality_criteria is not None:
            return []
        out = []
        if self.min_intensity is not None:
            out.append((f"> {self.min_intensity:g} phe", "hillas_intensity", self.min_intensity))
        if self.min_width is not None:
            name = "Positive width" if self.min_width == 0 else f"width > {self.min_width:g} deg"
            out.append((name, "hillas_width", self.min_width))
        if self.min_pixels is not None:
            out.append((f"> {self.min_pixels} pixels", "morphology_n_pixels", self.min_pixels))
        return out

    def criteria(self):
        """The active criteria as ``(name, text)`` pairs, in ctapipe's style."""
        if self.quality_criteria is not None:
            return [(c.name, c.text) for c in self.compiled_criteria()]
        return [(name, f"{column} > {bound:g}") for name, column, bound in self._bounds()]

    def required_variables(self):
        """Variables the active criteria read."""
        columns = [column for c in self.compiled_criteria() for column in c.columns]
        return list(dict.fromkeys(columns + [column for _, column, _ in self._bounds()]))

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
        for criterion in self.compiled_criteria():
            passed = passed & criterion(cam)
        for _, column, bound in self._bounds():
            passed = passed & (cam[column] > bound)
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


def _collect(tree, event_keys, extra=()):
    """The telescope events of every camera group as one table; ``extra`` names more columns to take."""
    from ..accessor import camera_groups

    optional = tuple(dict.fromkeys(("morphology_n_pixels", *extra)))

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
        data.update({v: np.asarray(cam[v].values) for v in optional if v in cam and v not in data})
        data["camera_radius"] = np.full(n, camera_radius(cam))
        for key, value in data.items():
            columns.setdefault(key, []).append(value)
        groups.append((name, start, start + n))
        start += n
    if not groups:
        empty = {k: np.zeros(0) for k in (*HILLAS_INPUTS, *_CONTEXT, *optional, "camera_radius")}
        return _TelEvents([], np.zeros(0, np.int64), np.zeros(0, np.int64), empty), instrument
    n_total = start
    merged = {}
    for key, parts in columns.items():
        if len(parts) != len(groups):  # present in some groups only (an optional column)
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


@dataclass
class Selection:
    """The telescope events entering the reconstruction, grouped by array event.

    Attributes
    ----------
    rows : int64 array, shape (n_used,)
        Rows of the flat telescope-event arrays, sorted by array event and,
        within an event, by telescope id.
    event : int64 array, shape (n_used,)
        Array event of each of those rows.
    offsets : int64 array, shape (n_events + 1,)
        Event ``i`` has ``rows[offsets[i]:offsets[i + 1]]``.
    reconstructed : bool array, shape (n_events,)
        Events with enough telescopes passing the query (and no unusable width).
    """

    rows: np.ndarray
    event: np.ndarray
    offsets: np.ndarray
    reconstructed: np.ndarray


class GeometryReconstructor(param.Parameterized):
    """Base of the stereo geometry reconstructors: selection of the images and labelled output.

    A subclass sets :attr:`prefix` and implements :meth:`_geometry`, which
    returns the reconstructed fields of every event from the selected
    telescope events; calling the instance on an event tree returns a new
    tree with the ``{prefix}_*`` outputs.

    Parameters
    ----------
    quality_query : StereoQualityQuery, optional
        Which telescope events enter; default ctapipe's criteria.
    **params
        Parameters of the subclass.
    """

    __abstract = True

    min_telescopes = param.Integer(default=2, bounds=(2, None), doc=(
        "Events with fewer telescopes passing the quality query are not reconstructed."))

    #: prefix of the output variables (the class name, as ctapipe's)
    prefix = None

    def __init__(self, quality_query=None, **params):
        super().__init__(**params)
        #: the :class:`StereoQualityQuery` deciding which telescope events enter
        self.quality_query = quality_query if quality_query is not None else StereoQualityQuery()

    def __call__(self, tree):
        """Reconstruct every event of an event tree.

        Parameters
        ----------
        tree : xarray.DataTree
            Events whose camera groups carry the Hillas parameters in the
            telescope frame (:data:`HILLAS_INPUTS` [pe, deg]),
            ``morphology_n_pixels`` (unless the query's ``min_pixels`` is
            None) and ``pointing_alt``, ``pointing_az`` [deg],
            ``focal_length`` [m] along ``tel_event``.

        Returns
        -------
        xarray.DataTree
            A new tree (the input is not changed): at the root, along
            ``event``, ``{prefix}_<name>`` for every name of
            :data:`GEOMETRY_FIELDS` (NaN where the event is not valid or the
            method does not estimate it) and ``{prefix}_average_intensity``
            [pe], ``{prefix}_is_valid`` and ``{prefix}_telescopes``
            (event, tel) in the order of ``/instrument``; in each camera
            group, along ``tel_event``, ``{prefix}_tel_impact_distance`` [m]
            (and its uncertainty, not estimated) and the method's own
            per-telescope outputs.
        """
        root = tree.to_dataset(inherit=False)
        event_keys = pd.MultiIndex.from_arrays([root["obs_id"].values, root["event_id"].values])
        if not event_keys.is_unique:
            raise ValueError("the root's (obs_id, event_id) keys are not unique")
        te, instrument = _collect(tree, event_keys, extra=self.quality_query.required_variables())
        n_events = root.sizes.get("event", 0)
        tel_ids = instrument["tel"].values.astype(np.int64)
        tel_row = pd.Index(tel_ids).get_indexer(te.tel)
        if (tel_row < 0).any():
            raise ValueError(f"telescopes {sorted(set(te.tel[tel_row < 0].tolist()))} are not in /instrument")
        positions = np.column_stack([instrument[k].values for k in ("pos_x", "pos_y", "pos_z")]).astype(np.float64)
        context = _Context(te=te, instrument=instrument, root=root, n_events=n_events,
                           positions=positions[tel_row] if te.event.size else np.zeros((0, 3)),
                           array_pointing=_array_pointing(root, te, n_events))
        selection = self._select(te, n_events)
        out = self._outputs(context, selection, self._geometry(context, selection), tel_ids.size, tel_row)
        return self._assemble(tree, root, te, out)

    def _geometry(self, context, selection):
        """The reconstructed geometry of every event; implemented by subclasses.

        Returns
        -------
        dict
            ``"fields"``: ``{name: values (n_events,)}`` for the names of
            :data:`GEOMETRY_FIELDS` the method estimates, in their units (at
            least ``alt``, ``az``, ``core_x`` and ``core_y``; the others are
            NaN); ``"direction"``: float64 (n_events, 3), unit vectors
            towards the source (ground frame); ``"usable"``: bool
            (n_events,), events the method itself accepts; optionally
            ``"tel_fields"``: ``{name: (values (n_used,), units, long_name)}``
            on the selected telescope events (NaN elsewhere).
        """
        raise NotImplementedError

    def _select(self, te, n_events):
        c = te.columns
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
        rows = rows[np.lexsort((te.tel[rows], te.event[rows]))]
        event = te.event[rows]
        return Selection(rows, event, _event_offsets(event, n_events), reconstructed)

    def _outputs(self, context, selection, geometry, n_tels, tel_row):
        te, n_events = context.te, context.n_events
        rows, ev = selection.rows, selection.event
        estimated, direction = geometry["fields"], geometry["direction"]
        core_x, core_y = estimated["core_x"], estimated["core_y"]
        is_valid = (selection.reconstructed & geometry["usable"] & np.isfinite(estimated["alt"])
                    & np.isfinite(estimated["az"]) & np.isfinite(core_x) & np.isfinite(core_y))
        intensity_sum = np.bincount(ev, weights=te.columns["hillas_intensity"][rows], minlength=n_events)
        n_used = np.bincount(ev, minlength=n_events)
        fields = {}
        for name, (units, doc) in GEOMETRY_FIELDS.items():
            values = estimated.get(name)
            fields[name] = (np.full(n_events, np.nan) if values is None else np.where(is_valid, values, np.nan),
                            units, doc if values is not None else f"{doc} (not estimated)")
        with np.errstate(invalid="ignore", divide="ignore"):
            fields["average_intensity"] = (np.where(is_valid, intensity_sum / n_used, np.nan), None,
                                           "average intensity of the images used")
        telescopes = np.zeros((n_events, n_tels), bool)
        telescopes[ev, tel_row[rows]] = True
        telescopes[~is_valid] = False

        # impact distance of every telescope event with a root event
        n_rows = te.event.size
        impact = np.full(n_rows, np.nan)
        has_event = te.event >= 0
        e = te.event[has_event]
        distance = np.empty(e.size)
        impact_distance_kernel(np.ascontiguousarray(context.positions[has_event]),
                               np.ascontiguousarray(np.column_stack([core_x[e], core_y[e]])),
                               np.ascontiguousarray(direction[e]), distance)
        impact[has_event] = np.where(is_valid[e], distance, np.nan)
        tel_fields = {}
        for name, (values, units, doc) in geometry.get("tel_fields", {}).items():
            full = np.full(n_rows, np.nan)
            full[rows] = np.where(is_valid[ev], values, np.nan)
            tel_fields[name] = (full, units, doc)
        return {"fields": fields, "is_valid": is_valid, "telescopes": telescopes, "impact": impact,
                "tel_fields": tel_fields}

    def _assemble(self, tree, root, te, out):
        p = self.prefix
        variables = {}
        for name, (values, units, doc) in out["fields"].items():
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
            per_tel = {
                f"{p}_tel_impact_distance": xr.Variable("tel_event", out["impact"][start:stop], {
                    "units": "m", "long_name": "distance of the telescope to the reconstructed shower axis"}),
                f"{p}_tel_impact_distance_uncert": xr.Variable("tel_event", np.full(stop - start, np.nan), {
                    "units": "m", "long_name": "uncertainty of the impact distance (not estimated)"}),
            }
            for var, (values, units, doc) in out["tel_fields"].items():
                per_tel[var] = xr.Variable("tel_event", values[start:stop], {"units": units, "long_name": doc})
            nodes[f"/{name}"] = nodes[f"/{name}"].assign(per_tel)
        return xr.DataTree.from_dict(nodes)


@dataclass
class _Context:
    """Inputs of one reconstruction call, besides the selection."""

    te: _TelEvents
    instrument: xr.Dataset
    root: xr.Dataset
    n_events: int
    positions: np.ndarray       # (n_rows, 3) ground position of each telescope event's telescope [m]
    array_pointing: tuple       # (alt, az) per event [deg]
