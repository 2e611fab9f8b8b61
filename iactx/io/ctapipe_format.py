"""Event trees as ctapipe DL1/DL2 HDF5 files (data model v7, PyTables tables).

The layout and column attributes are those that ctapipe 0.32's
``HDF5EventSource``, ``TableLoader`` and ``read_table`` read, so that a
file written here continues into ctapipe's chain (``ctapipe-merge``,
``ctapipe-train-energy-regressor``, ``ctapipe-apply-models``, ...):

- root attributes: CTA reference metadata, ``CTA PRODUCT DATA MODEL VERSION``
  and ``CTA PRODUCT DATA LEVELS``;
- ``/configuration/instrument``: layout, optics, camera geometry and readout
  (one camera index per camera group and reference pulse);
- ``/configuration/observation``, ``/configuration/simulation/run``,
  ``/configuration/telescope/pointing/tel_NNN``;
- ``/dl1/event/subarray/trigger``, ``/dl1/event/telescope/trigger``,
  ``/dl1/event/telescope/parameters/tel_NNN`` and ``images/tel_NNN``;
- ``/dl2/event/subarray/geometry/HillasReconstructor`` and the telescope
  impact distances after a stereo reconstruction;
- ``/simulation/event/subarray/shower``, ``/simulation/event/telescope/images``
  and ``parameters`` (true images and their parameters),
  ``/simulation/service/shower_distribution``.

Every column carries ctapipe's ``CTAFIELD_<i>_NAME`` (container field),
``_UNIT`` and ``_TRANSFORM`` attributes. Files are written to a temporary
name and renamed when complete.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from .atomic import AtomicOutput, writes
from .ctapipe_schema import (
    DATA_MODEL_VERSION,
    GEOMETRY_COLUMNS,
    IMPACT_COLUMNS,
    TRUE_IMPACT_COLUMNS,
    MUON_GROUPS,
    PARAMETER_GROUPS,
    SHOWER_COLUMNS,
    TRUE_PARAMETER_GROUPS,
    columns,
    field_name,
)
from .reference_metadata import described_by, now, reference_metadata
from .shower_distribution import SHOWER_DISTRIBUTION_PATH

__all__ = ["CtapipeDL1Writer", "write_ctapipe_dl1"]


def _filters():
    import tables

    return tables.Filters(complevel=5, complib="blosc:zstd", shuffle=True, fletcher32=True)


class _Column:
    """One column to write: values, dtype and ctapipe's attributes."""

    def __init__(self, name, values, dtype, unit=None, field=None, transform=None, **extra):
        self.name = name
        self.values = np.asarray(values).astype(dtype, copy=False)
        self.unit = unit
        self.field = field
        self.transform = "quantity" if unit is not None and transform is None else transform
        self.extra = extra


def _write_table(h5, path, cols, *, attrs=None, with_field_names=True):
    """Create table ``path`` from ``cols`` (column attributes as ctapipe writes them), or append to it."""
    n = len(cols[0].values) if cols else 0
    dtype = np.dtype([(c.name, c.values.dtype, c.values.shape[1:]) for c in cols])
    rows = np.empty(n, dtype)
    for c in cols:
        rows[c.name] = c.values
    if path in h5:
        table = h5.get_node(path)
        if table.dtype != dtype:
            raise ValueError(f"{h5.filename}: rows for {path} have columns {dtype}, the table has {table.dtype}")
        table.append(rows)
        return table
    where, name = path.rsplit("/", 1)
    table = h5.create_table(where or "/", name, obj=rows, createparents=True, filters=_filters())
    meta = table.attrs
    for i, c in enumerate(cols):
        if with_field_names:
            meta[f"CTAFIELD_{i}_NAME"] = c.field or c.name
        if c.transform is not None:
            meta[f"CTAFIELD_{i}_TRANSFORM"] = c.transform
        if c.unit is not None:
            meta[f"CTAFIELD_{i}_UNIT"] = c.unit
        for key, value in c.extra.items():
            meta[f"CTAFIELD_{i}_{key}"] = value
    for key, value in (attrs or {}).items():
        meta[key] = value
    return table


def _string(name, values):
    values = np.asarray([str(v).encode() for v in values])
    return _Column(name, values, values.dtype, transform="string", MAXLEN=np.int64(values.dtype.itemsize))


def _from_schema(ds, schema, prefixes):
    """Columns of ``schema`` from the variables of ``ds``.

    A variable missing from ``ds`` gives NaN (float), False (bool) or -1
    (integer columns), ctapipe's values for "not computed".
    """
    out = []
    n = ds.sizes["tel_event"] if "tel_event" in ds.sizes else ds.sizes["event"]
    missing = {"f": np.nan, "b": False}
    for name, dtype, unit, _ in schema:
        values = ds[name].values if name in ds else np.full(n, missing.get(np.dtype(dtype).kind, -1))
        out.append(_Column(name, values, dtype, unit, field=field_name(name, prefixes)))
    return out


def _index_columns(obs_id, event_id, tel_id=None):
    cols = [_Column("obs_id", obs_id, "<i4"), _Column("event_id", event_id, "<i8")]
    if tel_id is not None:
        cols.append(_Column("tel_id", tel_id, "<i2"))
    return cols


def _tai_high_res(times):
    """datetime64 UTC times as ctapipe's ``ctao_high_res`` pairs (TAI seconds, quarter nanoseconds)."""
    from astropy.time import Time

    unix_tai = Time(np.asarray(times, "datetime64[ns]"), scale="utc").unix_tai
    seconds = np.floor(unix_tai)
    ns_utc = np.asarray(times, "datetime64[ns]").astype(np.int64) % 10**9
    pairs = np.empty((len(seconds), 2), np.uint32)
    pairs[:, 0] = seconds
    pairs[:, 1] = ns_utc * 4  # TAI - UTC is an integer number of seconds
    return _Column("time", pairs, "<u4", transform="time", field="time", TIME_SCALE="tai",
                   TIME_FORMAT="ctao_high_res")


def _enum(name, values, enum_class):
    """Integer column of a ctapipe enum.

    ctapipe names the enum class in the attribute ``CTAFIELD_<i>_ENUM`` as a
    pickled reference, which PyTables resolves on reading: a protocol-0
    pickle holding only the global name ``ctapipe.containers.<enum_class>``
    (no code, no data).
    """
    reference = np.bytes_(f"cctapipe.containers\n{enum_class}\n.".encode())
    return _Column(name, values, "<i8", transform="enum", field=name, ENUM=reference)


def _event_type(values):
    return _enum("event_type", values, "EventType")


def _tel_mask(name, tel_ids, ids_per_row, field):
    position = {t: i for i, t in enumerate(tel_ids)}
    mask = np.zeros((len(ids_per_row), len(tel_ids)), bool)
    for row, ids in enumerate(ids_per_row):
        mask[row, [position[t] for t in ids]] = True
    return _Column(name, mask, "?", transform="tel_list_to_mask", field=field)


def _tel_events(tree):
    """Per camera group: (camera dataset, obs_id, event_id, tel_id arrays) of its telescope events.

    Simulated events get their ``true_impact_distance`` [m].
    """
    from ..reco.true_impact import true_impact_distance

    out = []
    for name in tree.iact.cameras:
        cam = tree[name].to_dataset()
        impact = true_impact_distance(tree, name)
        if impact is not None:
            cam = cam.assign(true_impact_distance=impact,
                             true_impact_distance_uncert=xr.zeros_like(impact).assign_attrs(units="m"))
        index = cam.indexes["tel_event"]
        out.append((name, cam, index.get_level_values("obs_id").to_numpy(np.int64),
                    index.get_level_values("event").to_numpy(np.int64),
                    index.get_level_values("tel").to_numpy(np.int64)))
    return out


def _write_instrument(h5, tree, tel_events):
    """Layout, optics, camera geometry and readout tables; return the camera index per group."""
    from astropy import units as u
    from astropy.coordinates import EarthLocation

    inst = tree["instrument"].to_dataset()
    tel_ids = inst["tel"].values.astype(np.int64)
    name = str(inst.attrs.get("subarray_name", "iactx"))
    optics_fields = ("optics_name", "size_type", "reflector_shape", "mirror_area", "n_mirrors", "n_mirror_tiles",
                     "equivalent_focal_length", "effective_focal_length")
    optics_rows = list(zip(*(inst[f].values.tolist() for f in optics_fields)))
    optics_ids = {}
    for row in optics_rows:
        optics_ids.setdefault(repr(row), (len(optics_ids), row))  # repr: NaN focal lengths compare equal
    optics_of = [optics_ids[repr(row)][0] for row in optics_rows]
    optics_keys = [row for _, row in optics_ids.values()]
    camera_index, cameras = {}, []
    for group in tree.iact.cameras:
        cam = tree[group].to_dataset()
        pulses = cam["reference_pulse_shape"].values
        for tel, pulse in zip(cam["readout_tel"].values.tolist(), pulses):
            key = next((i for i, (g, p) in enumerate(cameras) if g == group and np.array_equal(p, pulse)), None)
            if key is None:
                cameras.append((group, pulse))
                key = len(cameras) - 1
            camera_index[tel] = key
    location = EarthLocation.from_geodetic(inst.attrs.get("reference_lon", 0.0) * u.deg,
                                           inst.attrs.get("reference_lat", 0.0) * u.deg,
                                           inst.attrs.get("reference_height", 0.0) * u.m)
    common = {"ORIGIN": "iactx", "SUBARRAY": name}
    layout = [_Column("tel_id", tel_ids, "<u2"), _string("name", inst["optics_name"].values),
              _string("type", inst["size_type"].values)]
    layout += [_Column(f"pos_{axis}", inst[f"pos_{axis}"].values, "<f4", "m") for axis in "xyz"]
    layout += [_string("camera_name", inst["camera_name"].values), _string("optics_name", inst["optics_name"].values),
               _Column("camera_index", [camera_index.get(t, -1) for t in tel_ids.tolist()], "<i8"),
               _Column("optics_index", optics_of, "<i8"), _string("tel_description", inst["tel_type"].values)]
    _write_table(h5, "/configuration/instrument/subarray/layout", layout, with_field_names=False, attrs={
        **common, "TAB_TYPE": "subarray", "TAB_VER": "2.0", "name": name,
        "reference_itrs_x": float(location.x.to_value(u.m)), "reference_itrs_y": float(location.y.to_value(u.m)),
        "reference_itrs_z": float(location.z.to_value(u.m))})
    optics = list(zip(*optics_keys))
    _write_table(h5, "/configuration/instrument/telescope/optics", [
        _string("optics_name", optics[0]), _string("size_type", optics[1]),
        _string("reflector_shape", [s.upper().replace("-", "_") for s in optics[2]]),  # ReflectorShape values
        _Column("mirror_area", optics[3], "<f8", "m**2"),
        _Column("n_mirrors", optics[4], "<i8"), _Column("n_mirror_tiles", optics[5], "<i8"),
        _Column("equivalent_focal_length", optics[6], "<f8", "m"),
        _Column("effective_focal_length", optics[7], "<f8", "m")],
        with_field_names=False, attrs={**common, "TAB_TYPE": "optics", "TAB_VER": "4.0"})
    for i, (group, pulse) in enumerate(cameras):
        cam = tree[group].to_dataset()
        attrs = cam.attrs
        geometry = [_Column("pix_id", cam["pixel"].values, "<i8"), _Column("pix_x", cam["pix_x"].values, "<f8", "m"),
                    _Column("pix_y", cam["pix_y"].values, "<f8", "m"),
                    _Column("pix_area", cam["pix_area"].values, "<f8", "m**2")]
        _write_table(h5, f"/configuration/instrument/telescope/camera/geometry_{i}", geometry, with_field_names=False,
                     attrs={"CAM_ID": attrs["camera_name"], "PIX_TYPE": attrs["pix_type"],
                            "PIX_ROT": float(attrs["pix_rotation"]), "CAM_ROT": float(attrs["cam_rotation"]),
                            "TAB_TYPE": "ctapipe.instrument.CameraGeometry", "TAB_VER": "2.1"})
        width = float(attrs["reference_pulse_sample_width"])
        readout = [_Column(f"reference_pulse_shape_channel{g}", pulse[g], "<f8") for g in range(pulse.shape[0])]
        readout.append(_Column("reference_pulse_sample_time", np.arange(pulse.shape[1]) * width, "<f8", "ns"))
        _write_table(h5, f"/configuration/instrument/telescope/camera/readout_{i}", readout, with_field_names=False,
                     attrs={"CAM_ID": attrs["camera_name"], "NCHAN": np.int64(attrs["n_channels"]),
                            "NPIXELS": np.int64(cam.sizes["pixel"]), "NSAMPLES": np.int32(attrs["n_samples"]),
                            "REFWIDTH": width, "SAMPFREQ": float(attrs["sampling_rate"]),
                            "TAB_TYPE": "ctapipe.instrument.CameraReadout", "TAB_VER": "3.0"})
    return tel_ids


def _write_configuration(h5, tree, tel_events, known):
    """Observation and scheduling blocks, simulation run and telescope pointing of runs not in ``known``.

    ``known`` (a set of obs_id and of (obs_id, tel_id)) is updated.
    """
    root = tree.to_dataset(inherit=False)
    obs_ids = np.array([o for o in np.unique(root["obs_id"].values).tolist() if o not in known], np.int64)
    known.update(obs_ids.tolist())
    if len(obs_ids):
        _write_observation_blocks(h5, root, obs_ids, simulated="simulation_n_showers" in tree.attrs)
        if "simulation_n_showers" in tree.attrs:
            _write_simulation_run(h5, tree.attrs, obs_ids)
    pointing = {}
    for _, cam, obs, _, tel in tel_events:
        for i in range(len(tel)):
            key = (int(obs[i]), int(tel[i]))
            if key not in known:
                known.add(key)
                pointing[key] = (cam["pointing_az"].values[i], cam["pointing_alt"].values[i])
    for (obs, tel_id), (az_deg, alt_deg) in sorted(pointing.items()):
        _write_table(h5, f"/configuration/telescope/pointing/tel_{tel_id:03d}", [
            _Column("obs_id", [obs], "<i4"), _Column("tel_id", [tel_id], "<i8"),
            _Column("telescope_pointing_azimuth", [np.deg2rad(az_deg)], "<f4", "rad", field="azimuth"),
            _Column("telescope_pointing_altitude", [np.deg2rad(alt_deg)], "<f4", "rad", field="altitude")])


def _write_observation_blocks(h5, root, obs_ids, *, simulated):
    """One observation block (array pointing in alt/az, start time) and scheduling block per run."""
    from astropy.time import Time

    n = len(obs_ids)
    first = [int(np.flatnonzero(root["obs_id"].values == o)[0]) for o in obs_ids]
    alt = root["array_altitude"].values[first] if "array_altitude" in root else np.full(n, np.nan)
    az = root["array_azimuth"].values[first] if "array_azimuth" in root else np.full(n, np.nan)
    start = Time(root["trigger_time"].values[first], scale="utc").tai.mjd
    producer = "simulation" if simulated else "iactx"
    _write_table(h5, "/configuration/observation/observation_block", [
        _Column("obs_id", obs_ids, "<u8"), _Column("sb_id", obs_ids, "<u8"), _string("producer_id", [producer] * n),
        _enum("state", np.ones(n), "ObservationBlockState"),
        _Column("subarray_pointing_lat", alt, "<f4", "deg"), _Column("subarray_pointing_lon", az, "<f4", "deg"),
        _enum("subarray_pointing_frame", np.zeros(n), "CoordinateFrameType"),
        _Column("scheduled_duration", np.full(n, np.nan), "<f8", "min"),
        _Column("scheduled_start_time", start, "<f8", transform="time", TIME_FORMAT="mjd", TIME_SCALE="tai"),
        _Column("actual_start_time", start, "<f8", transform="time", TIME_FORMAT="mjd", TIME_SCALE="tai"),
        _Column("actual_duration", np.full(n, np.nan), "<f8", "min")])
    _write_table(h5, "/configuration/observation/scheduling_block", [
        _Column("sb_id", obs_ids, "<u8"), _enum("sb_type", np.zeros(n), "SchedulingBlockType"),
        _string("producer_id", [producer] * n), _enum("observing_mode", np.full(n, -1), "ObservingMode"),
        _enum("pointing_mode", np.full(n, 1), "PointingMode")])


def _write_simulation_run(h5, attrs, obs_ids):
    """``/configuration/simulation/run`` from the root's ``simulation_*`` attributes (-1 or NaN where unknown)."""
    n = len(obs_ids)

    def value(key, default=np.nan):
        return np.full(n, attrs.get(key, default), dtype=float)

    viewcone = value("simulation_viewcone_max")
    cols = [_Column("obs_id", obs_ids, "<i4"), _Column("run_number", obs_ids, "<i4")]
    cols += [_Column(k, np.full(n, -1), "<i8") for k in ("corsika_version", "simtel_version")]
    cols += [_Column("energy_range_min", value("simulation_energy_min"), "<f4", "TeV"),
             _Column("energy_range_max", value("simulation_energy_max"), "<f4", "TeV")]
    cols += [_Column(k, np.full(n, np.nan), "<f8", unit) for k, unit in (
        ("prod_site_B_total", "uT"), ("prod_site_B_declination", "rad"), ("prod_site_B_inclination", "rad"))]
    cols += [_Column("prod_site_alt", value("simulation_observation_height"), "<f8", "m"),
             _Column("spectral_index", value("simulation_spectral_index"), "<f8")]
    cols += [_Column(k, np.full(n, -1), "<i8") for k in
             ("shower_prog_start", "shower_prog_id", "detector_prog_start", "detector_prog_id")]
    cols += [_Column("n_showers", value("simulation_n_showers", -1), "<i8"),
             _Column("shower_reuse", value("simulation_shower_reuse", -1), "<i8")]
    cols += [_Column(k, np.full(n, np.nan), "<f4", "rad") for k in ("max_alt", "min_alt", "max_az", "min_az")]
    cols += [_Column("diffuse", value("simulation_diffuse", 0), "<i8"),
             _Column("max_viewcone_radius", viewcone, "<f4", "deg"),
             _Column("min_viewcone_radius", np.zeros(n), "<f4", "deg"),
             _Column("max_scatter_range", value("simulation_max_scatter_range"), "<f4", "m"),
             _Column("min_scatter_range", np.zeros(n), "<f4", "m")]
    cols += [_Column(k, np.full(n, -1), "<i8") for k in
             ("core_pos_mode", "atmosphere", "corsika_iact_options", "corsika_low_E_model", "corsika_high_E_model")]
    cols += [_Column("corsika_bunchsize", np.full(n, np.nan), "<f8"),
             _Column("corsika_wlen_min", np.full(n, np.nan), "<f8", "nm"),
             _Column("corsika_wlen_max", np.full(n, np.nan), "<f8", "nm")]
    cols += [_Column(k, np.full(n, -1), "<i8") for k in ("corsika_low_E_detail", "corsika_high_E_detail")]
    _write_table(h5, "/configuration/simulation/run", cols)


def _write_events(h5, tree, tel_events, tel_ids):
    """Triggers, simulated showers and the stereo geometry along ``event``."""
    root = tree.to_dataset(inherit=False)
    obs, event = root["obs_id"].values, root["event_id"].values
    triggered = {}
    for _, _, o, e, t in tel_events:
        for key, tel in zip(zip(o.tolist(), e.tolist()), t.tolist()):
            triggered.setdefault(key, []).append(tel)
    keys = list(zip(obs.tolist(), event.tolist()))
    ids_per_event = [sorted(triggered.get(k, [])) for k in keys]
    time = _tai_high_res(root["trigger_time"].values)
    _write_table(h5, "/dl1/event/subarray/trigger", _index_columns(obs, event) + [
        time, _tel_mask("tels_with_trigger", tel_ids.tolist(), ids_per_event, "tels_with_trigger"),
        _event_type(root["event_type"].values)])
    row_of = {k: i for i, k in enumerate(keys)}
    rows = sorted((row_of[(o, e)], t) for _, _, oo, ee, tt in tel_events
                  for o, e, t in zip(oo.tolist(), ee.tolist(), tt.tolist()))
    event_rows = np.array([r for r, _ in rows], np.int64)
    tel_time = _Column("time", time.values[event_rows], "<u4", transform="time", field="time", TIME_SCALE="tai",
                       TIME_FORMAT="ctao_high_res")
    _write_table(h5, "/dl1/event/telescope/trigger", _index_columns(
        obs[event_rows], event[event_rows], [t for _, t in rows]) + [
        tel_time, _event_type(root["event_type"].values[event_rows]),
        _Column("n_trigger_pixels", np.full(len(rows), -1), "<i8")])
    simulated = root["true_energy"].notnull().values if "true_energy" in root else np.zeros(len(keys), bool)
    if simulated.any():
        shower = root.isel(event=simulated)
        _write_table(h5, "/simulation/event/subarray/shower", _index_columns(obs[simulated], event[simulated])
                     + _from_schema(shower, SHOWER_COLUMNS, ["true"]))
    if "HillasReconstructor_alt" in root:
        cols = _index_columns(obs, event) + _from_schema(root, GEOMETRY_COLUMNS, ["HillasReconstructor"])
        used = root["HillasReconstructor_telescopes"].values if "HillasReconstructor_telescopes" in root else None
        ids = [tel_ids[row].tolist() for row in used] if used is not None else [[] for _ in keys]
        cols.append(_tel_mask("HillasReconstructor_telescopes", tel_ids.tolist(), ids, "telescopes"))
        _write_table(h5, "/dl2/event/subarray/geometry/HillasReconstructor", cols)


def _write_telescope_tables(h5, tel_events, *, simulated):
    """Per telescope: DL1 parameters, muon parameters and images, true images and parameters, impact distances.

    Like ctapipe, simulated events always get ``/simulation/event/telescope/images``:
    the true image and its sum when the tree holds true images, else only
    ``true_image_sum`` = -1 (unknown), which ctapipe's ``HDF5EventSource`` needs.
    """
    parameters = columns(PARAMETER_GROUPS)
    true_parameters = columns(TRUE_PARAMETER_GROUPS)
    muon = columns(MUON_GROUPS)
    prefixes = [p for p, _ in PARAMETER_GROUPS + TRUE_PARAMETER_GROUPS + MUON_GROUPS]
    for _, cam, obs, event, tel in tel_events:
        for tel_id in np.unique(tel).tolist():
            sel = cam.isel(tel_event=np.flatnonzero(tel == tel_id))
            rows = tel == tel_id
            index = _index_columns(obs[rows], event[rows], tel[rows])
            name = f"tel_{tel_id:03d}"
            if "hillas_intensity" in sel:
                _write_table(h5, f"/dl1/event/telescope/parameters/{name}",
                             index + _from_schema(sel, parameters, prefixes))
            if "muonring_radius" in sel:
                _write_table(h5, f"/dl1/event/telescope/muon/{name}", index + _from_schema(sel, muon, prefixes))
            if "image" in sel:
                n = sel.sizes["tel_event"]
                is_valid = sel["is_valid"].values if "is_valid" in sel else np.ones(n, bool)
                mask = sel["image_mask"].values if "image_mask" in sel else np.zeros(sel["image"].shape, bool)
                _write_table(h5, f"/dl1/event/telescope/images/{name}", index + [
                    _Column("image", sel["image"].values, "<f4"), _Column("peak_time", sel["peak_time"].values, "<f4"),
                    _Column("image_mask", mask, "?"), _Column("is_valid", is_valid, "?")])
            if "true_image" in sel:
                true_image = sel["true_image"].values
                _write_table(h5, f"/simulation/event/telescope/images/{name}", index + [
                    _Column("true_image_sum", np.where(true_image < 0, 0, true_image).sum(axis=1), "<i4"),
                    _Column("true_image", true_image, "<i4")])
            elif simulated:
                _write_table(h5, f"/simulation/event/telescope/images/{name}",
                             index + [_Column("true_image_sum", np.full(len(index[0].values), -1), "<i4")])
            if "true_hillas_intensity" in sel:
                _write_table(h5, f"/simulation/event/telescope/parameters/{name}",
                             index + _from_schema(sel, true_parameters, prefixes))
            if TRUE_IMPACT_COLUMNS[0][0] in sel:
                _write_table(h5, f"/simulation/event/telescope/impact/{name}",
                             index + _from_schema(sel, TRUE_IMPACT_COLUMNS, ["true_impact"]))
            if IMPACT_COLUMNS[0][0] in sel:
                _write_table(h5, f"/dl2/event/telescope/impact/HillasReconstructor/{name}",
                             index + _from_schema(sel, IMPACT_COLUMNS, ["HillasReconstructor_tel"]))


def _write_shower_distribution(h5, tree, known):
    """Rows of ``/simulation/shower_distribution`` for runs not in ``known`` (updated)."""
    dist = tree[SHOWER_DISTRIBUTION_PATH].to_dataset(inherit=False)
    dist = dist.isel(obs=[i for i, o in enumerate(dist["obs_id"].values.tolist()) if o not in known])
    known.update(dist["obs_id"].values.tolist())
    _write_table(h5, "/simulation/service/shower_distribution", [
        _Column("obs_id", dist["obs_id"].values, "<i4"), _Column("hist_id", dist["hist_id"].values, "<i8"),
        _Column("n_entries", dist["n_entries"].values, "<i8"),
        _Column("bins_energy", dist["bins_energy"].values, "<f8", "TeV"),
        _Column("bins_core_dist", dist["bins_core_dist"].values, "<f8", "m"),
        _Column("histogram", dist["histogram"].values, "<f4")])


#: ctapipe's data levels in the order it lists them, each with the variable that makes a tree hold it
_DATA_LEVELS = {"DL1_IMAGES": "image", "DL1_PARAMETERS": "hillas_intensity", "DL1_MUON": "muonring_radius",
                "DL2": "HillasReconstructor_alt"}


def _data_levels(tree, tel_events):
    """ctapipe data levels (keys of ``_DATA_LEVELS``) held by ``tree``."""
    names = set(tree.to_dataset(inherit=False).data_vars).union(*(cam.data_vars for _, cam, *_ in tel_events))
    return {level for level, name in _DATA_LEVELS.items() if name in names}


class CtapipeDL1Writer(AtomicOutput):
    """Write event trees batch by batch into one ctapipe-format HDF5 file, atomically.

    The first batch fixes the instrument; every batch appends its events to
    the tables (creating those it is the first to fill), and runs new to the
    file add their observation blocks, pointing and shower distribution.
    Everything goes to a temporary file beside ``path``, renamed on
    :meth:`close`; an error inside a ``with`` block removes it.

    Parameters
    ----------
    path : str or Path
        Output file, conventionally ``*.dl1.h5``.
    overwrite : bool
        Replace an existing file (only when the new one is complete).
    """

    def __init__(self, path, *, overwrite=False):
        import tables

        super().__init__(path, overwrite=overwrite)
        self._h5 = tables.open_file(self._tmp, mode="w")
        self._start = now()
        self._tel_ids = None
        self._known_runs = set()
        self._known_distributions = set()
        self._levels = set()
        self._first = None
        self._extra_attrs = {}
        self.n_events = 0

    @writes
    def append(self, tree):
        """Append the events of ``tree`` (same instrument as the first batch).

        A batch without events (all rejected by an event selection) adds
        only its run's shower distribution, if it carries one.
        """
        has_distribution = SHOWER_DISTRIBUTION_PATH.strip("/") in {n.path.strip("/") for n in tree.subtree}
        if not tree.sizes.get("event", 0):
            if has_distribution:
                _write_shower_distribution(self._h5, tree, self._known_distributions)
            return
        tel_events = _tel_events(tree)
        if self._tel_ids is None:
            self._tel_ids = _write_instrument(self._h5, tree, tel_events)
            self._first = tree
        _write_configuration(self._h5, tree, tel_events, self._known_runs)
        _write_events(self._h5, tree, tel_events, self._tel_ids)
        _write_telescope_tables(self._h5, tel_events, simulated="simulation_n_showers" in tree.attrs)
        if has_distribution:
            _write_shower_distribution(self._h5, tree, self._known_distributions)
        self._levels.update(_data_levels(tree, tel_events))
        self.n_events += tree.sizes.get("event", 0)

    @writes
    def add_node(self, path, ds):
        """Write a node known only at the end: the image statistics (:data:`~iactx.io.dl1.IMAGE_STATISTICS_PATH`).

        They go to ctapipe's ``/dl1/service/image_statistics``, the runs' counts summed.
        """
        from .dl1 import IMAGE_STATISTICS_PATH

        if path != IMAGE_STATISTICS_PATH:
            raise ValueError(f"{self.path}: ctapipe's layout has no place for the node {path}")
        _write_table(self._h5, "/dl1/service/image_statistics", [
            _string("criteria", ds["criterion"].values), _Column("counts", ds["counts"].sum("obs").values, "<i8"),
            _Column("cumulative_counts", ds["cumulative_counts"].sum("obs").values, "<i8"),
            _string("func", ds["criterion_expression"].values)])

    def update_attrs(self, **attrs):
        """Root attributes to add when the file is closed (e.g. provenance)."""
        self._extra_attrs.update(attrs)

    @writes
    def _finish(self):
        """Write the root metadata and close the file."""
        if self._first is None:
            raise ValueError(f"nothing was written to {self.path}: no events")
        import tables

        levels = [level for level in _DATA_LEVELS if level in self._levels]
        metadata = reference_metadata(
            **described_by(self._first), levels=levels, start=self._start, activity=str(self._extra_attrs.get("created_by", "iactx")),
            product_format="hdf5", description="iactx DL1 event tree in ctapipe's data model", data_model="ASWG",
            data_model_version=DATA_MODEL_VERSION)
        with warnings.catch_warnings():  # ctapipe's attribute names have spaces, unusable as Python names
            warnings.simplefilter("ignore", tables.NaturalNameWarning)
            for key, value in {**metadata, **self._extra_attrs}.items():  # a given contact wins
                self._h5.root._v_attrs[key] = value
        self._h5.close()

    def abort(self):
        """Close and remove the temporary file; nothing is left behind."""
        if self._h5.isopen:
            self._h5.close()
        super().abort()


def write_ctapipe_dl1(tree, path, *, overwrite=False):
    """Write an event tree as a ctapipe DL1 (and DL2) HDF5 file, atomically.

    Parameters
    ----------
    tree : xarray.DataTree
        Processed event tree (parameters and, optionally, images, true
        images, stereo geometry, ``/simulation/shower_distribution``).
    path : str or Path
        Output file, conventionally ``*.dl1.h5``.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is false.

    Notes
    -----
    Columns take ctapipe's dtypes (``leakage_intensity_width_*`` and the
    intensity and peak-time statistics in float32, morphology counts in
    int64), so values held in float64 in the tree keep float32 precision
    there. Per-telescope trigger times are the event's trigger time.
    For data that arrives in batches use :class:`CtapipeDL1Writer`.
    """
    with CtapipeDL1Writer(path, overwrite=overwrite) as writer:
        writer.append(tree)
    return writer.path
