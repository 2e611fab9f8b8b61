"""DL1 image parameters of camera groups, with ctapipe's names and definitions.

:func:`image_parameters` computes, for every cleaned image of a camera
group, the Hillas moments (``hillas_*``), timing gradient (``timing_*``),
leakage, concentration, morphology and intensity / peak-time statistics;
:func:`hillas_parameters` only the Hillas moments. Each parameter is one
variable along ``tel_event`` with ``units`` and ``long_name`` attributes.

Frames: by default the telescope frame, positions and sizes in degrees
from each telescope event's ``focal_length`` (``fov_lon = y / f``,
``fov_lat = x / f``, the small-angle mapping ctapipe's TelescopeFrame uses);
with ``frame="camera"`` metres in the camera frame and the Hillas and timing
variables prefixed ``camera_frame_`` (``camera_frame_hillas_x``, ...).

Images failing the image quality query (by default: no positive size, or
fewer than two pixels) get NaN parameters and morphology counts of -1, as
in ctapipe.

The timing fit is a least-trimmed-squares line started, like ctapipe's,
from random pairs of pixels; ``timing_starts="random"`` draws them from a
``numpy.random.Generator`` (seed 0 by default) image after image in
``tel_event`` order, which reproduces ctapipe's numbers when the images are
processed in the same order from a fresh generator, and
``timing_starts="deterministic"`` uses fixed starts instead (results then
independent of processing order).
"""

from __future__ import annotations

import functools

import numpy as np
import xarray as xr

from .._apply import apply_kernel
from .._assign import with_variables
from ..instrument import CameraGeometry
from . import parameter_kernels as K
from .quality import ImageQualityQuery

__all__ = [
    "FRAMES",
    "hillas_parameters",
    "image_parameters",
    "parameter_names",
    "count_timing_points",
    "draw_timing_starts",
]

FRAMES = ("telescope", "camera")
#: random starting pairs of each timing fit (ctapipe's ``samples``)
TIMING_SAMPLES = 5

_DEG = "deg"
# (column group, column) -> (units kind, long name); units kind "length" follows the frame
_DESCRIPTIONS = {
    ("hillas", "intensity"): ("pe", "total charge of the cleaned image (size)"),
    ("hillas", "x"): ("length", "centroid, first coordinate"),
    ("hillas", "y"): ("length", "centroid, second coordinate"),
    ("hillas", "r"): ("length", "radial coordinate of the centroid"),
    ("hillas", "phi"): (_DEG, "polar angle of the centroid"),
    ("hillas", "length"): ("length", "standard deviation along the major axis"),
    ("hillas", "length_uncertainty"): ("length", "uncertainty of length"),
    ("hillas", "width"): ("length", "standard deviation along the minor axis"),
    ("hillas", "width_uncertainty"): ("length", "uncertainty of width"),
    ("hillas", "psi"): (_DEG, "orientation of the major axis relative to the first axis"),
    ("hillas", "psi_uncertainty"): (_DEG, "uncertainty of psi"),
    ("hillas", "transverse_cog_uncertainty"): ("length", "uncertainty of the centroid across the major axis"),
    ("hillas", "skewness"): (None, "skewness along the major axis"),
    ("hillas", "kurtosis"): (None, "kurtosis along the major axis"),
    ("timing", "slope"): ("slope", "peak-time gradient along the major axis"),
    ("timing", "intercept"): ("ns", "peak time at the centroid"),
    ("timing", "deviation"): ("ns", "root-mean-square deviation of peak times from the fitted line"),
    ("leakage", "pixels_width_1"): (None, "fraction of pixels in the outermost pixel ring"),
    ("leakage", "pixels_width_2"): (None, "fraction of pixels in the two outermost pixel rings"),
    ("leakage", "intensity_width_1"): (None, "fraction of the intensity in the outermost pixel ring"),
    ("leakage", "intensity_width_2"): (None, "fraction of the intensity in the two outermost pixel rings"),
    ("concentration", "cog"): (None, "fraction of the intensity within one pixel width of the centroid"),
    ("concentration", "core"): (None, "fraction of the intensity inside the Hillas ellipse"),
    ("concentration", "pixel"): (None, "fraction of the intensity in the brightest pixel"),
    ("morphology", "n_pixels"): (None, "number of pixels surviving cleaning"),
    ("morphology", "n_islands"): (None, "number of islands (connected pixel clusters)"),
    ("morphology", "n_small_islands"): (None, "islands of at most 2 pixels"),
    ("morphology", "n_medium_islands"): (None, "islands of 3 to 50 pixels"),
    ("morphology", "n_large_islands"): (None, "islands of more than 50 pixels"),
}
for _group, _unit in (("intensity", "pe"), ("peak_time", "ns")):
    for _stat, _text in (("max", "maximum"), ("min", "minimum"), ("mean", "mean"), ("std", "standard deviation")):
        _DESCRIPTIONS[(_group, _stat)] = (_unit, f"{_text} of the {_group.replace('_', ' ')} of the cleaned pixels")
    _DESCRIPTIONS[(_group, "skewness")] = (None, f"skewness of the {_group.replace('_', ' ')} of the cleaned pixels")
    _DESCRIPTIONS[(_group, "kurtosis")] = (
        None, f"excess kurtosis of the {_group.replace('_', ' ')} of the cleaned pixels")


def _name(group, column, frame):
    if group == "hillas" and frame == "telescope" and column in ("x", "y"):
        column = {"x": "fov_lon", "y": "fov_lat"}[column]
    prefix = "camera_frame_" if frame == "camera" and group in ("hillas", "timing") else ""
    return f"{prefix}{group}_{column}"


def _attrs(group, column, frame):
    kind, text = _DESCRIPTIONS[(group, column)]
    length = "deg" if frame == "telescope" else "m"
    units = {"length": length, "slope": f"ns {length}-1"}.get(kind, kind)
    if group == "hillas" and column in ("x", "y") and frame == "telescope":
        text = "centroid longitude in the field of view" if column == "x" else "centroid latitude in the field of view"
    attrs = {"long_name": text}
    if units is not None:
        attrs["units"] = units
    return attrs


def parameter_names(frame="telescope", *, hillas_only=False):
    """Names of the variables :func:`image_parameters` (or :func:`hillas_parameters`) adds."""
    _check_frame(frame)
    columns = K.PARAMETER_COLUMNS[:len(K.HILLAS_COLUMNS)] if hillas_only else K.PARAMETER_COLUMNS
    names = [_name(g, c, frame) for g, c in columns]
    if not hillas_only:
        names += [_name("morphology", c, frame) for c in K.MORPHOLOGY_COLUMNS]
    return names


def _check_frame(frame):
    if frame not in FRAMES:
        raise ValueError(f"frame must be one of {FRAMES}, got {frame!r}")


def _frame_scale(cam, frame):
    """Degrees per metre of each telescope event (telescope frame) or 1 (camera frame), as a Variable.

    A Variable carries no coordinates of its own, so the kernel call needs
    no alignment with the image's.
    """
    _check_frame(frame)
    if frame == "camera":
        return xr.Variable((), 1.0)
    if "focal_length" not in cam:
        raise KeyError("frame='telescope' needs the focal length of every telescope event "
                       "('focal_length' along tel_event); use frame='camera' otherwise")
    return (180.0 / np.pi) / cam.variables["focal_length"].astype(np.float64)


def _frame_matrix(scale, frame, n):
    matrix = np.zeros((n, 2, 2))
    scale = np.broadcast_to(np.asarray(scale, np.float64).reshape(-1), (n,))
    if frame == "camera":
        matrix[:, 0, 0] = scale
        matrix[:, 1, 1] = scale
    else:  # fov_lon from y, fov_lat from x
        matrix[:, 0, 1] = scale
        matrix[:, 1, 0] = scale
    return matrix


def _get(cam, value, name, required=True):
    if value is False and not required:
        return None
    if value is None:
        value = name
    if isinstance(value, str):
        if value not in cam:
            if not required:
                return None
            hint = {"image": " (run calibrate first)", "image_mask": " (run clean first)"}.get(value, "")
            raise KeyError(f"camera group has no variable {value!r}{hint}")
        return cam[value]
    return value


def _match(da, ref):
    chunks = ref.chunksizes.get("tel_event") if ref.chunks else None
    if chunks and "tel_event" in da.dims and da.chunks is None:
        return da.chunk({"tel_event": chunks})
    return da


def hillas_parameters(cam, frame="telescope", *, quality=None, image=None, mask=None):
    """Hillas parameters of every cleaned image of a camera group.

    Parameters
    ----------
    cam : xarray.Dataset
        Camera group with ``image``, ``image_mask`` and, for the telescope
        frame, ``focal_length``.
    frame : {"telescope", "camera"}
        Telescope frame (degrees, ``hillas_*``) or camera frame (metres,
        ``camera_frame_hillas_*``).
    quality : ImageQualityQuery, optional
        Images failing it get NaN; default ctapipe's default criteria.
    image, mask : str or xarray.DataArray, optional
        Default ``cam["image"]`` and ``cam["image_mask"]``.

    Returns
    -------
    xarray.Dataset
        ``hillas_intensity``, ``hillas_fov_lon``, ``hillas_fov_lat``,
        ``hillas_r``, ``hillas_phi``, ``hillas_length``, ``hillas_width``,
        ``hillas_psi``, ``hillas_skewness``, ``hillas_kurtosis`` and the
        uncertainties, each along ``tel_event`` (float64).
    """
    quality = ImageQualityQuery() if quality is None else quality
    image = _get(cam, image, "image")
    mask = _get(cam, mask, "image_mask")
    scale = _match(_frame_scale(cam, frame), image)
    geom = CameraGeometry.from_dataset(cam)

    def func(img, msk, k):
        img = np.ascontiguousarray(img)
        msk = np.ascontiguousarray(msk)
        n = img.shape[0]
        out = np.empty((n, len(K.HILLAS_COLUMNS)))
        K.hillas_kernel(img, msk, quality.passes(img, msk), geom.pix_x, geom.pix_y, geom.pix_area,
                        _frame_matrix(k, frame, n), out)
        return out

    block = apply_kernel(func, image, mask, scale, input_core_dims=[["pixel"], ["pixel"], []],
                         output_core_dims=[["hillas_column"]], output_dtypes=[np.float64],
                         output_sizes={"hillas_column": len(K.HILLAS_COLUMNS)})
    return _split(block, "hillas_column", [("hillas", c) for c in K.HILLAS_COLUMNS], frame)


def _float_array(values):
    """Contiguous, and float64 for integer data (e.g. true images), whose statistics numpy takes in float64."""
    values = np.ascontiguousarray(values)
    return values if np.issubdtype(values.dtype, np.floating) else values.astype(np.float64)


def _split(block, dim, columns, frame):
    """One variable per column of ``block`` (tel_event, dim), put in without index alignment."""
    if block.dims != ("tel_event", dim):
        block = block.transpose("tel_event", dim)
    values = block.data
    data = {name: xr.Variable(("tel_event",), values[:, k], attrs)
            for k, (name, attrs) in enumerate(_column_names_and_attrs(tuple(columns), frame))}
    coords = block.coords.to_dataset()
    if dim in coords.variables:
        coords = coords.drop_vars(dim)
    return with_variables(coords, data)


@functools.lru_cache(maxsize=None)
def _column_names_and_attrs(columns, frame):
    """``(name, attrs)`` of each ``(group, column)`` (Variable copies the attrs it is given)."""
    return tuple((_name(group, column, frame), _attrs(group, column, frame)) for group, column in columns)


def count_timing_points(cam, quality=None, *, image=None, peak_time=None, mask=None, valid=None):
    """Points of each image's timing fit: cleaned pixels with a finite peak time, 0 if not parameterised.

    Parameters
    ----------
    valid : array_like of bool, optional
        Which images are parameterised, if already known; default: evaluate ``quality``.

    Returns
    -------
    numpy.ndarray, shape (n_tel_events,), int64
        Computed eagerly (dask-backed groups are computed).
    """
    quality = ImageQualityQuery() if quality is None else quality
    img = np.ascontiguousarray(_get(cam, image, "image").values)
    msk = np.ascontiguousarray(_get(cam, mask, "image_mask").values)
    times = _get(cam, peak_time, "peak_time", required=False)
    out = np.zeros(img.shape[0], np.int64)
    if times is None:
        return out
    valid = quality.passes(img, msk) if valid is None else np.asarray(valid, bool)
    K.count_fit_points(msk, np.ascontiguousarray(times.values), valid, out)
    return out


def draw_timing_starts(n_points, rng=None, samples=TIMING_SAMPLES):
    """Random starting pairs of the timing fits, drawn image after image.

    Parameters
    ----------
    n_points : (n_images,) int
        Points of each fit (:func:`count_timing_points`); images with fewer
        than two draw nothing.
    rng : numpy.random.Generator, optional
        Advanced in place; default a new generator with seed 0.
    samples : int
        Starts per image.

    Returns
    -------
    numpy.ndarray, shape (n_images, samples, 2), int64
    """
    rng = np.random.default_rng(0) if rng is None else rng
    n_points = np.ascontiguousarray(n_points, dtype=np.int64)
    out = np.empty((n_points.shape[0], samples, 2), np.int64)
    K.draw_lts_starts(rng, n_points, out)
    return out


def image_parameters(cam, frame="telescope", *, quality=None, timing_starts="random", rng=None,
                     image=None, peak_time=None, mask=None):
    """Every DL1 image parameter of every cleaned image of a camera group.

    Parameters
    ----------
    cam : xarray.Dataset
        Camera group with ``image``, ``image_mask``, optionally
        ``peak_time`` (else timing and peak-time statistics are NaN) and,
        for the telescope frame, ``focal_length``.
    frame : {"telescope", "camera"}
        Telescope frame (degrees) or camera frame (metres, Hillas and timing
        variables prefixed ``camera_frame_``).
    quality : ImageQualityQuery, optional
        Images failing it get NaN and morphology -1; default ctapipe's
        default criteria (positive size, at least two pixels).
    timing_starts : {"random", "deterministic"} or array_like
        Starts of the timing fits: random pairs drawn from ``rng`` in
        ``tel_event`` order (ctapipe's method), fixed starts, or an array
        ``(n_tel_events, n_starts, 2)`` from :func:`draw_timing_starts`.
    rng : numpy.random.Generator, optional
        For ``"random"``; default a new generator with seed 0.
    image, peak_time, mask : str or xarray.DataArray, optional
        Default ``cam["image"]``, ``cam["peak_time"]`` (if present; ``False``
        for none), ``cam["image_mask"]``.

    Returns
    -------
    xarray.Dataset
        One variable along ``tel_event`` per parameter (names from
        :func:`parameter_names`): float64, morphology counts int32.

    Notes
    -----
    With ``timing_starts="random"`` the number of fit points of every image
    is needed before the fits, so dask-backed groups are computed once for it.
    """
    _check_frame(frame)
    quality = ImageQualityQuery() if quality is None else quality
    image_da = _get(cam, image, "image")
    mask_da = _get(cam, mask, "image_mask")
    times_da = _get(cam, peak_time, "peak_time", required=False)
    has_times = times_da is not None
    n_events = image_da.sizes["tel_event"]
    valid = None  # which images pass the quality query, when computed up front
    if isinstance(timing_starts, str):
        if timing_starts == "random":
            valid = quality.passes(np.ascontiguousarray(image_da.values), np.ascontiguousarray(mask_da.values))
            starts = draw_timing_starts(count_timing_points(cam, quality, image=image_da, peak_time=times_da,
                                                            mask=mask_da, valid=valid), rng)
        elif timing_starts == "deterministic":
            starts = np.zeros((n_events, 0, 2), np.int64)
        else:
            raise ValueError(f"timing_starts must be 'random', 'deterministic' or an array, got {timing_starts!r}")
    else:
        starts = np.asarray(timing_starts, np.int64)
        if starts.ndim != 3 or starts.shape[0] != n_events or starts.shape[2] != 2:
            raise ValueError(f"timing_starts array must have shape ({n_events}, n_starts, 2), got {starts.shape}")
    starts_da = _match(xr.DataArray(starts, dims=("tel_event", "timing_start", "timing_pair")), image_da)
    have_valid = valid is not None
    valid_da = _match(xr.DataArray(valid if have_valid else np.zeros(n_events, bool), dims=("tel_event",)), image_da)
    scale = _match(_frame_scale(cam, frame), image_da)
    geom = CameraGeometry.from_dataset(cam)
    constants = (geom.pix_x, geom.pix_y, geom.pix_area, geom.pixel_width, geom.border_pixel_mask(1),
                 geom.border_pixel_mask(2), geom.neighbor_indptr, geom.neighbor_indices)

    def func(img, times, msk, k, st, ok):
        img = _float_array(img)
        msk = np.ascontiguousarray(msk)
        times = _float_array(times) if has_times else img
        n = img.shape[0]
        out = np.empty((n, len(K.PARAMETER_COLUMNS)))
        morphology = np.empty((n, len(K.MORPHOLOGY_COLUMNS)), np.int32)
        ok = np.ascontiguousarray(ok) if have_valid else quality.passes(img, msk)
        K.image_parameters_kernel(img, times, has_times, msk, ok, *constants,
                                  _frame_matrix(k, frame, n), np.ascontiguousarray(st), out, morphology)
        return out, morphology

    times_arg = times_da if has_times else image_da
    block, morph = apply_kernel(
        func, image_da, times_arg, mask_da, scale, starts_da, valid_da,
        input_core_dims=[["pixel"], ["pixel"], ["pixel"], [], ["timing_start", "timing_pair"], []],
        output_core_dims=[["parameter_column"], ["morphology_column"]],
        output_dtypes=[np.float64, np.int32],
        output_sizes={"parameter_column": len(K.PARAMETER_COLUMNS), "morphology_column": len(K.MORPHOLOGY_COLUMNS)},
    )
    result = _split(block, "parameter_column", K.PARAMETER_COLUMNS, frame)
    morphology = _split(morph, "morphology_column", [("morphology", c) for c in K.MORPHOLOGY_COLUMNS], frame)
    return with_variables(result, {name: morphology.variables[name] for name in morphology.data_vars})
