"""The notebook path: labelled calls on small batches, next to their kernels and to ctapipe's loop.

Two figures of the performance issue:

- ``cam.iact.calibrate()`` on a camera group of ``--small`` LSTCam
  telescope events (the events of ``camsettings_v6.simtel.zst`` repeated),
  next to the NeighborPeakWindowSum kernel alone on the same plain arrays:
  the ratio is what the labelled layer (option resolution, integration
  correction, Variables, the new Dataset) costs on top of the kernel;
- ``tree.iact.dl1()`` (calibration, cleaning, every DL1 parameter, true
  parameters) on the first ``--events`` array events of a file, next to
  ctapipe's per-event loop (``CameraCalibrator`` then ``ImageProcessor``,
  ctapipe's defaults) over the same events held in memory
  (``ctapipe_dl1_dump.py loop`` in ctapipe's own environment).

The file is the camsettings_v6 sample repeated (``--sample`` gives another,
e.g. pyeventio's ``history_meta_75.simtel.zst``, 15 telescope events per
array event). numba runs on one thread (``NUMBA_NUM_THREADS=1``, set
before import: ctapipe's loop uses one core); figures are medians, in
milliseconds per call and per telescope event: of ``--runs`` runs after a
warm-up for ``dl1()``, and of ``10 * --runs`` alternating calls of
``calibrate()`` and its kernel, whose ratio is the median of the pairs'
ratios (both timed in the same state of the machine).

usage: python benchmarks/bench_notebook.py [--sample FILE] [--events 100] [--small 16] [--runs 15]
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

os.environ["NUMBA_NUM_THREADS"] = "1"

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_calibration import load_group, tiled  # noqa: E402
from bench_read import amplified_file  # noqa: E402

#: largest cost of cam.iact.calibrate() in units of its kernel, from the issue
TARGET_CALIBRATE_RATIO = 1.5


def median_ms(func, runs):
    """Median wall-clock milliseconds of ``func()`` over ``runs`` calls after one warm-up call."""
    func()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def paired_ms(first, second, runs):
    """Median milliseconds of ``first()`` and of ``second()``, and the median ratio of the two, over ``runs`` pairs.

    The calls alternate (after one warm-up call of each), so that both see
    the same state of the machine: the load of these machines changes
    within seconds, which two series timed one after the other would
    mistake for a difference between the calls.
    """
    first(), second()
    times = np.empty((runs, 2))
    for i in range(runs):
        for j, func in enumerate((first, second)):
            start = time.perf_counter()
            func()
            times[i, j] = time.perf_counter() - start
    return 1e3 * float(np.median(times[:, 0])), 1e3 * float(np.median(times[:, 1])), \
        float(np.median(times[:, 0] / times[:, 1]))


def calibrate_against_kernel(data_path, n, runs):
    """(labelled ms, kernel ms, median ratio) for NeighborPeakWindowSum on ``n`` LSTCam telescope events."""
    from iactx.calib import extractor_kernels as K
    from iactx.calib.extractors import _neighbor_csr

    ds = tiled(load_group(Path(data_path) / "camsettings_v6.simtel.zst"), n)
    indptr, indices = _neighbor_csr(ds)
    waveform = np.ascontiguousarray(ds["waveform"].values)
    gain = np.ascontiguousarray(ds["selected_gain"].values)
    broken = np.zeros(gain.shape, bool)
    ones = np.ones(n, np.int64)
    correction = np.ones((n, 2))
    charge, peak_time = np.empty(gain.shape, np.float32), np.empty(gain.shape, np.float32)
    rate = float(ds.attrs["sampling_rate"])

    def kernel():
        K.neighbor_peak_window_sum(waveform, indptr, indices, broken, 0 * ones, 7 * ones, 3 * ones, rate, gain,
                                   correction, charge, peak_time)

    return paired_ms(ds.iact.calibrate, kernel, runs)


def dl1_tree(path, n_events, runs):
    """(ms per tree.iact.dl1() call, telescope events) on the first ``n_events`` events of ``path``."""
    import iactx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = next(iactx.iter_simtel(path, batch_size=n_events))
    n_tel = sum(tree[name].sizes["tel_event"] for name in tree.iact.cameras)
    return median_ms(tree.iact.dl1, runs), n_tel


def ctapipe_loop(python, path, n_events, runs):
    """ctapipe's per-event loop on the same events: (median ms per run, telescope events)."""
    out = subprocess.run([python, str(HERE / "ctapipe_dl1_dump.py"), "loop", str(path), "--events", str(n_events),
                          "--runs", str(runs)], check=True, capture_output=True, text=True,
                         env=dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1"))
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return 1e3 * float(np.median(result["seconds_per_run"])), result["n_tel_events"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-path", default=os.environ.get("IACTX_DATA_PATH", "../shared/data/simtel"))
    parser.add_argument("--sample", type=Path, help="sim_telarray file to repeat for the tree (default camsettings_v6)")
    parser.add_argument("--events", type=int, default=100, help="array events of the tree (default 100)")
    parser.add_argument("--small", type=int, default=16, help="telescope events of the calibrate() batch")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--ctapipe-python", default=os.environ.get(
        "CTAPIPE_PYTHON", str(HERE.parent.parent / "ctapipe-venv" / "bin" / "python")))
    args = parser.parse_args(argv)
    sample = args.sample or Path(args.data_path) / "camsettings_v6.simtel.zst"
    if not sample.is_file():
        sys.exit(f"{sample} not found (use --data-path, IACTX_DATA_PATH or --sample)")

    pairs = 10 * args.runs
    labelled, kernel, ratio = calibrate_against_kernel(args.data_path, args.small, pairs)
    print(f"cam.iact.calibrate() on {args.small} LSTCam telescope events, numba on 1 thread, "
          f"{pairs} alternating calls of each, medians:")
    print(f"  calibrate {labelled:.3f} ms, kernel alone {kernel:.3f} ms: {ratio:.2f} x the kernel "
          f"(target <= {TARGET_CALIBRATE_RATIO}: {'met' if ratio <= TARGET_CALIBRATE_RATIO else 'missed'})")

    path = amplified_file(args.events, sample)
    ours, n_tel = dl1_tree(path, args.events, args.runs)
    print(f"tree.iact.dl1() on {args.events} array events of {sample.name} repeated ({n_tel} telescope events), "
          f"median of {args.runs}:")
    print(f"  iactx   {ours:9.1f} ms per call, {ours / n_tel:.3f} ms per telescope event")
    if Path(args.ctapipe_python).exists():
        theirs, their_tel = ctapipe_loop(args.ctapipe_python, path, args.events, max(3, args.runs // 3))
        print(f"  ctapipe {theirs:9.1f} ms per loop, {theirs / their_tel:.3f} ms per telescope event "
              f"({their_tel} telescope events; CameraCalibrator + ImageProcessor per event)")
        print(f"  ratio ctapipe / iactx per telescope event: {(theirs / their_tel) / (ours / n_tel):.1f}")
    else:
        print(f"  (ctapipe not found at {args.ctapipe_python}: give --ctapipe-python or CTAPIPE_PYTHON)")


if __name__ == "__main__":
    main()
