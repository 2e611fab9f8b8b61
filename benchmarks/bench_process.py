"""End-to-end time and memory of ``iactx process``, next to ``ctapipe-process``.

Both tools process the same amplified ``camsettings_v6`` file (LSTCam and
NectarCam, 2 gains, 40 and 60 samples; 1000 copies, 9000 telescope events,
3 GB by default, so that the few seconds each tool needs to start, a fixed
cost, do not dominate) with their default configuration
(NeighborPeakWindowSum, tail cuts 10/5, all DL1 parameters), each run in a
fresh process pinned to one CPU (``sched_setaffinity``; also
``NUMBA_NUM_THREADS=1`` and one thread for BLAS). The runs alternate
between the tools so that changes in the machine's load hit both alike.
Reported: wall time per telescope event (median and minimum over the runs,
the first numba compilation excluded by a warm-up run), CPU time (user +
system) per telescope event, the ratios of the medians, and the peak
resident memory of each process (``ru_maxrss`` of the child). iactx's time
includes the sha256 of the input for its provenance record, which ctapipe
does not compute.

ctapipe lives in a separate environment (``benchmarks/make_ctapipe_env.sh``);
give its ``ctapipe-process`` with ``--ctapipe`` or ``CTAPIPE_PROCESS``.
Without it only iactx is measured.

usage: python benchmarks/bench_process.py [--copies N] [--repeats N] [--input FILE] [--cpu N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_read import amplified_file  # noqa: E402  (the benchmarks share their test file)

REPO = Path(__file__).resolve().parent.parent
TARGET_SPEEDUP = 3.0
ONE_CORE = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1"}


def _iactx_command(path, output):
    return [str(Path(sys.executable).with_name("iactx")), "process", "--input", str(path),
            "--output", str(output), "--overwrite", "--no-progress"]


def _ctapipe_command(executable, path, output):
    return [executable, "--input", str(path), "--output", str(output), "--overwrite",
            "--SimTelEventSource.focal_length_choice=EQUIVALENT"]


#: runs a command pinned to one CPU (argv[1]) and prints its wall time [s], CPU time [s] and
#: peak RSS [kB]; a fresh parent per run makes RUSAGE_CHILDREN the figures of that one child
_WRAPPER = """
import os, resource, subprocess, sys, time
os.sched_setaffinity(0, {int(sys.argv[1])})
start = time.perf_counter()
subprocess.run(sys.argv[2:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(time.perf_counter() - start, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)
"""


def timed_run(command, cwd, cpu):
    """Wall time [s], CPU time [s] and peak resident memory [MB] of ``command`` run in ``cwd`` on ``cpu``."""
    result = subprocess.run([sys.executable, "-c", _WRAPPER, str(cpu), *command], check=True,
                            capture_output=True, text=True, env={**os.environ, **ONE_CORE}, cwd=cwd)
    wall, cpu_time, peak_kb = result.stdout.split()
    return float(wall), float(cpu_time), float(peak_kb) / 1024


def count_tel_events(path):
    import iactx

    tree = iactx.open_dl1(path)
    return sum(tree[name].sizes["tel_event"] for name in tree.iact.cameras)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, help="sim_telarray file (default: amplified camsettings_v6)")
    parser.add_argument("--copies", type=int, default=1000, help="copies of the sample event (default 1000)")
    parser.add_argument("--cpu", type=int, default=min(os.sched_getaffinity(0)),
                        help="CPU both tools run on (default: the first one available)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per tool (default 3)")
    parser.add_argument("--ctapipe", default=os.environ.get("CTAPIPE_PROCESS",
                                                             str(REPO.parent / "ctapipe-venv/bin/ctapipe-process")))
    args = parser.parse_args()
    path = args.input or amplified_file(args.copies)
    tools = {"iactx": lambda out: _iactx_command(path, out)}
    if Path(args.ctapipe).exists():
        tools["ctapipe"] = lambda out: _ctapipe_command(args.ctapipe, path, out)
    else:
        print(f"ctapipe-process not found at {args.ctapipe}: measuring iactx only")
    with tempfile.TemporaryDirectory() as tmp:
        outputs = {name: Path(tmp) / f"{name}.h5" for name in tools}
        for name, command in tools.items():  # warm-up: numba caches, file system caches
            subprocess.run(command(outputs[name]), check=True, env={**os.environ, **ONE_CORE}, cwd=tmp,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        n_tel_events = count_tel_events(outputs["iactx"])
        walls = {name: [] for name in tools}
        cpus = {name: [] for name in tools}
        memory = {name: [] for name in tools}
        for _ in range(args.repeats):
            for name, command in tools.items():
                wall, cpu_time, peak = timed_run(command(outputs[name]), cwd=tmp, cpu=args.cpu)
                walls[name].append(wall)
                cpus[name].append(cpu_time)
                memory[name].append(peak)
    size_mb = path.stat().st_size / 2**20
    print(f"input: {path} ({size_mb:.0f} MB, {n_tel_events} telescope events), {args.repeats} runs per tool, "
          f"both pinned to CPU {args.cpu}, load average {os.getloadavg()[0]:.1f}")
    print(f"{'tool':<10}{'median ms/tel.ev.':>20}{'min ms/tel.ev.':>17}{'cpu ms/tel.ev.':>17}{'peak RSS MB':>14}")
    for name in tools:
        per_event = [1000 * w / n_tel_events for w in walls[name]]
        cpu_per_event = statistics.median(cpus[name]) * 1000 / n_tel_events
        print(f"{name:<10}{statistics.median(per_event):>20.3f}{min(per_event):>17.3f}{cpu_per_event:>17.3f}"
              f"{max(memory[name]):>14.0f}")
    if "ctapipe" in tools:
        speedup = statistics.median(walls["ctapipe"]) / statistics.median(walls["iactx"])
        cpu_speedup = statistics.median(cpus["ctapipe"]) / statistics.median(cpus["iactx"])
        verdict = "meets" if speedup >= TARGET_SPEEDUP else "misses"
        print(f"speed-up of iactx over ctapipe (ratio of medians): {speedup:.2f} wall, {cpu_speedup:.2f} CPU "
              f"({verdict} the target of {TARGET_SPEEDUP:g})")


if __name__ == "__main__":
    main()
