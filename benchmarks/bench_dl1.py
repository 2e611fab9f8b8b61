"""Speed of cleaning + all image parameters per telescope event, iactx vs ctapipe.

The same LST images on both sides: the LST camera events of the sample
files, calibrated (iactx's calibration gives ctapipe's images), repeated
into LSTCam batches of ``--batch`` telescope events. iactx runs
``cam.iact.clean()`` then ``.iact.parameters()`` (ctapipe-process's
defaults: tail cuts 10/5/2, telescope frame, default quality query, random
timing-fit starts) on the batch; ctapipe runs ``ImageProcessor`` (same
defaults, true-image parameters off) event by event in its own environment
(``ctapipe_dl1_dump.py bench``).

Figures are medians over ``--rounds`` x ``--runs`` runs (rounds alternate
iactx and ctapipe processes so that both see the same load), as telescope
events per second,
with numba on one thread (``NUMBA_NUM_THREADS=1``, like ctapipe) and on all
threads; both as CPU time (robust when the machine is shared) and wall
time.

usage: python benchmarks/bench_dl1.py [--batch 2000] [--rounds 3] [--runs 3] [--ctapipe-python PATH] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

HERE = Path(__file__).resolve().parent
FILES = ["lst_with_photons.simtel.zst", "lst_muons_with_true_photons.simtel.zst", "camsettings_v6.simtel.zst"]


def lst_batch(data, size):
    """An LSTCam camera group of ``size`` telescope events: the sample LST images, repeated."""
    import iactx
    from iactx.calib.calibrator import calibrate
    from iactx.io.event_tree import tel_event_index

    images, times, base = [], [], None
    for name in FILES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = iactx.read_simtel(data / name)
        for cam_name in tree.iact.cameras:
            if not cam_name.lower().startswith("lst"):
                continue
            cam = calibrate(tree[cam_name].to_dataset(inherit=False))
            images.append(cam.image.values)
            times.append(cam.peak_time.values)
            base = base if base is not None else cam
    image = np.concatenate(images)
    peak_time = np.concatenate(times)
    n_unique = image.shape[0]
    take = np.arange(size) % n_unique
    coords = {k: base.coords[k].variable for k in ("pixel", "pix_x", "pix_y", "pix_area", "neighbors")}
    cam = xr.Dataset({"image": (("tel_event", "pixel"), image[take], {"units": "pe"}),
                      "peak_time": (("tel_event", "pixel"), peak_time[take], {"units": "ns"}),
                      "focal_length": ("tel_event", np.full(size, float(base.focal_length.values[0])),
                                       {"units": "m"})},
                     coords=coords, attrs=dict(base.attrs))
    return cam.assign_coords(tel_event_index(np.ones(size), np.arange(size), np.ones(size))), n_unique


def time_iactx(cam, runs):
    """Wall and CPU seconds per telescope event of clean + parameters, one value per run."""
    cam.iact.clean().iact.parameters()  # compile / warm up
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = cam.iact.clean().iact.parameters()
        wall.append((time.perf_counter() - start) / cam.sizes["tel_event"])
        cpu.append((time.process_time() - start_cpu) / cam.sizes["tel_event"])
    assert np.isfinite(result.hillas_intensity.values).any()
    return wall, cpu


def child(args):
    """Run the iactx timing in this process (numba threads fixed by the environment)."""
    cam, n_unique = lst_batch(Path(args.data), args.batch)
    wall, cpu = time_iactx(cam, args.runs)
    print(json.dumps({"seconds_per_tel_event": wall, "cpu_seconds_per_tel_event": cpu,
                      "n_unique_images": n_unique, "n_pixels": cam.sizes["pixel"]}))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=2000, help="telescope events per iactx batch")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per process")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of iactx and ctapipe processes")
    parser.add_argument("--ctapipe-python", default=os.environ.get("CTAPIPE_PYTHON", "/work/ctapipe-venv/bin/python"))
    parser.add_argument("--data", default=os.environ.get("IACTX_DATA_PATH", "/work/shared/data/simtel"))
    parser.add_argument("--json", help="write the raw timings to this file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    data = Path(args.data)
    results = {}

    def record(label, out):
        if out.returncode:
            raise RuntimeError(out.stderr[-3000:])
        r = json.loads(out.stdout.strip().splitlines()[-1])
        into = results.setdefault(label, {k: [] for k in ("seconds_per_tel_event", "cpu_seconds_per_tel_event")})
        for key in ("seconds_per_tel_event", "cpu_seconds_per_tel_event"):
            into[key].extend(r[key])
        into.update({k: v for k, v in r.items() if k not in into})

    # rounds alternate the tools, so that both see the same load on a shared machine
    for _ in range(args.rounds):
        for label, threads in (("iactx, 1 thread", "1"), ("iactx, all threads", str(os.cpu_count()))):
            env = {**os.environ, "NUMBA_NUM_THREADS": threads}
            record(label, subprocess.run([sys.executable, __file__, "--child", "--batch", str(args.batch), "--runs",
                                          str(args.runs), "--data", str(data)], env=env, capture_output=True,
                                         text=True))
        record("ctapipe ImageProcessor", subprocess.run(
            [args.ctapipe_python, str(HERE / "ctapipe_dl1_dump.py"), "bench", *[str(data / f) for f in FILES],
             "--camera", "lst", "--repeat", "30", "--runs", str(args.runs)], capture_output=True, text=True))
    n_unique = results["iactx, 1 thread"]["n_unique_images"]
    print(f"cleaning + all image parameters, LST camera ({results['iactx, 1 thread']['n_pixels']} pixels), "
          f"{n_unique} distinct calibrated sample images, iactx batches of {args.batch}; "
          f"medians of {args.rounds * args.runs} runs ({args.rounds} alternating rounds)")
    for key, what in (("cpu_seconds_per_tel_event", "CPU time"), ("seconds_per_tel_event", "wall time")):
        reference = np.median(results["ctapipe ImageProcessor"][key])
        print(f" {what}:")
        for label, r in results.items():
            if what == "CPU time" and label == "iactx, all threads":
                continue  # CPU time sums the threads; only wall time says what they gain
            seconds = np.median(r[key])
            print(f"  {label:24s} {1 / seconds:10.0f} tel events/s  ({seconds * 1e6:8.1f} us each)"
                  f"  x{reference / seconds:6.1f} vs ctapipe")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
