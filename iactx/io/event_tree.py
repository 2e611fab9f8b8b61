"""Build the nodes of an event tree.

Every source (sim_telarray reader, toy simulation, ...) assembles its output
through these helpers so that all trees share one layout:

- ``/``: dimension ``event`` with the keys ``obs_id`` and ``event_id`` as
  coordinates (not an index: an indexed root coordinate would be inherited
  by every camera group and clash with its ``event`` level);
- ``/instrument``: dimension ``tel`` indexed by telescope id;
- ``/<camera name>``: dimension ``tel_event`` indexed by (``obs_id``,
  ``event``, ``tel``), plus ``pixel``, ``sample``, ``gain``.

See ``docs/data_model.md`` for every variable.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from .._assign import with_variables
from ..instrument import CameraReadout
from .shower_distribution import SHOWER_DISTRIBUTION_PATH

__all__ = [
    "EVENT_KEYS",
    "TEL_EVENT_LEVELS",
    "EVENT_TYPES",
    "camera_group",
    "check_tree",
    "tel_types_of",
    "make_tree",
    "root_dataset",
    "tel_event_index",
]

#: keys of the root node, coordinates along ``event``
EVENT_KEYS = ("obs_id", "event_id")
#: levels of the ``tel_event`` index of the camera groups
TEL_EVENT_LEVELS = ("obs_id", "event", "tel")

#: event type codes (CTAO convention) and their names
EVENT_TYPES = {
    0: "flatfield",
    1: "single_pe",
    2: "sky_pedestal",
    3: "dark_pedestal",
    4: "electronic_pedestal",
    5: "other_calibration",
    16: "muon",
    17: "hardware_stereo",
    24: "dau_test",
    32: "subarray",
    255: "unknown",
}


def tel_event_index(obs_id, event_id, tel_id):
    """Coordinates for the ``tel_event`` dimension of a camera group."""
    midx = pd.MultiIndex.from_arrays(
        [np.asarray(obs_id, np.int64), np.asarray(event_id, np.int64), np.asarray(tel_id, np.int32)],
        names=list(TEL_EVENT_LEVELS),
    )
    return xr.Coordinates.from_pandas_multiindex(midx, "tel_event")


def root_dataset(obs_id, event_id, data_vars, attrs=None):
    """The root node: array-level quantities along ``event``.

    Parameters
    ----------
    obs_id, event_id : array_like of int, shape (n_events,)
        Keys of the events.
    data_vars : dict
        Name -> (values, attrs) for each array-level variable along ``event``.
    attrs : dict, optional
        Attributes of the node.
    """
    data = {name: ("event", np.asarray(values), dict(var_attrs)) for name, (values, var_attrs) in data_vars.items()}
    coords = {
        "obs_id": ("event", np.asarray(obs_id, np.int64), {"long_name": "observation (run) id"}),
        "event_id": ("event", np.asarray(event_id, np.int64), {"long_name": "event id within the run"}),
    }
    return xr.Dataset(data, coords=coords, attrs=dict(attrs or {}))


def camera_group(geometry, readouts, keys, data_vars, attrs=None):
    """A camera group: per-telescope-event data of one camera type.

    Parameters
    ----------
    geometry : iactx.instrument.CameraGeometry
        Pixel layout; becomes the ``pixel`` coordinates and attributes.
    readouts : dict[int, iactx.instrument.CameraReadout]
        Readout of every telescope with this camera, by telescope id.
    keys : tuple of array_like
        ``(obs_id, event_id, tel_id)``, each of shape (n_tel_events,).
    data_vars : dict
        Name -> (dims, values, attrs).
    attrs : dict, optional
        Additional attributes.
    """
    geom_coords, geom_attrs = geometry.to_coords()
    readout_vars, readout_coords, readout_attrs = CameraReadout.to_dataset_items(readouts)
    ds = xr.Dataset(
        {**readout_vars, **{k: (dims, values, dict(a)) for k, (dims, values, a) in data_vars.items()}},
        coords={**geom_coords, **readout_coords},
        attrs={**geom_attrs, **readout_attrs, **(attrs or {})},
    )
    return ds.assign_coords(tel_event_index(*keys))


def make_tree(root, instrument, cameras, *, shower_distribution=None):
    """Assemble the event tree.

    Parameters
    ----------
    root : xarray.Dataset
        Root node, from :func:`root_dataset`.
    instrument : xarray.Dataset
        The ``/instrument`` node.
    cameras : dict[str, xarray.Dataset]
        Camera groups by camera name.
    shower_distribution : xarray.Dataset, optional
        The runs' simulated-shower distribution, the node
        ``/simulation/shower_distribution``
        (:func:`~iactx.io.shower_distribution.shower_distribution_dataset`).

    Notes
    -----
    Each camera group also receives, along ``readout_tel``, the columns of
    ``/instrument`` in :data:`TELESCOPE_COLUMNS` for its telescopes, so that a
    group on its own (written to disk, or handed to a function) carries all
    it needs (e.g. mirror areas for the muon intensity fit).
    """
    nodes = {"/": root, "/instrument": instrument}
    nodes.update({f"/{name}": _with_telescope_columns(cam, instrument) for name, cam in cameras.items()})
    if shower_distribution is not None:
        nodes[SHOWER_DISTRIBUTION_PATH] = shower_distribution
    return xr.DataTree.from_dict(nodes)


#: per-telescope columns of ``/instrument`` copied into each camera group along ``readout_tel``
TELESCOPE_COLUMNS = ("tel_type", "mirror_area", "n_mirrors", "equivalent_focal_length", "effective_focal_length")


def _with_telescope_columns(cam, instrument):
    """``cam`` with the rows of ``instrument``'s :data:`TELESCOPE_COLUMNS` for its ``readout_tel``.

    Rows picked by position and put in as Variables: ``sel`` and ``assign``
    (index look-up, alignment) took a few milliseconds per camera group
    and batch.
    """
    readout = cam["readout_tel"].values
    rows = instrument.indexes["tel"].get_indexer(readout)
    if (rows < 0).any():
        raise KeyError(f"telescopes {readout[rows < 0].tolist()} of the camera group are not in /instrument")
    columns = {}
    for name in TELESCOPE_COLUMNS:
        var = instrument.variables[name]
        values = var.values[rows]
        if values.dtype.kind == "U":  # as narrow as its own strings, as a file gives it back
            values = np.array(values.tolist(), dtype=str)
        columns[name] = xr.Variable(("readout_tel",), values, dict(var.attrs))
    return with_variables(cam, columns)


def tel_types_of(tree):
    """Telescope type string of every telescope id, from the tree's ``/instrument`` node.

    Returns
    -------
    dict[int, str] or None
        None when the tree has no ``/instrument`` with ``tel_type``.
    """
    if "instrument" not in tree.children:
        return None
    inst = tree["instrument"].to_dataset(inherit=False)
    if "tel_type" not in inst:
        return None
    return {int(t): str(v) for t, v in zip(inst["tel"].values, inst["tel_type"].values)}


def check_tree(tree):
    """Check that an event tree follows the data model; raise ``ValueError`` if not.

    Checks the root keys along ``event``, the ``/instrument`` node, and for
    each camera group its ``tel_event`` index, pixel coordinates, neighbour
    table, dtypes and units of the standard variables, and that every
    telescope event refers to an event of the root and a telescope of the
    instrument.

    Parameters
    ----------
    tree : xarray.DataTree

    Returns
    -------
    list of str
        Names of the camera groups checked.
    """
    problems = []
    root = tree.to_dataset(inherit=False)
    for key in EVENT_KEYS:
        if key not in root.coords or root[key].dims != ("event",):
            problems.append(f"root lacks coordinate {key!r} along 'event'")
    if "instrument" not in tree.children:
        raise ValueError("event tree has no /instrument node")
    instrument = tree["instrument"].to_dataset()
    for name in ("tel_type", "camera_name", "pos_x", "pos_y", "pos_z"):
        if name not in instrument:
            problems.append(f"/instrument lacks {name!r}")
    cameras = [name for name, node in tree.children.items() if "tel_event" in node.dims]
    known_events = set(zip(root["obs_id"].values.tolist(), root["event_id"].values.tolist())) if not problems else set()
    for name in cameras:
        cam = tree[name].to_dataset(inherit=False)
        index = cam.indexes.get("tel_event")
        if index is None or list(index.names) != list(TEL_EVENT_LEVELS):
            problems.append(f"/{name}: tel_event is not indexed by {TEL_EVENT_LEVELS}")
            continue
        if not index.is_unique:
            problems.append(f"/{name}: duplicate (obs_id, event, tel) keys")
        for coord, units in (("pix_x", "m"), ("pix_y", "m"), ("pix_area", "m2")):
            if coord not in cam.coords or cam[coord].attrs.get("units") != units:
                problems.append(f"/{name}: coordinate {coord!r} missing or not in {units}")
        if "neighbors" not in cam.coords or cam["neighbors"].dims != ("pixel", "neighbor"):
            problems.append(f"/{name}: no neighbour table on (pixel, neighbor)")
        if cam.attrs.get("camera_name") != name:
            problems.append(f"/{name}: attribute camera_name is {cam.attrs.get('camera_name')!r}")
        for var, (dims, kind, units) in _STANDARD_VARIABLES.items():
            if var not in cam:
                if var in ("waveform", "selected_gain"):
                    problems.append(f"/{name}: missing {var!r}")
                continue
            if cam[var].dims != dims or cam[var].dtype.kind != kind or cam[var].attrs.get("units") != units:
                problems.append(f"/{name}: {var!r} should be {dims}, kind {kind!r}, units {units!r}; got "
                                f"{cam[var].dims}, {cam[var].dtype}, {cam[var].attrs.get('units')!r}")
        tels = set(cam["tel"].values.tolist()) - set(instrument["tel"].values.tolist())
        if tels:
            problems.append(f"/{name}: telescopes {sorted(tels)} are not in /instrument")
        events = set(zip(cam["obs_id"].values.tolist(), cam["event"].values.tolist())) - known_events
        if known_events and events:
            problems.append(f"/{name}: {len(events)} telescope events refer to events missing from the root")
    if problems:
        raise ValueError("event tree does not follow the data model:\n  " + "\n  ".join(problems))
    return cameras


#: standard camera-group variables: dims, dtype kind, units
_STANDARD_VARIABLES = {
    "waveform": (("tel_event", "pixel", "sample"), "f", "pe"),
    "selected_gain": (("tel_event", "pixel"), "i", None),
    "true_image": (("tel_event", "pixel"), "i", "pe"),
    "r0": (("tel_event", "gain", "pixel", "sample"), "u", "adc_counts"),
    "pointing_alt": (("tel_event",), "f", "deg"),
    "pointing_az": (("tel_event",), "f", "deg"),
    "focal_length": (("tel_event",), "f", "m"),
    "image": (("tel_event", "pixel"), "f", "pe"),
    "peak_time": (("tel_event", "pixel"), "f", "ns"),
    "image_mask": (("tel_event", "pixel"), "b", None),
}
