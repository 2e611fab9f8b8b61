"""End-to-end time and memory of ``iactx process``, next to ``ctapipe-process``, on one and two cores.

Both tools process the same amplified sim_telarray file (by default the
``camsettings_v6`` sample, 9 telescope events per array event; the issue's
figures use pyeventio's ``history_meta_75.simtel.zst``, 15 LSTCam and
NectarCam telescope events per array event: give it with ``--sample``) with
their default configuration (NeighborPeakWindowSum, tail cuts 10/5, every DL1
parameter). Each run is a fresh process pinned to the CPUs of its
configuration (``sched_setaffinity``; ``NUMBA_NUM_THREADS`` and the BLAS
threads set to the number of CPUs). The runs alternate between the tools
and configurations, so that changes in the machine's load hit all alike;
a warm-up run of each fills the numba cache and the page cache first.

Start-up is removed by difference: every tool also processes the sample
itself (one copy), and the time per telescope event is
``(wall(N copies) - wall(1 copy)) / (telescope events of N - of 1)``,
the median over the runs. Reported per tool and configuration: that time,
the CPU time (user + system) per telescope event by the same difference,
the start-up (the wall time of the one-copy run), the peak resident memory
(``ru_maxrss``) of the large run, and the ratios ctapipe / iactx of the
same run's medians. For iactx the split of the large run's time per stage
(``iactx --log-level INFO``: the reader thread, waiting for it, DL1,
writing) is printed for the last run.

ctapipe lives in a separate environment (``benchmarks/make_ctapipe_env.sh``);
give its ``ctapipe-process`` with ``--ctapipe`` or ``CTAPIPE_PROCESS``.
Without it only iactx is measured.

usage: python benchmarks/bench_process.py [--sample FILE] [--copies N] [--repeats N] [--cpus 0,1]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_read import amplified_file  # noqa: E402  (the benchmarks share their test files)

REPO = Path(__file__).resolve().parent.parent
#: speed-up over ctapipe-process the issue asks for, by number of cores
TARGETS = {1: 5.0, 2: 10.0}
#: largest start-up [s] of ``iactx process`` on a one-event file
TARGET_STARTUP = 1.5


def _threads(n):
    return {name: str(n) for name in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                      "MKL_NUM_THREADS")}


def _iactx_command(path, output):
    return [str(Path(sys.executable).with_name("iactx")), "--log-level", "INFO", "process", "--input", str(path),
            "--output", str(output), "--overwrite", "--no-progress"]


def _ctapipe_command(executable, path, output):
    return [executable, "--input", str(path), "--output", str(output), "--overwrite",
            "--SimTelEventSource.focal_length_choice=EQUIVALENT"]


#: runs a command pinned to the CPUs in argv[1] (comma-separated) and prints its wall time [s], CPU time [s]
#: and peak RSS [kB], then the command's standard error; a fresh parent per run makes RUSAGE_CHILDREN the
#: figures of that one child
_WRAPPER = """
import os, resource, subprocess, sys, time
os.sched_setaffinity(0, {int(c) for c in sys.argv[1].split(",")})
start = time.perf_counter()
run = subprocess.run(sys.argv[2:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(time.perf_counter() - start, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)
print(run.stderr)
"""


def timed_run(command, cwd, cpus):
    """Wall time [s], CPU time [s], peak resident memory [MB] and standard error of ``command`` on ``cpus``."""
    env = {**os.environ, **_threads(len(cpus))}
    result = subprocess.run([sys.executable, "-c", _WRAPPER, ",".join(map(str, cpus)), *command], check=True,
                            capture_output=True, text=True, env=env, cwd=cwd)
    first, _, stderr = result.stdout.partition("\n")
    wall, cpu_time, peak_kb = first.split()
    return float(wall), float(cpu_time), float(peak_kb) / 1024, stderr


def count_tel_events(path):
    import iactx

    tree = iactx.open_dl1(path)
    return sum(tree[name].sizes["tel_event"] for name in tree.iact.cameras)


def _stages(stderr):
    match = re.search(r"time per stage: (.*)", stderr)
    return match.group(1) if match else "(not logged)"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=Path, help="small sim_telarray file to amplify (default: camsettings_v6)")
    parser.add_argument("--copies", type=int, default=600, help="copies of the sample (default 600)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per tool and configuration (default 3)")
    parser.add_argument("--cpus", default=",".join(map(str, sorted(os.sched_getaffinity(0))[:2])),
                        help="CPUs of the two-core configuration (default: the first two available)")
    parser.add_argument("--ctapipe", default=os.environ.get("CTAPIPE_PROCESS",
                                                             str(REPO.parent / "ctapipe-venv/bin/ctapipe-process")))
    args = parser.parse_args()
    all_cpus = [int(c) for c in args.cpus.split(",")]
    configurations = {len(c): c for c in ([all_cpus[0]], all_cpus)}
    small = amplified_file(1, args.sample)
    large = amplified_file(args.copies, args.sample)
    tools = {"iactx": lambda path, out: _iactx_command(path, out)}
    if Path(args.ctapipe).exists():
        tools["ctapipe"] = lambda path, out: _ctapipe_command(args.ctapipe, path, out)
    else:
        print(f"ctapipe-process not found at {args.ctapipe}: measuring iactx only")
    runs = {(tool, n): [] for tool in tools for n in configurations}
    stages = {}
    with tempfile.TemporaryDirectory() as tmp:
        outputs = {(tool, size): Path(tmp) / f"{tool}_{size}.h5" for tool in tools for size in ("small", "large")}
        for tool, command in tools.items():  # warm-up: numba caches, file system caches
            for size, path in (("small", small), ("large", large)):
                subprocess.run(command(path, outputs[tool, size]), check=True, cwd=tmp,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        n_small, n_large = count_tel_events(outputs["iactx", "small"]), count_tel_events(outputs["iactx", "large"])
        for _ in range(args.repeats):
            for n, cpus in configurations.items():
                for tool, command in tools.items():
                    wall_small, cpu_small, _, _ = timed_run(command(small, outputs[tool, "small"]), tmp, cpus)
                    wall, cpu_time, peak, stderr = timed_run(command(large, outputs[tool, "large"]), tmp, cpus)
                    runs[tool, n].append({"per_event": (wall - wall_small) / (n_large - n_small),
                                          "cpu": (cpu_time - cpu_small) / (n_large - n_small),
                                          "startup": wall_small, "peak": peak})
                    if tool == "iactx":
                        stages[n] = _stages(stderr)
    print(f"input: {large} ({large.stat().st_size / 2**20:.0f} MB, {n_large} telescope events; the one-copy "
          f"file {n_small}), {args.repeats} runs per tool and configuration, load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"{'tool':<9}{'cores':>6}{'ms/tel.ev.':>12}{'min':>8}{'cpu ms/tel.ev.':>16}{'start-up s':>12}"
          f"{'peak RSS MB':>13}")
    medians = {}
    for (tool, n), results in runs.items():
        per_event = [1000 * r["per_event"] for r in results]
        medians[tool, n] = statistics.median(per_event)
        print(f"{tool:<9}{n:>6}{medians[tool, n]:>12.3f}{min(per_event):>8.3f}"
              f"{statistics.median(1000 * r['cpu'] for r in results):>16.3f}"
              f"{statistics.median(r['startup'] for r in results):>12.2f}{max(r['peak'] for r in results):>13.0f}")
    for n in configurations:
        print(f"iactx on {n} core(s), time per stage of the last large run: {stages[n]}")
        if "ctapipe" in tools:
            ratio = medians["ctapipe", n] / medians["iactx", n]
            verdict = "meets" if ratio >= TARGETS[n] else "misses"
            print(f"  speed-up over ctapipe-process on {n} core(s) (ratio of medians): {ratio:.2f} ({verdict} the "
                  f"target of {TARGETS[n]:g}); memory ratio ctapipe/iactx "
                  f"{max(r['peak'] for r in runs['ctapipe', n]) / max(r['peak'] for r in runs['iactx', n]):.2f}")
    startup = statistics.median(r["startup"] for r in runs["iactx", 1])
    print(f"iactx start-up on the one-copy file: {startup:.2f} s "
          f"({'meets' if startup <= TARGET_STARTUP else 'misses'} the target of {TARGET_STARTUP:g} s)")


if __name__ == "__main__":
    main()
