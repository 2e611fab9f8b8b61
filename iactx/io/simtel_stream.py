"""The objects of a sim_telarray file, walked into array events.

eventio splits the file into EventIO objects and parses the small ones;
this module walks them in the order sim_telarray writes them and keeps what
the event tree needs. The ADC samples, most of every file, are decoded here
(:func:`~iactx.io.adc_kernels.decode_differential_samples`), several times
faster than through eventio's generic parser; objects the event tree does
not use (pixel timing, image parameters, photon bunches, photo-electron
sums, ...) are skipped without being parsed.

A file holds a header (history, run header, simulation run header and, per
telescope, camera settings, camera organisation, pixel settings, disabled
pixels, software settings, drive settings and pointing correction), then,
per shower, an MCShower and, per reuse of it, an MCEvent, the true
photo-electrons (TelescopeData, optional), camera monitoring and laser
calibration blocks whenever they change, and an ArrayEvent (trigger,
telescope events, tracking positions) if the array triggered. Calibration
events come as CalibrationEvent objects around an ArrayEvent, or in older
files as ArrayEvents before the first shower.
"""

from __future__ import annotations

import io
import os
import struct
from collections import defaultdict

import numpy as np
from eventio import EventIOFile
from eventio.file_types import is_gzip, is_zstd
from eventio.histograms import Histograms
from eventio.iact import PhotoElectrons, TelescopeData
from eventio.simtel import objects as simtel_objects

from .adc_kernels import TRUNCATED, decode_differential_samples

__all__ = ["SimtelStream", "AdcSamples"]

#: header objects describing a telescope -> their key in ``telescope_descriptions``
_DESCRIPTIONS = {
    simtel_objects.CameraSettings: "camera_settings",
    simtel_objects.CameraOrganization: "camera_organization",
    simtel_objects.PixelSettings: "pixel_settings",
    simtel_objects.DisabledPixels: "disabled_pixels",
    simtel_objects.CameraSoftwareSettings: "camera_software_settings",
    simtel_objects.DriveSettings: "drive_settings",
    simtel_objects.PointingCorrection: "pointing_correction",
}

#: header objects the stream does not need (CORSIKA input card, atmosphere table)
_SKIPPED_HEADER = ("InputCard", "AtmosphericProfile")

_ADC_BLOCK_HEAD = struct.Struct("<ihh")  # n_pixels, n_gains, n_samples


class SimtelStream:
    """Array events of a sim_telarray file, in file order.

    Parameters
    ----------
    path : str or Path
        The file (plain, gzip or zstd compressed); checked by the caller.
    allowed_tels : set of int, optional
        Keep only these telescopes' data.
    calibration_events : bool
        Yield calibration events instead of skipping them.

    Attributes
    ----------
    header : dict
        The run header (run number, telescope positions, pointing, ...).
    mc_run_headers : list of dict
        Simulation run headers (energy range, spectral index, ...).
    history : list of tuple
        The command lines and configuration lines of the simulation.
    global_meta, telescope_meta : dict
        Metadata of the array and per telescope id (names, versions).
    telescope_descriptions : dict[int, dict[str, dict]]
        Per telescope id the description blocks, keyed by their snake-case name.

    Raises
    ------
    ValueError
        The file ends, or holds something else, before the run header and
        the telescope descriptions are complete.

    Notes
    -----
    Iterating yields one dict per array event with ``type`` (``"data"`` or
    ``"calibration"``), ``event_id``, ``trigger_information``,
    ``telescope_events`` (per telescope id ``adc_samples``, an
    :class:`AdcSamples`, or ``adc_sums``), ``tracking_positions``,
    ``camera_monitorings`` and ``laser_calibrations`` (as valid for the
    event), and for simulated showers ``mc_shower``, ``mc_event`` and
    ``photoelectrons`` (true images by 0-based telescope index) where the
    file has them. Data events without triggered telescopes are skipped. An
    event is yielded once the object after it has started, so an event cut
    short by the end of the file is never yielded: the file's ``EOFError``
    (or the parse error of a corrupt object) is raised instead.
    """

    def __init__(self, path, *, allowed_tels=None, calibration_events=False):
        self.path = path
        self._file = EventIOFile(str(path))
        self._plain = not (is_gzip(str(path)) or is_zstd(str(path)))
        self._allowed = set(int(t) for t in allowed_tels) if allowed_tels else None
        self._calibration_events = calibration_events
        self.header = None
        self.mc_run_headers = []
        self.history = []
        self.global_meta = {}
        self.telescope_meta = {}
        self.telescope_descriptions = defaultdict(dict)
        self._camera_monitorings = defaultdict(dict)
        self._laser_calibrations = defaultdict(dict)
        self._last_payload = {}
        #: whether to parse the true photo-electron images (skipped, unparsed, when false)
        self.true_images = True
        try:
            self._first_event_object = self._read_header()
        except Exception:
            self.close()
            raise

    def _read_header(self):
        """Parse the header objects; return the first object after them (None at the end)."""
        for obj in self._file:
            if isinstance(obj, simtel_objects.History):
                self.history.extend(sub.parse() for sub in obj)
            elif isinstance(obj, simtel_objects.HistoryMeta):
                if obj.header.id == -1:
                    self.global_meta = obj.parse()
                else:
                    self.telescope_meta[obj.header.id] = obj.parse()
            elif isinstance(obj, simtel_objects.RunHeader):
                self.header = obj.parse()
            elif isinstance(obj, simtel_objects.MCRunHeader):
                self.mc_run_headers.append(obj.parse())
            elif type(obj) in _DESCRIPTIONS:
                self.telescope_descriptions[obj.telescope_id][_DESCRIPTIONS[type(obj)]] = obj.parse()
            elif type(obj).__name__ not in _SKIPPED_HEADER:
                self._check_header_complete()
                return obj
        self._check_header_complete()
        return None

    def _check_header_complete(self):
        if self.header is None:
            raise ValueError("no run header before the events")
        n_described = sum(len(blocks) == len(_DESCRIPTIONS) for blocks in self.telescope_descriptions.values())
        if n_described != int(self.header["n_telescopes"]):
            raise ValueError(f"the run header announces {self.header['n_telescopes']} telescopes, "
                             f"{n_described} are fully described")

    def close(self):
        """Close the file."""
        self._file.close()

    def tell(self):
        """Position in the (uncompressed) byte stream."""
        return self._file.tell()

    def __iter__(self):
        if self._first_event_object is None:
            return
        shower = None
        event = None
        pending_photoelectrons = None
        objects = _chain_first(self._first_event_object, self._file)
        self._first_event_object = None
        end = 0
        for obj in objects:
            end = obj.address + obj.size
            if isinstance(obj, simtel_objects.MCEvent):
                if self._wanted(event):
                    yield event
                event = {"type": "data", "event_id": obj.header.id, "mc_shower": shower, "mc_event": obj.parse()}
            elif isinstance(obj, simtel_objects.ArrayEvent):
                if shower is None:  # an array event outside any shower: an unpacked calibration event
                    if self._wanted(event):
                        yield event
                    event = {"type": "calibration"}
                event["event_id"] = obj.header.id
                self._add_array_event(event, obj)
            elif isinstance(obj, TelescopeData):
                if self.true_images:
                    event["photoelectrons"] = _photoelectrons(obj)
            elif isinstance(obj, simtel_objects.MCShower):
                shower = obj.parse()
            elif isinstance(obj, simtel_objects.CameraMonitoring):
                self._update_monitoring(self._camera_monitorings, obj)
            elif isinstance(obj, simtel_objects.LaserCalibration):
                self._update_monitoring(self._laser_calibrations, obj)
            elif isinstance(obj, simtel_objects.CalibrationPhotoelectrons):
                pending_photoelectrons = _photoelectrons(next(obj))
            elif isinstance(obj, simtel_objects.CalibrationEvent):
                if self._wanted(event):
                    yield event
                array_event = next(obj)
                event = {"type": "calibration", "event_id": -array_event.header.id, "calibration_type": obj.type}
                self._add_array_event(event, array_event)
                if pending_photoelectrons is not None:
                    event["photoelectrons"], pending_photoelectrons = pending_photoelectrons, None
            elif isinstance(obj, Histograms):  # the run's summary closes the file
                if self._wanted(event):
                    yield event
                event = None
                if len(obj.read()) < obj.size:
                    raise EOFError("the file ends inside the closing histograms")
                break
        else:
            self._check_end(end)
        if self._wanted(event):
            yield event

    def _check_end(self, end):
        """Raise ``EOFError`` if the data stopped before ``end``, the end of the last object.

        Blocks the event tree does not need are skipped unread, so a file cut
        inside one is noticed only here, where the stream ends short.
        """
        available = os.path.getsize(self.path) if self._plain else self._file.tell()
        if available < end:
            raise EOFError(f"the file ends at byte {available}, inside an object that should end at byte {end}")

    def _update_monitoring(self, blocks, obj):
        """Merge a monitoring or calibration block into the telescope's ``blocks``.

        A block whose bytes repeat the telescope's previous one of its kind
        (files made by joining runs repeat them with every event) changes
        nothing and is not parsed again.
        """
        obj.seek(0)
        payload = obj.read()
        if len(payload) < obj.size:
            raise EOFError(f"{type(obj).__name__} block of telescope {obj.telescope_id} cut short")
        key = (type(obj), obj.telescope_id)
        if self._last_payload.get(key) == payload:
            return
        self._last_payload[key] = payload
        blocks[obj.telescope_id].update(type(obj)(obj.header, _PayloadFile(payload, obj.address)).parse())

    def _wanted(self, event):
        if event is None:
            return False
        if event["type"] == "calibration":
            return self._calibration_events
        return bool(event.get("telescope_events"))

    def _add_array_event(self, event, array_event):
        """Trigger, telescope events and tracking of an ArrayEvent, with the monitoring valid for it."""
        telescope_events, tracking = {}, {}
        event.update(trigger_information=None, telescope_events=telescope_events, tracking_positions=tracking)
        for i, obj in enumerate(array_event):
            if i == 0:
                if not isinstance(obj, simtel_objects.TriggerInformation):
                    raise ValueError(f"array event {array_event.header.id} starts with {obj}, not the trigger")
                if obj.header.id != 0:
                    event["event_id"] = obj.header.id
                trigger = event["trigger_information"] = obj.parse()
                if self._allowed and not self._allowed & set(int(t) for t in trigger["telescopes_with_data"]):
                    break
            elif isinstance(obj, simtel_objects.TelescopeEvent):
                if self._keeps(obj.telescope_id):
                    telescope_events[obj.telescope_id] = _telescope_event(obj)
            elif isinstance(obj, simtel_objects.TrackingPosition):
                if self._keeps(obj.telescope_id):
                    tracking[obj.telescope_id] = obj.parse()
        missing = sorted(set(telescope_events) - set(tracking))
        if missing:
            raise ValueError(f"array event {event['event_id']} has no tracking positions for telescopes {missing}")
        event["camera_monitorings"] = {t: dict(self._camera_monitorings[t]) for t in telescope_events}
        event["laser_calibrations"] = {t: dict(self._laser_calibrations[t]) for t in telescope_events}

    def _keeps(self, tel_id):
        return self._allowed is None or tel_id in self._allowed


class _PayloadFile:
    """An object's payload, already read, as the file eventio's parsers expect.

    The parsers seek to absolute stream positions; ``address`` is where the
    payload started in the stream.
    """

    def __init__(self, payload, address):
        self._bytes = io.BytesIO(payload)
        self._address = address

    def seek(self, position, whence=0):
        offset = position - self._address if whence == 0 else position
        return self._bytes.seek(offset, whence) + self._address

    def tell(self):
        return self._bytes.tell() + self._address

    def read(self, size=-1):
        return self._bytes.read(size)


def _chain_first(first, rest):
    yield first
    yield from rest


def _photoelectrons(telescope_data):
    """True photo-electron blocks of a TelescopeData object by 0-based telescope index."""
    return {obj.telescope_id: obj.parse() for obj in telescope_data if isinstance(obj, PhotoElectrons)}


def _telescope_event(telescope_event):
    """The ADC samples (or sums) of a TelescopeEvent; its other blocks are skipped."""
    for obj in telescope_event:
        if isinstance(obj, simtel_objects.ADCSamples):
            return {"adc_samples": _adc_samples(obj, telescope_event.telescope_id)}
        if isinstance(obj, simtel_objects.ADCSums):
            return {"adc_sums": obj.parse()}
    raise ValueError(f"telescope event of telescope {telescope_event.telescope_id} has neither ADC samples "
                     "nor ADC sums")


class AdcSamples:
    """The ADC samples of a telescope event [ADC counts], decoded channel by channel as needed.

    Channels are stored one after the other, so the high gain (channel 0)
    can be decoded alone: gain selection looks at it first, and the low
    gain is decoded only if some pixel needs it.

    Parameters
    ----------
    samples : ndarray of uint16, shape (n_gains, n_pixels, n_samples)
        Holds the decoded channels; the others are filled on demand.
    n_decoded : int
        Channels already decoded.
    data : ndarray of uint8, optional
        The block's bytes, for the channels still to decode ...
    end : int, optional
        ... from this offset on.
    tel_id : int, optional
        For messages.
    """

    def __init__(self, samples, n_decoded, data=None, end=None, tel_id=None):
        self._samples = samples
        self._n_decoded = n_decoded
        self._data, self._end, self._tel_id = data, end, tel_id

    @property
    def shape(self):
        """(n_gains, n_pixels, n_samples)"""
        return self._samples.shape

    def channels(self, n):
        """The first ``n`` channels, shape (n, n_pixels, n_samples).

        Raises
        ------
        ValueError
            The bytes of a channel decoded now end early or are corrupt.
        """
        if n > self._n_decoded:
            end = decode_differential_samples(self._data, self._end, self._samples[self._n_decoded:n])
            _check_decoded(end, self._tel_id)
            self._n_decoded, self._end = n, end
        return self._samples[:n]


def _check_decoded(end, tel_id):
    if end < 0:
        problem = "end before all samples" if end == TRUNCATED else "a sample difference longer than 5 bytes"
        raise ValueError(f"ADC samples of telescope {tel_id}: {problem}")


def _adc_samples(block, tel_id):
    """The samples of an ADCSamples block, the high gain decoded.

    Blocks with every sample of every pixel (the usual case) are decoded
    here; zero-suppressed or data-reduced blocks go through eventio.
    """
    flags = block.header.id
    zero_suppression, data_reduction, list_known = flags & 0x1F, (flags >> 5) & 0x1F, (flags >> 10) & 1
    if block.header.version != 3 or zero_suppression or data_reduction or list_known:
        samples = np.asarray(block.parse(), np.uint16)
        if samples.ndim == 2:  # eventio drops the axis of a single sample
            samples = samples[:, :, np.newaxis]
        return AdcSamples(samples, samples.shape[0])
    block.seek(0)
    payload = block.read()
    if len(payload) < max(block.header.content_size, _ADC_BLOCK_HEAD.size):
        raise EOFError(f"ADC samples of telescope {tel_id} cut short ({len(payload)} of "
                       f"{block.header.content_size} bytes)")
    n_pixels, n_gains, n_samples = _ADC_BLOCK_HEAD.unpack_from(payload)
    if min(n_pixels, n_gains, n_samples) < 0:
        raise ValueError(f"ADC samples of telescope {tel_id} announce {n_gains} gains, {n_pixels} pixels, "
                         f"{n_samples} samples")
    samples = AdcSamples(np.empty((n_gains, n_pixels, n_samples), np.uint16), 0,
                         np.frombuffer(payload, np.uint8), _ADC_BLOCK_HEAD.size, tel_id)
    samples.channels(min(n_gains, 1))
    return samples
