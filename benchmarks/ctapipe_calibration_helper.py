"""ctapipe's calibration of sim_telarray files, dumped to .npz, and its speed.

Runs in the separate ctapipe environment only (never imports iactx); the
scripts ``compare_ctapipe_calibration.py`` and ``bench_calibration.py``
call it through a subprocess.

Modes
-----
``dump INPUT OUT.npz``
    ``EventSource`` (gain selection on for every event, calibration events
    read when ``--calibration-events``) followed by ``CameraCalibrator``
    with its defaults (or ``--extractor NAME``). Writes, per camera name,
    the keys ``(obs_id, event_id, tel_id)`` and the ``image``,
    ``peak_time`` and ``is_valid`` of every telescope event.
``bench INPUT``
    Times ``CameraCalibrator`` and the extractor alone on the telescope
    events of one camera, each repeated, and prints a JSON line with the
    median seconds per telescope event over ``--runs`` runs.

usage:
    python ctapipe_calibration_helper.py dump INPUT OUT.npz [--calibration-events] [--extractor NAME]
    python ctapipe_calibration_helper.py bench INPUT [--camera NAME] [--repeat N] [--runs R]
"""

import argparse
import json
import sys
import time

import numpy as np


def _source(path, calibration_events):
    from ctapipe.io import EventSource

    return EventSource(path, focal_length_choice="EQUIVALENT", select_gain=True,
                       skip_calibration_events=not calibration_events)


def _calibrator(subarray, extractor):
    from ctapipe.calib import CameraCalibrator

    if extractor:
        return CameraCalibrator(subarray, image_extractor_type=extractor)
    return CameraCalibrator(subarray)


def dump(args):
    import ctapipe

    out = {}
    with _source(args.input, args.calibration_events) as source:
        calibrator = _calibrator(source.subarray, args.extractor)
        for event in source:
            calibrator(event)
            for tel_id, dl1 in event.dl1.tel.items():
                camera = source.subarray.tel[tel_id].camera.name
                entry = out.setdefault(camera, {"keys": [], "image": [], "peak_time": [], "is_valid": []})
                entry["keys"].append((event.index.obs_id, event.index.event_id, tel_id))
                entry["image"].append(np.asarray(dl1.image, np.float32))
                entry["peak_time"].append(np.asarray(dl1.peak_time, np.float32))
                entry["is_valid"].append(bool(dl1.is_valid))
    arrays = {"ctapipe_version": np.array(ctapipe.__version__)}
    for camera, entry in out.items():
        arrays[f"{camera}/keys"] = np.asarray(entry["keys"], np.int64)
        for name in ("image", "peak_time", "is_valid"):
            arrays[f"{camera}/{name}"] = np.stack(entry[name]) if name != "is_valid" else np.asarray(entry[name])
    np.savez(args.output, **arrays)
    print(json.dumps({camera: len(entry["keys"]) for camera, entry in out.items()}))


def bench(args):
    import ctapipe

    with _source(args.input, False) as source:
        events = list(source)
        subarray = source.subarray
    calibrator = _calibrator(subarray, args.extractor)
    pairs = [(event, tel_id) for event in events for tel_id in event.r1.tel
             if args.camera is None or subarray.tel[tel_id].camera.name == args.camera]
    if not pairs:
        raise SystemExit(f"no telescope event of camera {args.camera} in {args.input}")
    # one event container per telescope event, so that each call calibrates one telescope
    singles = []
    for event, tel_id in pairs:
        single = event.__class__()
        single.index = event.index
        single.trigger = event.trigger
        single.r1.tel[tel_id] = event.r1.tel[tel_id]
        single.monitoring.tel[tel_id] = event.monitoring.tel[tel_id]
        singles.append((single, tel_id))
    extractor = next(iter(calibrator.image_extractors.values()))
    for single, _ in singles:
        calibrator(single)

    def run_calibrator():
        for _ in range(args.repeat):
            for single, _ in singles:
                calibrator(single)

    def run_extractor():
        for _ in range(args.repeat):
            for single, tel_id in singles:
                dl0 = single.dl0.tel[tel_id]
                extractor(dl0.waveform, tel_id=tel_id, selected_gain_channel=dl0.selected_gain_channel,
                          broken_pixels=single.monitoring.tel[tel_id].camera.coefficients.outlier_mask)

    result = {"ctapipe_version": ctapipe.__version__, "n_tel_events": len(singles), "repeat": args.repeat,
              "camera": args.camera, "extractor": type(extractor).__name__,
              "n_samples": int(singles[0][0].r1.tel[singles[0][1]].waveform.shape[-1])}
    n_calls = args.repeat * len(singles)
    for name, func in (("calibrator", run_calibrator), ("extractor", run_extractor)):
        times, cpu = [], []
        for _ in range(args.runs):
            start, start_cpu = time.perf_counter(), time.process_time()
            func()
            times.append((time.perf_counter() - start) / n_calls)
            cpu.append((time.process_time() - start_cpu) / n_calls)
        result[f"{name}_s_per_tel_event"] = float(np.median(times))
        result[f"{name}_cpu_s_per_tel_event"] = float(np.median(cpu))
        result[f"{name}_runs"] = times
    print(json.dumps(result))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("dump")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--calibration-events", action="store_true")
    p.add_argument("--extractor", default=None)
    p.set_defaults(func=dump)
    p = sub.add_parser("bench")
    p.add_argument("input")
    p.add_argument("--camera", default=None)
    p.add_argument("--extractor", default=None)
    p.add_argument("--repeat", type=int, default=50)
    p.add_argument("--runs", type=int, default=5)
    p.set_defaults(func=bench)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    sys.exit(main())
