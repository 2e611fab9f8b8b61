"""The DL1 chain on event trees: calibrate, clean, parameterise every camera group.

:class:`ImageProcessor` is the configurable component (ctapipe's name and
defaults: tail-cuts cleaning 10 / 5 p.e. with 2 picture neighbours,
parameters in the telescope frame, the default image quality query), and
:func:`dl1` runs it on a tree, which is what ``tree.iact.dl1()`` does.

Configuration is a mapping ``{ComponentName: {parameter: value}}`` as read
from a configuration file, e.g.::

    {"ImageProcessor": {"image_cleaner_type": "MARSImageCleaner"},
     "MARSImageCleaner": {"picture_threshold_pe": [("type", "*", 10.0),
                                                   ("type", "LST_LST_LSTCam", 8.0)]},
     "ImageQualityQuery": {"quality_criteria": [["size", "image.sum() > 50"]]}}

Per-telescope rules are resolved with the telescope types of ``/instrument``.

Timing fits start, like ctapipe's, from random pixel pairs; the processor
owns the generator (seed ``timing_fit_seed``) and draws for every image in
the order ctapipe-process would meet them (event by event, telescope by
telescope, across camera groups), so that one processor applied batch after
batch to a file gives ctapipe-process's numbers.
"""

from __future__ import annotations

import numpy as np
import param
import pandas as pd
import xarray as xr

from ..accessor import camera_groups
from ..config.registry import section_config
from ..io.event_tree import tel_types_of
from .cleaning import CLEANERS, merge_into
from .parameters import count_timing_points, draw_timing_starts, image_parameters
from .quality import ImageQualityQuery

__all__ = ["ImageProcessor", "calibrated", "dl1", "COMPONENTS", "tel_types_of"]


class ImageProcessor(param.Parameterized):
    """Clean the images of an event tree and compute their DL1 parameters.

    Parameters
    ----------
    config : dict, optional
        ``{ComponentName: {parameter: value}}``; the sections
        ``ImageProcessor``, the chosen cleaner's and ``ImageQualityQuery``
        (also nested in ``ImageProcessor``, as ``"ImageProcessor.<name>"``)
        are used here, ``CameraCalibrator`` and the chosen extractor's
        section by the calibration of groups that have no ``image`` yet.
    **params
        ``ImageProcessor`` parameters, overriding the configuration.

    Examples
    --------
    >>> processor = ImageProcessor()                        # doctest: +SKIP
    >>> for batch in iactx.iter_simtel("gamma.simtel.zst"):  # doctest: +SKIP
    ...     dl1_batch = processor(batch)
    """

    image_cleaner_type = param.Selector(default="TailcutsImageCleaner", objects=list(CLEANERS), doc=(
        "Cleaning algorithm (ctapipe class name)."))
    use_telescope_frame = param.Boolean(default=True, doc=(
        "Parameters in the telescope frame (degrees) rather than the camera frame (metres, "
        "camera_frame_ prefix)."))
    true_parameters = param.Boolean(default=True, doc=(
        "Also parameterise the true image (true_image > 0) where the simulation stored it, "
        "as true_* variables."))
    timing_fit_starts = param.Selector(default="random", objects=["random", "deterministic"], doc=(
        "Starts of the timing fits: random pixel pairs as ctapipe draws them, or fixed ones."))
    timing_fit_seed = param.Integer(default=0, doc="Seed of the generator of the random timing-fit starts.")

    def __init__(self, config=None, **params):
        config = dict(config or {})
        super().__init__(**{**config.get("ImageProcessor", {}), **params})
        self.config = config
        self.cleaner = CLEANERS[self.image_cleaner_type](
            **section_config(config, "ImageProcessor", self.image_cleaner_type))
        self.quality = ImageQualityQuery(**section_config(config, "ImageProcessor", "ImageQualityQuery"))
        self.rng = np.random.default_rng(self.timing_fit_seed)

    @property
    def frame(self):
        """``"telescope"`` or ``"camera"``."""
        return "telescope" if self.use_telescope_frame else "camera"

    def __call__(self, tree):
        """The tree with ``image_mask`` and the DL1 parameters added to every camera group."""
        names = camera_groups(tree)
        tel_types = tel_types_of(tree)
        cams = {}
        for name in names:
            cam = _calibrated(tree[name].to_dataset(inherit=False), self.config, tel_types)
            cams[name] = merge_into(cam, self.cleaner(cam, tel_types=tel_types))
        starts = self._timing_starts(tree, cams)
        for name, cam in cams.items():
            params = [image_parameters(cam, self.frame, quality=self.quality, timing_starts=starts[name])]
            if self.true_parameters and "true_image" in cam:
                params.append(self._true_parameters(cam))
            cams[name] = merge_into(cam, *params)
        nodes = {node.path: node.to_dataset(inherit=False) for node in tree.subtree}
        nodes.update({f"/{name}": cam for name, cam in cams.items()})
        return xr.DataTree.from_dict(nodes)

    def _timing_starts(self, tree, cams):
        """Starting pairs of every timing fit, drawn in ctapipe-process's image order."""
        if self.timing_fit_starts == "deterministic":
            return dict.fromkeys(cams, "deterministic")
        counts = {name: count_timing_points(cam, self.quality) for name, cam in cams.items()}
        root = tree.to_dataset(inherit=False)
        if "obs_id" in root.coords and "event_id" in root.coords:
            event_order = pd.MultiIndex.from_arrays([root["obs_id"].values, root["event_id"].values])
        else:
            event_order = None
        keys = []
        for name, cam in cams.items():
            obs, event, tel = (cam[level].values for level in ("obs_id", "event", "tel"))
            position = (event_order.get_indexer(pd.MultiIndex.from_arrays([obs, event]))
                        if event_order is not None else np.full(obs.shape, -1))
            keys.append(np.stack([position, obs, event, tel]))
        if not keys:
            return {}
        position, obs, event, tel = np.concatenate(keys, axis=1)
        order = np.lexsort((tel, event, obs, position))  # event by event, telescope by telescope
        all_counts = np.concatenate(list(counts.values()))
        starts = np.empty((all_counts.shape[0], *draw_timing_starts(all_counts[:0]).shape[1:]), np.int64)
        starts[order] = draw_timing_starts(all_counts[order], self.rng)
        offsets = np.cumsum([0] + [c.shape[0] for c in counts.values()])
        return {name: starts[offsets[k]:offsets[k + 1]] for k, name in enumerate(cams)}

    def _true_parameters(self, cam):
        """Parameters of the true image (true_image > 0), prefixed ``true_``."""
        # integer counts: image_parameters takes them in float64 (its _float_array)
        params = image_parameters(cam, self.frame, quality=self.quality, image="true_image",
                                  mask=cam["true_image"] > 0, peak_time=False, timing_starts="deterministic")
        return params.rename({name: f"true_{name}" for name in params.data_vars})


def _calibrated(cam, config, tel_types):
    """The camera group with ``image`` and ``peak_time``, calibrating its waveforms when it has no image.

    ``config`` is the whole configuration: its ``CameraCalibrator`` section
    (``image_extractor_type``, ``invalid_pixel_handler_type``,
    ``apply_peak_time_shift``, ``apply_waveform_time_shift``,
    ``data_volume_reducer_type``) and the sections of the chosen extractor
    and reducer are used, with ctapipe's meaning: with
    ``TailCutsDataVolumeReducer`` the waveforms of the pixels it does not
    keep are set to 0 before extraction.
    """
    if "image" in cam:
        return cam
    if "waveform" not in cam:
        raise ValueError("the camera group has neither 'image' nor 'waveform'")
    from ..calib.calibrator import calibrate
    from .reducer import data_volume_reducer

    section = dict(config.get("CameraCalibrator", {}))
    extractor = section.pop("image_extractor_type", "NeighborPeakWindowSum")
    handler = section.pop("invalid_pixel_handler_type", "NeighborAverage")
    kwargs = {"invalid_pixel_handler": None if handler in (None, "None", "none") else handler}
    for name in ("apply_peak_time_shift", "apply_waveform_time_shift"):
        if name in section:
            kwargs[name] = section.pop(name)
    reducer = section.pop("data_volume_reducer_type", "NullDataVolumeReducer")
    if section:
        raise ValueError(f"unknown CameraCalibrator option(s) {sorted(section)}")
    options = section_config(config, "CameraCalibrator", extractor) if isinstance(extractor, str) else {}
    if reducer == "NullDataVolumeReducer":
        return calibrate(cam, extractor, tel_types=tel_types, **kwargs, **options)
    reduced = data_volume_reducer(config, reducer)(cam, tel_types=tel_types)
    calibrated = calibrate(reduced, extractor, tel_types=tel_types, **kwargs, **options)
    # the group keeps its R1 waveforms; only the extraction saw the reduced ones
    return calibrated.drop_vars("dvr_mask").assign(waveform=cam.variables["waveform"])


def calibrated(tree, config=None, *, keep_waveforms=True):
    """The calibration step of :class:`ImageProcessor` alone: ``image`` and ``peak_time`` for every camera group.

    Groups that have waveforms and no image yet are calibrated as
    :class:`ImageProcessor` would calibrate them; the others are left as
    they are, so the processor run on the result gives the same numbers.

    Parameters
    ----------
    tree : xarray.DataTree
        Event tree.
    config : dict, optional
        ``{ComponentName: {parameter: value}}``; its ``CameraCalibrator``
        section and the chosen extractor's and reducer's are used.
    keep_waveforms : bool
        Keep the R1 ``waveform`` (tel_event, pixel, sample) in the groups.
        Without them the waveforms of a batch are freed with the tree that
        was read, long before the tree returned here.

    Returns
    -------
    xarray.DataTree
        A new tree, or ``tree`` itself when no group needed calibrating.
    """
    names = [name for name in camera_groups(tree) if "image" not in tree[name].ds and "waveform" in tree[name].ds]
    if not names:
        return tree
    tel_types = tel_types_of(tree)
    nodes = {node.path: node.to_dataset(inherit=False) for node in tree.subtree}
    for name in names:
        cam = _calibrated(nodes[f"/{name}"], config or {}, tel_types)
        nodes[f"/{name}"] = cam if keep_waveforms else cam.drop_vars("waveform")
    return xr.DataTree.from_dict(nodes)


def dl1(tree, config=None):
    """Calibrate, clean and parameterise every camera group of an event tree.

    Parameters
    ----------
    tree : xarray.DataTree
        Event tree with waveforms (or already calibrated images).
    config : dict, optional
        ``{ComponentName: {parameter: value}}``; default: ctapipe-process's
        defaults.

    Returns
    -------
    xarray.DataTree
        A new tree; each camera group gains ``image``, ``peak_time``,
        ``image_mask`` and the DL1 parameters.
    """
    return ImageProcessor(config)(tree)


#: configurable components of the DL1 image chain, by name
COMPONENTS = {"ImageProcessor": ImageProcessor, "ImageQualityQuery": ImageQualityQuery, **CLEANERS}
