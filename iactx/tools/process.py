"""``iactx process``: event files to DL1 event trees, batch by batch.

Reads sim_telarray (or event-tree) files in batches of events, runs the DL1
chain (calibration, cleaning, image parameters; optionally the stereo
reconstruction) and appends each batch to one NetCDF-4 output, so memory
stays bounded whatever the input size. The output appears only when the
run completes; an error or Ctrl-C leaves no file behind.
"""

from __future__ import annotations

import logging
import math
from contextlib import closing
import os
import sys
from pathlib import Path

from .._prefetch import prefetched
from ..config.registry import ComponentRegistry, section_config
from ..io.atomic import AtomicTextFile
from ..io.dl1 import FORMAT_NAME, IMAGE_STATISTICS_PATH, EventTreeWriter
from ..io.reference_metadata import contact_attrs, described_by, now, reference_metadata
from .components import Contact, DataWriter, EventSource, ProcessorTool
from .interrupts import raise_if_signalled, signals_deferred
from .provenance import Provenance
from .stage_clock import StageClock

__all__ = ["build_registry", "run_processing", "select_output", "RAW_VARIABLES", "IMAGE_VARIABLES",
           "KEPT_VARIABLES", "CTAPIPE_ALIASES"]

log = logging.getLogger("iactx.process")

#: per-telescope-event inputs of the DL1 chain, never written by ``process``
RAW_VARIABLES = {"waveform", "r0", "pedestal", "dc_to_pe", "selected_gain", "time_shift", "outlier_mask"}
#: per-pixel DL1 data, written with ``write_dl1_images``
IMAGE_VARIABLES = {"image", "peak_time", "image_mask", "true_image", "is_valid"}
#: per-telescope-event context always written
KEPT_VARIABLES = {"pointing_alt", "pointing_az", "focal_length"}
_MUON_PREFIXES = ("muonring_", "muonparameters_", "muonefficiency_")
_STEREO_PREFIX = ("HillasReconstructor_", "HillasIntersection_")
#: per-telescope-event stereo outputs without the prefix
_STEREO_VARIABLES = {"core_psi"}

#: sections of ctapipe configuration files and where their parameters go here
CTAPIPE_ALIASES = {
    "Stage1ProcessorTool": ("ProcessorTool", {
        "config_file": None,
        "output_path": "DataWriter.output_path",
        "overwrite": "DataWriter.overwrite",
        "write_images": "DataWriter.write_dl1_images",
        "write_parameters": "DataWriter.write_dl1_parameters",
        "image_extractor_type": "CameraCalibrator.image_extractor_type",
        "image_cleaner_type": "ImageProcessor.image_cleaner_type",
    }),
    "SimTelEventSource": ("EventSource", {"focal_length_choice": "focal_length_choice"}),
    "Contact": ("Contact", {"name": "Contact.person"}),
}


def build_registry():
    """Every configurable component of ``iactx process``, with ctapipe's section names."""
    from ..calib.calibrator import COMPONENTS as CALIBRATION
    from ..event_selection import COMPONENTS as SELECTION
    from ..image.muon import MUON_COMPONENTS as MUONS
    from ..image.processor import COMPONENTS as IMAGE
    from ..reco import COMPONENTS as STEREO

    components = {"ProcessorTool": ProcessorTool, "EventSource": EventSource, "DataWriter": DataWriter,
                  "Contact": Contact,
                  **SELECTION, **CALIBRATION, **IMAGE, **MUONS, **STEREO}
    return ComponentRegistry(components, aliases=CTAPIPE_ALIASES, tool="ProcessorTool")


def _reference_metadata(described, writer_config, options, *, tool, start, contact):
    """The CTA reference metadata of a NetCDF output, its data levels from the writer's switches."""
    from .. import __version__

    levels = [level for level, wanted in (
        ("DL1_IMAGES", writer_config.write_dl1_images), ("DL1_PARAMETERS", writer_config.write_dl1_parameters),
        ("DL1_MUON", writer_config.write_muon_parameters), ("DL2", options.reconstruct)) if wanted]
    return reference_metadata(**described, levels=levels, activity=tool, start=start, product_format="netcdf",
                              description="iactx event tree (NetCDF-4)", data_model=FORMAT_NAME,
                              data_model_version=__version__, contact=contact)


def select_output(tree, writer):
    """Keep what the :class:`~iactx.tools.components.DataWriter` asks for.

    Parameters
    ----------
    tree : xarray.DataTree
        Processed event tree.
    writer : DataWriter
        Its ``write_*`` switches decide which variables stay.
    """
    def keep(name):
        if name in RAW_VARIABLES:
            return False
        if name in IMAGE_VARIABLES:
            return writer.write_dl1_images
        if name.startswith(_MUON_PREFIXES):
            return writer.write_muon_parameters
        if name.startswith(_STEREO_PREFIX) or name in _STEREO_VARIABLES:
            return writer.write_dl2
        return name in KEPT_VARIABLES or writer.write_dl1_parameters

    def per_camera(ds):
        # names and Variables only: building a DataArray per variable costs ~50 us each on a camera group
        drop = [n for n in ds.data_vars if "tel_event" in ds.variables[n].dims and not keep(n)]
        return ds.drop_vars(drop)

    tree = tree.iact.map_cameras(per_camera)
    if not writer.write_dl2:
        root = tree.to_dataset(inherit=False)
        dl2 = [n for n in root.data_vars if n.startswith(_STEREO_PREFIX)]
        if dl2:
            nodes = {node.path: node.to_dataset(inherit=False) for node in tree.subtree}
            nodes["/"] = root.drop_vars(dl2)
            import xarray as xr

            tree = xr.DataTree.from_dict(nodes)
    return tree


def _check_inputs(paths, output):
    """Fail before any work on a missing, unrecognised or repeated input, or an output that is an input."""
    from ..io.errors import check_input_file, first_bytes
    from ..io.registry import available_sources

    seen = {}
    for path in paths:
        path = check_input_file(path)
        if not any(source.is_compatible(path) for source in available_sources()):
            raise ValueError(f"no reader recognises {path}; it starts with {first_bytes(path)}")
        resolved = path.resolve()
        if resolved in seen:
            raise ValueError(f"{path} is given twice as input (also as {seen[resolved]}): its events would be "
                             "written twice")
        if resolved == output.resolve():
            raise ValueError(f"the output {output} is the input {path}; choose another output file")
        seen[resolved] = path


def _same_instrument(batch, first, path):
    """Check that ``batch`` of input ``path`` has the instrument of ``first`` = (path, /instrument dataset)."""
    if first is None or "instrument" not in batch.children:
        return
    first_path, instrument = first
    if not batch["instrument"].to_dataset(inherit=False).equals(instrument):
        raise ValueError(f"{path} has another subarray (telescopes, optics or cameras) than {first_path}: "
                         "inputs of one output must share their instrument")


def _input_batches(source):
    """Event trees from the configured inputs, at most ``max_events`` in all.

    The last batch of a complete sim_telarray file carries the file's
    simulated-shower distribution (``/simulation/shower_distribution``).
    """
    from ..io.registry import open_events
    from ..io.simtel import SimtelSource, iter_simtel

    remaining = math.inf if source.max_events is None else source.max_events
    first = None  # the first input and its instrument
    if not source.input_url:
        from ..io.toy import toy_event_batches

        n = int(min(source.toy_events, remaining))
        yield from toy_event_batches(n, batch_size=source.batch_size, seed=source.toy_seed)
        return
    for path in source.input_url:
        if remaining <= 0:
            return
        if SimtelSource.is_compatible(path):
            batches = iter_simtel(path, batch_size=source.batch_size,
                                  max_events=None if math.isinf(remaining) else int(remaining),
                                  allowed_tels=source.allowed_tels, focal_length=source.focal_length_choice,
                                  batch_bytes=int(source.batch_megabytes * 2**20), strict=source.strict)
        else:
            batches = [open_events(path)]
        for index, batch in enumerate(batches):
            if index == 0:
                _same_instrument(batch, first, path)
                if first is None and "instrument" in batch.children:
                    first = (path, batch["instrument"].to_dataset(inherit=False))
            remaining -= batch.sizes["event"]
            yield batch


def _has_pixels(tree):
    """Whether some camera group has waveforms or images to compute parameters from.

    Inputs with parameters only (a DL1 file written without images) are
    carried through as they are.
    """
    return any({"waveform", "image"} & set(tree[name].data_vars) for name in tree.iact.cameras)


def _release(*trees):
    """Free finished trees now rather than at the next garbage collection.

    A tree's nodes and their parent form reference cycles, which only the
    cyclic collector frees; detaching every node lets reference counting
    free the batch at once, so the reader refills its memory for the next
    batch instead of mapping new pages. Every tree that shares the batch's
    arrays must go: one left for the collector (the output of an
    intermediate step, say) keeps the waveforms of its batch alive, and
    the reader maps a new set for every batch until the collector runs.
    """
    for tree in trees:
        for node in reversed(list(tree.subtree)):
            node.orphan()


def _selected_and_calibrated(batches, selection, config, clock):
    """Each batch's events read, and the batch after the event selection and the calibration.

    Runs in the reader thread: the selection (as ctapipe-process: event
    types, then the stereo trigger of the subarray) and the extraction of
    images from the waveforms, which then are dropped. So the waveforms of
    a batch are freed before the reader fills the next one, and the memory
    holds one batch of waveforms, not two (the one processed and the one
    read).

    Parameters
    ----------
    batches : iterable of xarray.DataTree
        Event trees as read.
    selection : sequence of callable
        Filters applied in turn, each taking and returning a tree.
    config : dict
        Normalised configuration (its ``CameraCalibrator`` sections).
    clock : StageClock
        Times the selection and the calibration.

    Yields
    ------
    tuple of (int, xarray.DataTree)
        Events read, and the selected, calibrated tree without waveforms.
    """
    from ..image.processor import calibrated

    with closing(iter(batches)) as batches:  # closing this generator closes the input at once
        for batch in batches:
            with clock("event selection (reader thread)"):
                stages = [batch]
                for step in selection:
                    stages.append(step(stages[-1]))
            with clock("calibration (reader thread)"):
                tree = calibrated(stages[-1], config, keep_waveforms=False)
            _release(*(stage for stage in stages if stage is not tree))
            n = batch.sizes["event"]
            del batch, stages  # nothing of the batch but the tree handed over stays referenced here
            yield n, tree


def _progress(enabled, total, description):
    from tqdm import tqdm

    return tqdm(total=total, unit="ev", disable=not enabled, dynamic_ncols=True, file=sys.stderr,
                desc=description)


def run_processing(registry, config, *, tool="iactx process"):
    """Run the configured processing; return the provenance record.

    Every batch goes through the event selection
    (:class:`~iactx.event_selection.EventTypeFilter`,
    :class:`~iactx.event_selection.SoftwareTrigger`) and the calibration,
    in the reader thread, then the rest of the DL1 chain and, if asked, the
    stereo reconstruction and the muon analysis. A batch the
    selection empties is still written: it may carry its run's shower
    distribution. One :class:`~iactx.image.processor.ImageProcessor` serves the whole run,
    so state it carries from batch to batch (the random starts of the timing
    fits) follows the events in file order.

    Parameters
    ----------
    registry : iactx.config.registry.ComponentRegistry
        Components of the tool (:func:`build_registry`).
    config : dict
        Normalised configuration (``registry.normalize``).
    tool : {"iactx process", "iactx muons"}
        ``iactx muons`` keeps only the muon analysis of each telescope event.

    Raises
    ------
    KeyboardInterrupt
        Re-raised after the partial output has been removed; the number of
        events done is logged.
    """
    from ..image.image_statistics import ImageStatistics
    from ..image.processor import ImageProcessor

    source = registry.create("EventSource", config)
    writer_config = registry.create("DataWriter", config)
    options = registry.create("ProcessorTool", config)
    output = Path(writer_config.output_path)
    _check_inputs(source.input_url, output)
    log_path = Path(writer_config.provenance_log or f"{output}.provenance.json")
    if not os.access(log_path.parent, os.W_OK) or log_path.is_dir():
        raise PermissionError(f"cannot write the provenance log {log_path} (DataWriter.provenance_log)")
    provenance = Provenance(tool, config, inputs=source.input_url, output=output)
    contact = Contact(**section_config(config, "DataWriter", "Contact"))
    contact = contact_attrs(contact.person, contact.email, contact.organization)
    start = now()
    total = None if not source.input_url else source.max_events
    if not source.input_url:
        total = min(source.toy_events, source.max_events or source.toy_events)
    done = written = tel_events = 0
    described = {}
    clock = StageClock()
    try:
        ctapipe_format = writer_config.output_format == "ctapipe"
        if ctapipe_format:
            from ..io.ctapipe_format import CtapipeDL1Writer as writer_class
        else:
            writer_class = EventTreeWriter
        event_type_filter = registry.create("EventTypeFilter", config)
        software_trigger = registry.create("SoftwareTrigger", config)
        # the next batch is read, selected and calibrated in a thread while this one is processed; closing
        # the iteration stops that thread (and closes the input) on any error, before the cleanup
        batches = prefetched(_selected_and_calibrated(
            clock.timed_iteration(_input_batches(source), "reading (reader thread)"),
            (event_type_filter, software_trigger), config, clock), name="iactx reader")
        # the log appears after the output, and neither if either fails
        with AtomicTextFile(log_path, overwrite=True) as log_file, \
                writer_class(output, overwrite=writer_config.overwrite) as writer, closing(batches), \
                _progress(options.progress_bar, total, tool) as bar:
            image_processor = ImageProcessor(config)
            statistics = ImageStatistics(image_processor.quality)
            while (item := clock.timed_next(batches, "waiting for the reader")) is not None:
                raise_if_signalled()
                n, selected = item
                stages = [selected]  # the trees made of this batch, broken up once it is written
                if _has_pixels(selected):  # else parameters only: carried through, with their statistics
                    with clock("DL1 (cleaning, parameters)"):
                        stages.append(image_processor(selected))
                        if any(node.path == IMAGE_STATISTICS_PATH for node in stages[-1].subtree):  # DL1 input
                            stages.append(stages[-1].filter(lambda node: node.path != IMAGE_STATISTICS_PATH))
                        statistics.add(stages[-1])
                if options.reconstruct:
                    from ..reco import reconstruct_chain

                    with clock("stereo reconstruction"):
                        stages.append(reconstruct_chain(stages[-1], config))
                if writer_config.write_muon_parameters:
                    from ..image.muon import muon_tree  # scipy.optimize: imported only when needed

                    with clock("muons"):
                        stages.append(muon_tree(stages[-1], config, only_muons=tool == "iactx muons"))
                tree = stages[-1]
                with clock("writing"):
                    # not broken up: the writer may keep it (the ctapipe writer keeps the first batch)
                    output_tree = select_output(tree, writer_config)
                    with signals_deferred():
                        writer.append(output_tree)
                described = described or described_by(tree)
                written += tree.sizes["event"]
                tel_events += sum(tree[name].sizes["tel_event"] for name in tree.iact.cameras)
                _release(*stages)
                del item, selected, tree, output_tree, stages
                done += n
                bar.update(n)
            raise_if_signalled()
            record = provenance.finish(n_events=done, n_events_written=written, n_tel_events=tel_events)
            writer.update_attrs(**provenance.as_attrs(), **contact)
            if statistics.has_counts:
                with signals_deferred():
                    writer.add_node(IMAGE_STATISTICS_PATH, statistics.to_dataset())
            if not ctapipe_format and described:  # the ctapipe writer adds the rest of the metadata itself
                writer.update_attrs(**_reference_metadata(described, writer_config, options, tool=tool,
                                                          start=start, contact=contact))
            log_file.write(provenance.as_json())
    except BaseException:
        log.error("stopped after %d events; no output written to %s", done, output)
        raise
    log.info("time per stage: %s", clock.summary())
    return record
