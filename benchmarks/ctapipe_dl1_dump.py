"""Dump ctapipe's DL1 (images, masks, image parameters) to a .npz file.

Runs in the separate ctapipe environment, never in iactx's own; the
comparison script ``compare_ctapipe_dl1.py`` calls it through a subprocess.
Only ctapipe's public components are used, with their default
configuration, which is what ``ctapipe-process`` runs:

    EventSource -> CameraCalibrator -> ImageProcessor

Modes
-----
``process``: read a sim_telarray file and dump, per camera, the keys
(obs_id, event_id, tel_id), ``image``, ``peak_time``, ``image_mask`` and
every DL1 parameter in the telescope frame (``hillas_*``, ...), then run the
camera-frame variant (``use_telescope_frame=False``) on the same images and
dump its ``camera_frame_*`` parameters. The fitting random generator that
ctapipe's timing fit uses is reset before each pass, so each pass sees what
``ctapipe-process`` would.

``images``: read images (and peak times, geometry, focal lengths) from an
input .npz written by iactx and run ctapipe's cleaning functions and
ImageProcessor-equivalent parameterisation on them (used for toy images).

``bench``: time ``ImageProcessor`` per telescope event on the calibrated
events of some files (telescopes whose camera name starts with
``--camera``), repeated, and print a JSON line.

``loop``: time ctapipe's per-event loop, ``CameraCalibrator`` then
``ImageProcessor`` (true-image parameters included, as ctapipe-process
does), over the first ``--events`` array events of a file held in memory
(the reading is not timed); print a JSON line with the seconds per run.

usage:
    python ctapipe_dl1_dump.py process INPUT OUT.npz [--calibration-events] [--equivalent-focal-length]
    python ctapipe_dl1_dump.py images IN.npz OUT.npz
    python ctapipe_dl1_dump.py bench INPUT [INPUT ...] [--repeat N] [--runs R] [--camera PREFIX]
    python ctapipe_dl1_dump.py loop INPUT [--events N] [--runs R]
"""

import argparse
import json
import sys
import time

import numpy as np


def _reset_fit_rng():
    from ctapipe import fitting

    fitting.FIT_RNG.bit_generator.state = np.random.default_rng(0).bit_generator.state


def _flatten_parameters(params):
    """Flat {column name: float} of an ImageParametersContainer, in the fields' units."""
    out = {}
    for container in params.values():
        prefix = container.prefix
        for key, field in container.fields.items():
            value = container[key]
            if hasattr(value, "unit"):
                value = value.to_value(field.unit) if field.unit is not None else value.value
            out[f"{prefix}_{key}"] = float(value)
    return out


def _source(path, calibration_events, equivalent):
    from ctapipe.io import EventSource

    kwargs = {}
    if calibration_events:
        kwargs["skip_calibration_events"] = False
    if equivalent:
        kwargs["focal_length_choice"] = "EQUIVALENT"
        return EventSource(path, **kwargs)
    try:
        return EventSource(path, **kwargs)
    except RuntimeError as err:  # no effective focal length in the file: what iactx's reader also falls back to
        if "focal_length_choice" not in str(err):
            raise
        return EventSource(path, focal_length_choice="EQUIVALENT", **kwargs)


def process(args):
    from ctapipe.calib import CameraCalibrator
    from ctapipe.image import ImageProcessor

    rows = {}  # camera name -> dict of lists
    # pass 1: ctapipe-process defaults (telescope frame)
    with _source(args.input, args.calibration_events, args.equivalent_focal_length) as source:
        subarray = source.subarray
        calibrator = CameraCalibrator(subarray=subarray)
        processor = ImageProcessor(subarray=subarray)
        processor_cam = ImageProcessor(subarray=subarray, use_telescope_frame=False)
        events = []
        _reset_fit_rng()
        for event in source:
            calibrator(event)
            processor(event)
            events.append(event)
            for tel_id, dl1 in event.dl1.tel.items():
                cam = str(subarray.tel[tel_id].camera.name)
                r = rows.setdefault(cam, {"keys": [], "image": [], "peak_time": [], "image_mask": [],
                                          "params": [], "params_cam": [], "focal_length": [], "true": []})
                r["keys"].append((event.index.obs_id, event.index.event_id, tel_id))
                r["image"].append(np.asarray(dl1.image))
                r["peak_time"].append(np.asarray(dl1.peak_time))
                r["image_mask"].append(np.asarray(dl1.image_mask))
                r["params"].append(_flatten_parameters(dl1.parameters))
                r["focal_length"].append(subarray.tel[tel_id].camera.geometry.frame.focal_length.to_value("m"))
                sim = event.simulation.tel.get(tel_id) if event.simulation is not None else None
                true = getattr(sim, "true_parameters", None) if sim is not None else None
                r["true"].append(_flatten_parameters(true) if true is not None else None)
    # pass 2: camera frame on the same images
    _reset_fit_rng()
    for event in events:
        processor_cam(event)
        for tel_id, dl1 in event.dl1.tel.items():
            cam = str(subarray.tel[tel_id].camera.name)
            rows[cam]["params_cam"].append(_flatten_parameters(dl1.parameters))
    out = {}
    for cam, r in rows.items():
        out[f"{cam}/keys"] = np.array(r["keys"], np.int64)
        out[f"{cam}/image"] = np.stack(r["image"])
        out[f"{cam}/peak_time"] = np.stack(r["peak_time"])
        out[f"{cam}/image_mask"] = np.stack(r["image_mask"])
        out[f"{cam}/focal_length"] = np.array(r["focal_length"])
        for which in ("params", "params_cam"):
            for name in r[which][0]:
                out[f"{cam}/{which}/{name}"] = np.array([p[name] for p in r[which]])
        if all(t is not None for t in r["true"]):
            for name in r["true"][0]:
                out[f"{cam}/true/{name}"] = np.array([t[name] for t in r["true"]])
    np.savez(args.output, **out)
    print(json.dumps({cam: len(r["keys"]) for cam, r in rows.items()}))


def _parameterize(geom, image, mask, peak_time):
    """What ImageProcessor does for one image, through ctapipe's public functions."""
    from ctapipe.containers import (ImageParametersContainer, IntensityStatisticsContainer,
                                    PeakTimeStatisticsContainer)
    from ctapipe.image import (concentration_parameters, descriptive_statistics, hillas_parameters,
                               leakage_parameters, morphology_parameters, timing_parameters)

    selected = image[mask]
    if not (selected.sum() > 0 and selected.size > 1):
        return None
    g = geom[mask]
    hillas = hillas_parameters(geom=g, image=selected)
    return ImageParametersContainer(
        hillas=hillas,
        timing=timing_parameters(geom=g, image=selected, peak_time=peak_time[mask], hillas_parameters=hillas),
        leakage=leakage_parameters(geom=geom, image=image, cleaning_mask=mask),
        concentration=concentration_parameters(geom=g, image=selected, hillas_parameters=hillas),
        morphology=morphology_parameters(geom=geom, image_mask=mask),
        intensity_statistics=descriptive_statistics(selected, container_class=IntensityStatisticsContainer),
        peak_time_statistics=descriptive_statistics(peak_time[mask], container_class=PeakTimeStatisticsContainer),
    )


def images(args):
    import astropy.units as u
    from ctapipe.coordinates import CameraFrame, TelescopeFrame
    from ctapipe.image import (fact_image_cleaning, mars_cleaning_1st_pass, tailcuts_clean,
                               time_constrained_clean)
    from ctapipe.instrument import CameraGeometry, PixelShape

    data = np.load(args.input)
    image = data["image"]
    peak_time = data["peak_time"]
    focal = data["focal_length"]
    frame = CameraFrame(focal_length=float(focal) * u.m)
    geom = CameraGeometry(
        name="toy", pix_id=np.arange(image.shape[1]), pix_x=data["pix_x"] * u.m, pix_y=data["pix_y"] * u.m,
        pix_area=data["pix_area"] * u.m**2, pix_type=PixelShape(str(data["pix_type"])), frame=frame,
    )
    geom_tel = geom.transform_to(TelescopeFrame())
    out = {"tailcuts": [], "mars": [], "fact": [], "time_constrained": []}
    params, params_cam = [], []
    _reset_fit_rng()
    for img, t in zip(image, peak_time):
        out["tailcuts"].append(tailcuts_clean(geom, img, 10, 5, False, 2))
        out["mars"].append(mars_cleaning_1st_pass(geom, img, 10, 5, False, 2))
        out["fact"].append(fact_image_cleaning(geom, img, t, 10, 5, 2, 5))
        out["time_constrained"].append(time_constrained_clean(geom, img, t, 10, 5, 4.5, 1.5, 2))
    from ctapipe.image.image_processor import DEFAULT_IMAGE_PARAMETERS, DEFAULT_IMAGE_PARAMETERS_CAMFRAME

    for g, store, default in ((geom_tel, params, DEFAULT_IMAGE_PARAMETERS),
                              (geom, params_cam, DEFAULT_IMAGE_PARAMETERS_CAMFRAME)):
        _reset_fit_rng()
        for img, t, mask in zip(image, peak_time, out["tailcuts"]):
            p = _parameterize(g, img, mask, t)
            store.append(_flatten_parameters(p if p is not None else default))
    result = {f"mask/{k}": np.array(v) for k, v in out.items()}
    for which, store in (("params", params), ("params_cam", params_cam)):
        for name in store[0]:
            result[f"{which}/{name}"] = np.array([p[name] for p in store])
    np.savez(args.output, **result)


def bench(args):
    """Time ImageProcessor per telescope event on the calibrated events of some files."""
    from ctapipe.calib import CameraCalibrator
    from ctapipe.image import ImageProcessor

    jobs = []  # (processor, events) per file
    n_tel = 0
    for path in args.inputs:
        with _source(path, False, False) as source:
            subarray = source.subarray
            calibrator = CameraCalibrator(subarray=subarray)
            processor = ImageProcessor(subarray=subarray)
            events = []
            for event in source:
                calibrator(event)
                for tel_id in list(event.dl1.tel):
                    name = str(subarray.tel[tel_id].camera.name).lower()
                    if args.camera and not name.startswith(args.camera.lower()):
                        del event.dl1.tel[tel_id]
                # image processing only: no true-image parameters
                event.simulation = None
                if event.dl1.tel:
                    events.append(event)
                    n_tel += len(event.dl1.tel)
            jobs.append((processor, events))
    for processor, events in jobs:  # warm up numba
        for event in events:
            processor(event)
    wall, cpu = [], []
    for _ in range(args.runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        for _ in range(args.repeat):
            for processor, events in jobs:
                for event in events:
                    processor(event)
        wall.append((time.perf_counter() - start) / (args.repeat * n_tel))
        cpu.append((time.process_time() - start_cpu) / (args.repeat * n_tel))
    print(json.dumps({"tel_events_per_run": args.repeat * n_tel, "seconds_per_tel_event": wall,
                      "cpu_seconds_per_tel_event": cpu}))


def loop(args):
    """Time CameraCalibrator + ImageProcessor event by event on the first events of a file."""
    from ctapipe.calib import CameraCalibrator
    from ctapipe.image import ImageProcessor

    with _source(args.input, False, False) as source:
        subarray = source.subarray
        events = [event for _, event in zip(range(args.events), source)]
    calibrator = CameraCalibrator(subarray=subarray)
    processor = ImageProcessor(subarray=subarray)
    n_tel = sum(len(event.r1.tel) for event in events)

    def run():
        for event in events:
            calibrator(event)
            processor(event)

    run()  # warm up numba
    wall, cpu = [], []
    for _ in range(args.runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        run()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    print(json.dumps({"n_events": len(events), "n_tel_events": n_tel, "seconds_per_run": wall,
                      "cpu_seconds_per_run": cpu}))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("process")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--calibration-events", action="store_true")
    p.add_argument("--equivalent-focal-length", action="store_true")
    p = sub.add_parser("images")
    p.add_argument("input")
    p.add_argument("output")
    p = sub.add_parser("bench")
    p.add_argument("inputs", nargs="+")
    p.add_argument("--repeat", type=int, default=50)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--camera", default=None)
    p = sub.add_parser("loop")
    p.add_argument("input")
    p.add_argument("--events", type=int, default=100)
    p.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    {"process": process, "images": images, "bench": bench, "loop": loop}[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
