"""Configurable parts of the command-line tools that are not algorithms.

Names follow ctapipe (``EventSource``, ``DataWriter``, ``ProcessorTool``)
so that configuration files written for ``ctapipe-process`` read naturally.
"""

from __future__ import annotations

import param

__all__ = ["EventSource", "DataWriter", "Contact", "ProcessorTool"]


class EventSource(param.Parameterized):
    """Where events come from and which of them to read."""

    input_url = param.List(default=[], item_type=str, doc=(
        "Input files (sim_telarray or iactx event trees); none means the built-in toy simulation."))
    max_events = param.Integer(default=None, allow_None=True, bounds=(1, None), doc=(
        "Stop after this many events (over all input files)."))
    allowed_tels = param.List(default=None, allow_None=True, item_type=int, doc=(
        "Read only these telescope ids."))
    focal_length_choice = param.Selector(default="effective", objects=["effective", "equivalent"], doc=(
        "Focal length used for the telescope frame; falls back to the equivalent one where the "
        "file has no effective focal length."))
    batch_size = param.Integer(default=100, bounds=(1, None), doc=(
        "Events processed and written at a time, at most."))
    batch_megabytes = param.Number(default=128.0, bounds=(1.0, None), doc=(
        "A batch of sim_telarray events also ends once its R1 waveforms take this many MB "
        "(2**20 bytes): this bounds the memory use, whatever the number and size of the cameras "
        "per event (a stereo event of tens of telescopes holds tens of MB of waveforms). The "
        "waveforms of one batch are in memory at a time (they are dropped once calibrated, before "
        "the next batch is read): peak memory is about 400 MB plus this. Smaller batches cost time "
        "(on a LSTCam + NectarCam file: 128 MB 560 MB peak; 64 MB 480 MB, ~6% slower on two cores; "
        "32 MB 440 MB, ~20% slower; 16 MB 420 MB; ctapipe-process 455 MB)."))
    strict = param.Boolean(default=False, doc=(
        "Fail on a damaged sim_telarray file (cut short, without its end-of-run blocks, or with a "
        "corrupt block) instead of warning and keeping the complete events before the damage."))
    toy_events = param.Integer(default=1000, bounds=(1, None), doc=(
        "Events simulated when there is no input file."))
    toy_seed = param.Integer(default=0, doc="Random seed of the toy simulation.")


class DataWriter(param.Parameterized):
    """What is written, and where."""

    output_path = param.String(default="events.dl1.nc", doc=(
        "Output NetCDF-4 file (.nc or .h5, both NetCDF-4/HDF5)."))
    output_format = param.Selector(default="netcdf", objects=["netcdf", "ctapipe"], doc=(
        "netcdf: iactx's NetCDF-4 event tree (the default); ctapipe: ctapipe's HDF5 DL1/DL2 layout "
        "(data model v7), read by ctapipe's TableLoader, HDF5EventSource and tools."))
    overwrite = param.Boolean(default=False, doc="Replace an existing output file.")
    write_dl1_images = param.Boolean(default=False, doc="Store DL1 images (image, peak_time, image_mask).")
    write_dl1_parameters = param.Boolean(default=True, doc="Store DL1 image parameters.")
    write_dl2 = param.Boolean(default=False, doc="Store the stereo reconstruction (needs --reconstruct).")
    write_muon_parameters = param.Boolean(default=False, doc="Store muon ring parameters.")
    provenance_log = param.String(default=None, allow_None=True, doc=(
        "JSON provenance log; default: the output path with '.provenance.json' appended."))


class Contact(param.Parameterized):
    """Who to ask about the output: the contact of its CTA reference metadata.

    Configured inside ``DataWriter`` (``DataWriter: {Contact: {name: ...}}``),
    as in ctapipe's configuration files.
    """

    person = param.String(default=None, allow_None=True, doc=(
        "Name (``name`` in ctapipe's files); default: the login name of the user."))
    email = param.String(default="unknown", doc="E-mail address.")
    organization = param.String(default="unknown", doc="Institute or organisation.")


class ProcessorTool(param.Parameterized):
    """Process event files to DL1 event trees."""

    progress_bar = param.Boolean(default=False, doc="Show a progress bar (on by default on a terminal).")
    reconstruct = param.Boolean(default=False, doc="Run the stereo reconstruction after DL1.")
