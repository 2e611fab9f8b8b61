"""Dump ctapipe's muon analysis to a .npz file, or time it.

Runs in the separate ctapipe environment, never in iactx's own; the
comparison script ``compare_ctapipe_muons.py`` calls it through a
subprocess. Only ctapipe's public components are used with their default
configuration, which is what ``ctapipe-process --write-muon-parameters``
runs:

    EventSource -> CameraCalibrator -> ImageProcessor -> MuonProcessor

Modes
-----
``process``: read a sim_telarray file and dump, per camera, the keys
(obs_id, event_id, tel_id), the DL1 ``image``, ``peak_time`` and
``image_mask`` (the mask the MuonProcessor uses), ``hillas_intensity`` and
``morphology_n_pixels`` (its image query), the telescope-frame pixel
coordinates and camera radius it works with, and every MuonProcessor output
as ``muonring_*``, ``muonparameters_*``, ``muonefficiency_*`` (in the
containers' units: deg, deg2, m). In addition each of the three ring-fit
methods is run once on the cleaning mask (``single/<method>/<field>``) so
that every fitter can be compared on its own.

``toys``: take the first telescope event of a sim_telarray file as a
template (its telescope, camera and optics), replace its DL1 image by each
image of an input .npz (``image``, shape (n_images, n_pixels), p.e.), and
run ImageProcessor (cleaning, parameters) and MuonProcessor on it; dump the
cleaning masks and the muon outputs like ``process``.

``bench``: time, per telescope event with a muon candidate, the ring fit
(three iterations as in the MuonProcessor), the intensity fit, and the whole
MuonProcessor; print a JSON line.

usage:
    python ctapipe_muon_dump.py process INPUT OUT.npz
    python ctapipe_muon_dump.py toys INPUT IMAGES.npz OUT.npz
    python ctapipe_muon_dump.py bench INPUT [--repeat N] [--runs R]
"""

import argparse
import json
import sys
import time

import numpy as np

_METHODS = ("kundu_chaudhuri", "taubin", "kundu_chaudhuri_taubin")


def _source(path):
    from ctapipe.io import EventSource

    try:
        return EventSource(path)
    except RuntimeError as err:  # no effective focal length: iactx's reader falls back the same way
        if "focal_length_choice" not in str(err):
            raise
        return EventSource(path, focal_length_choice="EQUIVALENT")


def _flatten(container, prefix):
    out = {}
    for key, field in container.fields.items():
        value = container[key]
        if hasattr(value, "unit"):
            unit = field.unit if field.unit is not None else value.unit
            value = value.to_value(unit)
        out[f"{prefix}_{key}"] = float(value)
    return out


def _calibrated_events(path):
    from ctapipe.calib import CameraCalibrator
    from ctapipe.image import ImageProcessor

    with _source(path) as source:
        subarray = source.subarray
        calibrator = CameraCalibrator(subarray=subarray)
        processor = ImageProcessor(subarray=subarray)
        events = []
        for event in source:
            calibrator(event)
            processor(event)
            events.append(event)
    return subarray, events


def process(args):
    import astropy.units as u
    from ctapipe.image.muon import MuonProcessor, MuonRingFitter

    subarray, events = _calibrated_events(args.input)
    muons = MuonProcessor(subarray=subarray)
    fitters = {m: MuonRingFitter(fit_method=m) for m in _METHODS}
    rows = {}
    for event in events:
        muons(event)
        for tel_id, dl1 in event.dl1.tel.items():
            cam = str(subarray.tel[tel_id].camera.name)
            geom = muons.geometries[tel_id]
            r = rows.setdefault(cam, {"keys": [], "image": [], "peak_time": [], "image_mask": [],
                                      "hillas_intensity": [], "morphology_n_pixels": [], "muon": [],
                                      "single": [], "focal_length": []})
            r["keys"].append((event.index.obs_id, event.index.event_id, tel_id))
            r["image"].append(np.asarray(dl1.image))
            r["peak_time"].append(np.asarray(dl1.peak_time))
            r["image_mask"].append(np.asarray(dl1.image_mask))
            r["hillas_intensity"].append(float(dl1.parameters.hillas.intensity))
            r["morphology_n_pixels"].append(float(dl1.parameters.morphology.n_pixels))
            r["focal_length"].append(subarray.tel[tel_id].camera.geometry.frame.focal_length.to_value("m"))
            m = event.muon.tel[tel_id]
            r["muon"].append({**_flatten(m.ring, "muonring"), **_flatten(m.parameters, "muonparameters"),
                              **_flatten(m.efficiency, "muonefficiency")})
            single = {}
            if np.count_nonzero(dl1.image_mask) >= 3:
                for method, fitter in fitters.items():
                    ring = fitter(geom, dl1.image, dl1.image_mask)
                    for key, value in _flatten(ring, "muonring").items():
                        single[f"{method}/{key}"] = value
            r["single"].append(single)
            r["pix_lon"] = geom.pix_x.to_value(u.deg)
            r["pix_lat"] = geom.pix_y.to_value(u.deg)
            r["pixel_width"] = geom.pixel_width.to_value(u.deg)
            r["fov_radius"] = muons.fov_radius[tel_id].to_value(u.deg)
    out = {}
    for cam, r in rows.items():
        out[f"{cam}/keys"] = np.array(r["keys"], np.int64)
        for name in ("image", "peak_time", "image_mask"):
            out[f"{cam}/{name}"] = np.stack(r[name])
        for name in ("hillas_intensity", "morphology_n_pixels", "focal_length"):
            out[f"{cam}/{name}"] = np.array(r[name])
        for name in ("pix_lon", "pix_lat", "pixel_width", "fov_radius"):
            out[f"{cam}/geometry/{name}"] = np.asarray(r[name])
        for name in r["muon"][0]:
            out[f"{cam}/muon/{name}"] = np.array([m[name] for m in r["muon"]])
        names = sorted({k for s in r["single"] for k in s})
        for name in names:
            out[f"{cam}/single/{name}"] = np.array([s.get(name, np.nan) for s in r["single"]])
    np.savez(args.output, **out)
    print(json.dumps({cam: len(r["keys"]) for cam, r in rows.items()}))


def toys(args):
    from copy import deepcopy

    from ctapipe.calib import CameraCalibrator
    from ctapipe.image import ImageProcessor
    from ctapipe.image.muon import MuonProcessor

    images = np.load(args.images)["image"]
    with _source(args.input) as source:
        subarray = source.subarray
        calibrator = CameraCalibrator(subarray=subarray)
        template = next(iter(source))
        calibrator(template)
    tel_id = next(iter(template.dl1.tel))
    processor = ImageProcessor(subarray=subarray)
    muons = MuonProcessor(subarray=subarray)
    masks, rows = [], []
    for image in images:
        event = deepcopy(template)
        for other in [t for t in event.dl1.tel if t != tel_id]:
            del event.dl1.tel[other]
        event.simulation = None
        event.dl1.tel[tel_id].image = image.astype(np.float32)
        processor(event)
        muons(event)
        masks.append(np.asarray(event.dl1.tel[tel_id].image_mask))
        m = event.muon.tel[tel_id]
        rows.append({**_flatten(m.ring, "muonring"), **_flatten(m.parameters, "muonparameters"),
                     **_flatten(m.efficiency, "muonefficiency")})
    out = {"image_mask": np.array(masks), "tel_id": tel_id}
    for name in rows[0]:
        out[f"muon/{name}"] = np.array([r[name] for r in rows])
    np.savez(args.output, **out)
    print(json.dumps({"n_images": len(rows)}))


def bench(args):
    from ctapipe.image.muon import MuonProcessor

    subarray, events = _calibrated_events(args.input)
    muons = MuonProcessor(subarray=subarray)
    candidates = []  # (event, tel_id) pairs that pass the image query
    for event in events:
        for tel_id, dl1 in event.dl1.tel.items():
            if all(muons.dl1_query(dl1_params=dl1.parameters)):
                candidates.append((event, tel_id))
    if not candidates:
        print(json.dumps({"n_candidates": 0}))
        return

    def ring_fit(event, tel_id):
        dl1 = event.dl1.tel[tel_id]
        geometry = muons.geometries[tel_id]
        mask = dl1.image_mask
        for _ in range(3):
            ring = muons.ring_fitter(geometry, dl1.image, mask)
            dist = np.hypot(geometry.pix_x - ring.center_fov_lon, geometry.pix_y - ring.center_fov_lat)
            mask = np.abs(dist - ring.radius) / ring.radius < 0.4
        return ring, mask

    fitted = [ring_fit(e, t) for e, t in candidates]

    def intensity_fit(event, tel_id, ring, mask):
        dl1 = event.dl1.tel[tel_id]
        return muons.intensity_fitter(tel_id, ring.center_fov_lon, ring.center_fov_lat, ring.radius,
                                      dl1.image, mask=mask,
                                      pedestal=np.full(mask.shape, muons.pedestal.tel[tel_id]))

    def whole(event, tel_id):
        muons._process_telescope_event(event, tel_id)

    timings = {}
    work = {
        "ring_fit": lambda: [ring_fit(e, t) for e, t in candidates],
        "intensity_fit": lambda: [intensity_fit(e, t, r, m) for (e, t), (r, m) in zip(candidates, fitted)],
        "muon_processor": lambda: [whole(e, t) for e, t in candidates],
    }
    for name, func in work.items():
        func()  # warm up (numba, caches)
        per = []
        for _ in range(args.runs):
            start = time.perf_counter()
            for _ in range(args.repeat):
                func()
            per.append((time.perf_counter() - start) / (args.repeat * len(candidates)))
        timings[name] = per
    print(json.dumps({"n_candidates": len(candidates), "seconds_per_image": timings}))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("process")
    p.add_argument("input")
    p.add_argument("output")
    p = sub.add_parser("toys")
    p.add_argument("input")
    p.add_argument("images")
    p.add_argument("output")
    p = sub.add_parser("bench")
    p.add_argument("input")
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    {"process": process, "toys": toys, "bench": bench}[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
