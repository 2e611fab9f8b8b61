"""A simulation production on a dask cluster: one DL1 file per input file.

:func:`process_files` sends every input to a dask.distributed worker, which
runs the same processing as ``iactx process`` on it and writes
``OUTPUT_DIR/<stem>.dl1.nc`` atomically; the worker sends back only a
:class:`FileSummary`. Without a client, an embedded ``LocalCluster`` of
single-threaded worker processes (numba, OpenMP and BLAS pinned to one
thread each) does the work on this machine; with a ``Client``, or a
scheduler address, the work goes to that cluster -- a dask-jobqueue
SLURMCluster or HTCondorCluster, or any running scheduler.

Faults stay with their file: an input that fails is reported with its error
and the others go on; a worker that dies is replaced and its file tried
again, ``retries`` times, then reported; outputs already complete are
skipped, so a rerun resumes an interrupted production; Ctrl-C cancels the
work and removes the temporary files of unfinished outputs.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import resource
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..io.dl1 import is_dl1_file
from ..io.paths import EVENT_FILE_SUFFIXES, resolve_paths
from .interrupts import raise_if_signalled

__all__ = ["process_files", "process_one", "FileSummary", "Report", "output_name", "WORKER_ENVIRONMENT",
           "CLUSTER_CONFIG"]

log = logging.getLogger("iactx.production")

#: environment of the worker processes of the embedded cluster: one thread per library
WORKER_ENVIRONMENT = {name: "1" for name in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                              "MKL_NUM_THREADS")}
#: dask settings of the embedded cluster, also good for a cluster given by the user:
#: one file at a time per worker, so that a worker that dies takes no queued file with it; no
#: statistical profiler in the workers (it samples the running task every 10 ms: about 18 %
#: longer per file with two workers on two cores); the workers' periodic checks (event-loop
#: ticks, system and memory monitors) less often than every 20 to 500 ms (a few % more)
CLUSTER_CONFIG = {"distributed.scheduler.worker-saturation": 1.0, "distributed.worker.profile.enabled": False,
                  "distributed.admin.tick.interval": "500ms", "distributed.admin.system-monitor.interval": "2s",
                  "distributed.worker.memory.monitor-interval": "1s"}
_OUTPUT_SUFFIX = ".dl1.nc"
#: endings taken off an input's name for its output's, longest first
_INPUT_SUFFIXES = sorted({*EVENT_FILE_SUFFIXES, _OUTPUT_SUFFIX}, key=len, reverse=True)


@dataclass(frozen=True)
class FileSummary:
    """What a worker reports about one input.

    Attributes
    ----------
    input, output : str
        The input file and its DL1 file.
    status : {"done", "skipped", "failed"}
        ``skipped``: the output existed and was complete.
    n_events, n_tel_events : int
        Array events and telescope events written.
    seconds : float
        Wall time of the file on its worker [s].
    peak_memory_mb : float
        Peak resident memory of the worker process so far [MiB].
    error : str or None
        One line, for a failed input.
    warnings : tuple of str
        Warnings raised while processing it (a truncated file, ...).
    worker : str
        Host and process id of the worker.
    """

    input: str
    output: str
    status: str
    n_events: int = 0
    n_tel_events: int = 0
    seconds: float = 0.0
    peak_memory_mb: float = 0.0
    error: str | None = None
    warnings: tuple = ()
    worker: str = ""


@dataclass
class Report:
    """The outcome of :func:`process_files`, one :class:`FileSummary` per input.

    Attributes
    ----------
    files : list of FileSummary
        In the order of the inputs.
    seconds : float
        Wall time of the whole production [s].
    dashboard : str or None
        Address of the dask dashboard, if there was one.
    """

    files: list = field(default_factory=list)
    seconds: float = 0.0
    dashboard: str | None = None

    def _with(self, status):
        return [f for f in self.files if f.status == status]

    @property
    def done(self):
        """Summaries of the files processed now."""
        return self._with("done")

    @property
    def skipped(self):
        """Summaries of the files whose complete output was already there."""
        return self._with("skipped")

    @property
    def failed(self):
        """Summaries of the files that failed."""
        return self._with("failed")

    @property
    def ok(self):
        """Whether no input failed."""
        return not self.failed

    @property
    def n_tel_events(self):
        """Telescope events written by this run."""
        return sum(f.n_tel_events for f in self.done)

    @property
    def tel_events_per_second(self):
        """Throughput of this run: telescope events per second of wall time."""
        return self.n_tel_events / self.seconds if self.seconds > 0 else 0.0

    def to_dataframe(self):
        """The summaries as a pandas DataFrame, one row per input."""
        import pandas as pd

        return pd.DataFrame([asdict(f) for f in self.files])

    def __str__(self):
        peak = max((f.peak_memory_mb for f in self.done), default=0.0)
        lines = [f"{len(self.done)} files processed, {len(self.skipped)} skipped (complete), {len(self.failed)} "
                 f"failed in {self.seconds:.1f} s: {self.n_tel_events} telescope events, "
                 f"{self.tel_events_per_second:.0f} per second; peak worker memory {peak:.0f} MiB"]
        lines += [f"failed: {f.input}: {f.error}" for f in self.failed]
        return "\n".join(lines)


def output_name(path):
    """``<stem>.dl1.nc`` of an input file (``gamma_1.simtel.zst`` -> ``gamma_1.dl1.nc``)."""
    name = Path(path).name
    stem = next((name[: -len(s)] for s in _INPUT_SUFFIXES if name.endswith(s) and len(name) > len(s)), name)
    return stem + _OUTPUT_SUFFIX


def _peak_memory_mb():
    """Peak resident memory of this process [MiB].

    Linux's VmHWM, of this process's own memory map: ``ru_maxrss`` would
    include the peak of the process that spawned it before its exec.
    """
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB elsewhere


def _one_line(err):
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def process_one(input_path, output_path, config, *, overwrite=False, max_events=None):
    """Process one input into one DL1 file, as ``iactx process`` does; never raises for a bad input.

    This is the task a worker runs.

    Parameters
    ----------
    input_path, output_path : str or Path
        Input file and DL1 file to write (atomically).
    config : dict
        Normalised configuration of ``iactx process`` (inputs and output
        are set here).
    overwrite : bool
        Replace an existing output.
    max_events : int, optional
        Stop after this many events.

    Returns
    -------
    FileSummary
    """
    import dask

    from .process import build_registry, run_processing

    start = time.perf_counter()
    worker = f"{os.uname().nodename}:{os.getpid()}"
    if not overwrite:
        earlier = _earlier_summary(input_path, output_path, worker)
        if earlier is not None:
            return earlier
    config = copy.deepcopy(config)
    config.setdefault("EventSource", {}).update(input_url=[str(input_path)])
    if max_events is not None:
        config["EventSource"]["max_events"] = max_events
    config.setdefault("DataWriter", {}).update(output_path=str(output_path), overwrite=overwrite)
    config.setdefault("ProcessorTool", {})["progress_bar"] = False
    # synchronous: xarray would otherwise take a cluster-wide lock (a round trip to the scheduler) per write
    with warnings.catch_warnings(record=True) as caught, _quiet(logging.getLogger("iactx.process")), \
            dask.config.set(scheduler="synchronous"):
        warnings.simplefilter("always")
        try:
            record = run_processing(build_registry(), config)
        except Exception as err:  # noqa: BLE001 - any failure of one input is reported, the others go on
            return FileSummary(str(input_path), str(output_path), "failed", seconds=time.perf_counter() - start,
                               peak_memory_mb=_peak_memory_mb(), error=_one_line(err),
                               warnings=_messages(caught), worker=worker)
    return FileSummary(str(input_path), str(output_path), "done", n_events=record["n_events_written"],
                       n_tel_events=record["n_tel_events"], seconds=time.perf_counter() - start,
                       peak_memory_mb=_peak_memory_mb(), warnings=_messages(caught), worker=worker)


def _messages(caught):
    """The distinct messages of the user warnings (truncated files, fallbacks, ...) among ``caught``."""
    return tuple(dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, UserWarning)))


def _earlier_summary(input_path, output_path, worker):
    """The summary of an output this input already gave, or None.

    The scheduler runs a finished task again when the worker holding its
    result dies before the result is fetched; the file is done then.
    """
    import json

    import h5py

    if not is_dl1_file(output_path):
        return None
    with h5py.File(output_path, "r") as f:
        record = json.loads(f.attrs.get("provenance", "{}"))
    if [i.get("path") for i in record.get("inputs", [])] != [str(Path(input_path).resolve())]:
        return None
    return FileSummary(str(input_path), str(output_path), "done", n_events=record.get("n_events_written", 0),
                       n_tel_events=record.get("n_tel_events", 0), seconds=record.get("duration", 0.0),
                       peak_memory_mb=_peak_memory_mb(), worker=worker)


@contextlib.contextmanager
def _quiet(logger):
    """Silence ``logger`` (its messages go into the summary instead)."""
    disabled, logger.disabled = logger.disabled, True
    try:
        yield
    finally:
        logger.disabled = disabled


def _prepared_config(config):
    """A configuration (dict or file) checked and normalised once, before any work."""
    from ..config.files import read_config_file
    from .process import build_registry

    registry = build_registry()
    if config is None:
        config = {}
    elif isinstance(config, (str, os.PathLike)):
        config = read_config_file(config)
    config = registry.normalize(copy.deepcopy(config))
    registry.validate(config)
    return config


def _pairs(inputs, output_dir):
    """(input, output) for every input; refuses two inputs with one output and outputs that are inputs."""
    paths = resolve_paths(inputs, suffixes=EVENT_FILE_SUFFIXES)
    pairs, owner = [], {}
    for path in paths:
        output = output_dir / output_name(path)
        if output in owner:
            raise ValueError(f"{owner[output]} and {path} would both be written to {output}")
        if output.resolve() == path.resolve():
            raise ValueError(f"the output {output} of {path} is the input itself")
        owner[output] = path
        pairs.append((path, output))
    return pairs


def _temporary_files(output):
    """Temporary files of an unfinished output (see :class:`~iactx.io.dl1.EventTreeWriter`)."""
    return list(output.parent.glob(f".{output.name}.*.part"))


def _remove_temporary_files(outputs):
    for output in outputs:
        for part in _temporary_files(output):
            part.unlink(missing_ok=True)


@contextlib.contextmanager
def _cluster_client(client, scheduler, n_workers, retries):
    """The client to use: the one given, one connected to ``scheduler``, or an embedded LocalCluster's."""
    import dask
    from distributed import Client, LocalCluster

    if client is not None:
        yield client, False
        return
    if scheduler is not None:
        with Client(scheduler) as connected:
            yield connected, False
        return
    n_workers = n_workers or os.cpu_count() or 1
    # dask's own messages (workers starting, stopping, cancelled on Ctrl-C) only at iactx's INFO level
    verbose = log.isEnabledFor(logging.INFO)
    logging.getLogger("distributed").setLevel("INFO" if verbose else "WARNING")
    env = {**WORKER_ENVIRONMENT, "IACTX_WORKER_LOG_LEVEL": "INFO" if verbose else "ERROR"}
    with dask.config.set({**CLUSTER_CONFIG, "distributed.scheduler.allowed-failures": retries}), \
            LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, env=env,
                         preload=["iactx.tools.worker_setup"], dashboard_address=":0") as cluster, \
            Client(cluster) as local:
        yield local, True


def _warm_numba_cache(config, first_input):
    """Compile (or load) every kernel the run needs once, into numba's on-disk cache, before the fan-out."""
    with tempfile.TemporaryDirectory(prefix="iactx-warm-") as tmp:
        summary = process_one(first_input, Path(tmp) / "warm.dl1.nc", config, max_events=1)
    if summary.status == "failed":
        log.info("warming the kernels on one event of %s failed (%s); the workers compile them", first_input,
                 summary.error)


def _failure(future, input_path, output_path):
    """The summary of a task that raised (the scheduler gave up after its workers died)."""
    err = future.exception()
    if type(err).__name__ == "KilledWorker":
        error = "every worker that tried it died (killed, or out of memory); no output written"
    else:
        error = _one_line(err)
    return FileSummary(str(input_path), str(output_path), "failed", error=error)


def process_files(inputs, output_dir, *, config=None, client=None, scheduler=None, n_workers=None,
                  overwrite=False, progress=True, retries=2):
    """Process many input files on a dask cluster, one DL1 file each.

    Parameters
    ----------
    inputs : str, Path or list of them
        sim_telarray (or event-tree) files: paths, glob patterns
        (``"prod/*.simtel.zst"``) or directories.
    output_dir : str or Path
        Where ``<stem>.dl1.nc`` (and its ``.provenance.json``) of every
        input goes; created if missing.
    config : dict or str or Path, optional
        Configuration of ``iactx process`` (nested sections as in its
        configuration files), or such a file. Checked before any work.
    client : distributed.Client, optional
        Cluster to use as it is (e.g. of a dask-jobqueue SLURMCluster).
    scheduler : str, optional
        Address of a running scheduler (``"tcp://host:8786"``), instead of
        ``client``.
    n_workers : int, optional
        Worker processes of the embedded LocalCluster (default: one per
        core), when neither ``client`` nor ``scheduler`` is given.
    overwrite : bool
        Process inputs whose output exists too, replacing it.
    progress : bool
        Progress bar (files, telescope events per second) on stderr.
    retries : int
        Times a file is tried again after its worker died (embedded
        cluster; a given cluster keeps its own
        ``distributed.scheduler.allowed-failures``).

    Returns
    -------
    Report
        One summary per input; ``report.ok`` is false if any failed.

    Raises
    ------
    FileNotFoundError, ValueError
        Missing inputs, two inputs with the same output name, or a bad
        configuration: nothing is processed.
    KeyboardInterrupt
        After cancelling the work and removing unfinished outputs.

    Examples
    --------
    >>> report = iactx.process_files("prod/*.simtel.zst", "dl1/", n_workers=8)   # doctest: +SKIP
    >>> print(report)                                                           # doctest: +SKIP
    """
    start = time.perf_counter()
    output_dir = Path(output_dir).expanduser()
    output_dir.mkdir(parents=True, exist_ok=True)
    pairs = _pairs(inputs, output_dir)
    config = _prepared_config(config)
    summaries = {}
    todo = []
    for path, output in pairs:
        if not overwrite and is_dl1_file(output):
            summaries[path] = FileSummary(str(path), str(output), "skipped")
        else:
            todo.append((path, output))
    stale = [part for _, output in pairs for part in _temporary_files(output)]
    if stale:
        warnings.warn(f"temporary files of an interrupted run, removed: {', '.join(map(str, stale))}", stacklevel=2)
        _remove_temporary_files(output for _, output in pairs)
    report = Report()
    try:
        if todo:
            report.dashboard = _run(todo, summaries, config, client, scheduler, n_workers, overwrite, progress,
                                    retries, start)
    finally:  # parts of outputs a dead worker or Ctrl-C left unfinished
        _remove_temporary_files(output for _, output in todo)
    report.files = [summaries[path] for path, _ in pairs]
    report.seconds = time.perf_counter() - start
    return report


def _run(todo, summaries, config, client, scheduler, n_workers, overwrite, progress, retries, start):
    """Fan ``todo`` out to the cluster; fill ``summaries`` as files finish; return the dashboard address."""
    from distributed import as_completed

    with _cluster_client(client, scheduler, n_workers, retries) as (cluster_client, embedded):
        dashboard = _dashboard(cluster_client)
        if dashboard and progress:
            print(f"dask dashboard: {dashboard}", file=sys.stderr)
        if embedded:
            _warm_numba_cache(config, todo[0][0])
        futures = {cluster_client.submit(process_one, str(path), str(output), config, overwrite=overwrite,
                                         pure=False, key=f"iactx-process-{output.name}-{time.time_ns()}"):
                   (path, output) for path, output in todo}
        try:
            with _progress_bar(progress, len(todo)) as bar:
                for future in as_completed(list(futures)):
                    raise_if_signalled()
                    path, output = futures.pop(future)
                    if future.status == "finished":
                        summaries[path] = future.result()
                    else:
                        summaries[path] = _failure(future, path, output)
                    future.release()  # else a worker lost later would make the scheduler redo the file
                    _show(bar, summaries[path], time.perf_counter() - start, summaries.values())
        except BaseException:
            cluster_client.cancel(list(futures))
            raise
    return dashboard


def _dashboard(client):
    try:
        return client.dashboard_link
    except Exception:  # noqa: BLE001 - a cluster without a dashboard
        return None


def _progress_bar(enabled, total):
    from tqdm import tqdm

    return tqdm(total=total, unit="file", disable=not enabled, dynamic_ncols=True, file=sys.stderr,
                desc="iactx process")


def _show(bar, summary, elapsed, summaries):
    if summary.status == "failed" and not bar.disable:
        bar.write(f"failed: {summary.input}: {summary.error}")
    n_tel_events = sum(s.n_tel_events for s in summaries)
    bar.set_postfix_str(f"{n_tel_events / max(elapsed, 1e-9):.0f} tel-ev/s", refresh=False)
    bar.update(1)
