"""Reading throughput of the sim_telarray reader against plain eventio.

Makes (or takes with ``--input``) a large sim_telarray file by repeating the
events of ``camsettings_v6.simtel.zst`` (200 copies: 1800 telescope events
of LSTCam and NectarCam, 2 gains, 40 and 60 samples), then reads it, each
run in a fresh process, with

- ``eventio``: plain ``eventio.SimTelFile`` iteration, touching the raw
  samples of every telescope event: the cost of decoding the file;
- ``iactx``: ``iactx.iter_simtel`` into event trees (R1 calibration and gain
  selection included), with its default batch size unless ``--batch-size``
  says otherwise.

iactx walks the file's objects with eventio but decodes the ADC samples
itself, and fills its batch arrays from a pool of memory that earlier
batches, once dropped, hand back; so it can read faster than eventio alone.

The runs alternate (eventio, iactx, eventio, ...) so that a change in the
machine's load hits all alike. Reported per telescope event: the median and
the smallest wall-clock time and the median CPU time (user + system) of the
iteration (opening the file included, imports and the first numba load
excluded), and the ratio of the medians. Memory: the peak resident set size
(``ru_maxrss``) of each process, the resident size just before iterating and
the resident size after the first, middle and last batch, which stays flat
when iterating is bounded in memory.

usage: python benchmarks/bench_read.py [--input FILE] [--copies N] [--repeats N] [--batch-size N ...]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHARED = REPO.parent / "shared"
SAMPLE = "camsettings_v6.simtel.zst"
AMPLIFY = SHARED / "tools" / "amplify_simtel.py"
TARGET_RATIO = 1.3


def _sample_path():
    folder = Path(os.environ.get("IACTX_DATA_PATH") or SHARED / "data" / "simtel")
    return folder / SAMPLE


def amplified_file(copies, sample=None):
    """``sample`` (default: the camsettings_v6 sample) repeated ``copies`` times, made once in the temporary folder."""
    sample = Path(sample) if sample else _sample_path()
    target = Path(tempfile.gettempdir()) / f"iactx_bench_{sample.name.split('.')[0]}_x{copies}.simtel.zst"
    if not target.exists():
        partial = target.with_name(target.name + ".part.zst")
        subprocess.run([sys.executable, str(AMPLIFY), str(sample), str(partial), str(copies)], check=True)
        partial.rename(target)
    return target


def _rss_mib():
    """Current resident set size [MiB]."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _read_eventio(path):
    from eventio import SimTelFile

    n = 0
    with SimTelFile(str(path)) as simtel_file:
        for array_event in simtel_file:
            for tel_event in array_event["telescope_events"].values():
                samples = tel_event.get("adc_samples")
                if samples is None:
                    samples = tel_event["adc_sums"]
                samples[0, 0]
                n += 1
    return n, []


def _read_iactx(path, batch_size):
    import iactx

    options = {} if batch_size is None else {"batch_size": batch_size}
    n, rss = 0, []
    for tree in iactx.iter_simtel(path, **options):
        n += sum(node.sizes["tel_event"] for node in tree.children.values() if "tel_event" in node.dims)
        rss.append(_rss_mib())
    return n, rss


def worker(kind, path, batch_size):
    """One timed read in this process; prints a JSON line with the figures."""
    if kind == "iactx":
        import iactx

        # load the compiled kernels (numba's cache) before timing
        list(iactx.iter_simtel(_sample_path(), max_events=1))
    else:
        import eventio  # noqa: F401 - import outside the timing
    before = _rss_mib()
    start_usage, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    n, rss = _read_eventio(path) if kind == "eventio" else _read_iactx(path, batch_size)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime - start_usage.ru_utime + usage.ru_stime - start_usage.ru_stime
    print(json.dumps({
        "n": n, "wall": wall, "cpu": cpu, "sys": usage.ru_stime - start_usage.ru_stime,
        "rss_before": before, "rss_batches": rss, "maxrss": usage.ru_maxrss / 1024,
    }))


def run(kind, path, batch_size=None):
    """Run :func:`worker` in a fresh interpreter and return its figures."""
    command = [sys.executable, __file__, "--worker", kind, "--input", str(path)]
    if batch_size is not None:
        command += ["--batch-size", str(batch_size)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def _label(config):
    kind, batch_size = config
    if kind == "eventio":
        return "eventio SimTelFile"
    return f"iactx.iter_simtel (batch_size={'default' if batch_size is None else batch_size})"


def summary(runs):
    """Medians and extremes over runs, per telescope event [ms]."""
    n = runs[0]["n"]
    return {
        "n": n,
        "wall": statistics.median(r["wall"] for r in runs) / n * 1e3,
        "wall_min": min(r["wall"] for r in runs) / n * 1e3,
        "cpu": statistics.median(r["cpu"] for r in runs) / n * 1e3,
        "sys": statistics.median(r["sys"] for r in runs) / n * 1e3,
        "maxrss": max(r["maxrss"] for r in runs),
        "rss_before": statistics.median(r["rss_before"] for r in runs),
        "rss_batches": runs[-1]["rss_batches"],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, help="sim_telarray file to read (default: amplified sample)")
    parser.add_argument("--copies", type=int, default=200, help="copies of the sample event (default 200)")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each reader (default 5, at least 3)")
    parser.add_argument("--batch-size", type=int, action="append",
                        help="iter_simtel batch size; repeat for several (default: iter_simtel's default)")
    parser.add_argument("--worker", choices=("eventio", "iactx"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.input, args.batch_size[0] if args.batch_size else None)
        return 0
    if args.repeats < 3:
        parser.error("--repeats must be at least 3")
    path = args.input or amplified_file(args.copies)
    batch_sizes = args.batch_size or [None]
    eventio = ("eventio", None)
    configs = [eventio] + [("iactx", size) for size in batch_sizes]
    runs = {config: [] for config in configs}
    for _ in range(args.repeats):
        for config in configs:
            runs[config].append(run(config[0], path, config[1]))
    results = {config: summary(value) for config, value in runs.items()}
    base = results[eventio]
    print(f"{path} ({path.stat().st_size / 2**20:.0f} MiB), {base['n']} telescope events, "
          f"{args.repeats} runs each, cpu count {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}\n")
    header = ("reader", "wall ms/tel-ev (median)", "wall (min)", "cpu ms/tel-ev (median)", "of which sys",
              "ratio wall", "ratio cpu", "peak RSS MiB")
    lines = []
    for config, r in results.items():
        lines.append((_label(config), f"{r['wall']:.3f}", f"{r['wall_min']:.3f}", f"{r['cpu']:.3f}",
                      f"{r['sys']:.3f}", f"{r['wall'] / base['wall']:.2f}", f"{r['cpu'] / base['cpu']:.2f}",
                      f"{r['maxrss']:.0f}"))
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]
    for line in [header, *lines]:
        print("  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(line, widths))))
    print("\nmemory while iterating (resident set size of the last run, MiB):")
    for config in configs[1:]:
        r = results[config]
        rss = r["rss_batches"]
        print(f"  {_label(config)}: {len(rss)} batches; "
              f"before {r['rss_before']:.0f}, after batch 1 {rss[0]:.0f}, after batch {len(rss) // 2 + 1} "
              f"{rss[len(rss) // 2]:.0f}, after the last {rss[-1]:.0f}, largest {max(rss):.0f}; "
              f"peak (ru_maxrss) {r['maxrss']:.0f}")
    print(f"  eventio: before {base['rss_before']:.0f}, peak (ru_maxrss) {base['maxrss']:.0f}")
    print(f"\ntarget: iactx at most {TARGET_RATIO}x plain eventio (wall clock):")
    for config in configs[1:]:
        ratio = results[config]["wall"] / base["wall"]
        print(f"  {_label(config)}: {ratio:.2f} {'(met)' if ratio <= TARGET_RATIO else '(missed)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
