"""Speed of the toy simulation: telescope events per second.

Usage: python benchmarks/bench_toy.py [N_EVENTS] [--kind gamma|muon] [--repeat R]

Simulates N_EVENTS array events (default 2500, about 10 000 telescope
events for gammas on the default toy subarray) once to compile the
kernels, then R times (default 2), printing each run. The first timed run
can be slower on virtual machines that hand memory to a process only when
it is first touched (the waveforms of 10 000 telescope events are about
2.7 GB); later runs reuse that memory.
"""

import argparse
import resource
import time

from iactx.io.toy import toy_events


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n_events", nargs="?", type=int, default=2500)
    parser.add_argument("--kind", default="gamma", choices=["gamma", "muon"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    toy_events(5, kind=args.kind, seed=0)  # compile
    for run in range(args.repeat):
        before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        tree = toy_events(args.n_events, kind=args.kind, seed=args.seed)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_SELF)
        user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
        cameras = [name for name in tree.children if name != "instrument"]
        n_tel = sum(tree[name].sizes["tel_event"] for name in cameras)
        samples = sum(tree[name]["waveform"].size for name in cameras)
        print(f"run {run + 1}: {args.n_events} {args.kind} events, {n_tel} telescope events, "
              f"{samples / 1e6:.0f} M waveform samples; wall {wall:.2f} s (cpu user {user:.2f} s, "
              f"system {system:.2f} s): {n_tel / wall:.0f} telescope events per second")
        del tree


if __name__ == "__main__":
    main()
