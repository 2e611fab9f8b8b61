"""The ``iactx`` command.

``iactx info FILE [FILE ...]`` summarises sim_telarray and event-tree files;
``iactx demo`` runs the main job on built-in data. Every failure ends with a
one-line message and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings

from .. import __version__

__all__ = ["main"]

log = logging.getLogger("iactx")


def _info(args):
    from ..io.dl1 import is_dl1_file, open_dl1
    from ..io.errors import check_input_file
    from ..io.simtel import SimtelSource
    from ..io.summary import summarize

    for i, name in enumerate(args.files):
        path = check_input_file(name)
        if is_dl1_file(path):
            text = summarize(open_dl1(path), title=f"{path} (iactx event tree)")
        elif SimtelSource.is_compatible(path):
            text = _simtel_summary(path, SimtelSource, summarize)
        else:
            from ..io.errors import first_bytes

            raise ValueError(f"{path} is neither a sim_telarray nor an iactx event-tree file; "
                             f"it starts with {first_bytes(path)}")
        print(("\n" if i else "") + text)
    return 0


def _simtel_summary(path, source_class, summarize):
    """Count the events of a sim_telarray file batch by batch (bounded memory)."""
    with source_class(path, calibration_events=True) as source:
        n_events, counts, last = 0, {}, None
        for tree in source.batches(batch_size=50):
            n_events += tree.sizes["event"]
            for name in tree.iact.cameras:
                counts[name] = counts.get(name, 0) + tree[name].sizes["tel_event"]
            last = tree
        if last is None:
            raise ValueError(f"{path} contains no events")
    return summarize(last, title=f"{path} (sim_telarray)", n_events=n_events, tel_event_counts=counts)


def _demo(args):
    from ..io.summary import summarize

    try:
        from ..io.toy import toy_events
    except ImportError:
        raise RuntimeError("the built-in toy simulation is not available in this version") from None
    tree = toy_events(args.n_events, seed=args.seed)
    print(summarize(tree, title=f"toy simulation, {args.n_events} events (seed {args.seed})"))
    if args.output:
        from ..io.dl1 import write_dl1

        write_dl1(tree, args.output, overwrite=args.overwrite)
        print(f"written to {args.output}")
    return 0


def _warning_to_log(message, category, filename, lineno, file=None, line=None):
    """Show Python warnings as one log line, without source locations."""
    log.warning("%s", message)


def build_parser():
    parser = argparse.ArgumentParser(prog="iactx", description="Cherenkov-telescope events as labelled xarray data.")
    parser.add_argument("--version", action="version", version=f"iactx {__version__}")
    parser.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="logging verbosity (default WARNING)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    info = sub.add_parser("info", help="summarise sim_telarray or event-tree files")
    info.add_argument("files", nargs="+", metavar="FILE")
    info.set_defaults(run=_info)

    demo = sub.add_parser("demo", help="run the main job on the built-in toy simulation")
    demo.add_argument("--n-events", type=int, default=200, help="events to simulate (default 200)")
    demo.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    demo.add_argument("--output", help="also write the event tree to this NetCDF file")
    demo.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    demo.set_defaults(run=_demo)
    return parser


def main(argv=None):
    """Entry point of the ``iactx`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(levelname)s: %(message)s")
    warnings.showwarning = _warning_to_log
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("iactx: interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError, RuntimeError, KeyError) as err:
        if args.log_level == "DEBUG":
            raise
        print(f"iactx {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
