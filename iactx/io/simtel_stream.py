"""The objects of a sim_telarray file, walked into array events.

The file's bytes are decompressed ahead in a thread
(:class:`~iactx.io.read_ahead.ReadAheadStream`); this module splits them
into top-level EventIO objects, each read into memory at once, lets eventio
parse the small ones, and walks them in the order sim_telarray writes them,
keeping what the event tree needs. The ADC samples, most of every file, are decoded here
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

import bisect
import itertools
import struct
import warnings
from collections import defaultdict

import numpy as np
from eventio.base import KNOWN_OBJECTS, EventIOObject, read_header, read_sync_marker
from eventio.histograms import Histograms
from eventio.iact import AtmosphericProfile, InputCard, PhotoElectrons, TelescopeData
from eventio.simtel import objects as simtel_objects

from .adc_kernels import (BAD_CONTENT, TRUNCATED, decode_differential_samples, end_of_differential_samples,
                          photoelectron_counts)
from .read_ahead import ReadAheadStream

__all__ = ["SimtelStream", "AdcSamples", "BadBlockError", "UndescribedTelescopesWarning"]

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
_SKIPPED_HEADER = (InputCard, AtmosphericProfile)

#: top-level objects read into memory; the others (photon bunches, unknown types, ...) are passed over unread
_READ_OBJECTS = (simtel_objects.History, simtel_objects.HistoryMeta, simtel_objects.RunHeader,
                 simtel_objects.MCRunHeader, *_DESCRIPTIONS, simtel_objects.MCShower, simtel_objects.MCEvent,
                 simtel_objects.ArrayEvent, simtel_objects.CameraMonitoring, simtel_objects.LaserCalibration,
                 simtel_objects.CalibrationPhotoelectrons, simtel_objects.CalibrationEvent, Histograms,
                 *_SKIPPED_HEADER)

#: the objects of a History block (command lines and configuration lines)
_HISTORY_LINES = (simtel_objects.HistoryCommandLine, simtel_objects.HistoryConfig)


_ADC_BLOCK_HEAD = struct.Struct("<ihh")  # n_pixels, n_gains, n_samples
#: head of a PhotoElectrons block: n_pe, n_pixels, then (from version 2) flags, then the non-empty pixels
_PHOTOELECTRONS_HEAD = {1: struct.Struct("<iii"), 2: struct.Struct("<iihi"), 3: struct.Struct("<iihi")}

#: EventIO pads the content of an object to a multiple of this many bytes
_ALIGNMENT = 4

#: the most gain channels a sim_telarray camera has
MAX_GAINS = 2

#: entries of the monitoring and calibration blocks with one value per gain and pixel
_PER_CHANNEL = {
    simtel_objects.CameraMonitoring: ("pedestal", "noise"),
    simtel_objects.LaserCalibration: ("calib", "tm_calib"),
}


class BadBlockError(ValueError):
    """A block of a sim_telarray file contradicts itself or the telescope it belongs to.

    The message names the block, its telescope and the byte of the
    (uncompressed) stream where the block starts.
    """


class UndescribedTelescopesWarning(UserWarning):
    """The run header announces telescopes that the file does not describe; they are left out."""


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
    camera_shapes : dict[int, tuple of int]
        Per telescope id (n_gains, n_pixels, n_samples) of its readout; every
        block of the events is checked against it.

    Raises
    ------
    ValueError
        The file ends, or holds something else, before the run header and
        a telescope description; a description is inconsistent (pixel
        counts, gain count, disabled pixels outside the camera); or the
        file describes telescopes its run header does not list.

    Warns
    -----
    UndescribedTelescopesWarning
        The run header announces telescopes the file does not (fully)
        describe; they are left out, as are their events.

    Notes
    -----
    Iterating yields one dict per array event with ``type`` (``"data"`` or
    ``"calibration"``), ``event_id``, ``trigger_information``,
    ``telescope_events`` (per telescope id ``adc_samples``, an
    :class:`AdcSamples`, or ``adc_sums``), ``tracking_positions``,
    ``camera_monitorings`` and ``laser_calibrations`` (as valid for the
    event), and for simulated showers ``mc_shower``, ``mc_event`` and
    ``photoelectrons`` (true images, int32 photo-electrons per pixel, by 0-based telescope index) where the
    file has them. Data events without triggered telescopes are skipped. An
    event is yielded once the object after it has started, so an event cut
    short by the end of the file is never yielded: the file's ``EOFError``
    (or the parse error of a corrupt object, a :class:`BadBlockError` for a
    block that contradicts its telescope's description) is raised instead.
    A file that ends, even between events, without the histograms that
    close a sim_telarray run raises ``EOFError`` after its last event.
    """

    def __init__(self, path, *, allowed_tels=None, calibration_events=False):
        self.path = path
        self._bytes = ReadAheadStream(path)
        self._file = _top_level_objects(self._bytes, self._reads_payload)
        self._allowed = set(int(t) for t in allowed_tels) if allowed_tels else None
        self._calibration_events = calibration_events
        self.header = None
        self.mc_run_headers = []
        self.history = []
        self.global_meta = {}
        self.telescope_meta = {}
        self.telescope_descriptions = defaultdict(dict)
        self.camera_shapes = {}
        self._undescribed = set()
        self._camera_monitorings = defaultdict(dict)
        self._laser_calibrations = defaultdict(dict)
        self._last_payload = {}
        #: the closing histograms (eventio's dicts), once the iteration has reached them
        self.histograms = None
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
                self.history.extend(sub.parse() for sub in _children(obj) if isinstance(sub, _HISTORY_LINES))
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
            elif not isinstance(obj, _SKIPPED_HEADER):
                self._check_header_complete()
                return obj
        self._check_header_complete()
        return None

    def _check_header_complete(self):
        """Check the header; keep the fully described telescopes and warn about the others."""
        if self.header is None:
            raise ValueError("no run header before the events")
        announced = set(int(t) for t in self.header["tel_id"])
        unlisted = sorted(set(self.telescope_descriptions) - announced)
        if unlisted:
            raise ValueError(f"telescopes {_id_list(unlisted)} are described but not in the run header")
        complete = sorted(t for t, blocks in self.telescope_descriptions.items() if len(blocks) == len(_DESCRIPTIONS))
        if not complete:
            raise ValueError(f"the run header announces {len(announced)} telescopes, none is fully described")
        self.telescope_descriptions = {t: self.telescope_descriptions[t] for t in complete}
        self.camera_shapes = {t: _camera_shape(t, self.telescope_descriptions[t]) for t in complete}
        self._undescribed = announced - set(complete)
        if self._undescribed:
            warnings.warn(f"{self.path}: the run header announces {len(announced)} telescopes, the file describes "
                          f"{len(complete)}; reading those, without telescopes {_id_list(self._undescribed)}",
                          UndescribedTelescopesWarning, stacklevel=4)

    def close(self):
        """Close the file."""
        self._bytes.close()

    def tell(self):
        """Position in the (uncompressed) byte stream."""
        return self._bytes.tell()

    def _reads_payload(self, kind):
        """Whether the objects of class ``kind`` are read into memory (the others are passed over)."""
        if issubclass(kind, TelescopeData):
            return self.true_images
        return issubclass(kind, _READ_OBJECTS)

    def __iter__(self):
        if self._first_event_object is None:
            raise EOFError("the file ends after its header, without the histograms that close a sim_telarray run")
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
                event = {"type": "data", "event_id": obj.header.id, "mc_shower": shower, "mc_event": _parse(obj)}
            elif isinstance(obj, simtel_objects.ArrayEvent):
                if shower is None:  # an array event outside any shower: an unpacked calibration event
                    if self._wanted(event):
                        yield event
                    event = {"type": "calibration"}
                elif event is None:
                    raise ValueError(f"ArrayEvent at byte {_start(obj)} before the first MCEvent of its shower")
                event["event_id"] = obj.header.id
                self._add_array_event(event, obj)
            elif isinstance(obj, TelescopeData):
                if self.true_images and event is not None:
                    event["photoelectrons"] = self._photoelectrons(obj)
            elif isinstance(obj, simtel_objects.MCShower):
                shower = _parse(obj)
            elif isinstance(obj, simtel_objects.CameraMonitoring):
                self._update_monitoring(self._camera_monitorings, obj)
            elif isinstance(obj, simtel_objects.LaserCalibration):
                self._update_monitoring(self._laser_calibrations, obj)
            elif isinstance(obj, simtel_objects.CalibrationPhotoelectrons):
                pending_photoelectrons = self._photoelectrons(_only_child(obj, TelescopeData))
            elif isinstance(obj, simtel_objects.CalibrationEvent):
                if self._wanted(event):
                    yield event
                array_event = _only_child(obj, simtel_objects.ArrayEvent)
                event = {"type": "calibration", "event_id": -array_event.header.id, "calibration_type": obj.type}
                self._add_array_event(event, array_event)
                if pending_photoelectrons is not None:
                    event["photoelectrons"], pending_photoelectrons = pending_photoelectrons, None
            elif isinstance(obj, Histograms):  # the run's summary closes the file
                unreadable = self._read_histograms(obj)
                if self._wanted(event):
                    yield event
                event = None
                if unreadable is not None:
                    raise unreadable
                break
        else:
            self._check_end(end)
            if self._wanted(event):
                yield event
            raise EOFError(f"the file ends at byte {end}, without the histograms that close a sim_telarray run "
                           "(a file cut between events, or a run that did not finish)")

    def _read_histograms(self, obj):
        """Parse the closing histograms into ``histograms``; the error if they are cut short or corrupt."""
        try:
            self.histograms = _parse(obj)
        except EOFError as err:
            return EOFError(f"the file ends inside the closing histograms ({err})")
        except BadBlockError as err:
            return err
        return None

    def _check_end(self, end):
        """Raise ``EOFError`` if the data stopped before ``end``, the end of the last object.

        Blocks the event tree does not need are skipped unread, so a file cut
        inside one is noticed only here, where the stream ends short.
        """
        available = self._bytes.tell()
        if available < end:
            raise EOFError(f"the file ends at byte {available}, inside an object that should end at byte {end}")

    def _described(self, obj, tel_id):
        """Whether ``tel_id`` is a described telescope (False for one only announced).

        Raises
        ------
        BadBlockError
            The run header does not list the telescope.
        """
        if tel_id in self.camera_shapes:
            return True
        if tel_id in self._undescribed:
            return False
        raise _bad_block(obj, tel_id, "the run header lists no such telescope")

    def _update_monitoring(self, blocks, obj):
        """Merge a monitoring or calibration block into the telescope's ``blocks``.

        A block whose bytes repeat the telescope's previous one of its kind
        (files made by joining runs repeat them with every event) changes
        nothing and is not parsed again.
        """
        tel_id = obj.telescope_id
        if not self._described(obj, tel_id):
            return
        payload = bytes(_payload(obj))  # kept, and compared as bytes (a view compares byte by byte, ~40x slower)
        key = (type(obj), tel_id)
        if self._last_payload.get(key) == payload:
            return
        parsed = _parse(obj, payload)
        n_gains, n_pixels, _ = self.camera_shapes[tel_id]
        for name in _PER_CHANNEL[type(obj)]:
            if name in parsed and np.shape(parsed[name]) != (n_gains, n_pixels):
                raise _bad_block(obj, tel_id, f"{name} of shape {np.shape(parsed[name])}, the camera has "
                                              f"{n_gains} gains and {n_pixels} pixels")
        if "pedestal" in parsed and not parsed["n_ped_slices"] > 0:
            raise _bad_block(obj, tel_id, f"pedestals summed over {parsed['n_ped_slices']} samples")
        self._last_payload[key] = payload
        blocks[tel_id].update(parsed)

    def _photoelectrons(self, telescope_data):
        """True photo-electron blocks of a TelescopeData object by 0-based telescope index.

        Blocks of described telescopes (index + 1 = telescope id) are checked
        to hold one count per pixel.
        """
        images = {}
        for obj in _children(telescope_data):
            if isinstance(obj, PhotoElectrons):
                image = images[obj.telescope_id] = _photoelectron_counts(obj)
                shape = self.camera_shapes.get(obj.telescope_id + 1)
                if shape is not None and image.shape != shape[1:2]:
                    raise _bad_block(obj, obj.telescope_id + 1, f"{image.shape} true photo-electron counts, the "
                                                                f"camera has {shape[1]} pixels")
        return images

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
        for i, obj in enumerate(_children(array_event)):
            if i == 0:
                if not isinstance(obj, simtel_objects.TriggerInformation):
                    raise ValueError(f"array event {array_event.header.id} starts with {obj}, not the trigger")
                if obj.header.id != 0:
                    event["event_id"] = obj.header.id
                trigger = event["trigger_information"] = _parse(obj)
                if self._allowed and not self._allowed & set(int(t) for t in trigger["telescopes_with_data"]):
                    break
            elif isinstance(obj, simtel_objects.TelescopeEvent):
                tel_id = obj.telescope_id
                if self._described(obj, tel_id) and self._keeps(tel_id):
                    if tel_id in telescope_events:
                        raise _bad_block(obj, tel_id, "a second telescope event of the telescope in one array event")
                    telescope_events[tel_id] = _telescope_event(obj, self.camera_shapes[tel_id])
            elif isinstance(obj, simtel_objects.TrackingPosition):
                if self._described(obj, obj.telescope_id) and self._keeps(obj.telescope_id):
                    position = tracking[obj.telescope_id] = _parse(obj)
                    if not ({"azimuth_raw", "altitude_raw"} <= position.keys()
                            or {"azimuth_cor", "altitude_cor"} <= position.keys()):
                        raise _bad_block(obj, obj.telescope_id, "neither raw nor corrected pointing")
        missing = sorted(set(telescope_events) - set(tracking))
        if missing:
            raise ValueError(f"array event {event['event_id']} has no tracking positions for telescopes {missing}")
        uncalibrated = sorted(t for t in telescope_events if "pedestal" not in self._camera_monitorings[t]
                              or "calib" not in self._laser_calibrations[t])
        if uncalibrated:
            raise ValueError(f"array event {event['event_id']} comes before any pedestal or calibration block of "
                             f"telescopes {uncalibrated}")
        event["camera_monitorings"] = {t: dict(self._camera_monitorings[t]) for t in telescope_events}
        event["laser_calibrations"] = {t: dict(self._laser_calibrations[t]) for t in telescope_events}

    def _keeps(self, tel_id):
        return self._allowed is None or tel_id in self._allowed


def _top_level_objects(stream, reads_payload):
    """The top-level EventIO objects of ``stream``, each over its own bytes in memory.

    Objects of the classes ``reads_payload`` declines are passed over (their
    bytes still have to be decompressed, never copied) and come as plain
    ``EventIOObject`` with an empty payload (some of eventio's classes read
    their first bytes when made). The payload of an object cut short by the
    end of the stream is what there was; the next call ends the iteration.
    """
    while True:
        start = stream.tell()
        try:
            read_sync_marker(stream)
        except StopIteration:
            return
        try:
            header = read_header(stream, offset=start, toplevel=True)
        except StopIteration:  # the length extension word is missing
            raise EOFError(f"the file ends at byte {stream.tell()}, inside the header of an object") from None
        kind = KNOWN_OBJECTS.get(header.type, EventIOObject)
        if reads_payload(kind):
            payload = stream.read_pieces(header.content_size)
        else:
            stream.skip(header.content_size)
            kind, payload = EventIOObject, b""
        yield kind(header, filehandle=_PayloadFile(payload, header.content_address))


class _PayloadFile:
    """An object's payload, already read, as the file eventio's parsers expect.

    The parsers seek to absolute stream positions; ``address`` is where the
    payload started in the stream. The payload may come in pieces (the
    decompressed chunks an object spans), which are never joined as a
    whole: :meth:`read` gives copies, as a file does, and :meth:`view` the
    bytes themselves where one piece holds them (the large blocks decoded
    here, ADC samples), a copy of just them otherwise.

    Parameters
    ----------
    payload : bytes-like or list of bytes-like
        The payload, or its pieces in order.
    address : int
        Position of its first byte in the stream.
    """

    def __init__(self, payload, address):
        pieces = [memoryview(piece) for piece in (payload if isinstance(payload, list) else [payload])]
        self._pieces = pieces or [memoryview(b"")]
        self._whole = self._pieces[0] if len(self._pieces) == 1 else None  # the common case, sliced directly
        self._starts = list(itertools.accumulate((len(piece) for piece in self._pieces[:-1]), initial=0))
        self._size = self._starts[-1] + len(self._pieces[-1])
        self._address = address
        self._offset = 0

    def seek(self, position, whence=0):
        if whence not in (0, 1, 2):
            raise ValueError(f"invalid whence ({whence}, should be 0, 1 or 2)")
        base = (-self._address, self._offset, self._size)[whence]
        if base + position < 0:
            raise ValueError(f"negative seek position {base + position}")
        self._offset = base + position
        return self._offset + self._address

    def tell(self):
        return self._offset + self._address

    def view(self, size=-1):
        """The next ``size`` bytes (all that are left if negative), fewer at the end; not copied within one piece."""
        start = min(self._offset, self._size)
        stop = self._size if size is None or size < 0 else min(start + size, self._size)
        self._offset = max(self._offset, stop)
        if self._whole is not None:
            return self._whole[start:stop]
        first = bisect.bisect_right(self._starts, start) - 1
        begin = start - self._starts[first]
        if stop <= self._starts[first] + len(self._pieces[first]):
            return self._pieces[first][begin:stop - self._starts[first]]
        last = bisect.bisect_right(self._starts, stop - 1) - 1
        parts = [self._pieces[first][begin:], *self._pieces[first + 1:last],
                 self._pieces[last][:stop - self._starts[last]]]
        return memoryview(b"".join(parts))

    def read(self, size=-1):
        return self.view(size).tobytes()


def _chain_first(first, rest):
    yield first
    yield from rest


def _id_list(ids, limit=20):
    """Sorted telescope ids for a message, shortened past ``limit``."""
    ids = sorted(ids)
    return ", ".join(map(str, ids[:limit])) + (f", ... ({len(ids)} in all)" if len(ids) > limit else "")


def _start(obj):
    """Byte of the (uncompressed) stream where an object's header starts."""
    return obj.address - obj.header.header_size


def _bad_block(obj, tel_id, problem):
    return BadBlockError(f"{type(obj).__name__} block of telescope {tel_id} at byte {_start(obj)}: {problem}")


def _name(obj):
    """An object for messages: its type, telescope (where it has one) and position."""
    tel_id = getattr(obj, "telescope_id", None)
    owner = "" if tel_id is None else f" block of telescope {tel_id}"
    return f"{type(obj).__name__}{owner} at byte {_start(obj)}"


def _children(parent):
    """The objects inside ``parent``, each checked to end within it."""
    end = parent.address + parent.size
    for obj in parent:
        if obj.address + obj.size > end:
            raise ValueError(f"{type(obj).__name__} object at byte {_start(obj)} ends at byte "
                             f"{obj.address + obj.size}, past the end of its {type(parent).__name__} at byte {end}")
        yield obj


def _only_child(parent, kind):
    """The first object inside ``parent``, which must be a ``kind``."""
    obj = next(_children(parent), None)
    if not isinstance(obj, kind):
        raise ValueError(f"{type(parent).__name__} at byte {_start(parent)} holds {obj}, not a {kind.__name__}")
    return obj


def _payload(obj):
    """The bytes of an object (a view of its top-level object's payload, not a copy)."""
    obj.seek(0)
    payload = obj._filehandle.view(obj.size)
    if len(payload) < obj.size:
        raise EOFError(f"{type(obj).__name__} object at byte {_start(obj)} cut short ({len(payload)} of "
                       f"{obj.size} bytes)")
    return payload


def _parse(obj, payload=None):
    """Parse an object from its own bytes (``payload``, read if not given); its parser must use all but padding."""
    if payload is None:
        payload = _payload(obj)
    source = _PayloadFile(payload, obj.address)
    try:
        parsed = type(obj)(obj.header, source).parse()
    except Exception as err:  # noqa: BLE001 - eventio's parsers fail in many ways on corrupt bytes
        raise BadBlockError(f"{_name(obj)}: cannot be parsed ({type(err).__name__}: {err})") from err
    used = source.tell() - obj.address
    if not 0 <= len(payload) - used < _ALIGNMENT:  # what is left can only be padding
        raise BadBlockError(f"{_name(obj)}: holds {len(payload)} bytes, its content takes {used}")
    return parsed


def _camera_shape(tel_id, description):
    """(n_gains, n_pixels, n_samples) of a telescope's readout, its description checked for consistency.

    Raises
    ------
    ValueError
        The blocks disagree on the number of pixels, the gain count is not
        1 or 2, a pixel list lies outside the camera, or the sampling is
        not a positive time.
    """
    settings, organisation = description["camera_settings"], description["camera_organization"]
    pixels, disabled = description["pixel_settings"], description["disabled_pixels"]
    n_pixels, n_gains, n_samples = int(organisation["n_pixels"]), int(organisation["n_gains"]), int(pixels["sum_bins"])
    problems = []
    if not 1 <= n_gains <= MAX_GAINS:
        problems.append(f"{n_gains} gains")
    if n_pixels < 1 or int(settings["n_pixels"]) != n_pixels:
        problems.append(f"{settings['n_pixels']} pixels in the camera settings, {n_pixels} in the camera organisation")
    problems += [f"{np.size(settings[k])} values of {k} for {n_pixels} pixels" for k in ("pixel_x", "pixel_y",
                 "pixel_area") if np.size(settings[k]) != n_pixels]
    if np.size(settings["pixel_shape"]) == 0:
        problems.append("no pixel shape")
    if n_samples < 0:
        problems.append(f"{n_samples} samples")
    if not (np.isfinite(pixels["time_slice"]) and pixels["time_slice"] > 0):
        problems.append(f"a sampling interval of {pixels['time_slice']} ns")
    for name in ("HV_disabled", "trigger_disabled"):
        outside = np.asarray(disabled[name])
        outside = outside[(outside < 0) | (outside >= n_pixels)]
        if outside.size:
            problems.append(f"{name} pixels {outside[:5].tolist()} outside the camera's {n_pixels}")
    if problems:
        raise ValueError(f"the description of telescope {tel_id} has " + ", ".join(problems))
    return n_gains, n_pixels, n_samples


def _telescope_event(telescope_event, camera_shape):
    """The ADC samples (or sums) of a TelescopeEvent, checked against ``camera_shape``; its other blocks are skipped."""
    tel_id = telescope_event.telescope_id
    for obj in _children(telescope_event):
        if isinstance(obj, simtel_objects.ADCSamples):
            return {"adc_samples": _adc_samples(obj, tel_id, camera_shape)}
        if isinstance(obj, simtel_objects.ADCSums):
            sums = np.asarray(_parse(obj))
            if sums.shape != camera_shape[:2]:
                raise _bad_block(obj, tel_id, f"sums of shape {sums.shape}, the camera has {camera_shape[0]} "
                                              f"gains and {camera_shape[1]} pixels")
            return {"adc_sums": sums}
    raise ValueError(f"telescope event of telescope {tel_id} has neither ADC samples nor ADC sums")


class AdcSamples:
    """The ADC samples of a telescope event [ADC counts], decoded channel by channel as needed.

    Channels are stored one after the other, so the high gain (channel 0)
    can be decoded alone: gain selection looks at it first, and the low
    gain is decoded only if some pixel needs it. The bytes of the channels
    still to decode have been checked to hold exactly their samples.

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
    """

    def __init__(self, samples, n_decoded, data=None, end=None):
        self._samples = samples
        self._n_decoded = n_decoded
        self._data, self._end = data, end

    @property
    def shape(self):
        """(n_gains, n_pixels, n_samples)"""
        return self._samples.shape

    def channels(self, n):
        """The first ``n`` channels, shape (n, n_pixels, n_samples)."""
        if n > self._n_decoded:
            self._end = decode_differential_samples(self._data, self._end, self._samples[self._n_decoded:n])
            self._n_decoded = n
        return self._samples[:n]


def _adc_samples(block, tel_id, camera_shape):
    """The samples of an ADCSamples block, the high gain decoded.

    Blocks with every sample of every pixel (the usual case) are decoded
    here; zero-suppressed or data-reduced blocks go through eventio.

    Raises
    ------
    BadBlockError
        The block's shape is not ``camera_shape``, or its bytes do not hold
        exactly its samples (and the padding to a multiple of 4 bytes).
    """
    flags = block.header.id
    zero_suppression, data_reduction, list_known = flags & 0x1F, (flags >> 5) & 0x1F, (flags >> 10) & 1
    if block.header.version != 3 or zero_suppression or data_reduction or list_known:
        samples = np.asarray(_parse(block), np.uint16)
        if samples.ndim == 2:  # eventio drops the axis of a single sample
            samples = samples[:, :, np.newaxis]
        _check_adc_shape(block, tel_id, samples.shape, camera_shape)
        return AdcSamples(samples, samples.shape[0])
    payload = _payload(block)
    if len(payload) < _ADC_BLOCK_HEAD.size:
        raise _bad_block(block, tel_id, f"{len(payload)} bytes, too few for its shape")
    n_pixels, n_gains, n_samples = _ADC_BLOCK_HEAD.unpack_from(payload)
    _check_adc_shape(block, tel_id, (n_gains, n_pixels, n_samples), camera_shape)
    data = np.frombuffer(payload, np.uint8)
    samples = np.empty(camera_shape, np.uint16)
    high_gain_end = decode_differential_samples(data, _ADC_BLOCK_HEAD.size, samples[:1])
    end = high_gain_end
    if end >= 0:
        end = end_of_differential_samples(data, high_gain_end, (n_gains - 1) * n_pixels * n_samples)
    if end < 0:
        problem = "ends before all samples" if end == TRUNCATED else "holds a sample difference longer than 5 bytes"
        raise _bad_block(block, tel_id, problem)
    if not 0 <= len(payload) - end < _ALIGNMENT:
        raise _bad_block(block, tel_id, f"holds {len(payload)} bytes, its samples take {end}")
    return AdcSamples(samples, 1, data, high_gain_end)


def _photoelectron_counts(block):
    """The true image of a PhotoElectrons block: photo-electrons per pixel (int32), the times stepped over.

    eventio's parser also gathers every photo-electron's time and pixel, of
    which only the counts are used, holding the interpreter lock throughout.

    Raises
    ------
    BadBlockError
        An unknown version, or bytes that do not hold exactly the block's
        content (and the padding to a multiple of 4 bytes).
    """
    version = block.header.version
    tel_id = block.telescope_id + 1
    if version not in _PHOTOELECTRONS_HEAD:
        raise _bad_block(block, tel_id, f"version {version}, not one of {sorted(_PHOTOELECTRONS_HEAD)}")
    head = _PHOTOELECTRONS_HEAD[version]
    payload = _payload(block)
    if len(payload) < head.size:
        raise _bad_block(block, tel_id, f"{len(payload)} bytes, too few for its head")
    _, n_pixels, *flags, n_nonempty = head.unpack_from(payload)
    flags = flags[0] if flags else 0
    if not 0 <= n_nonempty <= n_pixels:
        raise _bad_block(block, tel_id, f"{n_nonempty} non-empty pixels of {n_pixels}")
    counts = np.zeros(n_pixels, np.int32)
    end = photoelectron_counts(np.frombuffer(payload, np.uint8), head.size, n_nonempty, version > 2,
                               bool(flags & 1), bool(flags & 4), counts)
    if end < 0:
        problem = {TRUNCATED: "ends before its content", BAD_CONTENT: "lists a pixel outside the camera or a "
                   "negative count"}.get(end, "holds a pixel id longer than 5 bytes")
        raise _bad_block(block, tel_id, problem)
    if not 0 <= len(payload) - end < _ALIGNMENT:
        raise _bad_block(block, tel_id, f"holds {len(payload)} bytes, its content takes {end}")
    return counts


def _check_adc_shape(block, tel_id, shape, camera_shape):
    if tuple(shape) != tuple(camera_shape):
        raise _bad_block(block, tel_id, "{} gains, {} pixels and {} samples, the camera has {} gains, {} pixels "
                                        "and {} samples".format(*shape, *camera_shape))
