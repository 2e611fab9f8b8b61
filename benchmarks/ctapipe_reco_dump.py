"""Run ctapipe's HillasReconstructor (or HillasIntersection) and dump its inputs and outputs to a .npz file.

Runs in the separate ctapipe environment, never in iactx's; the comparison
script ``compare_ctapipe_reco.py`` and the tests call it through a
subprocess. Only ctapipe's public components with their default
configuration are used.

Modes
-----
``process``: read a sim_telarray file and run what ``ctapipe-process``
runs with ``--reconstruct``: EventSource -> CameraCalibrator ->
ImageProcessor -> ShowerProcessor (HillasReconstructor with the default
StereoQualityQuery). Dump per telescope event the keys, the Hillas
parameters in the telescope frame, ``morphology_n_pixels``, the pointing,
the core-corrected ``core_psi`` and the impact distance; per event the
array pointing and every ``HillasReconstructor_*`` field; and the subarray
(telescope ids, positions, reference height, camera radius in degrees).

``hillas``: read Hillas parameters and pointings written by iactx (toy
stereo events) from IN.npz, put them into ctapipe event containers for the
subarray of a sim_telarray file, run HillasReconstructor on each event
and dump the same outputs, plus the time ctapipe spent per event.

The reconstructor is HillasReconstructor unless ``RECONSTRUCTOR=HillasIntersection``
is set in the environment; the dumped fields are the same (``ev_*`` from its
``<name>_*`` geometry, ``tel_impact_distance`` from its impact parameters).

usage:
    python ctapipe_reco_dump.py process INPUT.simtel OUT.npz
    python ctapipe_reco_dump.py hillas IN.npz SUBARRAY.simtel OUT.npz
"""

import os
import sys
import time
import warnings

import numpy as np

HILLAS = ("intensity", "fov_lon", "fov_lat", "r", "phi", "psi", "length", "width", "skewness", "kurtosis")
GEOMETRY = ("alt", "alt_uncert", "az", "az_uncert", "ang_distance_uncert", "core_x", "core_y",
            "core_uncert_x", "core_uncert_y", "core_tilted_x", "core_tilted_y", "core_tilted_uncert_x",
            "core_tilted_uncert_y", "h_max", "h_max_uncert", "average_intensity", "goodness_of_fit")
RECONSTRUCTOR = os.environ.get("RECONSTRUCTOR", "HillasReconstructor")
UNITS = {"alt": "deg", "az": "deg", "alt_uncert": "deg", "az_uncert": "deg", "ang_distance_uncert": "deg"}


def _value(q, unit=None):
    """A float64 value in ``unit``; converted in float64 (ctapipe keeps some angles as float32 radians)."""
    if hasattr(q, "unit"):
        q = q.astype(np.float64)
        return float(q.to_value(unit)) if unit else float(q.value)
    return float(q) if q is not None else np.nan


def _subarray_arrays(subarray, reconstructor):
    import astropy.units as u

    tel_ids = np.array(subarray.tel_ids, dtype=np.int64)
    pos = subarray.tel_coords.cartesian.xyz.to_value(u.m).T
    return {
        "sub_tel_id": tel_ids,
        "sub_pos": pos,
        "sub_cam_radius_deg": np.array([getattr(reconstructor, "_cam_radius_deg", {}).get(t, np.nan)
                                        for t in tel_ids]),
        "sub_cam_radius_m": np.array([getattr(reconstructor, "_cam_radius_m", {}).get(t, np.nan) for t in tel_ids]),
        "reference_height": np.array(subarray.reference_location.geodetic.height.to_value(u.m)),
    }


class _Collector:
    def __init__(self, subarray):
        self.subarray = subarray
        self.tel = {k: [] for k in ("obs_id", "event_id", "tel_id", "pointing_alt", "pointing_az",
                                    "morphology_n_pixels", "core_psi", "impact_distance",
                                    *(f"hillas_{h}" for h in HILLAS))}
        self.ev = {k: [] for k in ("obs_id", "event_id", "array_alt", "array_az", "is_valid", "telescopes",
                                   *GEOMETRY)}

    def add(self, event):
        import astropy.units as u

        obs_id, event_id = event.index.obs_id, event.index.event_id
        for tel_id, dl1 in event.dl1.tel.items():
            t = self.tel
            t["obs_id"].append(obs_id)
            t["event_id"].append(event_id)
            t["tel_id"].append(tel_id)
            pointing = event.monitoring.tel[tel_id].pointing
            t["pointing_alt"].append(_value(pointing.altitude, u.deg))
            t["pointing_az"].append(_value(pointing.azimuth, u.deg))
            t["morphology_n_pixels"].append(int(dl1.parameters.morphology.n_pixels))
            t["core_psi"].append(_value(dl1.parameters.core.psi, u.deg))
            impact = event.dl2.tel[tel_id].impact.get(RECONSTRUCTOR)
            t["impact_distance"].append(_value(impact.distance, u.m) if impact is not None else np.nan)
            hillas = dl1.parameters.hillas
            for h in HILLAS:
                t[f"hillas_{h}"].append(_value(hillas[h], u.deg if h in ("fov_lon", "fov_lat", "phi", "psi",
                                                                        "length", "width", "r") else None))
        geometry = event.dl2.stereo.geometry[RECONSTRUCTOR]
        e = self.ev
        e["obs_id"].append(obs_id)
        e["event_id"].append(event_id)
        e["array_alt"].append(_value(event.monitoring.pointing.array_altitude, u.deg))
        e["array_az"].append(_value(event.monitoring.pointing.array_azimuth, u.deg))
        e["is_valid"].append(bool(geometry.is_valid))
        used = set(geometry.telescopes or [])
        e["telescopes"].append([t in used for t in self.subarray.tel_ids])
        for g in GEOMETRY:
            value = geometry[g]
            unit = UNITS.get(g, "m") if hasattr(value, "unit") else None
            e[g].append(_value(value, unit))

    def arrays(self):
        out = {f"tel_{k}": np.asarray(v) for k, v in self.tel.items()}
        out.update({f"ev_{k}": np.asarray(v) for k, v in self.ev.items()})
        return out


def process(path, out):
    from ctapipe.calib import CameraCalibrator
    from ctapipe.image import ImageProcessor
    from ctapipe.io import EventSource
    from ctapipe.reco import ShowerProcessor

    with EventSource(path) as source:
        subarray = source.subarray
        calibrate = CameraCalibrator(subarray=subarray)
        image_processor = ImageProcessor(subarray=subarray)
        shower_processor = ShowerProcessor(subarray=subarray, reconstructor_types=[RECONSTRUCTOR])
        collector = _Collector(subarray)
        for event in source:
            calibrate(event)
            image_processor(event)
            shower_processor(event)
            collector.add(event)
    reconstructor = shower_processor.reconstructors[0]
    np.savez(out, **collector.arrays(), **_subarray_arrays(subarray, reconstructor))


def hillas(inp, subarray_path, out):
    import astropy.units as u

    from ctapipe.containers import (
        ArrayEventContainer,
        HillasParametersContainer,
        ImageParametersContainer,
        MorphologyContainer,
    )
    from ctapipe.coordinates import MissingFrameAttributeWarning
    from ctapipe.io import EventSource
    from ctapipe.reco import HillasIntersection, HillasReconstructor

    warnings.simplefilter("ignore", MissingFrameAttributeWarning)
    d = dict(np.load(inp))
    with EventSource(subarray_path) as source:
        subarray = source.subarray
    reconstructor = {"HillasReconstructor": HillasReconstructor,
                     "HillasIntersection": HillasIntersection}[RECONSTRUCTOR](subarray)
    collector = _Collector(subarray)
    offsets = d["offsets"]
    events = []
    for i in range(len(offsets) - 1):
        event = ArrayEventContainer()
        event.index.obs_id = int(d["ev_obs_id"][i])
        event.index.event_id = int(d["ev_event_id"][i])
        event.monitoring.pointing.array_altitude = d["ev_array_alt"][i] * u.deg
        event.monitoring.pointing.array_azimuth = d["ev_array_az"][i] * u.deg
        tels = []
        for j in range(offsets[i], offsets[i + 1]):
            tel_id = int(d["tel_id"][j])
            tels.append(tel_id)
            hillas_container = HillasParametersContainer(
                intensity=float(d["hillas_intensity"][j]),
                fov_lon=d["hillas_fov_lon"][j] * u.deg, fov_lat=d["hillas_fov_lat"][j] * u.deg,
                psi=d["hillas_psi"][j] * u.deg, length=d["hillas_length"][j] * u.deg,
                width=d["hillas_width"][j] * u.deg,
            )
            event.dl1.tel[tel_id].parameters = ImageParametersContainer(
                hillas=hillas_container, morphology=MorphologyContainer(n_pixels=int(d["morphology_n_pixels"][j])))
            event.monitoring.tel[tel_id].pointing.altitude = d["pointing_alt"][j] * u.deg
            event.monitoring.tel[tel_id].pointing.azimuth = d["pointing_az"][j] * u.deg
        event.trigger.tels_with_trigger = np.array(tels)
        events.append(event)
    start = time.perf_counter()
    for event in events:
        reconstructor(event)
    elapsed = time.perf_counter() - start
    for event in events:
        collector.add(event)
    np.savez(out, **collector.arrays(), **_subarray_arrays(subarray, reconstructor),
             seconds_per_event=np.array(elapsed / max(len(events), 1)))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "process":
        process(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 5 and sys.argv[1] == "hillas":
        hillas(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)
