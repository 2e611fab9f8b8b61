"""The ``iactx`` command.

``iactx info FILE [FILE ...]`` summarises sim_telarray and event-tree files;
``iactx process`` turns event files (by default the built-in toy
simulation) into DL1 event trees. Every failure ends with a one-line
message and a non-zero exit code; Ctrl-C and SIGTERM leave no output behind.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings

from .. import __version__
from .interrupts import Terminated, handled_signals

__all__ = ["main"]

log = logging.getLogger("iactx")


def _info(args):
    from ..io.ctapipe_reader import is_ctapipe_file, read_ctapipe_dl1
    from ..io.dl1 import is_dl1_file, open_dl1
    from ..io.errors import check_input_file
    from ..io.simtel import SimtelSource
    from ..io.summary import summarize

    for i, name in enumerate(args.files):
        path = check_input_file(name)
        if is_dl1_file(path):
            text = summarize(open_dl1(path), title=f"{path} (iactx event tree)")
        elif is_ctapipe_file(path):
            text = summarize(read_ctapipe_dl1(path), title=f"{path} (ctapipe DL1 file)")
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
    from collections import Counter

    with source_class(path, calibration_events=True) as source:
        n_events, counts, types, last = 0, Counter(), Counter(), None
        for tree in source.batches(batch_size=50):
            n_events += tree.sizes["event"]
            types.update(tree["event_type"].values.tolist())
            for name in tree.iact.cameras:
                counts[name] += tree[name].sizes["tel_event"]
            last = tree
        if last is None:
            raise ValueError(f"{path} contains no events")
    return summarize(last, title=f"{path} (sim_telarray)", n_events=n_events, tel_event_counts=dict(counts),
                     event_type_counts=types)


def _process(args, overrides):
    from ..config.files import merge_configs, parse_overrides, read_config_file
    from .process import build_registry, run_processing

    tool = f"iactx {args.command}"
    registry = build_registry()
    if args.help_all:
        print(registry.describe())
        return 0
    files = [read_config_file(path) for path in args.config]
    flags = {"EventSource": {}, "DataWriter": {}, "ProcessorTool": {}}
    for value, section, name in (
        (args.input, "EventSource", "input_url"), (args.max_events, "EventSource", "max_events"),
        (args.allowed_tels, "EventSource", "allowed_tels"), (args.output, "DataWriter", "output_path"),
        (args.output_format, "DataWriter", "output_format"),
        (args.overwrite, "DataWriter", "overwrite"), (args.write_images, "DataWriter", "write_dl1_images"),
        (args.write_muon_parameters, "DataWriter", "write_muon_parameters"),
        (args.progress, "ProcessorTool", "progress_bar"), (getattr(args, "reconstruct", None), "ProcessorTool",
                                                             "reconstruct"),
    ):
        if value is not None:
            flags[section][name] = value
    if tool == "iactx muons":
        flags["DataWriter"].update(write_muon_parameters=True, write_dl1_parameters=False)
    config = registry.normalize(merge_configs(*files, parse_overrides(overrides), flags))
    if getattr(args, "reconstruct", None):
        config.setdefault("DataWriter", {}).setdefault("write_dl2", True)
    registry.validate(config)
    if args.show_config:
        print(_resolved_config_text(registry, config))
        return 0
    if "progress_bar" not in config.get("ProcessorTool", {}):
        config.setdefault("ProcessorTool", {})["progress_bar"] = sys.stderr.isatty()
    if args.output_dir is not None:
        return _process_production(args, config)
    if args.workers is not None or args.scheduler is not None:
        raise ValueError("--workers and --scheduler need --output-dir (one output file per input)")
    record = run_processing(registry, config, tool=tool)
    print(f"processed {record['n_events']} events in {record['duration']:.1f} s -> "
          f"{config.get('DataWriter', {}).get('output_path', 'events.dl1.nc')}")
    return 0


def _process_production(args, config):
    """``iactx process --output-dir``: every input to its own DL1 file, on a dask cluster."""
    from .production import process_files

    if not args.input:
        raise ValueError("--output-dir needs --input files (paths, directories or glob patterns)")
    if args.output is not None:
        raise ValueError("give either --output (one file for all inputs) or --output-dir (one file per input)")
    if args.command != "process" or config.get("DataWriter", {}).get("output_format", "netcdf") != "netcdf":
        raise ValueError("--output-dir writes iactx event trees with 'iactx process' (no --output-format ctapipe)")
    # each worker sets the input, the output, overwrite and the progress bar of its own file
    report = process_files(args.input, args.output_dir, config=config, scheduler=args.scheduler,
                           n_workers=args.workers, overwrite=config.get("DataWriter", {}).get("overwrite", False),
                           progress=config["ProcessorTool"]["progress_bar"])
    print(report)
    return 0 if report.ok else 1


def _merge(args):
    from .merge import merge_files

    progress = sys.stderr.isatty() if args.progress is None else args.progress
    path = merge_files(args.input, args.output, overwrite=args.overwrite, progress=progress)
    print(f"merged -> {path}")
    return 0


def _resolved_config_text(registry, config):
    """Every component's parameters after files and options, as YAML."""
    import yaml

    resolved = {}
    for section in registry.components:
        instance = registry.create(section, config)
        resolved[section] = {name: getattr(instance, name) for name in registry.parameter_names(section)}
    return yaml.safe_dump(resolved, sort_keys=False, default_flow_style=None)


def _tel_list(text):
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated telescope ids, got {text!r}") from None


def _warning_to_log(message, category, filename, lineno, file=None, line=None):
    """Show Python warnings as one log line, without source locations."""
    log.warning("%s", message)


def _add_processing_options(parser):
    """Options shared by ``iactx process`` and ``iactx muons``."""
    parser.add_argument("--input", "-i", nargs="+", metavar="FILE",
                        help="sim_telarray or event-tree files; none: the built-in toy simulation")
    parser.add_argument("--output", "-o", metavar="OUT", help="output file (.nc or .h5, NetCDF-4)")
    parser.add_argument("--output-format", choices=["netcdf", "ctapipe"], default=None,
                        help="netcdf: iactx event tree, NetCDF-4 (the default, whatever the extension); "
                             "ctapipe: ctapipe's HDF5 DL1/DL2 layout for ctapipe's tools")
    parser.add_argument("--config", "-c", action="append", default=[], metavar="F",
                        help="configuration file (YAML, JSON or TOML); may be repeated")
    parser.add_argument("--max-events", "-m", type=int, help="stop after this many events")
    parser.add_argument("--allowed-tels", "-t", type=_tel_list, help="comma-separated telescope ids")
    parser.add_argument("--overwrite", action="store_true", default=None, help="replace an existing output")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar with events per second (default: on a terminal)")
    parser.add_argument("--show-config", action="store_true", help="print the resolved configuration and exit")
    parser.add_argument("--help-all", action="store_true",
                        help="list every configurable parameter with its default and exit")


def build_parser():
    parser = argparse.ArgumentParser(prog="iactx", description="Cherenkov-telescope events as labelled xarray data.")
    parser.add_argument("--version", action="version", version=f"iactx {__version__}")
    parser.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="logging verbosity (default WARNING)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    info = sub.add_parser("info", help="summarise sim_telarray or event-tree files")
    info.add_argument("files", nargs="+", metavar="FILE")
    info.set_defaults(run=_info)

    process = sub.add_parser(
        "process", help="process event files (or the built-in toy simulation) to a DL1 event tree",
        description="Calibrate, clean and parameterise every telescope event of the input files and write "
                    "one NetCDF-4 event tree. Any component parameter can be set with "
                    "--ClassName.parameter=value (see --help-all); later config files override earlier "
                    "ones, options override files.")
    _add_processing_options(process)
    process.add_argument("--output-dir", metavar="DIR",
                         help="one DL1 file per input, DIR/<stem>.dl1.nc, processed in parallel on a dask "
                              "cluster; inputs whose output is complete are skipped (resume)")
    cluster = process.add_mutually_exclusive_group()
    cluster.add_argument("--workers", type=int, metavar="N",
                         help="with --output-dir: worker processes of the local cluster (default: one per core)")
    cluster.add_argument("--scheduler", metavar="ADDRESS",
                         help="with --output-dir: use the dask scheduler at ADDRESS (tcp://host:8786)")
    process.add_argument("--write-images", action=argparse.BooleanOptionalAction, default=None,
                         help="store DL1 images (image, peak_time, image_mask)")
    process.add_argument("--reconstruct", action="store_true", default=None,
                         help="also run the stereo reconstruction (ShowerProcessor.reconstructor_types, "
                              "default HillasReconstructor)")
    process.add_argument("--write-muon-parameters", action=argparse.BooleanOptionalAction, default=None,
                         help="also fit muon rings and store the muon columns")
    muons = sub.add_parser(
        "muons", help="find muon rings in event files and write the muon table",
        description="Calibrate and clean every telescope event, fit muon rings (ring, ring parameters, "
                    "optical efficiency) with ctapipe's MuonProcessor selection, and write one NetCDF-4 "
                    "event tree with the muon columns. Configured like 'iactx process'.")
    _add_processing_options(muons)
    muons.set_defaults(run=_process, accepts_overrides=True, write_images=None, write_muon_parameters=None,
                       output_dir=None, workers=None, scheduler=None)
    process.set_defaults(run=_process, accepts_overrides=True)

    merge = sub.add_parser(
        "merge", help="concatenate the DL1 files of many runs into one",
        description="Check that the inputs share layout and instrument and that no event is in two of them, "
                    "then append them one by one into OUT (written atomically, with the provenance of every "
                    "input).")
    merge.add_argument("--input", "-i", nargs="+", required=True, metavar="FILE",
                       help="DL1 files, directories or glob patterns")
    merge.add_argument("--output", "-o", required=True, metavar="OUT", help="the merged file")
    merge.add_argument("--overwrite", action="store_true", help="replace an existing output")
    merge.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="progress bar over the inputs (default: on a terminal)")
    merge.set_defaults(run=_merge)
    return parser


def main(argv=None):
    """Entry point of the ``iactx`` console script; returns the exit code.

    Every failure ends with one line naming the file or option and exit
    code 1 (the traceback with ``--log-level DEBUG``); Ctrl-C gives 130 and
    SIGTERM 143, both after removing unfinished outputs.
    """
    from .._numba import threads_sleep_between_kernels

    threads_sleep_between_kernels()  # the tools run threads beside the kernels
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "accepts_overrides", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(level=args.log_level, format="%(levelname)s: %(message)s")
    warnings.showwarning = _warning_to_log
    try:
        with handled_signals():
            return args.run(args, extra) if getattr(args, "accepts_overrides", False) else args.run(args)
    except KeyboardInterrupt:
        print("iactx: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("iactx: terminated", file=sys.stderr)
        return 143
    except Exception as err:  # noqa: BLE001 - a command line shows one line, never a traceback
        if args.log_level == "DEBUG":
            raise
        known = isinstance(err, (OSError, ValueError, RuntimeError, KeyError))
        print(f"iactx {args.command}: error: {err if known else f'{type(err).__name__}: {err}'}", file=sys.stderr)
        return 1


def console_main():
    """The ``iactx`` command: :func:`main`, then exit at once with its code.

    When :func:`main` returns, every output is complete and closed; the
    interpreter's orderly teardown of the libraries loaded by then (numba's
    LLVM, astropy, xarray, pandas, dask) would add about half a second to
    every command, so standard output, standard error and the log are
    flushed and the process ends without it -- unless child processes (the
    workers of a local cluster) are still alive: those are left to the
    orderly exit, which stops them without their complaints.
    """
    import multiprocessing

    code = main()
    if multiprocessing.active_children():
        sys.exit(code)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    console_main()
