"""Peak memory of ``iactx process`` against the length of its input: bounded by the batches, not the file.

The sample (by default ``camsettings_v6``; the performance issue's figures
use pyeventio's ``history_meta_75.simtel.zst``, given with ``--sample``) is
repeated into inputs of about ``--gigabytes`` each (compressed size), and
each is processed on two cores with the default configuration and every
``--batch-megabytes`` value (``--EventSource.batch_megabytes``). Printed per
run: input size, telescope events, wall time, peak resident memory
(``ru_maxrss``) and the time per telescope event. Memory that stays the same
from the smallest to the largest input is bounded; what it is bounded by is
the batch size (two batches alive: the one processed and the one read ahead)
on top of the libraries (numba/LLVM, xarray, pandas, astropy, netCDF/HDF5).

usage: python benchmarks/bench_memory.py [--sample FILE] [--gigabytes 1 5] [--batch-megabytes 128 32] [--cpus 0,1]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_process import _iactx_command, count_tel_events, timed_run  # noqa: E402
from bench_read import amplified_file  # noqa: E402


def copies_for(sample, gigabytes):
    """Copies of ``sample`` that make about ``gigabytes`` of compressed input."""
    return max(1, round(gigabytes * 1e9 / amplified_file(1, sample).stat().st_size))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=Path, help="small sim_telarray file to amplify (default: camsettings_v6)")
    parser.add_argument("--gigabytes", type=float, nargs="+", default=[1, 5], help="input sizes [GB]")
    parser.add_argument("--batch-megabytes", type=int, nargs="+", default=[128, 32])
    parser.add_argument("--cpus", default=",".join(map(str, sorted(os.sched_getaffinity(0))[:2])))
    args = parser.parse_args(argv)
    cpus = [int(c) for c in args.cpus.split(",")]
    inputs = [amplified_file(copies_for(args.sample, size), args.sample) for size in args.gigabytes]
    print(f"iactx process on {len(cpus)} cores, default configuration; peak RSS per input size and batch size")
    print(f"{'input MB':>9s} {'tel. events':>11s} {'batch MB':>8s} {'wall s':>7s} {'ms/tel.ev.':>10s} {'peak RSS MB':>11s}")
    with tempfile.TemporaryDirectory() as tmp:
        output = Path(tmp) / "out.dl1.nc"
        for path in inputs:
            n_tel = None
            for megabytes in args.batch_megabytes:
                command = [*_iactx_command(path, output), f"--EventSource.batch_megabytes={megabytes}"]
                wall, _, peak_mb, _ = timed_run(command, tmp, cpus)
                n_tel = n_tel or count_tel_events(output)
                print(f"{path.stat().st_size / 1e6:9.0f} {n_tel:11d} {megabytes:8d} {wall:7.1f} "
                      f"{1e3 * wall / n_tel:10.3f} {peak_mb:11.0f}", flush=True)


if __name__ == "__main__":
    main()
