"""Image cleaning on camera groups: functions and configurable cleaners.

Functions take a camera group (``xarray.Dataset`` with ``image``, for the
time cleanings ``peak_time``, and the pixel neighbour table) and return a
boolean mask ``(tel_event, pixel)``; they work unchanged on numpy- and
dask-backed groups. Their defaults are those of ctapipe's functions of the
same names; thresholds are inclusive (``image >= threshold``).

Options may be scalars, one value per telescope event (array or DataArray
along ``tel_event``) or one per pixel and event (``(tel_event, pixel)``).

The cleaner classes (``TailcutsImageCleaner``, ``MARSImageCleaner``,
``FACTImageCleaner``, ``TimeConstrainedImageCleaner``) are ``param``
components with ctapipe's names and defaults (10 and 5 p.e., 2 picture
neighbours, no isolated pixels); their options can differ per telescope
type or id (``[("type", "*", 10.0), ("type", "LST_*", 8.0)]``).

Examples
--------
>>> mask = tailcuts_clean(cam, picture_thresh=10, boundary_thresh=5,
...                       min_number_picture_neighbors=2)       # doctest: +SKIP
>>> cam = cam.assign(image_mask=TailcutsImageCleaner()(cam))    # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import param
import xarray as xr

from .._apply import apply_kernel
from .._assign import with_variables
from ..instrument import CameraGeometry
from . import cleaning_kernels as K
from ..config.telescope_parameter import TelescopeParameter, resolve_per_tel_event

__all__ = [
    "tailcuts_clean",
    "mars_cleaning_1st_pass",
    "dilate",
    "number_of_islands",
    "largest_island",
    "brightest_island",
    "apply_time_delta_cleaning",
    "fact_image_cleaning",
    "time_constrained_clean",
    "ImageCleaner",
    "TailcutsImageCleaner",
    "MARSImageCleaner",
    "FACTImageCleaner",
    "TimeConstrainedImageCleaner",
    "CLEANERS",
    "cleaner_class",
    "clean",
    "merge_into",
]

_MASK_ATTRS = {"long_name": "pixels surviving image cleaning"}


# --------------------------------------------------------------------------- plumbing
def _neighbors(cam):
    geom = CameraGeometry.from_dataset(cam)
    return geom.neighbor_indptr, geom.neighbor_indices


def _option(value, cam, name):
    """An option as a DataArray with dims within (tel_event, pixel)."""
    if isinstance(value, xr.DataArray):
        da = value
    else:
        arr = np.asarray(value)
        n_events, n_pixels = cam.sizes["tel_event"], cam.sizes["pixel"]
        if arr.ndim == 0:
            da = xr.DataArray(arr)
        elif arr.shape == (n_events,):
            da = xr.DataArray(arr, dims=("tel_event",))
        elif arr.shape == (n_events, n_pixels):
            da = xr.DataArray(arr, dims=("tel_event", "pixel"))
        else:
            raise ValueError(f"{name}: expected a scalar, one value per telescope event ({n_events},) "
                             f"or per pixel ({n_events}, {n_pixels}); got shape {arr.shape}")
    extra = set(da.dims) - {"tel_event", "pixel"}
    if extra:
        raise ValueError(f"{name}: unexpected dimensions {sorted(extra)}")
    return match_chunks(da, cam)


def match_chunks(da, cam):
    """Chunk ``da`` like ``cam`` along ``tel_event`` when ``cam`` is dask-backed and ``da`` is not."""
    chunks = cam.chunksizes.get("tel_event") if cam.chunks else None
    if chunks and "tel_event" in da.dims and da.chunks is None:
        return da.chunk({"tel_event": chunks})
    return da


def _data(cam, value, default_name):
    """A per-pixel input: a variable name of ``cam`` or a DataArray."""
    name = default_name if value is None else value
    if isinstance(name, str):
        if name not in cam:
            raise KeyError(f"camera group has no variable {name!r}"
                           + (" (run calibrate first)" if name in ("image", "peak_time") else "")
                           + (" (run clean first)" if name == "image_mask" else ""))
        return cam[name]
    return name


def _expand(arr, shape, has_pixel, dtype):
    """Broadcast an option array delivered by apply_ufunc to ``shape`` (n,) or (n, p)."""
    arr = np.asarray(arr, dtype=dtype)
    if len(shape) == 2 and not has_pixel:
        arr = arr[..., np.newaxis]
    return np.broadcast_to(arr, shape)


def _float_dtype(dtype):
    """Thresholds compare in the data's float dtype (float64 for integer data, as numpy does)."""
    return dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float64)


def _apply_masks(body, cam, data, pixel_options, image_options, *, n_outputs=1, output_dtypes=(bool,),
                 output_core=(("pixel",),)):
    """Run ``body(data_arrays, pixel_option_arrays, image_option_arrays)`` through apply_kernel.

    ``data``: per-pixel DataArrays (first one sets the dtype of the pixel
    options, or each pixel option gives its own dtype source index).
    ``pixel_options``: list of (value, name, data_index) broadcast to
    (n, p) in the dtype of ``data[data_index]``. ``image_options``: list of
    (value, name, dtype) broadcast to (n,).
    """
    popts = [_option(v, cam, n) for v, n, _ in pixel_options]
    iopts = [_option(v, cam, n) for v, n, _ in image_options]
    has_pixel = [("pixel" in o.dims) for o in popts]
    sources = [k for _, _, k in pixel_options]  # index of the data array giving the dtype, or a dtype
    idtypes = [d for _, _, d in image_options]
    n_data = len(data)

    def func(*arrays):
        d = [np.ascontiguousarray(a) for a in arrays[:n_data]]
        shape = d[0].shape
        p = [_expand(a, shape, hp, _float_dtype(d[src].dtype) if isinstance(src, int) else src)
             for a, hp, src in zip(arrays[n_data:n_data + len(popts)], has_pixel, sources)]
        i = [_expand(a, shape[:1], False, dt) for a, dt in zip(arrays[n_data + len(popts):], idtypes)]
        return body(d, p, i)

    core = [["pixel"]] * n_data + [["pixel"] if hp else [] for hp in has_pixel] + [[]] * len(iopts)
    return apply_kernel(func, *data, *popts, *iopts, input_core_dims=core,
                        output_core_dims=[list(c) for c in output_core], output_dtypes=list(output_dtypes))


def merge_into(cam, *new):
    """A copy of ``cam`` with the data variables of ``new`` (DataArrays or Datasets) added.

    Only the variables are taken, not their coordinates, so the
    coordinates of ``cam`` keep their attributes and its ``tel_event``
    MultiIndex stays intact (``cam.assign(name=dataarray)`` would drop the
    index levels one by one). Each of ``new`` must be along the same
    ``tel_event`` (and ``pixel``) as ``cam``, as the outputs of this
    package's functions are; several are added in one step.

    Raises
    ------
    ValueError
        When one of ``new`` is indexed differently.
    """
    variables = {}
    for item in new:
        if isinstance(item, xr.DataArray):
            item = item.to_dataset()
        for dim in ("tel_event", "pixel"):
            if dim in item.indexes and dim in cam.indexes and not item.indexes[dim].equals(cam.indexes[dim]):
                raise ValueError(f"cannot merge: '{dim}' differs from the camera group's")
        variables.update({name: item.variables[name] for name in item.data_vars})  # no DataArray built
    return with_variables(cam, variables)


def _mask_result(da, name="image_mask"):
    """A cleaning kernel's fresh output, named and given the mask's attributes in place.

    In place because nothing else holds it: ``assign_attrs`` would copy the
    DataArray, its ``tel_event`` index included (~1 ms per camera group).
    """
    da.attrs.update(_MASK_ATTRS)
    return da.rename(name)


# --------------------------------------------------------------------------- functions
def tailcuts_clean(cam, picture_thresh=7, boundary_thresh=5, keep_isolated_pixels=False,
                   min_number_picture_neighbors=0, *, image=None):
    """Two-threshold (picture / boundary) tail-cuts cleaning.

    Pixels at or above ``picture_thresh`` (with at least
    ``min_number_picture_neighbors`` such neighbours) form the picture;
    pixels at or above ``boundary_thresh`` next to a picture pixel are
    added. Unless ``keep_isolated_pixels``, picture pixels without any
    neighbour at or above the boundary threshold are dropped.

    Parameters
    ----------
    cam : xarray.Dataset
        Camera group with ``image`` (tel_event, pixel) and the neighbour table.
    picture_thresh, boundary_thresh : float, array_like or xarray.DataArray
        Thresholds [p.e.]: scalar, per telescope event or per pixel.
    keep_isolated_pixels : bool or array_like
    min_number_picture_neighbors : int or array_like
        Picture neighbours a picture pixel needs (no effect when isolated
        pixels are kept).
    image : str or xarray.DataArray, optional
        Image to clean; default ``cam["image"]``.

    Returns
    -------
    xarray.DataArray
        ``image_mask`` (tel_event, pixel) bool.
    """
    return _two_threshold_cleaning(K.tailcuts_clean_kernel, cam, picture_thresh, boundary_thresh,
                                   keep_isolated_pixels, min_number_picture_neighbors, image)


def mars_cleaning_1st_pass(cam, picture_thresh=7, boundary_thresh=5, keep_isolated_pixels=False,
                           min_number_picture_neighbors=0, *, image=None):
    """MARS-like cleaning: tail cuts, then a second row of boundary pixels.

    Pixels at or above ``boundary_thresh`` that neighbour a pixel kept by
    :func:`tailcuts_clean` are added. Parameters and result as
    :func:`tailcuts_clean`.
    """
    return _two_threshold_cleaning(K.mars_cleaning_kernel, cam, picture_thresh, boundary_thresh,
                                   keep_isolated_pixels, min_number_picture_neighbors, image)


def _two_threshold_cleaning(kernel, cam, picture_thresh, boundary_thresh, keep_isolated_pixels,
                            min_number_picture_neighbors, image):
    """Run a picture/boundary cleaning kernel (tail cuts, MARS) over a camera group."""
    indptr, indices = _neighbors(cam)

    def body(d, p, i):
        out = np.empty(d[0].shape, bool)
        kernel(d[0], p[0], p[1], i[0], i[1], indptr, indices, out)
        return out

    return _mask_result(_apply_masks(
        body, cam, [_data(cam, image, "image")],
        [(picture_thresh, "picture_thresh", 0), (boundary_thresh, "boundary_thresh", 0)],
        [(min_number_picture_neighbors, "min_number_picture_neighbors", np.int64),
         (keep_isolated_pixels, "keep_isolated_pixels", np.bool_)]))


def dilate(cam, mask=None):
    """Add one row of neighbouring pixels to a mask.

    Parameters
    ----------
    cam : xarray.Dataset
        Camera group (for the neighbour table).
    mask : str or xarray.DataArray, optional
        Mask (tel_event, pixel); default ``cam["image_mask"]``.

    Returns
    -------
    xarray.DataArray
        (tel_event, pixel) bool.
    """
    indptr, indices = _neighbors(cam)

    def body(d, p, i):
        out = np.empty(d[0].shape, bool)
        K.dilate_kernel(d[0], indptr, indices, out)
        return out

    m = _data(cam, mask, "image_mask")
    return _apply_masks(body, cam, [m], [], []).rename(m.name).assign_attrs(m.attrs)


def number_of_islands(cam, mask=None):
    """Label the connected clusters (islands) of selected pixels.

    Parameters
    ----------
    cam : xarray.Dataset
        Camera group (for the neighbour table).
    mask : str or xarray.DataArray, optional
        Mask (tel_event, pixel); default ``cam["image_mask"]``.

    Returns
    -------
    n_islands : xarray.DataArray
        (tel_event,) int32.
    island_labels : xarray.DataArray
        (tel_event, pixel) int32: 0 outside the mask, islands numbered
        1, 2, ... in the order of their lowest pixel index.
    """
    indptr, indices = _neighbors(cam)

    def body(d, p, i):
        labels = np.empty(d[0].shape, np.int32)
        n = np.empty(d[0].shape[0], np.int32)
        K.number_of_islands_kernel(d[0], indptr, indices, labels, n)
        return n, labels

    n, labels = _apply_masks(body, cam, [_data(cam, mask, "image_mask")], [], [],
                             output_dtypes=(np.int32, np.int32), output_core=((), ("pixel",)))
    return (n.rename("n_islands").assign_attrs(long_name="number of islands"),
            labels.rename("island_labels").assign_attrs(long_name="island label (0: not selected)"))


def largest_island(island_labels):
    """Mask of the island with most pixels (the first one on ties); all False without islands.

    Parameters
    ----------
    island_labels : xarray.DataArray
        (tel_event, pixel) labels from :func:`number_of_islands`.
    """
    def func(labels):
        labels = np.ascontiguousarray(labels)
        out = np.empty(labels.shape, bool)
        K.largest_island_kernel(labels, labels.max(axis=1, initial=0), out)
        return out

    return apply_kernel(func, island_labels, input_core_dims=[["pixel"]], output_core_dims=[["pixel"]],
                        output_dtypes=[bool]).rename("image_mask")


def brightest_island(n_islands, island_labels, image):
    """Mask of the island with the largest summed image (the first one on ties).

    Parameters
    ----------
    n_islands : xarray.DataArray
        (tel_event,) island counts from :func:`number_of_islands`.
    island_labels : xarray.DataArray
        (tel_event, pixel) labels from :func:`number_of_islands`.
    image : xarray.DataArray
        (tel_event, pixel) pixel charges.
    """
    def func(n, labels, img):
        out = np.empty(labels.shape, bool)
        K.brightest_island_kernel(np.ascontiguousarray(labels), np.asarray(n), np.ascontiguousarray(img), out)
        return out

    return apply_kernel(func, n_islands, island_labels, image, input_core_dims=[[], ["pixel"], ["pixel"]],
                        output_core_dims=[["pixel"]], output_dtypes=[bool]).rename("image_mask")


def apply_time_delta_cleaning(cam, mask=None, min_number_neighbors=1, time_limit=5.0, *, peak_time=None):
    """Drop selected pixels without enough selected neighbours close in time.

    A selected pixel survives if at least ``min_number_neighbors`` of its
    neighbours are selected and have a peak time differing by less than
    ``time_limit``.

    Parameters
    ----------
    cam : xarray.Dataset
        Camera group with ``peak_time``.
    mask : str or xarray.DataArray, optional
        Mask to clean; default ``cam["image_mask"]``.
    min_number_neighbors : int or array_like
    time_limit : float or array_like
        [ns].
    peak_time : str or xarray.DataArray, optional
        Default ``cam["peak_time"]``.

    Returns
    -------
    xarray.DataArray
        (tel_event, pixel) bool.
    """
    indptr, indices = _neighbors(cam)

    def body(d, p, i):
        out = np.empty(d[0].shape, bool)
        K.time_delta_cleaning_kernel(d[0], d[1], i[0], p[0], indptr, indices, out)
        return out

    return _mask_result(_apply_masks(
        body, cam, [_data(cam, mask, "image_mask"), _data(cam, peak_time, "peak_time")],
        [(time_limit, "time_limit", 1)], [(min_number_neighbors, "min_number_neighbors", np.int64)]))


def fact_image_cleaning(cam, picture_threshold=4, boundary_threshold=2, min_number_neighbors=2, time_limit=5,
                        *, image=None, peak_time=None):
    """FACT image cleaning.

    Pixels at or above ``picture_threshold`` with at least
    ``min_number_neighbors`` such neighbours, plus their neighbours at or
    above ``boundary_threshold``; then (for ``min_number_neighbors > 0``)
    time-delta cleaning, removal of pixels with too few selected neighbours,
    and time-delta cleaning again.

    Parameters
    ----------
    cam : xarray.Dataset
        Camera group with ``image`` and ``peak_time``.
    picture_threshold, boundary_threshold : float or array_like
        [p.e.].
    min_number_neighbors : int or array_like
    time_limit : float or array_like
        [ns].
    image, peak_time : str or xarray.DataArray, optional

    Returns
    -------
    xarray.DataArray
        ``image_mask`` (tel_event, pixel) bool.
    """
    indptr, indices = _neighbors(cam)

    def body(d, p, i):
        out = np.empty(d[0].shape, bool)
        K.fact_cleaning_kernel(d[0], d[1], p[0], p[1], i[0], p[2], indptr, indices, out)
        return out

    return _mask_result(_apply_masks(
        body, cam, [_data(cam, image, "image"), _data(cam, peak_time, "peak_time")],
        [(picture_threshold, "picture_threshold", 0), (boundary_threshold, "boundary_threshold", 0),
         (time_limit, "time_limit", 1)],
        [(min_number_neighbors, "min_number_neighbors", np.int64)]))


def time_constrained_clean(cam, picture_thresh=7, boundary_thresh=5, time_limit_core=4.5, time_limit_boundary=1.5,
                           min_number_picture_neighbors=1, *, image=None, peak_time=None):
    """MAGIC-like time-constrained cleaning.

    Core pixels: at or above ``picture_thresh`` with at least
    ``min_number_picture_neighbors`` such neighbours, kept if their peak
    time is within ``time_limit_core`` (twice that for pixels at or above
    twice the picture threshold) of the image**2-weighted mean time of the
    brightest core island. Boundary pixels: at or above ``boundary_thresh``
    with at least ``min_number_picture_neighbors`` core neighbours closer in
    time than ``time_limit_boundary``.

    Parameters
    ----------
    cam : xarray.Dataset
        Camera group with ``image`` and ``peak_time``.
    picture_thresh, boundary_thresh : float or array_like
        [p.e.].
    time_limit_core, time_limit_boundary : float or array_like
        [ns].
    min_number_picture_neighbors : int or array_like
    image, peak_time : str or xarray.DataArray, optional

    Returns
    -------
    xarray.DataArray
        ``image_mask`` (tel_event, pixel) bool.
    """
    indptr, indices = _neighbors(cam)

    def body(d, p, i):
        out = np.empty(d[0].shape, bool)
        common = np.result_type(d[0].dtype, d[1].dtype, np.float32)  # numpy.average's dtype
        K.time_constrained_clean_kernel(d[0].astype(common, copy=False), d[1].astype(common, copy=False),
                                        p[0], p[1], i[0], p[2], p[3], indptr, indices, out)
        return out

    return _mask_result(_apply_masks(
        body, cam, [_data(cam, image, "image"), _data(cam, peak_time, "peak_time")],
        [(picture_thresh, "picture_thresh", 0), (boundary_thresh, "boundary_thresh", 0),
         (time_limit_core, "time_limit_core", np.float64), (time_limit_boundary, "time_limit_boundary", 1)],
        [(min_number_picture_neighbors, "min_number_picture_neighbors", np.int64)]))


# --------------------------------------------------------------------------- configurable cleaners
class ImageCleaner(param.Parameterized):
    """Base of the configurable cleaners: ``cleaner(cam) -> image_mask``."""

    __abstract = True

    #: cleaner options resolved per telescope event, and their dtypes
    _per_tel = {}

    def resolve(self, cam, tel_types=None):
        """Every option as one value per telescope event of ``cam``.

        Parameters
        ----------
        cam : xarray.Dataset
            Camera group (its ``tel`` index level gives the telescope of each event).
        tel_types : dict[int, str], optional
            Telescope type strings, needed for per-type option values.

        Returns
        -------
        dict[str, xarray.DataArray]
            Option name -> values along ``tel_event``.
        """
        tel_ids = cam["tel"].values
        return {name: xr.DataArray(resolve_per_tel_event(getattr(self, name), tel_ids, tel_types, dtype),
                                   dims=("tel_event",))
                for name, dtype in self._per_tel.items()}

    def __call__(self, cam, tel_types=None):
        """Clean every image of a camera group; returns ``image_mask`` (tel_event, pixel)."""
        raise NotImplementedError


class TailcutsImageCleaner(ImageCleaner):
    """Picture / boundary tail-cuts cleaning (see :func:`tailcuts_clean`)."""

    picture_threshold_pe = TelescopeParameter(10.0, doc="Picture threshold [p.e.] (inclusive).")
    boundary_threshold_pe = TelescopeParameter(5.0, doc="Boundary threshold [p.e.] (inclusive).")
    min_picture_neighbors = TelescopeParameter(2, item_type=int, bounds=(0, None), doc=(
        "Neighbours at or above the picture threshold a picture pixel needs."))
    keep_isolated_pixels = TelescopeParameter(False, item_type=bool, doc=(
        "Keep picture pixels without boundary neighbours (then min_picture_neighbors has no effect)."))

    _per_tel = {"picture_threshold_pe": np.float64, "boundary_threshold_pe": np.float64,
                "min_picture_neighbors": np.int64, "keep_isolated_pixels": np.bool_}

    def __call__(self, cam, tel_types=None):
        o = self.resolve(cam, tel_types)
        return tailcuts_clean(cam, o["picture_threshold_pe"], o["boundary_threshold_pe"],
                              o["keep_isolated_pixels"], o["min_picture_neighbors"])


class MARSImageCleaner(TailcutsImageCleaner):
    """MARS-like first-pass cleaning (see :func:`mars_cleaning_1st_pass`); isolated pixels never kept."""

    def __call__(self, cam, tel_types=None):
        o = self.resolve(cam, tel_types)
        return mars_cleaning_1st_pass(cam, o["picture_threshold_pe"], o["boundary_threshold_pe"], False,
                                      o["min_picture_neighbors"])


class FACTImageCleaner(TailcutsImageCleaner):
    """FACT cleaning (see :func:`fact_image_cleaning`); needs ``peak_time``."""

    time_limit_ns = TelescopeParameter(5.0, bounds=(0, None), doc=(
        "Arrival-time limit between neighbouring pixels [ns]."))

    _per_tel = {**TailcutsImageCleaner._per_tel, "time_limit_ns": np.float64}

    def __call__(self, cam, tel_types=None):
        o = self.resolve(cam, tel_types)
        return fact_image_cleaning(cam, o["picture_threshold_pe"], o["boundary_threshold_pe"],
                                   o["min_picture_neighbors"], o["time_limit_ns"])


class TimeConstrainedImageCleaner(TailcutsImageCleaner):
    """MAGIC-like time-constrained cleaning (see :func:`time_constrained_clean`); needs ``peak_time``."""

    time_limit_core_ns = TelescopeParameter(4.5, bounds=(0, None), doc=(
        "Core-pixel time limit around the mean time [ns]."))
    time_limit_boundary_ns = TelescopeParameter(1.5, bounds=(0, None), doc=(
        "Boundary-pixel time limit to core neighbours [ns]."))

    _per_tel = {**TailcutsImageCleaner._per_tel, "time_limit_core_ns": np.float64,
                "time_limit_boundary_ns": np.float64}

    def __call__(self, cam, tel_types=None):
        o = self.resolve(cam, tel_types)
        return time_constrained_clean(cam, o["picture_threshold_pe"], o["boundary_threshold_pe"],
                                      o["time_limit_core_ns"], o["time_limit_boundary_ns"],
                                      o["min_picture_neighbors"])


#: cleaners by ctapipe class name
CLEANERS = {cls.__name__: cls for cls in (TailcutsImageCleaner, MARSImageCleaner, FACTImageCleaner,
                                          TimeConstrainedImageCleaner)}
_SHORT_NAMES = {"tailcuts": "TailcutsImageCleaner", "mars": "MARSImageCleaner", "fact": "FACTImageCleaner",
                "time_constrained": "TimeConstrainedImageCleaner"}


def cleaner_class(method):
    """The cleaner class for a short name (``"tailcuts"``, ``"mars"``, ``"fact"``,
    ``"time_constrained"``) or a class name (``"TailcutsImageCleaner"``, ...)."""
    name = _SHORT_NAMES.get(method, method)
    try:
        return CLEANERS[name]
    except KeyError:
        raise ValueError(f"unknown cleaning method {method!r}; use one of "
                         f"{sorted(_SHORT_NAMES)} or {sorted(CLEANERS)}") from None


def clean(cam, method="tailcuts", options=None, *, tel_types=None):
    """Clean every image of a camera group with a configurable cleaner.

    Parameters
    ----------
    cam : xarray.Dataset
        Camera group with ``image`` (and ``peak_time`` for the time cleanings).
    method : str
        ``"tailcuts"``, ``"mars"``, ``"fact"``, ``"time_constrained"`` or a
        cleaner class name (``"TailcutsImageCleaner"``, ...).
    options : dict, optional
        Cleaner parameters (e.g. ``{"picture_threshold_pe": 8.0}``), each a
        scalar or per-telescope rules; omitted ones keep the cleaner's
        defaults (ctapipe's: 10 and 5 p.e., 2 picture neighbours, no
        isolated pixels).
    tel_types : dict[int, str], optional
        Telescope type strings, for per-type rules.

    Returns
    -------
    xarray.DataArray
        ``image_mask`` (tel_event, pixel) bool.

    Raises
    ------
    ValueError
        Unknown method, or an option the method does not have.
    """
    cls = cleaner_class(method)
    options = {k: v for k, v in (options or {}).items() if v is not None}
    unknown = sorted(set(options) - set(cls._per_tel))
    if unknown:
        raise ValueError(f"{cls.__name__} has no option {', '.join(unknown)}; it has {', '.join(cls._per_tel)}")
    return cls(**options)(cam, tel_types=tel_types)
