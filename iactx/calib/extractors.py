"""Charge extractors: ctapipe's algorithms, names and defaults, on camera groups.

Each extractor is a ``param.Parameterized`` class. Calling it on a camera
group (a Dataset with ``waveform`` on ``(tel_event, pixel, sample)``)
returns the extracted ``image`` and ``peak_time`` (and ``is_valid`` for
:class:`TwoPassWindowSum`) as DataArrays on ``tel_event, pixel``. The work
is done by the batched kernels of :mod:`iactx.calib.extractor_kernels`
through :func:`iactx._apply.apply_kernel`, so numpy- and dask-backed
groups (chunked along ``tel_event``) both work.

Options that may differ between telescopes are TelescopeParameters: a
scalar, or rules ``("type" | "id", pattern, value)`` where later matches
win (see :mod:`iactx.config.telescope_parameter`). They are resolved for
every telescope event, so one batch may mix telescopes with different
settings; type rules need the telescope types (``tel_types``), which the
event-tree accessor takes from ``/instrument``.

>>> extractor = NeighborPeakWindowSum(window_width=5)          # doctest: +SKIP
>>> out = extractor(cam)                                       # doctest: +SKIP
>>> out["image"].sel(tel=1)                                    # doctest: +SKIP
"""

from __future__ import annotations

import difflib

import numpy as np
import param
import xarray as xr

from .._apply import apply_kernel, in_order
from .._array_pool import ArrayPool
from .._content_cache import ContentCache
from ..config.telescope_parameter import TelescopeParameter, is_per_telescope, resolve_per_tel_event
from ..instrument.camera import neighbor_csr
from . import extractor_kernels as K
from .correction import correction_table
from .two_pass_kernels import two_pass_window_sum

__all__ = [
    "ImageExtractor",
    "FullWaveformSum",
    "FixedWindowSum",
    "GlobalPeakWindowSum",
    "LocalPeakWindowSum",
    "SlidingWindowMaxSum",
    "NeighborPeakWindowSum",
    "BaselineSubtractedNeighborPeakWindowSum",
    "TwoPassWindowSum",
    "EXTRACTORS",
    "make_extractor",
    "broken_pixel_mask",
]

_WAVEFORM_DIMS = ["pixel", "sample"]


# --------------------------------------------------------------------------- camera constants


def _sampling_rate(ds):
    try:
        return float(ds.attrs["sampling_rate"])
    except KeyError:
        raise ValueError("the camera group has no 'sampling_rate' attribute [GHz]") from None


#: CSR neighbour arrays of the last neighbour tables seen (shared: the kernels only read them)
_CSR_OF_TABLE = ContentCache(neighbor_csr)


def _neighbor_csr(ds):
    """CSR neighbour arrays ``(indptr, indices)`` from the padded ``neighbors`` table of a camera group."""
    if "neighbors" not in ds.coords and "neighbors" not in ds:
        raise ValueError("the camera group has no 'neighbors' table on (pixel, neighbor)")
    return _CSR_OF_TABLE(ds.variables["neighbors"].values, np.int64)


def _window_corrections(pulses, pulse_width, sample_width, width, shift, kind):
    """Correction of every reference pulse of a group for one window, on (pulse row, gain)."""
    n_rows = pulses.shape[0]
    table = correction_table(pulses, pulse_width, sample_width, [width] * n_rows, [shift] * n_rows, kind=kind)
    table.setflags(write=False)
    return table


#: corrections of the last pulses and windows seen: camera groups of a run share them, and the rebinning
#: behind each correction costs more than a call of the kernel on a small batch
_CORRECTIONS_OF_PULSES = ContentCache(_window_corrections)


def _readout_rows(ds, tel):
    """Row of ``readout_tel`` (the per-telescope readout constants) of each telescope event."""
    readout_tel = np.asarray(ds.variables["readout_tel"].values)
    if not len(readout_tel):
        raise ValueError(f"no reference pulse shape for telescopes {np.unique(tel).tolist()}")
    order = np.argsort(readout_tel, kind="stable")
    rows = order[np.searchsorted(readout_tel, tel, sorter=order).clip(0, len(order) - 1)]
    found = readout_tel[rows] == tel
    if not found.all():
        raise ValueError(f"no reference pulse shape for telescopes {np.unique(tel[~found]).tolist()}")
    return rows


def _tel_ids(ds):
    """Telescope id of every telescope event (the ``tel`` level of the ``tel_event`` index)."""
    index = getattr(ds.xindexes.get("tel_event"), "index", None)  # the pandas index, without ds.indexes' copy
    if index is not None and "tel" in getattr(index, "names", ()):
        level = index.names.index("tel")  # the level's values taken by its codes: no pandas Index built
        return np.asarray(index.levels[level])[index.codes[level]]
    if "tel" not in ds.coords:
        raise ValueError("the camera group has no 'tel' coordinate along tel_event")
    return np.asarray(ds["tel"].values)


def _per_event(values, dtype):
    """A numpy-backed variable along ``tel_event``."""
    return xr.Variable(("tel_event",), np.asarray(values, dtype))


def _waveform(ds):
    return in_order(ds.variables["waveform"], ("tel_event", "pixel", "sample"))


def _selected_gain(ds):
    if "selected_gain" in ds:
        return in_order(ds.variables["selected_gain"], ("tel_event", "pixel"))
    return xr.Variable(("tel_event", "pixel"), np.zeros((ds.sizes["tel_event"], ds.sizes["pixel"]), np.int8))


def broken_pixel_mask(ds, broken_pixels=None):
    """Pixels to leave out of peak searches and to interpolate, on ``(tel_event, pixel)``.

    Parameters
    ----------
    ds : xarray.Dataset
        Camera group.
    broken_pixels : xarray.DataArray, str or None
        A boolean DataArray on (a subset of) ``tel_event, pixel``, the name of
        such a variable of ``ds``, or None for the variable ``outlier_mask``
        when the group has it (no broken pixels otherwise).

    Returns
    -------
    xarray.Variable of bool on (tel_event, pixel), or None
        None when there is no mask.
    """
    if broken_pixels is None:
        if "outlier_mask" not in ds:
            return None
        broken_pixels = "outlier_mask"
    if isinstance(broken_pixels, str):
        broken_pixels = ds.variables[broken_pixels]
    if isinstance(broken_pixels, xr.DataArray):
        mask = broken_pixels.variable
    elif isinstance(broken_pixels, xr.Variable):
        mask = broken_pixels
    else:
        raise TypeError("broken_pixels must be a DataArray, a Variable or a variable name")
    extra = set(mask.dims) - {"tel_event", "pixel"}
    if extra:
        raise ValueError(f"broken_pixels has dimensions {sorted(extra)} besides tel_event and pixel")
    sizes = {"tel_event": ds.sizes["tel_event"], "pixel": ds.sizes["pixel"]}
    if mask.dtype != bool:
        mask = mask.astype(bool)
    if mask.dims != ("tel_event", "pixel"):
        mask = mask.set_dims(sizes).transpose("tel_event", "pixel")
    return mask


def _broken_or_false(ds, broken):
    if broken is None:
        return xr.Variable(("tel_event", "pixel"), np.zeros((ds.sizes["tel_event"], ds.sizes["pixel"]), bool))
    return broken


def chunk_like(template, *arrays):
    """``arrays`` chunked along ``tel_event`` like ``template`` when that is dask-backed.

    apply_ufunc needs every input of a dask computation chunked alike along
    the loop dimension; per-event options and corrections are built as numpy.
    """
    if isinstance(template.data, np.ndarray) or template.chunks is None:  # (.chunks alone costs ~10 us)
        return list(arrays)
    chunks = dict(template.chunksizes).get("tel_event")
    return [a.chunk({"tel_event": chunks}) if isinstance(a, (xr.DataArray, xr.Variable)) and "tel_event" in a.dims
            else a for a in arrays]


def _as_dataarray(ds, var, name):
    """A result variable with the camera group's coordinates on its dimensions."""
    coords = {k: v for k, v in ds.coords.items() if set(v.dims) <= set(var.dims)}
    return xr.DataArray(var, coords=xr.Coordinates(coords, indexes={k: ds.xindexes[k] for k in ds.xindexes
                                                                    if k in coords}), name=name)


def _float_waveforms(wf):
    wf = np.asarray(wf)
    if wf.dtype not in (np.float32, np.float64):
        wf = wf.astype(np.float32)
    return np.ascontiguousarray(wf)


#: memory of the images and peak times of earlier batches, reused once they are dropped
_OUTPUT_POOL = ArrayPool(min_bytes=1 << 20)


def _outputs(shape):
    return _OUTPUT_POOL.empty(shape, np.float32), _OUTPUT_POOL.empty(shape, np.float32)


def _contiguous(*arrays):
    return tuple(np.ascontiguousarray(a) for a in arrays)


# --------------------------------------------------------------------------- base class


class ImageExtractor(param.Parameterized):
    """Base class: extract one charge and one time per pixel from the waveforms.

    Subclasses implement :meth:`_extract` (and :meth:`_peak` when they sum
    in a window around a peak index).
    """

    __abstract = True

    #: names of the per-telescope options (resolved per telescope event)
    _per_telescope = ()

    def __call__(self, ds, *, tel_types=None, broken_pixels=None):
        """Extract ``image`` and ``peak_time`` from a camera group.

        Parameters
        ----------
        ds : xarray.Dataset
            Camera group with ``waveform`` (tel_event, pixel, sample) [pe] and,
            when present, ``selected_gain`` (tel_event, pixel).
        tel_types : dict[int, str], optional
            Telescope type of each telescope id, for type rules other than ``"*"``.
        broken_pixels : xarray.DataArray or str, optional
            See :func:`broken_pixel_mask`.

        Returns
        -------
        dict of str to xarray.DataArray
            ``image`` [same unit as the waveform sum, pe] and ``peak_time``
            [ns], float32 on ``(tel_event, pixel)``; ``is_valid`` on
            ``tel_event`` for extractors that can fail.
        """
        out = self.compute(ds, tel_types=tel_types, broken_pixels=broken_pixels)
        return {name: _as_dataarray(ds, var, name) for name, var in out.items()}

    extract = __call__

    def compute(self, ds, *, tel_types=None, broken_pixels=None, tel=None):
        """Like calling the extractor, but returns plain ``xarray.Variable`` objects.

        The labelled-layer functions use this to skip building coordinates
        they do not need; ``tel`` may pass the telescope ids along
        ``tel_event`` when already known.
        """
        if "waveform" not in ds:
            raise ValueError("the camera group has no 'waveform' variable")
        if ds.sizes.get("sample", 0) < 1:
            raise ValueError("the waveforms have no samples")
        tel = _tel_ids(ds) if tel is None else np.asarray(tel)
        options = self._resolve(tel, tel_types)
        self._check_window(options, ds.sizes["sample"])
        broken = broken_pixel_mask(ds, broken_pixels)
        return self._extract(ds, options, broken, tel)

    def _check_window(self, options, n_samples):
        """Refuse integration windows wider than the trace, or shifted off it (naming the option)."""
        for name in ("window_width", "window_shift"):
            values = np.asarray(options.get(name, []))
            if values.size and np.abs(values).max() > n_samples:
                raise ValueError(f"{type(self).__name__}.{name}={int(np.abs(values).max())}: larger than the "
                                 f"{n_samples} samples of the waveforms")

    def resolved(self, ds, tel_types=None):
        """Every per-telescope option as an array along ``tel_event``.

        Returns
        -------
        dict of str to numpy.ndarray
        """
        return self._resolve(_tel_ids(ds), tel_types)

    def _resolve(self, tel, tel_types):
        return {name: resolve_per_tel_event(getattr(self, name), tel, tel_types)
                for name in self._per_telescope}

    def scalar_options(self):
        """Options with one value for every telescope (for attributes and plots)."""
        out = {}
        for name in self.param:
            if name == "name":
                continue
            value = getattr(self, name)
            if is_per_telescope(value):
                continue
            if isinstance(value, (bool, np.bool_)):
                out[name] = int(value)
            elif isinstance(value, (int, float, str, np.integer, np.floating)):
                out[name] = value
        return out

    def find_peaks(self, ds, *, tel_types=None, broken_pixels=None):
        """Sample index each pixel's window is placed around (before the shift).

        For :class:`SlidingWindowMaxSum` it is the start of the best window.

        Returns
        -------
        xarray.DataArray of int64 on (tel_event, pixel)
        """
        tel = _tel_ids(ds)
        options = self._resolve(tel, tel_types)
        broken = broken_pixel_mask(ds, broken_pixels)
        return _as_dataarray(ds, self._peak(ds, options, broken, tel), "peak_index")

    def window(self, ds, *, tel_types=None, broken_pixels=None):
        """First and one-past-last sample summed for each pixel (truncated at the trace ends).

        Returns
        -------
        start, stop : xarray.DataArray of int64 on (tel_event, pixel)
        """
        if type(self)._peak is ImageExtractor._peak:
            raise NotImplementedError(f"{type(self).__name__} has no single window per pixel")
        options = self.resolved(ds, tel_types)
        peak = self.find_peaks(ds, tel_types=tel_types, broken_pixels=broken_pixels)
        n = ds.sizes["sample"]
        width = options.get("window_width", np.full(ds.sizes["tel_event"], n))
        shift = options.get("window_shift", np.zeros(ds.sizes["tel_event"], np.int64))
        start = peak - xr.DataArray(np.asarray(shift), dims="tel_event")
        stop = start + xr.DataArray(np.minimum(np.asarray(width), n), dims="tel_event")
        return start.clip(0, n).rename("window_start"), stop.clip(0, n).rename("window_stop")

    # -- helpers for subclasses

    def _peak(self, ds, options, broken, tel):
        raise NotImplementedError(f"{type(self).__name__} has no single peak index per pixel")

    def _correction(self, ds, options, tel, width, shift, kind="peak"):
        """Integration correction on ``(tel_event, gain)`` for per-event window width and shift."""
        n = ds.sizes["tel_event"]
        n_gains = ds.sizes.get("gain", int(ds.attrs.get("n_channels", 1)))
        enabled = options.get("apply_integration_correction")
        enabled = np.ones(n, bool) if enabled is None else np.asarray(enabled, bool)
        if n == 0 or not enabled.any() or "reference_pulse_shape" not in ds:
            return xr.Variable(("tel_event", "gain"), np.ones((n, n_gains)))
        rows = _readout_rows(ds, np.asarray(tel))
        pulses = np.asarray(ds.variables["reference_pulse_shape"].values, np.float64)
        sample_width = 1.0 / _sampling_rate(ds)
        pulse_width = float(ds.attrs["reference_pulse_sample_width"])
        width = np.asarray(width, np.int64)
        shift = np.zeros(n, np.int64) if shift is None else np.asarray(shift, np.int64)
        if (width == width[0]).all() and (shift == shift[0]).all():  # the usual case: one window for all
            windows, window_of_event = [(int(width[0]), int(shift[0]))], np.zeros(n, np.intp)
        else:  # one table per distinct (width, shift) window: rows compared as 16-byte records
            records = np.stack([width, shift], axis=1)
            _, first, window_of_event = np.unique(records.view(np.dtype((np.void, 16))).ravel(), return_index=True,
                                                  return_inverse=True)
            windows = records[first].tolist()
        tables = np.stack([_CORRECTIONS_OF_PULSES(pulses, pulse_width, sample_width, w, s, kind)
                           for w, s in windows])
        out = tables[window_of_event.reshape(-1), rows]
        out[~enabled] = 1.0
        return xr.Variable(("tel_event", "gain"), out)

    def _windowed(self, ds, func, per_event, extra_inputs=(), extra_dims=(), kwargs=None):
        """Run a windowed kernel wrapper through apply_kernel -> (image, peak_time)."""
        wf = _waveform(ds)
        inputs = [wf, *chunk_like(wf, _selected_gain(ds), *extra_inputs, *per_event)]
        core = [_WAVEFORM_DIMS, ["pixel"], *extra_dims, *[[d for d in a.dims if d != "tel_event"]
                                                         for a in per_event]]
        image, peak_time = apply_kernel(
            func, *inputs, input_core_dims=core, output_core_dims=[["pixel"], ["pixel"]],
            output_dtypes=[np.float32, np.float32], kwargs=kwargs or {},
        )
        return {"image": image, "peak_time": peak_time}


# --------------------------------------------------------------------------- kernel wrappers
# (plain arrays in, arrays out; called by apply_kernel once per chunk)


def _run_full(wf, gain, *, sampling_rate):
    wf = _float_waveforms(wf)
    charge, time = _outputs(wf.shape[:2])
    K.full_waveform_sum(wf, sampling_rate, charge, time)
    return charge, time


def _run_fixed(wf, gain, peak, width, shift, corr, *, sampling_rate):
    wf = _float_waveforms(wf)
    charge, time = _outputs(wf.shape[:2])
    gain, peak, width, shift, corr = _contiguous(gain, peak, width, shift, corr)
    K.fixed_window_sum(wf, peak, width, shift, sampling_rate, gain, corr, charge, time)
    return charge, time


def _run_global(wf, gain, broken, fraction, width, shift, corr, *, sampling_rate):
    wf = _float_waveforms(wf)
    charge, time = _outputs(wf.shape[:2])
    gain, broken, fraction, width, shift, corr = _contiguous(gain, broken, fraction, width, shift, corr)
    K.global_peak_window_sum(wf, broken, fraction, width, shift, sampling_rate, gain, corr, charge, time)
    return charge, time


def _run_local(wf, gain, width, shift, corr, *, sampling_rate):
    wf = _float_waveforms(wf)
    charge, time = _outputs(wf.shape[:2])
    gain, width, shift, corr = _contiguous(gain, width, shift, corr)
    K.local_peak_window_sum(wf, width, shift, sampling_rate, gain, corr, charge, time)
    return charge, time


def _run_sliding(wf, gain, width, corr, *, sampling_rate):
    wf = _float_waveforms(wf)
    charge, time = _outputs(wf.shape[:2])
    gain, width, corr = _contiguous(gain, width, corr)
    K.sliding_window_max_sum(wf, width, sampling_rate, gain, corr, charge, time)
    return charge, time


def _run_neighbor(wf, gain, broken, local_weight, width, shift, corr, *, sampling_rate, indptr, indices,
                  baseline=None):
    wf = _float_waveforms(wf)
    if baseline is not None:
        wf = _subtracted(wf, *baseline)
    charge, time = _outputs(wf.shape[:2])
    gain, broken, local_weight, width, shift, corr = _contiguous(gain, broken, local_weight, width, shift, corr)
    K.neighbor_peak_window_sum(wf, indptr, indices, broken, local_weight, width, shift,
                               sampling_rate, gain, corr, charge, time)
    return charge, time


def _subtracted(wf, start, end):
    out = np.empty_like(wf)
    K.subtract_baseline(wf, start, end, out)
    return out


def _run_two_pass(wf, gain, broken, core, corr_first, corr_before, corr_after, *, sampling_rate, indptr,
                  indices, pix_x, pix_y, disable_second_pass, interpolate):
    wf = _float_waveforms(wf)
    charge, time = _outputs(wf.shape[:2])
    valid = np.empty(wf.shape[0], bool)
    gain, broken, core, corr_first, corr_before, corr_after = _contiguous(
        gain, broken, core, corr_first, corr_before, corr_after)
    two_pass_window_sum(wf, indptr, indices, pix_x, pix_y, broken, core, sampling_rate, gain, corr_first,
                        corr_before, corr_after, disable_second_pass, interpolate, charge, time, valid)
    return charge, time, valid


def _peaks_local(wf):
    wf = _float_waveforms(wf)
    out = np.empty(wf.shape[:2], np.int64)
    K.local_peak_index(wf, out)
    return out


def _peaks_neighbor(wf, broken, local_weight, *, indptr, indices, baseline=None):
    wf = _float_waveforms(wf)
    if baseline is not None:
        wf = _subtracted(wf, *baseline)
    out = np.empty(wf.shape[:2], np.int64)
    broken, local_weight = _contiguous(broken, local_weight)
    K.neighbor_peak_index(wf, indptr, indices, broken, local_weight, out)
    return out


def _peaks_global(wf, broken, fraction):
    wf = _float_waveforms(wf)
    out = np.empty(wf.shape[0], np.int64)
    broken, fraction = _contiguous(broken, fraction)
    K.global_peak_index(wf, broken, fraction, out)
    return np.repeat(out[:, np.newaxis], wf.shape[1], axis=1)


def _peaks_sliding(wf, width):
    wf = _float_waveforms(wf)
    out = np.empty(wf.shape[:2], np.int64)
    K.sliding_window_start(wf, np.ascontiguousarray(width), out)
    return out


def _peak_apply(func, ds, *inputs, core=(), kwargs=None):
    wf = _waveform(ds)
    return apply_kernel(func, wf, *chunk_like(wf, *inputs), input_core_dims=[_WAVEFORM_DIMS, *core],
                        output_core_dims=[["pixel"]], output_dtypes=[np.int64], kwargs=kwargs or {})


def _events(options, name, dtype):
    return _per_event(options[name], dtype)


# --------------------------------------------------------------------------- extractors


#: the largest window width or shift accepted (windows wider than the trace are refused when calibrating)
_INT32_MAX = 2**31 - 1
_WIDTH_DOC = "Width of the integration window [samples]."
_SHIFT_DOC = "Samples the window starts before the peak (window = [peak - shift, peak - shift + width))."
_CORRECTION_DOC = ("Scale the sum by the integration correction: the inverse of the fraction of the "
                   "reference pulse inside the window.")


class FullWaveformSum(ImageExtractor):
    """Sum of the whole waveform; peak time from all positive samples. No correction."""

    def _extract(self, ds, options, broken, tel):
        return self._windowed(ds, _run_full, [], kwargs={"sampling_rate": _sampling_rate(ds)})

    def _peak(self, ds, options, broken, tel):
        return xr.Variable(("tel_event", "pixel"), np.zeros((ds.sizes["tel_event"], ds.sizes["pixel"]), np.int64))


class FixedWindowSum(ImageExtractor):
    """Sum in the same window for every pixel, placed at ``peak_index``."""

    peak_index = TelescopeParameter(0, item_type=int, doc="Sample index the window is placed at.")
    window_width = TelescopeParameter(7, item_type=int, bounds=(1, _INT32_MAX), doc=_WIDTH_DOC)
    window_shift = TelescopeParameter(0, item_type=int, bounds=(-_INT32_MAX, _INT32_MAX), doc=_SHIFT_DOC)
    apply_integration_correction = TelescopeParameter(True, item_type=bool, doc=_CORRECTION_DOC)
    _per_telescope = ("peak_index", "window_width", "window_shift", "apply_integration_correction")

    def _extract(self, ds, options, broken, tel):
        width, shift = options["window_width"], options["window_shift"]
        corr = self._correction(ds, options, tel, width, shift)
        per_event = [_events(options, "peak_index", np.int64), _events(options, "window_width", np.int64),
                     _events(options, "window_shift", np.int64), corr]
        return self._windowed(ds, _run_fixed, per_event, kwargs={"sampling_rate": _sampling_rate(ds)})

    def _peak(self, ds, options, broken, tel):
        peak = np.asarray(options["peak_index"], np.int64)
        return xr.Variable(("tel_event", "pixel"), np.repeat(peak[:, np.newaxis], ds.sizes["pixel"], axis=1))


class GlobalPeakWindowSum(ImageExtractor):
    """Window around the peak of the camera-averaged waveform.

    With ``pixel_fraction`` below 1, only that fraction of the pixels with
    the largest maxima is averaged. Broken pixels are left out.
    """

    window_width = TelescopeParameter(7, item_type=int, bounds=(1, _INT32_MAX), doc=_WIDTH_DOC)
    window_shift = TelescopeParameter(3, item_type=int, bounds=(-_INT32_MAX, _INT32_MAX), doc=_SHIFT_DOC)
    apply_integration_correction = TelescopeParameter(True, item_type=bool, doc=_CORRECTION_DOC)
    pixel_fraction = TelescopeParameter(1.0, item_type=float, bounds=(0.0, 1.0), doc=(
        "Fraction of the pixels (those with the largest maxima) averaged to find the peak; 1 uses all."))
    _per_telescope = ("window_width", "window_shift", "apply_integration_correction", "pixel_fraction")

    def _extract(self, ds, options, broken, tel):
        width, shift = options["window_width"], options["window_shift"]
        corr = self._correction(ds, options, tel, width, shift)
        per_event = [_events(options, "pixel_fraction", np.float64),
                     _events(options, "window_width", np.int64),
                     _events(options, "window_shift", np.int64), corr]
        return self._windowed(ds, _run_global, per_event, extra_inputs=[_broken_or_false(ds, broken)],
                              extra_dims=[["pixel"]], kwargs={"sampling_rate": _sampling_rate(ds)})

    def _peak(self, ds, options, broken, tel):
        return _peak_apply(_peaks_global, ds, _broken_or_false(ds, broken),
                           _events(options, "pixel_fraction", np.float64), core=[["pixel"], []])


class LocalPeakWindowSum(ImageExtractor):
    """Window around the maximum of each pixel's own waveform."""

    window_width = TelescopeParameter(7, item_type=int, bounds=(1, _INT32_MAX), doc=_WIDTH_DOC)
    window_shift = TelescopeParameter(3, item_type=int, bounds=(-_INT32_MAX, _INT32_MAX), doc=_SHIFT_DOC)
    apply_integration_correction = TelescopeParameter(True, item_type=bool, doc=_CORRECTION_DOC)
    _per_telescope = ("window_width", "window_shift", "apply_integration_correction")

    def _extract(self, ds, options, broken, tel):
        width, shift = options["window_width"], options["window_shift"]
        corr = self._correction(ds, options, tel, width, shift)
        per_event = [_events(options, "window_width", np.int64),
                     _events(options, "window_shift", np.int64), corr]
        return self._windowed(ds, _run_local, per_event, kwargs={"sampling_rate": _sampling_rate(ds)})

    def _peak(self, ds, options, broken, tel):
        return _peak_apply(_peaks_local, ds)


class SlidingWindowMaxSum(ImageExtractor):
    """The ``window_width`` consecutive samples with the largest sum.

    The correction is the reference pulse's area over its largest sum in a
    window of the same duration. :meth:`find_peaks` gives the window start.
    """

    window_width = TelescopeParameter(7, item_type=int, bounds=(1, _INT32_MAX), doc=_WIDTH_DOC)
    apply_integration_correction = TelescopeParameter(True, item_type=bool, doc=_CORRECTION_DOC)
    _per_telescope = ("window_width", "apply_integration_correction")

    def _extract(self, ds, options, broken, tel):
        width = np.minimum(options["window_width"], ds.sizes["sample"])
        corr = self._correction(ds, options, tel, options["window_width"], None, kind="sliding")
        per_event = [_per_event(width, np.int64), corr]
        return self._windowed(ds, _run_sliding, per_event, kwargs={"sampling_rate": _sampling_rate(ds)})

    def _peak(self, ds, options, broken, tel):
        return _peak_apply(_peaks_sliding, ds, _events(options, "window_width", np.int64), core=[[]])


class NeighborPeakWindowSum(ImageExtractor):
    """Window around the peak of the summed waveforms of the pixel's neighbours.

    The default extractor. ``local_weight`` adds the pixel's own waveform
    with that weight; broken neighbours are left out of the sum.
    """

    window_width = TelescopeParameter(7, item_type=int, bounds=(1, _INT32_MAX), doc=_WIDTH_DOC)
    window_shift = TelescopeParameter(3, item_type=int, bounds=(-_INT32_MAX, _INT32_MAX), doc=_SHIFT_DOC)
    local_weight = TelescopeParameter(0, item_type=int, bounds=(0, None), doc=(
        "Weight of the pixel's own waveform in the peak search (0: neighbours only)."))
    apply_integration_correction = TelescopeParameter(True, item_type=bool, doc=_CORRECTION_DOC)
    _per_telescope = ("window_width", "window_shift", "local_weight", "apply_integration_correction")

    def _baseline(self):
        return None

    def _extract(self, ds, options, broken, tel):
        width, shift = options["window_width"], options["window_shift"]
        corr = self._correction(ds, options, tel, width, shift)
        indptr, indices = _neighbor_csr(ds)
        per_event = [_events(options, "local_weight", np.int64), _events(options, "window_width", np.int64),
                     _events(options, "window_shift", np.int64), corr]
        kwargs = {"sampling_rate": _sampling_rate(ds), "indptr": indptr, "indices": indices,
                  "baseline": self._baseline()}
        return self._windowed(ds, _run_neighbor, per_event, extra_inputs=[_broken_or_false(ds, broken)],
                              extra_dims=[["pixel"]], kwargs=kwargs)

    def _peak(self, ds, options, broken, tel):
        indptr, indices = _neighbor_csr(ds)
        return _peak_apply(_peaks_neighbor, ds, _broken_or_false(ds, broken),
                           _events(options, "local_weight", np.int64), core=[["pixel"], []],
                           kwargs={"indptr": indptr, "indices": indices, "baseline": self._baseline()})


class BaselineSubtractedNeighborPeakWindowSum(NeighborPeakWindowSum):
    """:class:`NeighborPeakWindowSum` on waveforms minus their mean over a baseline window."""

    baseline_start = param.Integer(0, bounds=(0, None), doc="First sample of the baseline window.")
    baseline_end = param.Integer(10, bounds=(0, None), doc="One past the last sample of the baseline window.")

    def _baseline(self):
        return (int(self.baseline_start), int(self.baseline_end))


class TwoPassWindowSum(ImageExtractor):
    """Two passes: a first 5-sample window per pixel, then a second one at the time
    predicted by the brightest island's time gradient (after CTA-MARS).

    See :mod:`iactx.calib.two_pass_kernels` for the steps. ``is_valid`` is
    false for telescope events where the second pass could not run (fewer
    than 3 pixels in the cleaned island, or no time fit); their result is the
    first pass. Needs gain-selected waveforms of at least 5 samples.
    """

    core_threshold = TelescopeParameter(
        [("type", "*", 6.0), ("type", "LST*", 6.0), ("type", "MST*", 8.0), ("type", "SST*", 4.0)],
        item_type=float, doc="Picture threshold of the internal tail-cut cleaning [pe]; boundary is half.")
    disable_second_pass = param.Boolean(False, doc="Only run the first pass (for debugging).")
    apply_integration_correction = TelescopeParameter(True, item_type=bool, doc=_CORRECTION_DOC)
    invalid_pixel_handler_type = param.Selector(default="NeighborAverage", objects=["NeighborAverage", None],
                                                doc="Interpolation of broken pixels after the first pass.")
    _per_telescope = ("core_threshold", "apply_integration_correction")

    def _extract(self, ds, options, broken, tel):
        if ds.sizes["sample"] < 5:
            raise ValueError(f"TwoPassWindowSum needs at least 5 samples, the waveforms have {ds.sizes['sample']}")
        n = ds.sizes["tel_event"]
        # the windows of the two passes: 5 samples around the peak, the first 5, the last ones
        corrections = [self._correction(ds, options, tel, np.full(n, w), np.full(n, s))
                       for w, s in ((5, 2), (5, 0), (6, 4))]
        indptr, indices = _neighbor_csr(ds)
        kwargs = {
            "sampling_rate": _sampling_rate(ds), "indptr": indptr, "indices": indices,
            "pix_x": np.ascontiguousarray(ds.variables["pix_x"].values, np.float64),
            "pix_y": np.ascontiguousarray(ds.variables["pix_y"].values, np.float64),
            "disable_second_pass": bool(self.disable_second_pass),
            "interpolate": self.invalid_pixel_handler_type is not None and broken is not None,
        }
        wf = _waveform(ds)
        image, peak_time, valid = apply_kernel(
            _run_two_pass, wf, *chunk_like(
                wf, _selected_gain(ds), _broken_or_false(ds, broken),
                _events(options, "core_threshold", np.float64), *corrections),
            input_core_dims=[_WAVEFORM_DIMS, ["pixel"], ["pixel"], [], ["gain"], ["gain"], ["gain"]],
            output_core_dims=[["pixel"], ["pixel"], []], output_dtypes=[np.float32, np.float32, bool],
            kwargs=kwargs,
        )
        return {"image": image, "peak_time": peak_time, "is_valid": valid}


#: extractors by name
EXTRACTORS = {cls.__name__: cls for cls in (
    FullWaveformSum, FixedWindowSum, GlobalPeakWindowSum, LocalPeakWindowSum, SlidingWindowMaxSum,
    NeighborPeakWindowSum, BaselineSubtractedNeighborPeakWindowSum, TwoPassWindowSum)}


def make_extractor(extractor="NeighborPeakWindowSum", **options):
    """An extractor instance from a name, class or instance, with options set.

    Parameters
    ----------
    extractor : str, type or ImageExtractor
        ctapipe's name (``"NeighborPeakWindowSum"``, ...), an extractor class
        or an instance (copied before options are applied).
    **options
        Parameters of that extractor.

    Raises
    ------
    ValueError
        Unknown extractor or option, naming the valid ones; invalid values.
    """
    if isinstance(extractor, ImageExtractor):
        instance = type(extractor)(**{k: v for k, v in extractor.param.values().items() if k != "name"})
    else:
        if isinstance(extractor, str):
            if extractor not in EXTRACTORS:
                close = difflib.get_close_matches(extractor, EXTRACTORS, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ValueError(f"unknown extractor {extractor!r}{hint}; known: {', '.join(EXTRACTORS)}")
            cls = EXTRACTORS[extractor]
        elif isinstance(extractor, type) and issubclass(extractor, ImageExtractor):
            cls = extractor
        else:
            raise TypeError(f"extractor must be a name, an ImageExtractor class or instance, got {extractor!r}")
        instance = cls()
    valid = [p for p in instance.param if p != "name"]
    for key in options:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"{type(instance).__name__} has no option {key!r}{hint}; options: {', '.join(valid)}")
    instance.param.update(**options)
    return instance
