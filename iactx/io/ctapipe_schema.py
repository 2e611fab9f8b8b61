"""Columns of ctapipe's HDF5 DL1/DL2 tables (data model v7), as ctapipe 0.32 writes them.

Used by the writer (:mod:`iactx.io.ctapipe_format`). A column is ``(name, dtype, ctapipe unit,
iactx unit)``; its field name inside ctapipe's container is the column name
without its group prefix (``hillas_fov_lon`` -> ``fov_lon``).
"""

from __future__ import annotations

__all__ = [
    "DATA_MODEL_VERSION",
    "EVENT_INDEX",
    "EVENT_TYPES",
    "GEOMETRY_COLUMNS",
    "IMPACT_COLUMNS",
    "MUON_GROUPS",
    "PARAMETER_GROUPS",
    "SHOWER_COLUMNS",
    "TEL_EVENT_INDEX",
    "TRUE_IMPACT_COLUMNS",
    "TRUE_PARAMETER_GROUPS",
    "columns",
    "field_name",
]

#: version of ctapipe's data model that the files declare
DATA_MODEL_VERSION = "v7.6.0"

EVENT_INDEX = [("obs_id", "<i4", None, None), ("event_id", "<i8", None, None)]
TEL_EVENT_INDEX = EVENT_INDEX + [("tel_id", "<i2", None, None)]

_HILLAS = [
    ("intensity", "<f8", None, "pe"), ("skewness", "<f8", None, None), ("kurtosis", "<f8", None, None),
    ("fov_lon", "<f8", "deg", "deg"), ("fov_lat", "<f8", "deg", "deg"), ("r", "<f8", "deg", "deg"),
    ("phi", "<f8", "deg", "deg"), ("length", "<f8", "deg", "deg"), ("length_uncertainty", "<f8", "deg", "deg"),
    ("width", "<f8", "deg", "deg"), ("width_uncertainty", "<f8", "deg", "deg"), ("psi", "<f8", "deg", "deg"),
    ("psi_uncertainty", "<f8", "deg", "deg"), ("transverse_cog_uncertainty", "<f8", "deg", "deg"),
]
_TIMING = [("intercept", "<f8", None, "ns"), ("deviation", "<f8", None, "ns"),
           ("slope", "<f8", "deg**-1", "ns deg-1")]
_LEAKAGE = [("pixels_width_1", "<f8", None, None), ("pixels_width_2", "<f8", None, None),
            ("intensity_width_1", "<f4", None, None), ("intensity_width_2", "<f4", None, None)]
_TRUE_LEAKAGE = [(name, "<f8", unit, ours) for name, _, unit, ours in _LEAKAGE]
_CONCENTRATION = [("cog", "<f8", None, None), ("core", "<f8", None, None), ("pixel", "<f8", None, None)]
_MORPHOLOGY = [(name, "<i8", None, None) for name in
               ("n_pixels", "n_islands", "n_small_islands", "n_medium_islands", "n_large_islands")]


def _statistics(small, large, unit):
    """max, min, mean, std in the image's dtype (``small``), skewness and kurtosis in float64."""
    return ([("max", small[0], None, unit), ("min", small[0], None, unit), ("mean", small[1], None, unit),
             ("std", small[1], None, unit)] + [("skewness", large, None, None), ("kurtosis", large, None, None)])


#: groups of ``/dl1/event/telescope/parameters/tel_NNN`` in ctapipe's order: (prefix, fields)
PARAMETER_GROUPS = [
    ("hillas", _HILLAS), ("timing", _TIMING), ("leakage", _LEAKAGE), ("concentration", _CONCENTRATION),
    ("morphology", _MORPHOLOGY), ("intensity", _statistics(("<f4", "<f4"), "<f8", "pe")),
    ("peak_time", _statistics(("<f4", "<f4"), "<f8", "ns")), ("core", [("psi", "<f8", "deg", "deg")]),
]
#: groups of ``/simulation/event/telescope/parameters/tel_NNN`` (parameters of the true image)
TRUE_PARAMETER_GROUPS = [
    ("true_hillas", _HILLAS), ("true_leakage", _TRUE_LEAKAGE), ("true_concentration", _CONCENTRATION),
    ("true_morphology", _MORPHOLOGY), ("true_intensity", _statistics(("<i4", "<f8"), "<f8", "pe")),
]
#: groups of ``/dl1/event/telescope/muon/tel_NNN`` (ring fit, ring parameters, optical efficiency)
MUON_GROUPS = [
    ("muonring", [(name, "<f8", "deg", "deg") for name in (
        "center_fov_lon", "center_fov_lat", "radius", "center_fov_lon_err", "center_fov_lat_err", "radius_err",
        "center_phi", "center_distance")]),
    ("muonparameters", [
        ("containment", "<f8", None, None), ("completeness", "<f8", None, None),
        ("intensity_ratio", "<f4", None, None), ("mean_squared_error", "<f8", "deg**2", "deg2"),
        ("ring_intensity", "<f4", None, "pe"), ("intensity_outside_ring", "<f4", None, "pe"),
        ("n_pixels_in_ring", "<i8", None, None), ("mean_intensity_outside_ring", "<f4", None, "pe"),
        ("radial_std_dev", "<f8", "deg", "deg"), ("skewness", "<f8", None, None),
        ("excess_kurtosis", "<f8", None, None)]),
    ("muonefficiency", [
        ("width", "<f8", "deg", "deg"), ("impact", "<f8", "m", "m"), ("impact_x", "<f8", "m", "m"),
        ("impact_y", "<f8", "m", "m"), ("optical_efficiency", "<f8", None, None), ("is_valid", "?", None, None),
        ("parameters_at_limit", "?", None, None), ("likelihood_value", "<f8", None, None)]),
]
#: ``/simulation/event/subarray/shower`` after the event index
SHOWER_COLUMNS = [("true_energy", "<f8", "TeV", "TeV"), ("true_alt", "<f8", "deg", "deg"),
                  ("true_az", "<f8", "deg", "deg"), ("true_core_x", "<f8", "m", "m"),
                  ("true_core_y", "<f8", "m", "m"), ("true_h_first_int", "<f8", "m", "m"),
                  ("true_x_max", "<f8", "g.cm**-2", "g cm-2"), ("true_starting_grammage", "<f8", "g.cm**-2", "g cm-2"),
                  ("true_shower_primary_id", "<i8", None, None)]
_RECO = "HillasReconstructor"
#: ``/dl2/event/subarray/geometry/HillasReconstructor`` after the event index (without the telescope mask)
GEOMETRY_COLUMNS = [(f"{_RECO}_{name}", dtype, unit, unit) for name, dtype, unit in [
    ("alt", "<f8", "deg"), ("alt_uncert", "<f8", "deg"), ("az", "<f8", "deg"), ("az_uncert", "<f8", "deg"),
    ("ang_distance_uncert", "<f8", "deg"), ("core_x", "<f8", "m"), ("core_y", "<f8", "m"),
    ("core_uncert_x", "<f8", "m"), ("core_uncert_y", "<f8", "m"), ("core_tilted_x", "<f8", "m"),
    ("core_tilted_y", "<f8", "m"), ("core_tilted_uncert_x", "<f8", "m"), ("core_tilted_uncert_y", "<f8", "m"),
    ("h_max", "<f8", "m"), ("h_max_uncert", "<f8", "m"), ("is_valid", "?", None),
    ("average_intensity", "<f8", None), ("goodness_of_fit", "<f8", None)]]
#: ``/dl2/event/telescope/impact/HillasReconstructor/tel_NNN`` after the telescope-event index
IMPACT_COLUMNS = [(f"{_RECO}_tel_impact_distance", "<f8", "m", "m"),
                  (f"{_RECO}_tel_impact_distance_uncert", "<f8", "m", "m")]
#: ``/simulation/event/telescope/impact``: distance of each telescope from the true shower axis
TRUE_IMPACT_COLUMNS = [("true_impact_distance", "<f8", "m", "m"), ("true_impact_distance_uncert", "<f8", "m", "m")]
#: event types of the ``event_type`` columns (CTAO codes); their names as in ctapipe's EventType
EVENT_TYPES = {0: "FLATFIELD", 1: "SINGLE_PE", 2: "SKY_PEDESTAL", 3: "DARK_PEDESTAL", 4: "ELECTRONIC_PEDESTAL",
               5: "OTHER_CALIBRATION", 16: "MUON", 17: "HARDWARE_STEREO", 24: "DAQ", 32: "SUBARRAY", 255: "UNKNOWN"}


def columns(groups):
    """Flat column list ``(name, dtype, ctapipe unit, iactx unit)`` of prefixed groups."""
    return [(f"{prefix}_{name}", dtype, unit, ours) for prefix, fields in groups for name, dtype, unit, ours in fields]


def field_name(column, prefixes):
    """ctapipe's container field of ``column``: the column without the longest matching prefix."""
    for prefix in sorted(prefixes, key=len, reverse=True):
        if column.startswith(prefix + "_"):
            return column[len(prefix) + 1:]
    return column
