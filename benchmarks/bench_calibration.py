"""Throughput of NeighborPeakWindowSum on LSTCam-sized telescope events, iactx vs ctapipe.

The LSTCam events of ``camsettings_v6.simtel.zst`` (1855 pixels, 40
samples, gain-selected float32 waveforms) are tiled into batches of
``--batch`` telescope events. iactx is timed

- ``read floor``: one pass reading every sample of the batch (a
  vectorised maximum over the float32 bits), the memory-bandwidth floor
  no extraction can beat;
- ``neighbour-sum floor``: only the float32 sums of the six neighbours'
  waveforms of every six-neighbour pixel, eight samples at a time, and
  their maximum: the arithmetic every NeighborPeakWindowSum must do before
  it decides a peak or sums a window (6 x 40 loads and 5 x 40 additions
  per pixel);
- ``kernel``: the batched numba kernel on plain arrays;
- ``calibrate``: ``cam.iact.calibrate()`` on the labelled camera group
  (correction table, apply_ufunc, time-shift subtraction, new Dataset);

with 1 and 2 numba threads. The default batches are 16 telescope events
(4.7 MB, held in the 32 MB L3 cache, as ctapipe's four events are in its
benchmark loop) and 512 (150 MB, streamed from memory). ctapipe 0.32 runs in its separate
environment (``--ctapipe-python`` / ``CTAPIPE_PYTHON``) through
``ctapipe_calibration_helper.py bench``: ``CameraCalibrator`` with its
defaults, and the extractor alone, called per telescope event on the same
events. Every number is the median over ``--runs`` runs; rates are
telescope events per second (wall clock); CPU seconds of the process are
printed too (with 2 threads they add up over both). The machine load is
printed, since other processes may share the cores.

usage:
    python benchmarks/bench_calibration.py [--data-path DIR] [--batch 16 512] [--runs 7] [--json OUT]
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

HERE = Path(__file__).resolve().parent
HELPER = HERE / "ctapipe_calibration_helper.py"
FILE = "camsettings_v6.simtel.zst"
CAMERA = "LSTcam"


def _default_python():
    return os.environ.get("CTAPIPE_PYTHON", str(HERE.parent.parent / "ctapipe-venv" / "bin" / "python"))


def load_group(path):
    import iactx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = iactx.read_simtel(path)
    return tree[CAMERA].to_dataset(inherit=False)


def tiled(cam, n):
    """A camera group of ``n`` telescope events repeating those of ``cam`` (new event ids)."""
    from iactx.io.event_tree import tel_event_index

    reps = -(-n // cam.sizes["tel_event"])
    index = np.tile(np.arange(cam.sizes["tel_event"]), reps)[:n]
    out = cam.isel(tel_event=index).drop_vars(["tel_event", "obs_id", "event", "tel"])
    tel = cam["tel"].values[index]
    return out.assign_coords(tel_event_index(np.ones(n), np.arange(n) // 4 + 1, tel))


def median_time(func, runs):
    """Median wall-clock and CPU (this process, all threads) seconds per call."""
    func()  # compile / warm up
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        func()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return float(np.median(wall)), float(np.median(cpu)), wall


def _read_floor():
    """A numba function reading every float32 of an array once (vectorised; no float reduction)."""
    import numba

    @numba.njit(nogil=True, parallel=True)
    def largest_bits(bits):
        n_events = bits.shape[0]
        out = np.empty(n_events, np.int32)
        for e in numba.prange(n_events):
            row = bits[e]
            m = np.int32(0)
            for i in range(row.shape[0]):
                m = max(m, row[i])
            out[e] = m
        return out

    return largest_bits


def _neighbor_sum_floor():
    """A numba function forming the six-neighbour float32 sums of every pixel that has six, and their maximum."""
    import numba

    from iactx._simd import LANES, hmax8, max8, splat8
    from iactx.calib.extractor_kernels import _six_row_sum

    @numba.njit(nogil=True, parallel=True)
    def largest_sums(waveforms, six, out):
        n_events, n_pixels, n_samples = waveforms.shape
        for e in numba.prange(n_events):
            base = waveforms[e].ctypes.data
            for p in range(n_pixels):
                if six[p, 0] == six[p, 1]:  # not six neighbours
                    continue
                top = splat8(-np.inf)
                for c in range(n_samples // LANES):
                    o = 4 * LANES * c
                    top = max8(top, _six_row_sum(base + six[p, 0] + o, base + six[p, 1] + o, base + six[p, 2] + o,
                                                 base + six[p, 3] + o, base + six[p, 4] + o, base + six[p, 5] + o))
                out[e, p] = hmax8(top)

    return largest_sums


def bench_iactx(cam, batches, runs):
    import numba

    from iactx.calib import extractor_kernels as K
    from iactx.calib.extractors import _neighbor_csr

    indptr, indices = _neighbor_csr(cam)
    results = []
    for n in batches:
        ds = tiled(cam, n)
        wf = np.ascontiguousarray(ds["waveform"].values)
        gain = np.ascontiguousarray(ds["selected_gain"].values)
        broken = np.zeros(gain.shape, bool)
        ones = np.ones(n, np.int64)
        corr = np.ones((n, 2))
        charge = np.empty(gain.shape, np.float32)
        ptime = np.empty(gain.shape, np.float32)
        bits = wf.reshape(n, -1).view(np.int32)
        floor = _read_floor()
        sum_floor = _neighbor_sum_floor()
        six = K._six_neighbor_offsets(indptr, indices, 4 * wf.shape[2])
        largest_sums = np.empty(gain.shape, np.float32)

        def read_floor():
            floor(bits)

        def neighbor_sum_floor():
            sum_floor(wf, six, largest_sums)

        def kernel():
            K.neighbor_peak_window_sum(wf, indptr, indices, broken, 0 * ones, 7 * ones, 3 * ones,
                                       float(ds.attrs["sampling_rate"]), gain, corr, charge, ptime)

        def labelled():
            ds.iact.calibrate()

        for threads in (1, 2):
            numba.set_num_threads(threads)
            for name, func in (("read floor", read_floor), ("neighbour-sum floor", neighbor_sum_floor),
                               ("kernel", kernel), ("calibrate", labelled)):
                t, cpu, all_runs = median_time(func, runs)
                results.append({"what": f"iactx {name}", "threads": threads, "batch": n,
                                "s_per_tel_event": t / n, "tel_events_per_s": n / t,
                                "cpu_s_per_tel_event": cpu / n, "runs_s": all_runs})
    return results


def bench_ctapipe(python, path, runs, repeat):
    cmd = [python, str(HELPER), "bench", str(path), "--camera", CAMERA, "--runs", str(runs), "--repeat", str(repeat)]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-path", default=os.environ.get("IACTX_DATA_PATH", "../shared/data/simtel"))
    parser.add_argument("--ctapipe-python", default=_default_python())
    parser.add_argument("--batch", type=int, nargs="+", default=[16, 512])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=100, help="ctapipe: calls per telescope event and run")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    path = Path(args.data_path) / FILE
    if not path.is_file():
        sys.exit(f"{path} not found (use --data-path or IACTX_DATA_PATH)")
    load_before = os.getloadavg()
    cam = load_group(path)
    ours = bench_iactx(cam, args.batch, args.runs)
    theirs = None
    if Path(args.ctapipe_python).exists():
        theirs = bench_ctapipe(args.ctapipe_python, path, args.runs, args.repeat)
    load_after = os.getloadavg()

    print(f"NeighborPeakWindowSum, {CAMERA} events of {FILE}: {cam.sizes['pixel']} pixels, "
          f"{cam.sizes['sample']} samples, float32; median of {args.runs} runs")
    print(f"load average before/after: {load_before[0]:.2f} / {load_after[0]:.2f} on {os.cpu_count()} cores")
    print(f"{'':26s} {'threads':>7s} {'batch':>6s} {'wall us/tel_ev':>15s} {'tel_ev/s':>9s} {'x ctapipe':>9s} "
          f"{'cpu us/tel_ev':>14s} {'x ctapipe cpu':>13s}")
    reference = theirs["calibrator_s_per_tel_event"] if theirs else None
    reference_cpu = theirs.get("calibrator_cpu_s_per_tel_event") if theirs else None
    if theirs:
        for key, label in (("calibrator", "ctapipe CameraCalibrator"), ("extractor", "ctapipe extractor only")):
            t, cpu = theirs[f"{key}_s_per_tel_event"], theirs[f"{key}_cpu_s_per_tel_event"]
            print(f"{label:26s} {1:7d} {1:6d} {t * 1e6:15.1f} {1 / t:9.0f} {reference / t:9.2f} "
                  f"{cpu * 1e6:14.1f} {reference_cpu / cpu:13.2f}")
    for row in ours:
        t, cpu = row["s_per_tel_event"], row["cpu_s_per_tel_event"]
        ratio = f"{reference / t:9.1f}" if reference else ""
        ratio_cpu = f"{reference_cpu / cpu:13.1f}" if reference_cpu else ""
        print(f"{row['what']:26s} {row['threads']:7d} {row['batch']:6d} {t * 1e6:15.1f} "
              f"{row['tel_events_per_s']:9.0f} {ratio} {cpu * 1e6:14.1f} {ratio_cpu}")
    if args.json:
        Path(args.json).write_text(json.dumps({"ctapipe": theirs, "iactx": ours, "load": [load_before, load_after]},
                                              indent=1))


if __name__ == "__main__":
    sys.exit(main())
