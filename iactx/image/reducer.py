"""Data volume reduction: which pixels' waveforms are kept before calibration.

ctapipe's ``CameraCalibrator`` first asks a data volume reducer which
pixels to keep, sets the waveforms of all the others to zero (its DL0) and
only then extracts the charges. The same two reducers are here, with
ctapipe's names and defaults:

- :class:`NullDataVolumeReducer` keeps every pixel (ctapipe's default);
- :class:`TailCutsDataVolumeReducer` extracts the charges with its own
  extractor (``NeighborPeakWindowSum``, no broken pixels, no time shift),
  cleans them with its own tail cuts (``TailcutsImageCleaner``: 10 / 5 p.e.,
  2 picture neighbours), grows the mask over pixels at or above the boundary
  threshold until it stops changing (``do_boundary_dilation``) and dilates
  it ``n_end_dilates`` (1) more times.

:func:`tailcuts_volume_mask` is the mask from an image;
:func:`reduce_volume` applies a reducer to a camera group and returns the
group with the waveforms of the pixels not kept set to 0 and the mask as
``dvr_mask`` (tel_event, pixel), ready for :func:`~iactx.calib.calibrator.calibrate`.

Examples
--------
>>> reduced = reduce_volume(cam)                                # doctest: +SKIP
>>> dl1 = calibrate(reduced)            # ctapipe's DL1 with TailCutsDataVolumeReducer  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import param
import xarray as xr

from .._apply import apply_kernel
from ..config.registry import section_config
from ..config.telescope_parameter import TelescopeParameter, resolve_per_tel_event
from . import reducer_kernels as K
from .cleaning import TailcutsImageCleaner, _apply_masks, _data, _neighbors

__all__ = ["tailcuts_volume_mask", "apply_volume_mask", "reduce_volume", "DataVolumeReducer",
           "NullDataVolumeReducer", "TailCutsDataVolumeReducer", "REDUCERS", "data_volume_reducer"]

_MASK_ATTRS = {"long_name": "pixels kept by the data volume reduction"}


def tailcuts_volume_mask(cam, picture_thresh=10.0, boundary_thresh=5.0, keep_isolated_pixels=False,
                         min_number_picture_neighbors=2, do_boundary_dilation=True, n_end_dilates=1, *,
                         image=None):
    """Pixels kept by tail-cuts data volume reduction of an image.

    Tail-cuts cleaning (see :func:`~iactx.image.cleaning.tailcuts_clean`),
    then, with ``do_boundary_dilation``, ``mask = dilate(mask) & (image >=
    boundary_thresh)`` until the mask no longer changes, then
    ``n_end_dilates`` plain dilations.

    Parameters
    ----------
    cam : xarray.Dataset
        Camera group with the neighbour table (and ``image`` unless given).
    picture_thresh, boundary_thresh : float, array_like or xarray.DataArray
        Thresholds [p.e.], inclusive: scalar, per telescope event or per pixel.
    keep_isolated_pixels : bool or array_like
    min_number_picture_neighbors : int or array_like
    do_boundary_dilation : bool or array_like
        Grow the mask over boundary pixels (scalar or per telescope event).
    n_end_dilates : int or array_like
        Unconditional dilations at the end (scalar or per telescope event), >= 0.
    image : str or xarray.DataArray, optional
        Extracted charges (tel_event, pixel) [p.e.]; default ``cam["image"]``.

    Returns
    -------
    xarray.DataArray
        ``dvr_mask`` (tel_event, pixel) bool.
    """
    if np.any(np.asarray(n_end_dilates) < 0):
        raise ValueError("n_end_dilates must be >= 0")
    indptr, indices = _neighbors(cam)

    def body(d, p, i):
        out = np.empty(d[0].shape, bool)
        K.tailcuts_volume_mask_kernel(d[0], p[0], p[1], i[0], i[1], i[2], i[3], indptr, indices, out)
        return out

    mask = _apply_masks(
        body, cam, [_data(cam, image, "image")],
        [(picture_thresh, "picture_thresh", 0), (boundary_thresh, "boundary_thresh", 0)],
        [(min_number_picture_neighbors, "min_number_picture_neighbors", np.int64),
         (keep_isolated_pixels, "keep_isolated_pixels", np.bool_),
         (do_boundary_dilation, "do_boundary_dilation", np.bool_),
         (n_end_dilates, "n_end_dilates", np.int64)])
    return mask.rename("dvr_mask").assign_attrs(_MASK_ATTRS)


def _zero_outside(waveform, mask):
    return np.where(mask[..., np.newaxis], waveform, waveform.dtype.type(0))


def apply_volume_mask(cam, mask):
    """The camera group with the waveforms of the pixels not in ``mask`` set to 0 (ctapipe's DL0).

    Parameters
    ----------
    cam : xarray.Dataset
        Camera group with ``waveform`` (tel_event, pixel, sample).
    mask : xarray.DataArray
        Pixels kept (tel_event, pixel) bool.

    Returns
    -------
    xarray.Dataset
        A copy of ``cam`` with the new ``waveform`` (same dtype and units) and
        ``dvr_mask``; the input is not modified.
    """
    waveform = cam["waveform"].transpose("tel_event", "pixel", "sample")
    mask = mask.transpose("tel_event", "pixel")
    zeroed = apply_kernel(_zero_outside, waveform, mask, input_core_dims=[["pixel", "sample"], ["pixel"]],
                          output_core_dims=[["pixel", "sample"]], output_dtypes=[waveform.dtype])
    new_waveform = zeroed.variable.copy(deep=False)
    new_waveform.attrs = dict(cam["waveform"].attrs)
    new_mask = mask.variable.copy(deep=False)
    new_mask.attrs = dict(_MASK_ATTRS)
    return cam.assign({"waveform": new_waveform, "dvr_mask": new_mask})


class DataVolumeReducer(param.Parameterized):
    """Base of the reducers: ``reducer.select_pixels(cam)`` -> ``dvr_mask``, ``reducer(cam)`` -> reduced group."""

    __abstract = True

    def select_pixels(self, cam, tel_types=None):
        """Pixels to keep, ``dvr_mask`` (tel_event, pixel) bool."""
        raise NotImplementedError

    def __call__(self, cam, tel_types=None):
        """The camera group with the waveforms outside :meth:`select_pixels` set to 0 and ``dvr_mask``."""
        return apply_volume_mask(cam, self.select_pixels(cam, tel_types=tel_types))


class NullDataVolumeReducer(DataVolumeReducer):
    """Keep every pixel (ctapipe's default reducer)."""

    def select_pixels(self, cam, tel_types=None):
        waveform = cam["waveform"].transpose("tel_event", "pixel", "sample")
        return xr.ones_like(waveform.isel(sample=0, drop=True), dtype=bool).rename("dvr_mask").assign_attrs(
            _MASK_ATTRS)


class TailCutsDataVolumeReducer(DataVolumeReducer):
    """Keep the pixels of a tail-cuts image grown by dilations (see :func:`tailcuts_volume_mask`).

    Parameters
    ----------
    cleaner : TailcutsImageCleaner, optional
        Its own tail-cuts thresholds (default ctapipe's: 10 / 5 p.e., 2 picture neighbours).
    extractor_options : dict, optional
        Options of its own extractor (e.g. ``{"window_width": 5}``).
    **params
        The parameters below.
    """

    image_extractor_type = TelescopeParameter(default="NeighborPeakWindowSum", item_type=str, doc=(
        "Charge extractor of the reduction (ctapipe class name), or rules choosing one per telescope."))
    n_end_dilates = TelescopeParameter(1, item_type=int, bounds=(0, None), doc=(
        "Unconditional dilations of the mask at the end."))
    do_boundary_dilation = TelescopeParameter(True, item_type=bool, doc=(
        "Grow the tail-cuts mask over pixels at or above the boundary threshold until it stops changing; "
        "False leaves the plain tail-cuts mask."))

    def __init__(self, *, cleaner=None, extractor_options=None, **params):
        super().__init__(**params)
        self.cleaner = cleaner if cleaner is not None else TailcutsImageCleaner()
        self.extractor_options = dict(extractor_options or {})

    def charges(self, cam, tel_types=None):
        """Charges of the reduction's extractor, ``image`` (tel_event, pixel) float32 [p.e.].

        As ctapipe, no pixel is treated as broken and no time shift is applied.
        """
        from ..calib.calibrator import calibrate

        waveform = cam["waveform"].transpose("tel_event", "pixel", "sample")
        no_broken = xr.zeros_like(waveform.isel(sample=0, drop=True), dtype=bool)
        extracted = calibrate(cam, self.image_extractor_type, tel_types=tel_types, broken_pixels=no_broken,
                              invalid_pixel_handler=None, apply_peak_time_shift=False,
                              apply_waveform_time_shift=False, **self.extractor_options)
        return extracted["image"]

    def select_pixels(self, cam, tel_types=None):
        tel = cam["tel"].values
        o = self.cleaner.resolve(cam, tel_types)
        per_tel = {name: xr.DataArray(resolve_per_tel_event(getattr(self, name), tel, tel_types, dtype),
                                      dims=("tel_event",))
                   for name, dtype in (("n_end_dilates", np.int64), ("do_boundary_dilation", np.bool_))}
        return tailcuts_volume_mask(cam, o["picture_threshold_pe"], o["boundary_threshold_pe"],
                                    o["keep_isolated_pixels"], o["min_picture_neighbors"],
                                    per_tel["do_boundary_dilation"], per_tel["n_end_dilates"],
                                    image=self.charges(cam, tel_types))


#: reducers by ctapipe class name
REDUCERS = {cls.__name__: cls for cls in (NullDataVolumeReducer, TailCutsDataVolumeReducer)}


def data_volume_reducer(config=None, name=None):
    """The reducer of ``CameraCalibrator`` configured as ctapipe configures it.

    Parameters
    ----------
    config : dict, optional
        Normalised configuration (``{section: {parameter: value}}``):
        ``CameraCalibrator.data_volume_reducer_type`` chooses the reducer,
        whose parameters come from its section (top-level or nested as
        ``CameraCalibrator.TailCutsDataVolumeReducer``); its cleaner from
        ``TailcutsImageCleaner`` sections at the top level or nested under
        it, its extractor's options likewise from the extractor's section.
    name : str, optional
        Reducer name, overriding ``data_volume_reducer_type``.

    Returns
    -------
    DataVolumeReducer

    Examples
    --------
    >>> reducer = data_volume_reducer({"CameraCalibrator": {"data_volume_reducer_type":
    ...                                                     "TailCutsDataVolumeReducer"},
    ...                                "TailCutsDataVolumeReducer": {"n_end_dilates": 2}})
    >>> reducer.n_end_dilates
    2
    """
    config = config or {}
    name = name or config.get("CameraCalibrator", {}).get("data_volume_reducer_type", "NullDataVolumeReducer")
    if name not in REDUCERS:
        raise ValueError(f"unknown data volume reducer {name!r}; use one of {sorted(REDUCERS)}")
    params = section_config(config, "CameraCalibrator", name)
    if name == "NullDataVolumeReducer":
        return NullDataVolumeReducer(**params)
    reducer = TailCutsDataVolumeReducer(**params)
    reducer.cleaner = TailcutsImageCleaner(
        **section_config(config, "CameraCalibrator", name, "TailcutsImageCleaner"))
    extractor = reducer.image_extractor_type
    if isinstance(extractor, str):
        reducer.extractor_options = section_config(config, "CameraCalibrator", name, extractor)
    return reducer


def reduce_volume(cam, reducer="TailCutsDataVolumeReducer", *, image_extractor_type=None, n_end_dilates=None,
                  do_boundary_dilation=None, cleaner_options=None, extractor_options=None, tel_types=None):
    """Apply data volume reduction to a camera group, as ctapipe's CameraCalibrator does before extraction.

    Parameters
    ----------
    cam : xarray.Dataset
        Camera group with ``waveform`` (tel_event, pixel, sample) [p.e.] and
        the neighbour table.
    reducer : str or DataVolumeReducer
        ``"TailCutsDataVolumeReducer"`` (default), ``"NullDataVolumeReducer"``
        or a configured instance (then no other option may be given).
    image_extractor_type : str or list of rules, optional
        Extractor of the reduction; default ``NeighborPeakWindowSum``.
    n_end_dilates : int or list of rules, optional
        Dilations at the end; default 1.
    do_boundary_dilation : bool or list of rules, optional
        Grow the mask over boundary pixels; default True.
    cleaner_options : dict, optional
        ``TailcutsImageCleaner`` parameters (``picture_threshold_pe``,
        ``boundary_threshold_pe``, ``min_picture_neighbors``,
        ``keep_isolated_pixels``); defaults 10, 5, 2, False.
    extractor_options : dict, optional
        Options of the reduction's extractor.
    tel_types : dict[int, str], optional
        Telescope type strings, for ``("type", pattern, value)`` rules.

    Returns
    -------
    xarray.Dataset
        A copy of ``cam`` whose ``waveform`` is 0 in the pixels not kept,
        with ``dvr_mask`` (tel_event, pixel) bool.
    """
    given = {"image_extractor_type": image_extractor_type, "n_end_dilates": n_end_dilates,
             "do_boundary_dilation": do_boundary_dilation}
    given = {k: v for k, v in given.items() if v is not None}
    if isinstance(reducer, DataVolumeReducer):
        if given or cleaner_options or extractor_options:
            raise TypeError("options cannot be given with a configured reducer instance")
        return reducer(cam, tel_types=tel_types)
    if reducer not in REDUCERS:
        raise ValueError(f"unknown data volume reducer {reducer!r}; use one of {sorted(REDUCERS)}")
    if reducer == "NullDataVolumeReducer":
        if given or cleaner_options or extractor_options:
            raise TypeError("NullDataVolumeReducer has no options")
        return NullDataVolumeReducer()(cam, tel_types=tel_types)
    cleaner = TailcutsImageCleaner(**{k: v for k, v in (cleaner_options or {}).items() if v is not None})
    instance = TailCutsDataVolumeReducer(cleaner=cleaner, extractor_options=extractor_options, **given)
    return instance(cam, tel_types=tel_types)
