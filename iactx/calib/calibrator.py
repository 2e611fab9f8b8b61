"""DL1 calibration of camera groups and event trees: waveforms -> image, peak_time.

:func:`calibrate` does for one camera group what ctapipe's
``CameraCalibrator`` does for each telescope event, with the same defaults:

1. charge extraction with the chosen extractor (default
   :class:`~iactx.calib.extractors.NeighborPeakWindowSum`, integration
   correction on);
2. the peak time corrected by the file's time calibration
   (``time_shift``, the peak-time shift of the selected gain channel):
   ``peak_time -= time_shift`` (``apply_peak_time_shift``); optionally the
   waveforms are first shifted by whole samples and only the rest is
   subtracted (``apply_waveform_time_shift``, off by default);
3. broken pixels (``outlier_mask``, when the group has one) replaced by
   the mean of their valid neighbours (``invalid_pixel_handler``);
4. single-sample readouts (integrated charges) taken as the image directly,
   with a peak time of 0.

The input is never modified; a new Dataset with ``image`` [pe] and
``peak_time`` [ns] (float32, on ``tel_event, pixel``) and, for extractors
that can fail, ``is_valid`` (on ``tel_event``) is returned.
"""

from __future__ import annotations

import functools

import numpy as np
import param
import xarray as xr

from .._apply import apply_kernel, in_order
from .._assign import with_variables
from ..io.event_tree import tel_types_of
from ..config.telescope_parameter import TelescopeParameter, is_per_telescope, resolve_per_tel_event
from ..image.reducer import REDUCERS
from . import extractor_kernels as K
from .extractors import (
    EXTRACTORS,
    ImageExtractor,
    _neighbor_csr,
    _sampling_rate,
    _tel_ids,
    broken_pixel_mask,
    chunk_like,
    make_extractor,
)

__all__ = ["calibrate", "calibrate_tree", "calibrate_arguments", "tel_types_of", "INVALID_PIXEL_HANDLERS"]

#: the invalid-pixel handlers (None switches interpolation off)
INVALID_PIXEL_HANDLERS = ("NeighborAverage", None)

_IMAGE_ATTRS = {"units": "pe", "long_name": "extracted charge"}
_TIME_ATTRS = {"units": "ns", "long_name": "pulse time (charge-weighted mean in the window)"}


def _tel_types_from_dataset(ds, tel_types):
    if tel_types is not None:
        return {int(k): str(v) for k, v in dict(tel_types).items()}
    if "tel_type" in ds.coords and ds["tel_type"].dims == ("tel_event",):
        return {int(t): str(v) for t, v in zip(ds["tel"].values, ds["tel_type"].values)}
    return None


def _uniform_options(extractor, tel, tel_types):
    """The extractor's options that have one value for the whole group (for attributes)."""
    out = extractor.scalar_options()
    for name in extractor._per_telescope:
        rules = getattr(extractor, name)
        if not is_per_telescope(rules):
            continue  # a scalar: among the scalar options already
        values = resolve_per_tel_event(rules, tel, tel_types)
        if values.size and np.all(values == values[0]):
            value = values[0].item() if hasattr(values[0], "item") else values[0]
            out[name] = int(value) if isinstance(value, bool) else value
    return out


def _shift_waveform_chunk(wf, time_shift, apply, *, sampling_rate):
    wf = np.ascontiguousarray(wf)
    if wf.dtype not in (np.float32, np.float64):
        wf = wf.astype(np.float32)
    shifted = np.empty_like(wf)
    remaining = np.empty(wf.shape[:2], np.float64)
    K.shift_waveforms(wf, np.ascontiguousarray(time_shift, np.float64) * sampling_rate, shifted, remaining)
    apply = np.asarray(apply, bool)
    shifted[~apply] = wf[~apply]
    remaining = remaining / sampling_rate
    remaining[~apply] = np.asarray(time_shift, np.float64)[~apply]
    return shifted, remaining.astype(np.float32)


def _interpolate_chunk(values, mask, *, indptr, indices):
    out = np.array(values, copy=True, order="C")
    K.neighbor_average(out, np.ascontiguousarray(mask, bool), indptr, indices)
    return out


def _subtract_time_shift(peak_time, time_shift, apply):
    """``peak_time - time_shift`` in float32 for the telescope events where ``apply`` is True.

    ``peak_time`` is the extractor's own new result: numpy-backed, it is
    changed in place (no new array, the same float32 subtraction);
    dask-backed, a lazy expression is returned.
    """
    peak_time = in_order(peak_time, ("tel_event", "pixel"))
    time_shift = _as_dtype(in_order(time_shift, peak_time.dims), np.float32)
    if isinstance(peak_time.data, np.ndarray) and isinstance(time_shift.data, np.ndarray):
        values = peak_time.values
        np.subtract(values, time_shift.values, out=values, where=True if apply.all() else apply[:, None])
        return peak_time
    shifted = peak_time - time_shift
    if not apply.all():
        shifted = xr.where(xr.Variable(("tel_event",), apply), shifted, peak_time)
    return _as_dtype(shifted, np.float32)


def _as_dtype(variable, dtype):
    """``variable.astype(dtype)`` only when needed (xarray's astype costs tens of microseconds even as a no-op)."""
    return variable if variable.dtype == dtype else variable.astype(dtype)


def _may_have_broken(broken):
    """Whether a broken-pixel mask may flag a pixel (dask-backed masks are not computed to find out)."""
    if broken is None:
        return False
    return not isinstance(broken.data, np.ndarray) or bool(broken.data.any())


def _extractors_for(extractor, tel, tel_types, options):
    """Configured extractors by name, and the name of each telescope event when they differ."""
    if isinstance(extractor, (str, ImageExtractor, type)):
        instance = _extractor(extractor, options)
        return {type(instance).__name__: instance}, None
    names = resolve_per_tel_event(extractor, tel, tel_types, dtype=object)
    extractors = {name: _extractor(name, options) for name in dict.fromkeys(names.tolist())}
    return extractors, (names if len(extractors) > 1 else None)


def _extractor(extractor, options):
    """``make_extractor(extractor, **options)``; by name with hashable options, one shared instance.

    Configuring a param object costs a tenth of a millisecond, as much as
    the kernel on a few telescope events; calibration never changes it.
    """
    if isinstance(extractor, str):
        key = tuple(sorted(options.items()))
        try:
            return _shared_extractor(extractor, key)
        except TypeError:  # unhashable options (lists of telescope rules)
            pass
    return make_extractor(extractor, **options)


@functools.lru_cache(maxsize=64)
def _shared_extractor(name, options):
    return make_extractor(name, **dict(options))


def _extract(ds, extractors, names, tel, tel_types, broken):
    """Run one extractor, or several on the telescope events assigned to each (-> Variables)."""
    if names is None:
        (extractor,) = extractors.values()
        return extractor.compute(ds, tel_types=tel_types, broken_pixels=broken, tel=tel)
    parts = []
    has_valid = False
    for name, extractor in extractors.items():
        index = np.flatnonzero(names == name)
        part_broken = None if broken is None else broken.isel(tel_event=index)
        out = extractor.compute(ds.isel(tel_event=index), tel_types=tel_types, broken_pixels=part_broken,
                                tel=tel[index])
        has_valid = has_valid or "is_valid" in out
        out.setdefault("is_valid", xr.Variable(("tel_event",), np.ones(index.size, bool)))
        parts.append((index, out))
    order = np.argsort(np.concatenate([index for index, _ in parts]), kind="stable")
    keys = ("image", "peak_time", "is_valid") if has_valid else ("image", "peak_time")
    return {key: xr.Variable.concat([out[key] for _, out in parts], dim="tel_event").isel(tel_event=order)
            for key in keys}


def calibrate(ds, extractor="NeighborPeakWindowSum", *, tel_types=None, broken_pixels=None,
              invalid_pixel_handler="NeighborAverage", apply_peak_time_shift=True,
              apply_waveform_time_shift=False, **options):
    """Extract ``image`` and ``peak_time`` from the waveforms of a camera group.

    Parameters
    ----------
    ds : xarray.Dataset
        Camera group with ``waveform`` (tel_event, pixel, sample) [pe] and,
        when present, ``selected_gain``, ``time_shift`` and ``outlier_mask``.
    extractor : str, ImageExtractor, type or list of rules
        ctapipe's extractor name (see :data:`~iactx.calib.extractors.EXTRACTORS`),
        a configured instance or class, or TelescopeParameter rules of names
        to use different extractors for different telescopes.
    tel_types : dict[int, str], optional
        Telescope type of each telescope id, for type rules other than ``"*"``.
    broken_pixels : xarray.DataArray or str, optional
        Broken pixels (default: the variable ``outlier_mask`` if present).
    invalid_pixel_handler : {"NeighborAverage", None}
        Replace broken pixels by the mean of their valid neighbours.
    apply_peak_time_shift : bool or list of rules
        Subtract the time calibration (``time_shift``) from the peak time.
    apply_waveform_time_shift : bool or list of rules
        Shift the waveforms by the whole-sample part of ``time_shift`` first.
    **options
        Options of the extractor (scalar or TelescopeParameter rules), e.g.
        ``window_width=5``.

    Returns
    -------
    xarray.Dataset
        A copy of ``ds`` with ``image`` [pe] and ``peak_time`` [ns] (float32,
        ``tel_event, pixel``), and ``is_valid`` (``tel_event``) when the
        extractor defines it.

    Examples
    --------
    >>> cam = tree["LSTCam"].to_dataset()                      # doctest: +SKIP
    >>> cal = calibrate(cam, "LocalPeakWindowSum", window_width=5)  # doctest: +SKIP
    """
    if invalid_pixel_handler not in INVALID_PIXEL_HANDLERS:
        raise ValueError(f"invalid_pixel_handler must be one of {INVALID_PIXEL_HANDLERS}, "
                         f"got {invalid_pixel_handler!r}")
    if "waveform" not in ds:
        raise ValueError("the camera group has no 'waveform' to calibrate")
    types = _tel_types_from_dataset(ds, tel_types)
    tel = _tel_ids(ds)
    extractors, names = _extractors_for(extractor, tel, types, options)
    broken = broken_pixel_mask(ds, broken_pixels)
    n_samples = ds.sizes["sample"]
    waveform = in_order(ds.variables["waveform"], ("tel_event", "pixel", "sample"))

    if n_samples == 1:
        image = waveform[:, :, 0].astype(np.float32)
        result = {"image": image, "peak_time": xr.zeros_like(image)}
    else:
        work = ds
        remaining = in_order(ds.variables["time_shift"], ("tel_event", "pixel")) if "time_shift" in ds else None
        shift_wf = resolve_per_tel_event(apply_waveform_time_shift, tel, types, dtype=bool)
        if remaining is not None and shift_wf.any():
            shifted, remaining = apply_kernel(
                _shift_waveform_chunk, waveform,
                *chunk_like(waveform, remaining, xr.Variable(("tel_event",), shift_wf)),
                input_core_dims=[["pixel", "sample"], ["pixel"], []],
                output_core_dims=[["pixel", "sample"], ["pixel"]],
                output_dtypes=[waveform.dtype if waveform.dtype in (np.float32, np.float64) else np.float32,
                               np.float32],
                kwargs={"sampling_rate": _sampling_rate(ds)},
            )
            work = ds.assign(waveform=shifted)
        result = _extract(work, extractors, names, tel, types, broken)
        shift_time = resolve_per_tel_event(apply_peak_time_shift, tel, types, dtype=bool)
        if remaining is not None and shift_time.any():
            result["peak_time"] = _subtract_time_shift(result["peak_time"], remaining, shift_time)

    if invalid_pixel_handler is not None and _may_have_broken(broken):
        indptr, indices = _neighbor_csr(ds)
        for key in ("image", "peak_time"):
            result[key] = apply_kernel(_interpolate_chunk, result[key], *chunk_like(result[key], broken),
                                       input_core_dims=[["pixel"], ["pixel"]], output_core_dims=[["pixel"]],
                                       output_dtypes=[np.float32], kwargs={"indptr": indptr, "indices": indices})

    image_attrs = dict(_IMAGE_ATTRS, extractor=",".join(extractors) if n_samples > 1 else "integrated")
    if len(extractors) == 1 and n_samples > 1:
        (instance,) = extractors.values()
        image_attrs.update(_uniform_options(instance, tel, types))
    # plain variables in the order of ``ds`` (assigning DataArrays would make xarray
    # align indexes and drop the MultiIndex levels they carry one by one)
    new = {key: _as_dtype(in_order(result[key], ("tel_event", "pixel")), np.float32).copy(deep=False)
           for key in ("image", "peak_time")}
    new["image"].attrs = image_attrs
    new["peak_time"].attrs = dict(_TIME_ATTRS)
    if "is_valid" in result:
        new["is_valid"] = _as_dtype(result["is_valid"], bool).copy(deep=False)
        new["is_valid"].attrs = {"long_name": "whether the extractor's second pass succeeded"}
    return with_variables(ds, new)


def calibrate_tree(tree, extractor="NeighborPeakWindowSum", *, broken_pixels=None,
                   invalid_pixel_handler="NeighborAverage", apply_peak_time_shift=True,
                   apply_waveform_time_shift=False, **options):
    """:func:`calibrate` every camera group of an event tree.

    Telescope types for type rules come from ``/instrument``. Parameters
    are those of :func:`calibrate`; the result is a new tree.
    """
    types = tel_types_of(tree)
    nodes = {node.path: node.to_dataset(inherit=False) for node in tree.subtree}
    for name, node in tree.children.items():
        if "tel_event" not in node.dims or "waveform" not in node.ds:
            continue
        nodes[f"/{name}"] = calibrate(
            nodes[f"/{name}"], extractor, tel_types=types, broken_pixels=broken_pixels,
            invalid_pixel_handler=invalid_pixel_handler, apply_peak_time_shift=apply_peak_time_shift,
            apply_waveform_time_shift=apply_waveform_time_shift, **options)
    return xr.DataTree.from_dict(nodes)


_CALIBRATOR_KEYS = {
    "image_extractor_type": "extractor",
    "invalid_pixel_handler_type": "invalid_pixel_handler",
    "apply_peak_time_shift": "apply_peak_time_shift",
    "apply_waveform_time_shift": "apply_waveform_time_shift",
}


def calibrate_arguments(config):
    """Keyword arguments of :func:`calibrate` from a ctapipe-style configuration.

    Parameters
    ----------
    config : dict
        ``{"CameraCalibrator": {...}, "<ExtractorName>": {...}, ...}`` as in a
        ctapipe configuration file: ``image_extractor_type``,
        ``invalid_pixel_handler_type``, ``apply_peak_time_shift`` and
        ``apply_waveform_time_shift`` of ``CameraCalibrator``, and the options
        of the chosen extractor from its own section. Other sections are
        ignored.

    Returns
    -------
    dict

    Raises
    ------
    ValueError
        Unknown ``CameraCalibrator`` keys, or options given for several
        extractors when ``image_extractor_type`` names more than one.

    Examples
    --------
    >>> calibrate_arguments({"CameraCalibrator": {"image_extractor_type": "LocalPeakWindowSum"},
    ...                      "LocalPeakWindowSum": {"window_width": 5}})
    {'extractor': 'LocalPeakWindowSum', 'window_width': 5}
    """
    section = dict((config or {}).get("CameraCalibrator", {}))
    unknown = sorted(set(section) - set(_CALIBRATOR_KEYS) - {"data_volume_reducer_type"})
    if unknown:
        raise ValueError(f"CameraCalibrator has no option {unknown}; known: {sorted(_CALIBRATOR_KEYS)}")
    out = {_CALIBRATOR_KEYS[k]: v for k, v in section.items() if k in _CALIBRATOR_KEYS}
    extractor = out.get("extractor", "NeighborPeakWindowSum")
    if isinstance(extractor, str):
        names = [extractor]
    else:
        from ..config.telescope_parameter import normalize_rules

        names = list(dict.fromkeys(value for _, _, value in normalize_rules(extractor)))
    with_options = [name for name in names if (config or {}).get(name)]
    if len(with_options) > 1:
        raise ValueError(f"options for several extractors {with_options}: calibrate takes one set of options")
    if with_options:
        out.update(config[with_options[0]])
    return out


# names importable from here too
__all__ += ["EXTRACTORS"]


class CameraCalibrator(param.Parameterized):
    """Configuration of the calibration step (ctapipe's ``CameraCalibrator`` section).

    Its values are read by :func:`calibrate` through the DL1 chain
    (:class:`~iactx.image.processor.ImageProcessor`); the options of the chosen
    extractor come from that extractor's own section.
    """

    image_extractor_type = TelescopeParameter(default="NeighborPeakWindowSum", item_type=str, doc=(
        "Charge extractor (ctapipe class name), or rules choosing one per telescope type."))
    invalid_pixel_handler_type = param.Selector(default="NeighborAverage", objects=list(INVALID_PIXEL_HANDLERS),
                                                doc="Replacement of broken pixels; None switches it off.")
    apply_peak_time_shift = TelescopeParameter(default=True, item_type=bool, doc=(
        "Subtract the file's peak-time calibration from the peak times."))
    apply_waveform_time_shift = TelescopeParameter(default=False, item_type=bool, doc=(
        "Shift the waveforms by the whole-sample part of the time calibration first."))
    data_volume_reducer_type = param.Selector(default="NullDataVolumeReducer", objects=list(REDUCERS), doc=(
        "Data volume reduction before calibration (ctapipe class name): NullDataVolumeReducer keeps every "
        "pixel, TailCutsDataVolumeReducer only the pixels of its dilated tail-cuts mask, the waveforms of "
        "the others being set to 0 before extraction."))


#: configurable components of the calibration, by ctapipe's names
COMPONENTS = {"CameraCalibrator": CameraCalibrator, **EXTRACTORS, **REDUCERS}
__all__ += ["CameraCalibrator", "COMPONENTS"]
