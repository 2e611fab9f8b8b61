"""Read sim_telarray (EventIO) files into event trees.

``read_simtel`` reads a whole file, ``iter_simtel`` yields it in batches of
events so that files of any length are processed in bounded memory. Both use
the file's own calibration (pedestal, dc-to-pe) and the threshold gain
selection to produce R1 waveforms in photo-electrons.
"""

from __future__ import annotations

import gc
import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from ..calib.r1_kernels import calibrate_selected_gain, select_gain_threshold
from .._array_pool import ArrayPool
from .errors import check_input_file, first_bytes
from .event_tree import EVENT_TYPES, camera_group, make_tree, root_dataset
from .shower_distribution import shower_distribution_dataset, shower_histogram
from .simtel_instrument import subarray_from_simtel
from .simtel_stream import AdcSamples, BadBlockError, SimtelStream, UndescribedTelescopesWarning

__all__ = ["read_simtel", "iter_simtel", "SimtelSource", "TruncatedFileWarning", "RepeatedEventIdWarning",
           "UndescribedTelescopesWarning", "BadBlockError", "GAIN_THRESHOLD"]

#: high-gain sample value [ADC counts] above which the low gain is used
GAIN_THRESHOLD = 4000.0

#: sim_telarray calibration types -> event type codes (see EVENT_TYPES)
_CALIBRATION_EVENT_TYPES = {0: 3, 1: 2, 2: 1, 3: 0}

_GRAMMAGE = "g cm-2"


class TruncatedFileWarning(UserWarning):
    """A file ended inside an event, lacks its end-of-run blocks, or holds a corrupt block.

    The complete events before the fault were read.
    """


class RepeatedEventIdWarning(UserWarning):
    """A file uses an event id twice; the repeat was given a new id."""


def _is_eventio(path):
    from eventio.file_types import is_eventio

    return is_eventio(str(path))


def _open_simtel(path, allowed_tels, calibration_events):
    path = check_input_file(path)
    if not _is_eventio(path):
        raise ValueError(
            f"{path} is not a sim_telarray (EventIO) file, not even compressed: "
            f"it starts with {first_bytes(path)}"
        )
    try:
        return path, SimtelStream(path, allowed_tels=allowed_tels, calibration_events=calibration_events)
    except Exception as err:  # noqa: BLE001 - any failure in the header means the file cannot be used
        raise ValueError(f"{path}: cannot read the run header and telescope descriptions ({err})") from err


def _has_true_image(history):
    """Whether the simulation stored true photo-electron images."""
    lines = [line.decode("utf-8", "replace").strip() for _, line in history]
    if lines and "merge_simtel" in lines[0]:
        return False
    for line in lines:
        words = line.split()
        if len(words) < 2:
            continue
        key = words[0].lower()
        try:
            value = int(words[1])
        except ValueError:
            continue
        if key == "save_photons" and value & 0b10:
            return True
        if key == "store_photoelectrons" and value > 0:
            return True
    return False


def _pointing(tracking):
    """Telescope pointing (alt, az) [deg], the corrected values where present."""
    az = tracking.get("azimuth_cor", np.nan)
    alt = tracking.get("altitude_cor", np.nan)
    if np.isnan(az):
        az = tracking.get("azimuth_raw", np.nan)
    if np.isnan(alt):
        alt = tracking.get("altitude_raw", np.nan)
    # sim_telarray stores float32 radians: 90 deg can come out a hair above 90
    return min(max(math.degrees(float(alt)), -90.0), 90.0), math.degrees(float(az))


#: array-event entries the root node needs; the telescope data is dropped once collected
_ROOT_ENTRIES = ("type", "calibration_type", "trigger_information", "mc_shower", "mc_event")

#: telescope events per telescope for which a camera batch reserves room at first
_FIRST_CAPACITY_PER_TEL = 128

#: waveform bytes yielded after which a batch starts with a full garbage collection
COLLECT_AFTER_BYTES = 256 * 2**20


@dataclass
class _CameraBatch:
    """Per-telescope-event data of one camera type, collected event by event.

    The R1 waveforms and selected gains are written, as the events arrive,
    into arrays reserved for the whole batch (doubled when full), so that
    the raw samples are released after each event instead of being held
    and copied once more at the end of the batch. Reserved but unused
    rows are never touched and so take no physical memory. The arrays come
    from the reader's :class:`ArrayPool`, so the memory of batches the
    caller has dropped is filled again without new page faults.
    """

    capacity: int
    pool: ArrayPool
    n: int = 0
    waveform: np.ndarray | None = None
    selected: np.ndarray | None = None
    keys: tuple = field(default_factory=lambda: ([], [], []))
    r0: list = field(default_factory=list)
    pedestal: list = field(default_factory=list)
    dc_to_pe: list = field(default_factory=list)
    time_shift: list = field(default_factory=list)
    pointing: list = field(default_factory=list)
    focal_length: list = field(default_factory=list)
    true_image: list = field(default_factory=list)

    def next_row(self, n_pixels, n_samples):
        """Index of the row for the next telescope event, growing the arrays when full.

        Parameters
        ----------
        n_pixels, n_samples : int
            Shape of the telescope event's waveform; it must match the
            batch's earlier telescope events.
        """
        if self.waveform is None:
            self.waveform = self.pool.empty((self.capacity, n_pixels, n_samples), np.float32)
            self.selected = self.pool.empty((self.capacity, n_pixels), np.int8)
        elif self.waveform.shape[1:] != (n_pixels, n_samples):
            raise ValueError(f"telescope event with {n_pixels} pixels and {n_samples} samples among events "
                             f"with {self.waveform.shape[1:]} of the same camera type")
        elif self.n == self.capacity:
            self.capacity *= 2
            self.waveform = self._with_rows(self.waveform)
            self.selected = self._with_rows(self.selected)
        self.n += 1
        return self.n - 1

    def _with_rows(self, array):
        """A copy of ``array`` with room for ``capacity`` rows, the first ``n`` filled."""
        grown = self.pool.empty((self.capacity, *array.shape[1:]), array.dtype)
        grown[:self.n] = array[:self.n]
        return grown


@dataclass
class _Batch:
    """The events of one event tree: array-level entries and camera batches."""

    cameras: dict
    array_events: list = field(default_factory=list)
    event_ids: list = field(default_factory=list)

    def waveform_bytes(self):
        """Bytes of the R1 waveforms collected so far."""
        return sum(camera.n * camera.waveform[0].nbytes for camera in self.cameras.values() if camera.n)


class SimtelSource:
    """Reader for one sim_telarray file.

    Parameters
    ----------
    path : str or Path
        The file (plain, gzip or zstd compressed).
    allowed_tels : iterable of int, optional
        Read only these telescopes.
    focal_length : {"effective", "equivalent"}
        Focal length carried with the camera groups.
    keep_r0 : bool
        Also keep the raw ADC samples (``r0``).
    calibration_events : bool
        Read calibration events instead of skipping them.
    strict : bool
        Raise on a truncated file instead of warning.
    gain_threshold : float
        Threshold gain selection on the high gain [ADC counts].
    """

    name = "simtel"

    def __init__(self, path, *, allowed_tels=None, focal_length="effective", keep_r0=False,
                 calibration_events=False, strict=False, gain_threshold=GAIN_THRESHOLD):
        self.path, self._stream = _open_simtel(path, allowed_tels, calibration_events)
        self.keep_r0 = keep_r0
        self.strict = strict
        self.gain_threshold = float(gain_threshold)
        self.calibration_events = calibration_events
        subarray, self.focal_lengths = subarray_from_simtel(self._stream, self.path, focal_length)
        if allowed_tels:
            unknown = sorted(set(int(t) for t in allowed_tels) - set(subarray.tel))
            if unknown:
                raise ValueError(f"{self.path}: allowed_tels {unknown} are not in the file (ids {list(subarray.tel)})")
            subarray = subarray.select_subarray(allowed_tels)
        self.subarray = subarray
        self.focal_length_kind = focal_length
        self.obs_id = int(self._stream.header["run"])
        self.has_true_image = _has_true_image(self._stream.history)
        self._stream.true_images = self.has_true_image
        self._camera_of = {t: d.camera.name for t, d in subarray.tel.items()}
        self._instrument = subarray.to_dataset()
        self.n_read = 0
        self._pool = ArrayPool()
        self._seen_ids, self._largest_id, self._repeats = set(), 0, 0
        self._distribution_given = False
        #: pixels with their high voltage switched off, per telescope
        self._disabled = {int(tel_id): np.asarray(description["disabled_pixels"]["HV_disabled"], np.intp)
                          for tel_id, description in self._stream.telescope_descriptions.items()}
        #: id given to the last event without one (calibration events); counts down from -1
        self._last_pseudo_id = 0

    @staticmethod
    def is_compatible(path):
        """Whether ``path`` is an EventIO file (possibly compressed)."""
        try:
            return _is_eventio(path)
        except OSError:
            return False

    def close(self):
        self._stream.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _simulation_attrs(self):
        header = self._stream.mc_run_headers[-1] if self._stream.mc_run_headers else None
        attrs = {
            "source": "sim_telarray",
            "input_file": str(self.path),
            "focal_length_kind": self.focal_length_kind,
            "tracking_mode": int(self._stream.header["tracking_mode"]),
        }
        if header is not None:
            attrs.update({
                "simulation_energy_min": float(header["E_range"][0]),
                "simulation_energy_max": float(header["E_range"][1]),
                "simulation_energy_units": "TeV",
                "simulation_spectral_index": float(header["spectral_index"]),
                "simulation_n_showers": int(header["n_showers"]),
                "simulation_shower_reuse": int(header["n_use"]),
                "simulation_max_scatter_range": float(header["core_range"][1]),
                "simulation_viewcone_max": float(header["viewcone"][1]),
                "simulation_diffuse": int(header["diffuse"]),
                "simulation_observation_height": float(header["obsheight"]),
            })
        return attrs

    def __iter__(self):
        return self.batches()

    def batches(self, batch_size=100, max_events=None, batch_bytes=None):
        """Yield event trees of at most ``batch_size`` events.

        Parameters
        ----------
        batch_size : int or None
            Events per tree; ``None`` for one tree with every event.
        max_events : int, optional
            Stop after this many events.
        batch_bytes : int, optional
            A tree also ends once its R1 waveforms take this many bytes, so
            that memory stays bounded whatever the number and size of the
            cameras per event.

        Notes
        -----
        An event tree is a reference cycle (its nodes point at their
        parent), so a tree the caller has dropped is freed only by a full
        pass of Python's cyclic garbage collector. Python runs those rarely
        in a process holding many objects (numba, astropy, xarray), and a
        dozen dropped batches can pile up in memory meanwhile. Once the trees
        yielded since the last pass hold ``COLLECT_AFTER_BYTES`` of
        waveforms, the next batch therefore starts with ``gc.collect()``:
        memory stays bounded, and the freed pages are reused at once. The
        pass (a tenth of a second) is skipped while waveform memory of
        earlier batches is waiting in the pool, which is the case when the
        caller breaks up the trees it is done with (as ``iactx process``
        does).
        """
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if batch_bytes is not None and batch_bytes < 1:
            raise ValueError(f"batch_bytes must be at least 1, got {batch_bytes}")
        limit = math.inf if max_events is None else int(max_events)
        size = math.inf if batch_size is None else int(batch_size)
        batch, yielded_bytes = None, 0
        for array_event in self._events(limit):
            if batch is None:
                if yielded_bytes >= COLLECT_AFTER_BYTES and not self._pool.n_free:
                    gc.collect()
                    yielded_bytes = 0
                batch = self._new_batch(size)
            self._collect(array_event, batch)
            if len(batch.array_events) >= size or (batch_bytes is not None and batch.waveform_bytes() >= batch_bytes):
                yielded_bytes += batch.waveform_bytes()
                yield self._tree(batch)
                batch = None
        if batch is not None:
            yield self._tree(batch)

    def _events(self, limit):
        """The file's complete array events, stopping cleanly at a truncation or corrupt record."""
        if limit <= 0:
            return
        iterator = iter(self._stream)
        while True:
            try:
                array_event = next(iterator)
            except StopIteration:
                return
            except Exception as err:  # noqa: BLE001 - any parse failure means a truncated or corrupt record
                self._stop_at_corruption(err)
                return
            if not array_event["telescope_events"]:
                continue
            self.n_read += 1
            yield array_event
            if self.n_read >= limit:
                return

    def _stop_at_corruption(self, reason):
        message = (
            f"{self.path} is truncated or corrupt after {self.n_read} complete events "
            f"(near byte {self._tell()} of the uncompressed stream): {reason}"
        )
        if self.strict:
            raise ValueError(message)
        warnings.warn(message, TruncatedFileWarning, stacklevel=5)

    def _tell(self):
        try:
            return self._stream.tell()
        except Exception:  # noqa: BLE001 - position is best effort for the message
            return "unknown"

    def _new_batch(self, n_events):
        """An empty batch with room for ``n_events`` events (a first guess if infinite)."""
        per_tel = min(n_events, _FIRST_CAPACITY_PER_TEL)
        return _Batch({name: _CameraBatch(per_tel * len(tel_ids), self._pool)
                       for name, tel_ids in self.subarray.ids_by_camera().items()})

    def _tree(self, batch):
        root = self._root(batch.array_events, batch.event_ids)
        cameras = {name: self._camera_group(name, camera) for name, camera in batch.cameras.items()}
        return make_tree(root, self._instrument, cameras, shower_distribution=self._new_shower_distribution())

    def _new_shower_distribution(self):
        """The run's simulated-shower distribution once the closing histograms are read, given once."""
        histogram = shower_histogram(self._stream.histograms)
        if histogram is None or self._distribution_given:
            return None
        self._distribution_given = True
        return shower_distribution_dataset(self.obs_id, histogram)

    def _root(self, array_events, event_ids):
        n = len(array_events)
        event_id = np.asarray(event_ids, np.int64)
        event_type = np.empty(n, np.int16)
        time = np.empty(n, "datetime64[ns]")
        true = {k: np.full(n, np.nan) for k in
                ("energy", "alt", "az", "core_x", "core_y", "h_first_int", "x_max")}
        primary = np.full(n, -1, np.int32)
        for i, ev in enumerate(array_events):
            if ev["type"] == "data":
                event_type[i] = 32
            elif ev["type"] == "calibration":
                event_type[i] = _CALIBRATION_EVENT_TYPES.get(ev.get("calibration_type", -1), 5)
            else:
                event_type[i] = 255
            seconds, nanoseconds = ev["trigger_information"]["gps_time"]
            time[i] = np.datetime64(int(seconds), "s") + np.timedelta64(int(nanoseconds), "ns")
            shower = ev.get("mc_shower")
            if ev["type"] == "data" and shower is not None:
                mc_event = ev["mc_event"]
                true["energy"][i] = shower["energy"]
                true["alt"][i] = min(np.rad2deg(shower["altitude"]), 90.0)
                true["az"][i] = np.rad2deg(shower["azimuth"])
                true["core_x"][i] = mc_event["xcore"]
                true["core_y"][i] = mc_event["ycore"]
                true["h_first_int"][i] = shower["h_first_int"]
                true["x_max"][i] = shower["xmax"]
                primary[i] = shower["primary_id"]
        header = self._stream.header
        direction = np.rad2deg(np.asarray(header["direction"], np.float64))
        tracking_altaz = int(header["tracking_mode"]) == 0
        data_vars = {
            "trigger_time": (time, {"long_name": "central trigger time (UTC)"}),
            "event_type": (event_type, {"long_name": "event type code", "flag_values": list(EVENT_TYPES),
                                        "flag_meanings": " ".join(EVENT_TYPES.values())}),
            "true_energy": (true["energy"], {"units": "TeV"}),
            "true_alt": (true["alt"], {"units": "deg"}),
            "true_az": (true["az"], {"units": "deg"}),
            "true_core_x": (true["core_x"], {"units": "m"}),
            "true_core_y": (true["core_y"], {"units": "m"}),
            "true_h_first_int": (true["h_first_int"], {"units": "m"}),
            "true_x_max": (true["x_max"], {"units": _GRAMMAGE}),
            "true_shower_primary_id": (primary, {"long_name": "CORSIKA primary id, -1 if none"}),
            "array_altitude": (np.full(n, min(direction[1], 90.0) if tracking_altaz else np.nan), {"units": "deg"}),
            "array_azimuth": (np.full(n, direction[0] if tracking_altaz else np.nan), {"units": "deg"}),
        }
        return root_dataset(np.full(n, self.obs_id), event_id, data_vars, self._simulation_attrs())

    def _event_id(self, array_event):
        """The key of an event: the file's id, unique over the file.

        Events without an id (calibration events) count down from -1. An id
        the file has used before (files made by concatenating or repeating
        runs) would break the uniqueness of ``(obs_id, event_id, tel_id)``:
        such a repeat gets the next free id above the largest one seen, with
        a warning the first time.
        """
        event_id = int(array_event.get("event_id", 0))
        if event_id == 0:
            self._last_pseudo_id -= 1
            return self._last_pseudo_id
        if event_id in self._seen_ids:
            if not self._repeats:
                warnings.warn(f"{self.path}: event id {event_id} appears more than once; repeated ids are "
                              "replaced by new ones above the largest id seen", RepeatedEventIdWarning,
                              stacklevel=6)
            self._repeats += 1
            event_id = self._largest_id + 1
        self._seen_ids.add(event_id)
        self._largest_id = max(self._largest_id, event_id)
        return event_id

    def _collect(self, array_event, batch):
        """Add one array event to the batch, calibrating its telescope events."""
        event_id = self._event_id(array_event)
        batch.event_ids.append(event_id)
        batch.array_events.append({k: array_event[k] for k in _ROOT_ENTRIES if k in array_event})
        tels_with_trigger = set(int(t) for t in array_event["trigger_information"]["triggered_telescopes"])
        photoelectrons = array_event.get("photoelectrons") or {}
        for tel_id, tel_event in array_event["telescope_events"].items():
            if tel_id not in self._camera_of or tel_id not in tels_with_trigger:
                continue
            camera = batch.cameras[self._camera_of[tel_id]]
            adc = tel_event.get("adc_samples")
            if adc is None:
                sums = np.asarray(tel_event["adc_sums"], np.uint16)[:, :, np.newaxis]
                adc = AdcSamples(sums, sums.shape[0])
            n_gains = adc.shape[0]
            monitoring = array_event["camera_monitorings"][tel_id]
            calibration = array_event["laser_calibrations"][tel_id]
            pedestal = np.asarray(monitoring["pedestal"], np.float32) / np.float32(monitoring["n_ped_slices"])
            dc_to_pe = np.asarray(calibration["calib"], np.float32)
            try:
                i = camera.next_row(*adc.shape[1:])
            except ValueError as err:
                raise ValueError(f"{self.path}: event {event_id}, telescope {tel_id}: {err}") from None
            row = slice(i, i + 1)
            try:
                r0 = self._selected_channels(adc, camera.selected[row])
            except ValueError as err:
                raise ValueError(f"{self.path}: event {event_id}: {err}") from None
            calibrate_selected_gain(r0, camera.selected[row], pedestal[np.newaxis], dc_to_pe[np.newaxis],
                                    camera.waveform[row])
            for key, value in zip(camera.keys, (self.obs_id, event_id, tel_id)):
                key.append(value)
            if self.keep_r0:
                camera.r0.append(adc.channels(n_gains))
                camera.pedestal.append(pedestal)
                camera.dc_to_pe.append(dc_to_pe)
            camera.time_shift.append(np.asarray(calibration["tm_calib"], np.float32))
            camera.pointing.append(_pointing(array_event["tracking_positions"][tel_id]))
            camera.focal_length.append(self.focal_lengths[tel_id])
            if self.has_true_image:
                image = photoelectrons.get(tel_id - 1)
                n_pixels = adc.shape[1]
                camera.true_image.append(np.full(n_pixels, -1, np.int32) if image is None
                                         else np.asarray(image, np.int32))

    def _selected_channels(self, adc, selected):
        """Select the gain of every pixel (into ``selected``); the samples needed, shape (1, n, pixels, samples).

        The threshold is tested on the high gain; the low gain is decoded
        only when some pixel (or ``keep_r0``) needs it.
        """
        n_gains = adc.shape[0]
        if n_gains > 1:
            select_gain_threshold(adc.channels(1), self.gain_threshold, selected)  # one event: (1, pixels, samples)
        else:
            selected[:] = 0
        needed = n_gains if self.keep_r0 or selected.any() else min(n_gains, 1)
        return adc.channels(needed)[np.newaxis]

    def _camera_group(self, name, camera):
        geometry = self.subarray.geometries()[name]
        readouts = self.subarray.readouts(name)
        readout = next(iter(readouts.values()))
        n = camera.n
        n_pixels = geometry.n_pixels
        n_gains = readout.n_channels
        if n:
            waveform, selected = camera.waveform[:n], camera.selected[:n]
        else:
            waveform = np.empty((0, n_pixels, readout.n_samples), np.float32)
            selected = np.empty((0, n_pixels), np.int8)

        def stacked(values, shape, dtype=np.float32):
            return np.stack(values).astype(dtype, copy=False) if n else np.zeros((0, *shape), dtype)

        time_shift = np.take_along_axis(stacked(camera.time_shift, (n_gains, n_pixels)),
                                        selected[:, np.newaxis, :].astype(np.intp), axis=1)[:, 0]
        pointing = stacked(camera.pointing, (2,), np.float64)
        data_vars = {
            "waveform": (("tel_event", "pixel", "sample"), waveform,
                         {"units": "pe", "long_name": "R1 waveform, pedestal-subtracted, gain-selected"}),
            "selected_gain": (("tel_event", "pixel"), selected,
                              {"long_name": "gain channel used (0 high, 1 low)"}),
            "time_shift": (("tel_event", "pixel"), time_shift,
                           {"units": "ns", "long_name": "peak time shift of the selected channel"}),
            "pointing_alt": ("tel_event", pointing[:, 0], {"units": "deg", "long_name": "telescope pointing altitude"}),
            "pointing_az": ("tel_event", pointing[:, 1], {"units": "deg", "long_name": "telescope pointing azimuth"}),
            "focal_length": ("tel_event", np.asarray(camera.focal_length, np.float64).reshape(n),
                             {"units": "m", "long_name": f"{self.focal_length_kind} focal length"}),
        }
        data_vars["outlier_mask"] = (("tel_event", "pixel"), self._outlier_mask(camera.keys[2], n_pixels),
                                     {"long_name": "pixel disabled (high voltage off) in the camera settings"})
        if self.has_true_image:
            data_vars["true_image"] = (("tel_event", "pixel"), stacked(camera.true_image, (n_pixels,), np.int32),
                                       {"units": "pe", "long_name": "true photo-electrons, -1 if unknown"})
        if self.keep_r0:
            r0 = stacked(camera.r0, (n_gains, n_pixels, waveform.shape[-1]), np.uint16)
            data_vars["r0"] = (("tel_event", "gain", "pixel", "sample"), r0, {"units": "adc_counts"})
            data_vars["pedestal"] = (("tel_event", "gain", "pixel"), stacked(camera.pedestal, (n_gains, n_pixels)),
                                     {"units": "adc_counts", "long_name": "pedestal per sample"})
            data_vars["dc_to_pe"] = (("tel_event", "gain", "pixel"), stacked(camera.dc_to_pe, (n_gains, n_pixels)),
                                     {"units": "pe / adc_counts"})
        keys = tuple(np.asarray(k) for k in camera.keys)
        return camera_group(geometry, readouts, keys, data_vars)


    def _outlier_mask(self, tel_ids, n_pixels):
        """Disabled pixels of each telescope event, shape (n_tel_events, n_pixels)."""
        tel_ids = np.asarray(tel_ids, np.int64)
        mask = np.zeros((tel_ids.size, n_pixels), bool)
        for tel_id in np.unique(tel_ids):
            mask[np.ix_(tel_ids == tel_id, self._disabled[int(tel_id)])] = True
        return mask


def iter_simtel(path, *, batch_size=100, max_events=None, allowed_tels=None, focal_length="effective",
                keep_r0=False, calibration_events=False, strict=False, batch_bytes=None):
    """Yield the events of a sim_telarray file as event trees of bounded size.

    Parameters
    ----------
    path : str or Path
        sim_telarray file (plain, ``.gz`` or ``.zst``).
    batch_size : int
        Events per yielded tree.
    max_events : int, optional
        Stop after this many events.
    allowed_tels : iterable of int, optional
        Read only these telescopes.
    focal_length : {"effective", "equivalent"}
        Focal length stored with the camera groups; falls back to the
        equivalent one, with a warning, when the file has no effective one.
    keep_r0 : bool
        Keep raw ADC samples and their calibration (``r0``, ``pedestal``,
        ``dc_to_pe``).
    calibration_events : bool
        Read calibration events instead of skipping them.
    strict : bool
        Raise on truncated files instead of warning.
    batch_bytes : int, optional
        Also end a tree once its R1 waveforms take this many bytes.

    Yields
    ------
    xarray.DataTree
        Event trees with at most ``batch_size`` events.

    Raises
    ------
    FileNotFoundError, ValueError
        Missing, empty, foreign or unreadable files, with the file name.

    Notes
    -----
    Memory holds about two batches: the one the caller works on and the one
    being read, plus, until the next full garbage collection (see
    :meth:`SimtelSource.batches`), batches already dropped.
    """
    with SimtelSource(path, allowed_tels=allowed_tels, focal_length=focal_length, keep_r0=keep_r0,
                      calibration_events=calibration_events, strict=strict) as source:
        yield from source.batches(batch_size=batch_size, max_events=max_events, batch_bytes=batch_bytes)
        if source.n_read == 0:
            raise ValueError(_no_events_message(source))


def _no_events_message(source):
    hint = "" if source.calibration_events else " (calibration events are skipped; pass calibration_events=True)"
    return f"{source.path} contains no events{hint}"


def read_simtel(path, *, max_events=None, allowed_tels=None, focal_length="effective", keep_r0=False,
                calibration_events=False, strict=False):
    """Read a sim_telarray file into one event tree.

    Parameters are those of :func:`iter_simtel` (without ``batch_size``).

    Returns
    -------
    xarray.DataTree
        Root (array-level data along ``event``), ``/instrument`` and one
        group per camera type (data along ``tel_event``).

    Examples
    --------
    >>> tree = read_simtel("gamma.simtel.zst")              # doctest: +SKIP
    >>> tree["LSTCam"].ds.waveform.sel(event=100, tel=1)     # doctest: +SKIP
    """
    trees = list(iter_simtel(path, batch_size=None, max_events=max_events, allowed_tels=allowed_tels,
                             focal_length=focal_length, keep_r0=keep_r0,
                             calibration_events=calibration_events, strict=strict))
    return trees[0]
