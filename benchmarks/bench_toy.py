"""Speed of the toy simulation: telescope events per second.

Usage: python benchmarks/bench_toy.py [N_EVENTS] [--kind gamma|muon]

Simulates N_EVENTS array events (default 2500, about 10 000 telescope
events for gammas on the default toy subarray) once to compile the
kernels and once timed, and prints the rate.
"""

import argparse
import time

from iactx.io.toy import toy_events


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n_events", nargs="?", type=int, default=2500)
    parser.add_argument("--kind", default="gamma", choices=["gamma", "muon"])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    toy_events(5, kind=args.kind, seed=0)  # compile
    start, cpu = time.perf_counter(), time.process_time()
    tree = toy_events(args.n_events, kind=args.kind, seed=args.seed)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    n_tel = sum(tree[name].sizes["tel_event"] for name in tree.children if name != "instrument")
    samples = sum(tree[name]["waveform"].size for name in tree.children if name != "instrument")
    print(f"{args.n_events} {args.kind} events, {n_tel} telescope events, {samples / 1e6:.0f} M waveform samples")
    print(f"wall {wall:.2f} s, cpu {cpu:.2f} s: {n_tel / wall:.0f} telescope events per second")


if __name__ == "__main__":
    main()
