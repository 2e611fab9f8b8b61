"""Scaling of a production over dask workers, and the time to merge its outputs.

A production of ``--files`` runs (``iactx.datasets.make_runs``: the
``camsettings_v6`` sample, LSTCam and NectarCam, its shower repeated
``--repeats`` times per run) is processed by ``iactx.process_files`` on a
LocalCluster of 1 and of 2 single-threaded worker processes, set up as the
embedded one (``CLUSTER_CONFIG``, ``WORKER_ENVIRONMENT``) but started before
the clock runs (the numba cache is warm from a first run).
The worker counts alternate over ``--rounds`` rounds; reported are the
median wall time of a production, its throughput in telescope events per
second, the speed-up of 2 workers over 1 (target >= 1.8 on two cores) and
the peak resident memory per worker.

Then ``iactx merge`` of the 2-worker outputs, and of ``--merge-copies``
small DL1 files, in seconds per input file. With ctapipe 0.32 in its own
environment (``benchmarks/make_ctapipe_env.sh``; give its ``ctapipe-merge``
with ``--ctapipe-merge`` or ``CTAPIPE_MERGE``), the same runs are written in
ctapipe's format (``iactx process --output-format ctapipe``) and merged with
``ctapipe-merge`` for the figure next to it.

usage: python benchmarks/bench_scale.py [--files N] [--repeats N] [--rounds N] [--merge-copies N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dask
from distributed import Client, LocalCluster

import iactx
from iactx import datasets
from iactx.tools.merge import merge_files
from iactx.tools.production import CLUSTER_CONFIG, WORKER_ENVIRONMENT

TARGET_SPEEDUP = 1.8


def _production(inputs, output, n_workers):
    """Wall time [s] and report of one production on a fresh cluster of ``n_workers`` (started beforehand)."""
    shutil.rmtree(output, ignore_errors=True)
    with dask.config.set(CLUSTER_CONFIG), \
            LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, env=WORKER_ENVIRONMENT,
                         dashboard_address=":0") as cluster, Client(cluster) as client:
        client.run(lambda: __import__("iactx.tools.process"))  # imports done before the clock runs
        start = time.perf_counter()
        report = iactx.process_files(inputs, output, client=client, progress=False)
        seconds = time.perf_counter() - start
    if not report.ok:
        raise SystemExit(str(report))
    return seconds, report


def _ctapipe_merge_seconds(executable, inputs, folder):
    """Seconds per file of ctapipe-merge over iactx's ctapipe-format files of ``inputs``."""
    h5 = folder / "ctapipe"
    h5.mkdir()
    iactx_command = str(Path(sys.executable).with_name("iactx"))
    for path in inputs:
        subprocess.run([iactx_command, "process", "--input", str(path), "--output",
                        str(h5 / path.name.replace(".simtel.zst", ".dl1.h5")), "--output-format", "ctapipe",
                        "--no-progress"], check=True, stdout=subprocess.DEVNULL)
    start = time.perf_counter()
    subprocess.run([executable, "--input-dir", str(h5), "--pattern", "*.dl1.h5", "--output",
                    str(folder / "ctapipe_merged.h5"), "--overwrite"], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, cwd=folder)  # its provenance log goes there
    return (time.perf_counter() - start) / len(inputs)


def _small_copies(first, folder, n):
    """``n`` copies of one DL1 file with distinct run numbers (what a production of short runs gives)."""
    import h5py

    paths = []
    for i in range(n):
        copy = Path(shutil.copy(first, folder / f"small_{i:05d}.dl1.nc"))
        with h5py.File(copy, "r+") as f:
            groups = [""] + [f"{name}/" for name, item in f.items()
                             if isinstance(item, h5py.Group) and "obs_id" in item]
            if "simulation/shower_distribution" in f:
                groups.append("simulation/shower_distribution/")
            for group in groups:
                f[group + "obs_id"][...] = 100_000 + i
        paths.append(copy)
    return paths


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=16, help="runs in the production (default 16)")
    parser.add_argument("--repeats", type=int, default=100, help="showers per run, in copies (default 100)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of 1 and 2 workers (default 3)")
    parser.add_argument("--merge-copies", type=int, default=200, help="small files for the merge figure")
    parser.add_argument("--ctapipe-merge", default=os.environ.get("CTAPIPE_MERGE"),
                        help="ctapipe-merge of a ctapipe 0.32 environment")
    args = parser.parse_args()
    ctapipe_merge = args.ctapipe_merge
    default = Path(__file__).resolve().parent.parent.parent / "ctapipe-venv" / "bin" / "ctapipe-merge"
    if ctapipe_merge is None and default.is_file():
        ctapipe_merge = str(default)

    with tempfile.TemporaryDirectory(prefix="iactx-bench-scale-") as tmp:
        tmp = Path(tmp)
        inputs = datasets.make_runs(tmp / "runs", args.files, repeats=args.repeats)
        size = sum(p.stat().st_size for p in inputs) / 2**20
        print(f"production: {args.files} runs of camsettings_v6 x {args.repeats}, {size:.0f} MiB compressed")
        _production(inputs[:2], tmp / "warm", 2)  # numba cache and file cache warm
        times = {1: [], 2: []}
        reports = {}
        for _ in range(args.rounds):
            for n in (1, 2):
                seconds, reports[n] = _production(inputs, tmp / f"out{n}", n)
                times[n].append(seconds)
        n_tel = reports[1].n_tel_events
        for n in (1, 2):
            median = statistics.median(times[n])
            peak = max(f.peak_memory_mb for f in reports[n].done)
            print(f"{n} worker{'s' if n > 1 else ' '}: {median:6.1f} s median of {args.rounds} "
                  f"({', '.join(f'{t:.1f}' for t in times[n])}), {n_tel / median:6.0f} telescope events/s, "
                  f"peak memory per worker {peak:.0f} MiB")
        speedup = statistics.median(times[1]) / statistics.median(times[2])
        verdict = "meets" if speedup >= TARGET_SPEEDUP else "MISSES"
        print(f"2 workers / 1 worker: {speedup:.2f}x ({verdict} the {TARGET_SPEEDUP}x target)")

        outputs = sorted((tmp / "out2").glob("*.dl1.nc"))
        start = time.perf_counter()
        merge_files(outputs, tmp / "merged.dl1.nc")
        per_file = (time.perf_counter() - start) / len(outputs)
        print(f"iactx merge: {per_file * 1e3:.0f} ms per file ({len(outputs)} files of {n_tel // len(outputs)} "
              "telescope events)")
        copies_dir = tmp / "copies"
        copies_dir.mkdir()
        single = tmp / "single.dl1.nc"
        subprocess.run([str(Path(sys.executable).with_name("iactx")), "process", "--input",
                        str(datasets.get("camsettings_v6.simtel.zst")), "--output", str(single), "--no-progress"],
                       check=True, stdout=subprocess.DEVNULL)
        small = _small_copies(single, copies_dir, args.merge_copies)
        start = time.perf_counter()
        merge_files(small, tmp / "merged_small.dl1.nc")
        small_per_file = (time.perf_counter() - start) / len(small)
        start = time.perf_counter()
        iactx.open_dl1(small, chunks={})
        open_per_100 = (time.perf_counter() - start) / len(small) * 100
        print(f"iactx merge: {small_per_file * 1e3:.0f} ms per file ({len(small)} files of 9 telescope events)")
        print(f"open_dl1 of {len(small)} files, lazily: {open_per_100:.2f} s per 100 files")
        if ctapipe_merge:
            seconds = _ctapipe_merge_seconds(ctapipe_merge, inputs, tmp)
            print(f"ctapipe-merge: {seconds * 1e3:.0f} ms per file ({len(inputs)} files, ctapipe format); "
                  f"iactx merge is {seconds / per_file:.1f}x faster")
        else:
            print("ctapipe-merge not found (benchmarks/make_ctapipe_env.sh, or --ctapipe-merge): not compared")


if __name__ == "__main__":
    main()
