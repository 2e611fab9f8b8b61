"""Read ctapipe DL1/DL2 HDF5 files (data model v7, PyTables tables) into event trees.

The counterpart of :mod:`iactx.io.ctapipe_format`, with the same column
mapping (:mod:`iactx.io.ctapipe_schema`). A file written by
``ctapipe-process`` (or by ``iactx process --output-format ctapipe``)
becomes the event tree of ``docs/data_model.md``:

- ``/configuration/instrument``: layout, optics, camera geometry and readout
  -> ``/instrument`` and the pixel coordinates, neighbours and reference
  pulses of every camera group (one group per camera name);
- ``/dl1/event/subarray/trigger`` joined with ``/simulation/event/subarray/shower``
  and the observation blocks' array pointing -> the root along ``event``;
- ``/dl1/event/telescope/images``, ``parameters`` and ``muon`` (and
  ``/simulation/event/telescope/images`` / ``parameters``: true images and
  their parameters) -> the camera groups along ``tel_event``, with the
  telescope pointing of ``/configuration/telescope/pointing`` and the focal
  length of the optics;
- ``/dl2/event/subarray/geometry/HillasReconstructor`` and the telescope
  impact distances, when present;
- ``/simulation/service/shower_distribution`` -> ``/simulation/shower_distribution``;
- ``/dl1/service/image_statistics`` -> ``/statistics/image_quality`` when the
  file holds one run (ctapipe sums the counts of all runs of a merged file).

Values take iactx's units and dtypes; columns iactx has no variable for
(``tels_with_trigger``, ``n_trigger_pixels``, ``true_starting_grammage``,
the true impact distances, ...) are left out.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import xarray as xr

from ..instrument import (
    CameraDescription,
    CameraGeometry,
    CameraReadout,
    OpticsDescription,
    SubarrayDescription,
    TelescopeDescription,
)
from .ctapipe_schema import (
    GEOMETRY_COLUMNS,
    IMPACT_COLUMNS,
    MUON_GROUPS,
    PARAMETER_GROUPS,
    SHOWER_COLUMNS,
    TRUE_PARAMETER_GROUPS,
    columns,
)
from .dl1 import IMAGE_STATISTICS_PATH
from .errors import check_input_file, first_bytes
from .event_tree import EVENT_TYPES, camera_group, make_tree, root_dataset
from .simtel_instrument import FocalLengthFallbackWarning

__all__ = ["is_ctapipe_file", "read_ctapipe_dl1"]

#: root attribute that ctapipe writes into every data product
_MODEL_VERSION_ATTR = "CTA PRODUCT DATA MODEL VERSION"
_INSTRUMENT = "/configuration/instrument"
_TELESCOPE = "/dl1/event/telescope"
_MISSING = {"f": np.nan, "b": False}


def is_ctapipe_file(path):
    """Whether ``path`` is a ctapipe HDF5 data product.

    Parameters
    ----------
    path : str or Path
        Any file.

    Returns
    -------
    bool
        True for an HDF5 file with ctapipe's root attribute
        ``CTA PRODUCT DATA MODEL VERSION`` or a ``/dl1/event`` group (and
        not marked as an iactx event tree).
    """
    import h5py

    try:
        if not h5py.is_hdf5(path):
            return False
        with h5py.File(path, "r") as h5:
            if "iactx_format" in h5.attrs:
                return False
            return _MODEL_VERSION_ATTR in h5.attrs or "dl1/event" in h5
    except OSError:
        return False


def _table(h5, path):
    """Rows of the table at ``path`` (a structured array), or None when the file has none."""
    return h5.get_node(path).read() if path in h5 else None


def _text(values):
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def _units(h5, path):
    """Unit of each column of a ctapipe table, by column name (from ``CTAFIELD_<i>_UNIT``)."""
    node = h5.get_node(path)
    attrs = node.attrs
    return {name: str(attrs[f"CTAFIELD_{i}_UNIT"]) for i, name in enumerate(node.colnames)
            if f"CTAFIELD_{i}_UNIT" in attrs._v_attrnames}


def _subarray(h5, path, focal_length):
    """The subarray of the file and the focal length [m] of each telescope."""
    from astropy import units as u
    from astropy.coordinates import EarthLocation

    layout_node = h5.get_node(f"{_INSTRUMENT}/subarray/layout")
    layout = layout_node.read()
    optics = _table(h5, f"{_INSTRUMENT}/telescope/optics")
    cameras, geometries = {}, {}
    for index in np.unique(layout["camera_index"]).tolist():
        node = h5.get_node(f"{_INSTRUMENT}/telescope/camera/geometry_{index}")
        attrs, pixels = node.attrs, node.read()
        name = str(attrs["CAM_ID"])
        geometry = CameraGeometry(name, pixels["pix_x"], pixels["pix_y"], pixels["pix_area"], str(attrs["PIX_TYPE"]),
                                  pix_rotation=float(attrs["PIX_ROT"]), cam_rotation=float(attrs["CAM_ROT"]),
                                  pix_id=pixels["pix_id"]).derotated()
        geometry = geometries.setdefault(name, geometry)  # telescopes of one camera share one geometry
        if geometry != geometries[name]:
            raise ValueError(f"{path}: cameras {name!r} of the file differ in pixel layout")
        node = h5.get_node(f"{_INSTRUMENT}/telescope/camera/readout_{index}")
        attrs, pulses = node.attrs, node.read()
        channels = sorted(c for c in pulses.dtype.names if c.startswith("reference_pulse_shape_channel"))
        readout = CameraReadout(name, float(attrs["SAMPFREQ"]), np.stack([pulses[c] for c in channels]),
                                float(attrs["REFWIDTH"]), int(attrs["NCHAN"]), int(attrs["NPIXELS"]),
                                int(attrs["NSAMPLES"]))
        cameras[index] = CameraDescription(name, geometry, readout)
    descriptions, positions, focal_lengths, fallback = {}, {}, {}, []
    for row in layout:
        tel_id = int(row["tel_id"])
        o = optics[int(row["optics_index"])]
        optics_name, size_type, shape = _text([o["optics_name"], o["size_type"], o["reflector_shape"]])
        description = OpticsDescription(optics_name, size_type, shape.lower().replace("_", "-"), o["n_mirrors"],
                                        o["equivalent_focal_length"], o["effective_focal_length"],
                                        o["mirror_area"], o["n_mirror_tiles"])
        descriptions[tel_id] = TelescopeDescription(optics_name, description, cameras[int(row["camera_index"])])
        positions[tel_id] = np.array([row["pos_x"], row["pos_y"], row["pos_z"]], np.float64)
        focal_lengths[tel_id] = description.focal_length(focal_length)
        if np.isnan(focal_lengths[tel_id]):
            fallback.append(tel_id)
            focal_lengths[tel_id] = description.equivalent_focal_length
    if fallback:
        warnings.warn(f"{path}: no effective focal length for telescopes {fallback}; using the equivalent "
                      "focal length for them", FocalLengthFallbackWarning, stacklevel=3)
    attrs = layout_node.attrs
    itrs = [float(attrs[f"reference_itrs_{axis}"]) for axis in "xyz"]
    location = EarthLocation.from_geocentric(*itrs, unit=u.m)
    name = str(attrs["name"]) if "name" in attrs._v_attrnames else str(attrs["SUBARRAY"])
    return SubarrayDescription(name, positions, descriptions, location), focal_lengths


def _iactx_dtype(name, dtype):
    """dtype of column ``name`` in iactx's trees.

    Morphology counts are int32, the primary id int32, booleans and the
    muon ring's pixel count keep the file's dtype, everything else is float64.
    """
    if "morphology_" in name or name == "true_shower_primary_id":
        return np.int32
    if dtype.kind == "b" or name == "muonparameters_n_pixels_in_ring":
        return dtype
    return np.float64


def _align(rows, keys, names):
    """Row of ``rows`` for each key (-1 where it has none).

    Parameters
    ----------
    rows : numpy structured array or None
        A table with the key columns ``names``.
    keys : list of numpy.ndarray
        One array per key column, shape (n,).
    names : list of str
        Key columns of ``rows``, in the order of ``keys``.
    """
    if rows is None:
        return np.full(len(keys[0]), -1)
    table = pd.MultiIndex.from_arrays([rows[n].astype(np.int64) for n in names])
    return table.get_indexer(pd.MultiIndex.from_arrays([np.asarray(k, np.int64) for k in keys]))


def _taken(rows, where, name, dtype=None):
    """Column ``name`` of ``rows`` at rows ``where``, the fill value (NaN, False, -1) where ``where`` is -1."""
    values = rows[name][np.maximum(where, 0)] if len(rows) else np.zeros((len(where), *rows.dtype[name].shape),
                                                                          rows.dtype[name].base)
    values = values.astype(dtype or values.dtype, copy=False)
    missing = where < 0
    if missing.any():
        values = values.copy()
        values[missing] = _MISSING.get(values.dtype.kind, -1)
    return values


def _schema_variables(h5, path, rows, where, schema):
    """Variables of the schema columns that ``rows`` has, in iactx's units and dtypes.

    A column whose unit attribute differs from ctapipe's usual one (and
    converts to it) is converted.
    """
    from astropy import units as u

    if rows is None:
        return {}
    units = _units(h5, path)
    out = {}
    for name, _, unit, ours in schema:
        if name not in rows.dtype.names:
            continue
        values = _taken(rows, where, name, _iactx_dtype(name, rows.dtype[name]))
        if unit is not None and units.get(name, unit) != unit:
            values = values * u.Unit(units[name]).to(unit)
        out[name] = ("tel_event", values, {"units": ours} if ours else {})
    return out


def _concatenated(h5, group, tel_ids):
    """Rows of ``group/tel_NNN`` of the given telescopes, one array, and the path of one of them."""
    paths = [f"{group}/tel_{t:03d}" for t in tel_ids if f"{group}/tel_{t:03d}" in h5]
    if not paths:
        return None, None
    return np.concatenate([h5.get_node(p).read() for p in paths]), paths[0]


def _timestamps(time):
    """ctapipe's ``ctao_high_res`` pairs (TAI seconds, quarter nanoseconds) as UTC datetime64[ns]."""
    from astropy.time import Time

    if not len(time):
        return np.zeros(0, "datetime64[ns]")
    utc = Time(time[:, 0].astype(np.float64), format="unix_tai", scale="tai").utc.unix
    ns = np.round(utc).astype(np.int64) * 10**9 + (time[:, 1].astype(np.int64) + 2) // 4
    return ns.astype("datetime64[ns]")


def _root(h5, path, focal_length):
    """The root node: keys, trigger time and type, true shower, array pointing, stereo geometry."""
    trigger = h5.get_node("/dl1/event/subarray/trigger").read()
    obs, event = trigger["obs_id"].astype(np.int64), trigger["event_id"].astype(np.int64)
    data_vars = {
        "trigger_time": (_timestamps(trigger["time"]), {"long_name": "central trigger time (UTC)"}),
        "event_type": (trigger["event_type"].astype(np.int16), {
            "long_name": "event type code", "flag_values": list(EVENT_TYPES),
            "flag_meanings": " ".join(EVENT_TYPES.values())}),
    }
    shower_path = "/simulation/event/subarray/shower"
    shower = _table(h5, shower_path)
    where = _align(shower, [obs, event], ["obs_id", "event_id"])
    for name, (_, values, attrs) in _schema_variables(h5, shower_path, shower, where, SHOWER_COLUMNS).items():
        if name != "true_starting_grammage":
            data_vars[name] = (values, attrs)
    block = _table(h5, "/configuration/observation/observation_block")
    where = _align(block, [obs], ["obs_id"])
    if block is not None:  # pointing in alt/az only (frame 0); NaN for runs tracking in RA/Dec
        where = np.where(block["subarray_pointing_frame"][np.maximum(where, 0)] == 0, where, -1)
    for name, column in (("array_altitude", "subarray_pointing_lat"), ("array_azimuth", "subarray_pointing_lon")):
        values = _taken(block, where, column, np.float64) if block is not None else np.full(len(obs), np.nan)
        data_vars[name] = (values, {"units": "deg"})
    geometry_path = "/dl2/event/subarray/geometry/HillasReconstructor"
    geometry = _table(h5, geometry_path)
    where = _align(geometry, [obs, event], ["obs_id", "event_id"])
    for name, (_, values, attrs) in _schema_variables(h5, geometry_path, geometry, where, GEOMETRY_COLUMNS).items():
        data_vars[name] = (values, attrs)
    root = root_dataset(obs, event, data_vars, {**_root_attrs(h5, path), "focal_length_kind": focal_length})
    if geometry is not None:
        used = _taken(geometry, where, "HillasReconstructor_telescopes")
        root["HillasReconstructor_telescopes"] = (("event", "tel"), used, {
            "long_name": "telescopes used, along tel in the order of /instrument"})
    return root


def _root_attrs(h5, path):
    """Attributes of the root: the source and the simulation's run configuration (first run)."""
    attrs = {"source": "ctapipe", "input_file": str(path)}
    run = _table(h5, "/configuration/simulation/run")
    if run is None or not len(run):
        return attrs
    first = run[0]
    for key, column, kind in (
            ("simulation_energy_min", "energy_range_min", float), ("simulation_energy_max", "energy_range_max", float),
            ("simulation_spectral_index", "spectral_index", float), ("simulation_n_showers", "n_showers", int),
            ("simulation_shower_reuse", "shower_reuse", int),
            ("simulation_max_scatter_range", "max_scatter_range", float),
            ("simulation_viewcone_max", "max_viewcone_radius", float), ("simulation_diffuse", "diffuse", int),
            ("simulation_observation_height", "prod_site_alt", float)):
        attrs[key] = kind(first[column])
    attrs["simulation_energy_units"] = "TeV"
    return attrs


def _pointing(h5, tel_ids, obs, tel):
    """Telescope pointing altitude and azimuth [deg] of each telescope event, from the run's pointing table."""
    parts = [h5.get_node(f"/configuration/telescope/pointing/tel_{t:03d}").read() for t in tel_ids
             if f"/configuration/telescope/pointing/tel_{t:03d}" in h5]
    rows = np.concatenate(parts) if parts else None
    where = _align(rows, [obs, tel], ["obs_id", "tel_id"])
    if rows is None:
        return np.full(len(obs), np.nan), np.full(len(obs), np.nan)
    alt = np.rad2deg(_taken(rows, where, "telescope_pointing_altitude", np.float64))
    az = np.rad2deg(_taken(rows, where, "telescope_pointing_azimuth", np.float64))
    return np.clip(alt, -90.0, 90.0), az


def _camera(h5, subarray, name, root, focal_lengths, focal_length):
    """The camera group ``name``: images, parameters, true images and parameters, muons, impact distances."""
    tel_ids = [t for t, d in subarray.tel.items() if d.camera.name == name]
    tables = {kind: _concatenated(h5, group, tel_ids) for kind, group in (
        ("images", f"{_TELESCOPE}/images"), ("parameters", f"{_TELESCOPE}/parameters"),
        ("muon", f"{_TELESCOPE}/muon"), ("true_images", "/simulation/event/telescope/images"),
        ("true_parameters", "/simulation/event/telescope/parameters"),
        ("impact", "/dl2/event/telescope/impact/HillasReconstructor"))}
    names = ["obs_id", "event_id", "tel_id"]
    dl1 = [rows for kind, (rows, _) in tables.items() if kind in ("images", "parameters", "muon") and rows is not None]
    keys = np.unique(np.concatenate([np.stack([rows[n].astype(np.int64) for n in names], axis=1) for rows in dl1])
                     if dl1 else np.zeros((0, 3), np.int64), axis=0)
    position = _align(np.rec.fromarrays([root["obs_id"].values, root["event_id"].values], names=names[:2]),
                      [keys[:, 0], keys[:, 1]], names[:2])
    keys = keys[np.lexsort((keys[:, 2], position))]  # event by event, telescope by telescope
    obs, event, tel = keys.T
    alt, az = _pointing(h5, tel_ids, obs, tel)
    data_vars = {
        "pointing_alt": ("tel_event", alt, {"units": "deg", "long_name": "telescope pointing altitude"}),
        "pointing_az": ("tel_event", az, {"units": "deg", "long_name": "telescope pointing azimuth"}),
        "focal_length": ("tel_event", np.array([focal_lengths[t] for t in tel.tolist()], np.float64).reshape(-1),
                         {"units": "m", "long_name": f"{focal_length} focal length"}),
    }
    pixel = ("tel_event", "pixel")
    rows, _ = tables["images"]
    if rows is not None:
        where = _align(rows, [obs, event, tel], names)
        data_vars["image"] = (pixel, _taken(rows, where, "image", np.float32), {"units": "pe"})
        data_vars["peak_time"] = (pixel, _taken(rows, where, "peak_time", np.float32), {"units": "ns"})
        data_vars["image_mask"] = (pixel, _taken(rows, where, "image_mask", bool), {})
        data_vars["is_valid"] = ("tel_event", _taken(rows, where, "is_valid", bool), {})
    rows, _ = tables["true_images"]
    if rows is not None and "true_image" in rows.dtype.names:
        where = _align(rows, [obs, event, tel], names)
        data_vars["true_image"] = (pixel, _taken(rows, where, "true_image", np.int32),
                                   {"units": "pe", "long_name": "true photo-electrons, -1 if unknown"})
    for kind, schema in (("parameters", columns(PARAMETER_GROUPS)), ("muon", columns(MUON_GROUPS)),
                         ("true_parameters", columns(TRUE_PARAMETER_GROUPS)), ("impact", IMPACT_COLUMNS)):
        rows, path = tables[kind]
        where = _align(rows, [obs, event, tel], names)
        data_vars.update(_schema_variables(h5, path, rows, where, schema))
    return camera_group(subarray.geometries()[name], subarray.readouts(name), (obs, event, tel), data_vars)


def _shower_distribution(h5):
    """``/simulation/service/shower_distribution`` as the ``/simulation/shower_distribution`` node, or None."""
    rows = _table(h5, "/simulation/service/shower_distribution")
    if rows is None or not len(rows):
        return None
    return xr.Dataset(
        {
            "histogram": (("obs", "energy_bin", "core_dist_bin"), rows["histogram"].astype(np.float32)),
            "bins_energy": (("obs", "energy_edge"), rows["bins_energy"].astype(np.float64), {"units": "TeV"}),
            "bins_core_dist": (("obs", "core_dist_edge"), rows["bins_core_dist"].astype(np.float64), {"units": "m"}),
            "n_entries": ("obs", rows["n_entries"].astype(np.int64)),
            "hist_id": ("obs", rows["hist_id"].astype(np.int64)),
        },
        coords={"obs_id": ("obs", rows["obs_id"].astype(np.int64))},
    )


def _image_statistics(h5, obs_ids):
    """``/dl1/service/image_statistics`` as the ``/statistics/image_quality`` node of the run, or None."""
    rows = _table(h5, "/dl1/service/image_statistics")
    if rows is None or not len(rows) or len(obs_ids) != 1:
        return None
    names = [c.decode() for c in rows["criteria"]]
    if len(set(names)) != len(names):  # tables of several processings appended: counts of unknown runs
        return None
    return xr.Dataset(
        {"counts": (("obs", "criterion"), rows["counts"][np.newaxis].astype(np.int64)),
         "cumulative_counts": (("obs", "criterion"), rows["cumulative_counts"][np.newaxis].astype(np.int64))},
        coords={"obs_id": ("obs", np.asarray(obs_ids, np.int64)), "criterion": names,
                "criterion_expression": ("criterion", [f.decode() for f in rows["func"]])})


def read_ctapipe_dl1(path, *, focal_length="effective"):
    """Read a ctapipe DL1 (or DL2) HDF5 file into an event tree.

    Parameters
    ----------
    path : str or Path
        File written by ``ctapipe-process`` (data model v7, ctapipe 0.32)
        or ``iactx process --output-format ctapipe``.
    focal_length : {"effective", "equivalent"}
        Focal length carried with the camera groups (``focal_length`` [m]
        along ``tel_event``); the equivalent one, with a
        :class:`~iactx.io.simtel_instrument.FocalLengthFallbackWarning`, for
        telescopes without an effective focal length.

    Returns
    -------
    xarray.DataTree
        Root along ``event`` (``obs_id``, ``event_id``, ``trigger_time``,
        ``event_type``, ``true_*`` [TeV, deg, m, g cm-2], ``array_altitude``
        / ``array_azimuth`` [deg], ``HillasReconstructor_*``),
        ``/instrument`` along ``tel``, one camera group per camera name
        along ``tel_event`` (``image`` [pe], ``peak_time`` [ns],
        ``image_mask``, ``is_valid``, ``true_image`` [pe] (tel_event, pixel);
        the DL1, true, muon and impact parameters, ``pointing_alt`` /
        ``pointing_az`` [deg] and ``focal_length`` [m] (tel_event)) and
        ``/simulation/shower_distribution`` and ``/statistics/image_quality``
        when the file has them.

    Raises
    ------
    FileNotFoundError, ValueError
        A missing file, or one that is not a ctapipe file (the message names it).

    Notes
    -----
    Telescope events are those of the DL1 image, parameter and muon tables,
    ordered event by event (in the order of ``/dl1/event/subarray/trigger``)
    and telescope by telescope. The telescope pointing is the run's
    (``/configuration/telescope/pointing``), the same for all events of a
    run. Values stored in float32 by ctapipe (positions, array pointing,
    leakage intensities, intensity statistics, ...) keep float32 precision.

    Examples
    --------
    >>> tree = read_ctapipe_dl1("gamma.dl1.h5")                # doctest: +SKIP
    >>> tree["LSTCam"].ds.hillas_intensity.sel(tel=1)          # doctest: +SKIP
    """
    import tables

    path = check_input_file(path)
    if not is_ctapipe_file(path):
        raise ValueError(f"{path} is not a ctapipe HDF5 file (no {_MODEL_VERSION_ATTR!r} attribute or /dl1 "
                         f"group); it starts with {first_bytes(path)}")
    if focal_length not in ("effective", "equivalent"):
        raise ValueError(f"focal_length must be 'effective' or 'equivalent', got {focal_length!r}")
    try:
        with tables.open_file(path, "r") as h5:
            if f"{_INSTRUMENT}/subarray/layout" not in h5 or "/dl1/event/subarray/trigger" not in h5:
                raise ValueError(f"{path}: a ctapipe file without the instrument or the subarray trigger table "
                                 "(/configuration/instrument/subarray/layout, /dl1/event/subarray/trigger)")
            subarray, focal_lengths = _subarray(h5, path, focal_length)
            root = _root(h5, path, focal_length)
            cameras = {name: _camera(h5, subarray, name, root, focal_lengths, focal_length)
                       for name in subarray.camera_types}
            distribution = _shower_distribution(h5)
            statistics = _image_statistics(h5, np.unique(root["obs_id"].values))
    except (OSError, RuntimeError, tables.NodeError) as err:  # PyTables' message is HDF5's whole back trace
        reason = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        raise ValueError(f"{path} is corrupt: the HDF5 library cannot read it ({reason})") from None
    tree = make_tree(root, subarray.to_dataset(), cameras, shower_distribution=distribution)
    if statistics is not None:
        tree[IMAGE_STATISTICS_PATH] = xr.DataTree(statistics)
    return tree
