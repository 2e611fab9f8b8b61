"""The ``.iact`` accessors on camera groups (Dataset) and event trees (DataTree).

Accessors only orchestrate: every method has an explicit signature and
calls a labelled-layer function that does the work.
"""

from __future__ import annotations

import xarray as xr

__all__ = ["IactDatasetAccessor", "IactTreeAccessor", "camera_groups"]


def camera_groups(tree):
    """Names of the camera groups of an event tree (nodes with ``tel_event``)."""
    return [name for name, node in tree.children.items() if "tel_event" in node.dims]


def _extractor_options(window_width, window_shift, apply_integration_correction, options):
    """The extractor options given explicitly (None means the extractor's default)."""
    out = dict(options or {})
    for key, value in (("window_width", window_width), ("window_shift", window_shift),
                       ("apply_integration_correction", apply_integration_correction)):
        if value is not None:
            if key in out:
                raise TypeError(f"{key} given both as an argument and in options")
            out[key] = value
    return out


@xr.register_dataset_accessor("iact")
class IactDatasetAccessor:
    """Analysis methods on one camera group (dims ``tel_event``, ``pixel``, ...)."""

    def __init__(self, ds):
        self._ds = ds

    def geometry(self):
        """The :class:`~iactx.instrument.CameraGeometry` of this camera group."""
        from .instrument import CameraGeometry

        return CameraGeometry.from_dataset(self._ds)

    def calibrate(self, extractor="NeighborPeakWindowSum", *, window_width=None, window_shift=None,
                  apply_integration_correction=None, options=None, tel_types=None, broken_pixels=None,
                  invalid_pixel_handler="NeighborAverage", apply_peak_time_shift=True,
                  apply_waveform_time_shift=False):
        """Extract ``image`` [pe] and ``peak_time`` [ns] from the waveforms (ctapipe's CameraCalibrator).

        Parameters
        ----------
        extractor : str, ImageExtractor or list of rules
            ``"NeighborPeakWindowSum"`` (default), ``"LocalPeakWindowSum"``,
            ``"GlobalPeakWindowSum"``, ``"FixedWindowSum"``, ``"SlidingWindowMaxSum"``,
            ``"FullWaveformSum"``, ``"BaselineSubtractedNeighborPeakWindowSum"``,
            ``"TwoPassWindowSum"``; a configured extractor; or per-telescope rules of names.
        window_width, window_shift : int or list of rules, optional
            Integration window [samples]; default: the extractor's (7 and 3 for
            the peak-finding extractors).
        apply_integration_correction : bool or list of rules, optional
            Correct for the pulse fraction outside the window (default True).
        options : dict, optional
            Other options of the extractor, e.g. ``{"local_weight": 1}``,
            ``{"pixel_fraction": 0.1}``, ``{"peak_index": 10}``,
            ``{"core_threshold": [("type", "*", 6.0)]}``,
            ``{"baseline_start": 0, "baseline_end": 10}``.
        tel_types : dict[int, str], optional
            Telescope type of each telescope id, for ``("type", pattern, value)``
            rules; the tree accessor passes them from ``/instrument``.
        broken_pixels : xarray.DataArray or str, optional
            Pixels to ignore and interpolate; default the group's ``outlier_mask``.
        invalid_pixel_handler : {"NeighborAverage", None}
            Replace broken pixels by the mean of their valid neighbours.
        apply_peak_time_shift : bool or list of rules
            Subtract the time calibration ``time_shift`` from the peak time.
        apply_waveform_time_shift : bool or list of rules
            Shift the waveforms by whole samples of ``time_shift`` before extraction.

        Returns
        -------
        xarray.Dataset
            A new group with ``image`` and ``peak_time`` (float32, tel_event x
            pixel), plus ``is_valid`` (tel_event) for ``TwoPassWindowSum``.

        See Also
        --------
        iactx.calib.calibrator.calibrate, iactx.calib.extractors
        """
        from .calib.calibrator import calibrate

        return calibrate(self._ds, extractor, tel_types=tel_types, broken_pixels=broken_pixels,
                         invalid_pixel_handler=invalid_pixel_handler,
                         apply_peak_time_shift=apply_peak_time_shift,
                         apply_waveform_time_shift=apply_waveform_time_shift,
                         **_extractor_options(window_width, window_shift, apply_integration_correction, options))

    def reduce_volume(self, reducer="TailCutsDataVolumeReducer", *, image_extractor_type=None,
                      n_end_dilates=None, do_boundary_dilation=None, picture_threshold_pe=None,
                      boundary_threshold_pe=None, min_picture_neighbors=None, keep_isolated_pixels=None,
                      extractor_options=None, tel_types=None):
        """Data volume reduction (ctapipe's): waveforms of the pixels not kept set to 0, ``dvr_mask`` added.

        Parameters
        ----------
        reducer : {"TailCutsDataVolumeReducer", "NullDataVolumeReducer"} or DataVolumeReducer
            Reducer name or a configured instance.
        image_extractor_type : str or list of rules, optional
            Extractor of the reduction; default ``"NeighborPeakWindowSum"``.
        n_end_dilates : int or list of rules, optional
            Unconditional dilations at the end; default 1.
        do_boundary_dilation : bool or list of rules, optional
            Grow the tail-cuts mask over pixels at or above the boundary threshold; default True.
        picture_threshold_pe, boundary_threshold_pe : float or list of rules, optional
            Tail-cuts thresholds [p.e.], inclusive; default 10 and 5.
        min_picture_neighbors : int or list of rules, optional
            Default 2.
        keep_isolated_pixels : bool or list of rules, optional
            Default False.
        extractor_options : dict, optional
            Options of the reduction's extractor, e.g. ``{"window_width": 5}``.
        tel_types : dict[int, str], optional
            Telescope type strings, for ``("type", pattern, value)`` rules.

        Returns
        -------
        xarray.Dataset
            A new group: ``waveform`` (tel_event, pixel, sample) zero outside
            ``dvr_mask`` (tel_event, pixel) bool; calibrate it for ctapipe's DL1
            with this reducer.

        See Also
        --------
        iactx.image.reducer.reduce_volume
        """
        from .image.reducer import reduce_volume

        cleaner = {"picture_threshold_pe": picture_threshold_pe, "boundary_threshold_pe": boundary_threshold_pe,
                   "min_picture_neighbors": min_picture_neighbors, "keep_isolated_pixels": keep_isolated_pixels}
        cleaner = {k: v for k, v in cleaner.items() if v is not None}
        return reduce_volume(self._ds, reducer, image_extractor_type=image_extractor_type,
                             n_end_dilates=n_end_dilates, do_boundary_dilation=do_boundary_dilation,
                             cleaner_options=cleaner or None, extractor_options=extractor_options,
                             tel_types=tel_types)

    def muon_fit(self, instrument=None, *, config=None, fit_method=None, intensity_fit=True, ring_mask=False,
                 tel_types=None):
        """Muon rings: returns the group with ``muonring_*``, ``muonparameters_*`` and
        ``muonefficiency_*`` added (NaN where no ring is found).

        Parameters
        ----------
        instrument : xarray.Dataset or xarray.DataTree, optional
            The ``/instrument`` node of the event tree (mirror areas, telescope
            types), needed by the intensity fit.
        config : dict, optional
            ``{Section: {parameter: value}}`` for ``MuonProcessor``, ``MuonRingFitter``,
            ``MuonIntensityFitter``, ``ImageParameterQuery``, ``RingQuery``.
        fit_method : {"kundu_chaudhuri", "taubin", "kundu_chaudhuri_taubin"}, optional
            Ring fit; default ``MuonRingFitter.fit_method``.
        intensity_fit : bool
            Fit the ring light (impact, width, optical efficiency).
        ring_mask : bool
            Also add ``muon_ring_mask``, the pixels near each final ring.
        tel_types : dict[int, str], optional
            Telescope type strings, when ``instrument`` is not given.

        Returns
        -------
        xarray.Dataset

        See Also
        --------
        iactx.image.muon.muon_fit
        """
        from .image.muon import muon_fit

        return muon_fit(self._ds, instrument, config=config, fit_method=fit_method, intensity_fit=intensity_fit,
                        ring_mask=ring_mask, tel_types=tel_types)

    def clean(self, method="tailcuts", *, picture_threshold_pe=None, boundary_threshold_pe=None,
              min_picture_neighbors=None, keep_isolated_pixels=None, time_limit_ns=None,
              time_limit_core_ns=None, time_limit_boundary_ns=None, tel_types=None):
        """Clean every image; returns the group with ``image_mask`` (tel_event, pixel) added.

        Parameters
        ----------
        method : {"tailcuts", "mars", "fact", "time_constrained"} or str
            Cleaning algorithm, or its ctapipe class name (``"TailcutsImageCleaner"``, ...).
        picture_threshold_pe, boundary_threshold_pe : float or list of rules, optional
            Thresholds [p.e.], inclusive. Default 10 and 5 (ctapipe-process's defaults).
        min_picture_neighbors : int or list of rules, optional
            Picture neighbours a picture pixel needs; default 2.
        keep_isolated_pixels : bool or list of rules, optional
            Tail cuts only; default False.
        time_limit_ns : float or list of rules, optional
            FACT only: time limit between neighbours [ns]; default 5.
        time_limit_core_ns, time_limit_boundary_ns : float or list of rules, optional
            Time-constrained only [ns]; defaults 4.5 and 1.5.
        tel_types : dict[int, str], optional
            Telescope type strings, needed for ``("type", pattern, value)`` rules.

        Returns
        -------
        xarray.Dataset

        See Also
        --------
        iactx.image.cleaning.clean, iactx.image.cleaning.tailcuts_clean
        """
        from .image.cleaning import clean, merge_into

        options = {"picture_threshold_pe": picture_threshold_pe, "boundary_threshold_pe": boundary_threshold_pe,
                   "min_picture_neighbors": min_picture_neighbors, "keep_isolated_pixels": keep_isolated_pixels,
                   "time_limit_ns": time_limit_ns, "time_limit_core_ns": time_limit_core_ns,
                   "time_limit_boundary_ns": time_limit_boundary_ns}
        return merge_into(self._ds, clean(self._ds, method, options, tel_types=tel_types))

    def hillas(self, frame="telescope", *, quality_criteria=None):
        """Hillas parameters of every cleaned image; returns the group with ``hillas_*`` added.

        Parameters
        ----------
        frame : {"telescope", "camera"}
            Telescope frame (degrees, ``hillas_fov_lon``, ...) or camera frame
            (metres, ``camera_frame_hillas_x``, ...).
        quality_criteria : list of (name, expression), optional
            Images failing any get NaN; default ctapipe's (positive size, at least 2 pixels).

        Returns
        -------
        xarray.Dataset

        See Also
        --------
        iactx.image.parameters.hillas_parameters
        """
        from .image.cleaning import merge_into
        from .image.parameters import hillas_parameters
        from .image.quality import ImageQualityQuery

        query = None if quality_criteria is None else ImageQualityQuery(quality_criteria=list(quality_criteria))
        return merge_into(self._ds, hillas_parameters(self._ds, frame, quality=query))

    def parameters(self, frame="telescope", *, quality_criteria=None, timing_starts="random", seed=0):
        """All DL1 image parameters; returns the group with ``hillas_*``, ``timing_*``,
        ``leakage_*``, ``concentration_*``, ``morphology_*``, ``intensity_*`` and
        ``peak_time_*`` added.

        Parameters
        ----------
        frame : {"telescope", "camera"}
            Telescope frame (degrees) or camera frame (metres, Hillas and
            timing variables prefixed ``camera_frame_``).
        quality_criteria : list of (name, expression), optional
            Images failing any get NaN (morphology -1); default ctapipe's.
        timing_starts : {"random", "deterministic"}
            Starts of the robust timing fit: random pixel pairs (ctapipe's
            method, generator seeded with ``seed``) or fixed ones.
        seed : int
            Seed of the generator for ``timing_starts="random"``.

        Returns
        -------
        xarray.Dataset

        See Also
        --------
        iactx.image.parameters.image_parameters
        """
        import numpy as np

        from .image.cleaning import merge_into
        from .image.parameters import image_parameters
        from .image.quality import ImageQualityQuery

        query = None if quality_criteria is None else ImageQualityQuery(quality_criteria=list(quality_criteria))
        return merge_into(self._ds, image_parameters(self._ds, frame, quality=query, timing_starts=timing_starts,
                                                     rng=np.random.default_rng(seed)))

    def to_square(self, variable="image", *, fill_value=None):
        """A variable along ``pixel`` on the camera's square grid, dims ``(tel_event, row, col)``.

        Parameters
        ----------
        variable : str
            Variable of this group, e.g. ``"image"`` [p.e.], ``"peak_time"`` [ns], ``"image_mask"``.
        fill_value : scalar, optional
            Value of the cells without a pixel; default NaN for floating-point data, 0 (False) otherwise.

        Returns
        -------
        xarray.DataArray
            With ``row``, ``col``, the cell centres ``x``, ``y`` [m] and ``pix_id`` (-1 for no pixel).

        See Also
        --------
        iactx.image.square_images.to_square_image
        """
        from .image.square_images import to_square_image

        return to_square_image(self._ds, variable, fill_value=fill_value)

    def from_square(self, square):
        """Pixel values ``(tel_event, pixel)`` read back from ``square`` on this camera's grid.

        Parameters
        ----------
        square : xarray.DataArray
            Dims ``(tel_event, row, col)``, as made by :meth:`to_square`.

        Returns
        -------
        xarray.DataArray

        See Also
        --------
        iactx.image.square_images.from_square_image
        """
        from .image.square_images import from_square_image

        return from_square_image(square, self._ds)

    @property
    def plot(self):
        """Plots of this camera group: ``.plot.camera()``, ``.plot.waveforms()``, ``.plot.browser()``."""
        return CameraPlots(self._ds)


@xr.register_datatree_accessor("iact")
class IactTreeAccessor:
    """Analysis methods on a whole event tree, applied to every camera group."""

    def __init__(self, tree):
        self._tree = tree

    @property
    def cameras(self):
        """Names of the camera groups."""
        return camera_groups(self._tree)

    @property
    def plot(self):
        """Plots of this event tree: ``.plot.array()``."""
        return TreePlots(self._tree)

    def subarray(self):
        """The :class:`~iactx.instrument.SubarrayDescription` of this tree."""
        from .instrument import SubarrayDescription

        return SubarrayDescription.from_tree(self._tree)

    def telescope_events(self, columns=None):
        """One row per telescope event with camera, telescope type and the event's truth.

        See :func:`iactx.io.tables.telescope_events`; a dask DataFrame for a lazy tree.
        """
        from .io.tables import telescope_events

        return telescope_events(self._tree, columns)

    def map_cameras(self, func):
        """A new tree with ``func(dataset)`` applied to every camera group."""
        nodes = {node.path: node.to_dataset(inherit=False) for node in self._tree.subtree}
        for name in self.cameras:
            nodes[f"/{name}"] = func(nodes[f"/{name}"])
        return xr.DataTree.from_dict(nodes)

    def calibrate(self, extractor="NeighborPeakWindowSum", *, window_width=None, window_shift=None,
                  apply_integration_correction=None, options=None, broken_pixels=None,
                  invalid_pixel_handler="NeighborAverage", apply_peak_time_shift=True,
                  apply_waveform_time_shift=False):
        """Calibrate every camera group: add ``image`` and ``peak_time``; returns a new tree.

        Parameters are those of :meth:`IactDatasetAccessor.calibrate`; options may
        be per-telescope rules, ``("type", "LST*", 5)`` or ``("id", 3, 5)``, resolved
        with the telescope types of ``/instrument``.

        See Also
        --------
        iactx.calib.calibrator.calibrate_tree
        """
        from .calib.calibrator import calibrate_tree

        return calibrate_tree(self._tree, extractor, broken_pixels=broken_pixels,
                              invalid_pixel_handler=invalid_pixel_handler,
                              apply_peak_time_shift=apply_peak_time_shift,
                              apply_waveform_time_shift=apply_waveform_time_shift,
                              **_extractor_options(window_width, window_shift, apply_integration_correction,
                                                   options))

    def reconstruct(self, method="HillasReconstructor", *, min_intensity=50.0, min_width=0.0, min_pixels=3,
                    min_telescopes=2, weighted_core=False, weighting="harmonic-mean-intensity"):
        """Stereo reconstruction of every event; returns a new tree.

        Parameters
        ----------
        method : {"HillasReconstructor", "HillasIntersection"}
            Algorithm, also the prefix of the output variables.
        min_intensity, min_width, min_pixels : float, float, int or None
            Stereo quality query (exclusive bounds on ``hillas_intensity``,
            ``hillas_width``, ``morphology_n_pixels``); ``None`` drops one.
        min_telescopes : int
            Fewest telescopes passing the query for an event to be reconstructed.
        weighted_core : bool
            HillasReconstructor: weight the image axes in the core intersection (ctapipe does not).
        weighting : {"harmonic-mean-intensity", "Konrad", "HESS"}
            HillasIntersection: intensity weight of the image pairs.

        Returns
        -------
        xarray.DataTree
            ``{method}_alt``, ``_az``, ``_core_x``, ``_core_y``, ``_h_max``, ... at the
            root; ``{method}_tel_impact_distance`` (and for HillasReconstructor ``core_psi``)
            in the camera groups.

        See Also
        --------
        iactx.reco.reconstruct, iactx.reco.HillasReconstructor, iactx.reco.HillasIntersection
        """
        from .reco import reconstruct

        return reconstruct(self._tree, method, min_intensity=min_intensity, min_width=min_width,
                           min_pixels=min_pixels, min_telescopes=min_telescopes, weighted_core=weighted_core,
                           weighting=weighting)

    def theta(self, source=None, method="HillasReconstructor"):
        """Angular distance [deg] of each reconstructed direction from the source, along ``event``.

        ``source``: ``None`` (simulated direction of each event), ``(alt, az)``
        or an astropy ``SkyCoord``; see :func:`iactx.reco.theta.theta`.
        """
        from .reco.theta import theta

        return theta(self._tree, source, method)

    def dl1(self, config=None):
        """Calibrate, clean and parameterise every camera group (the DL0 -> DL1 chain).

        Parameters
        ----------
        config : dict, optional
            ``{ComponentName: {parameter: value}}`` (``ImageProcessor``,
            ``TailcutsImageCleaner``, ``ImageQualityQuery``, ``CameraCalibrator``,
            ...); per-telescope rules are resolved with ``/instrument``'s
            telescope types. Default: ctapipe-process's defaults.

        Returns
        -------
        xarray.DataTree
            A new tree whose camera groups have ``image``, ``peak_time``,
            ``image_mask`` and the DL1 parameters.

        See Also
        --------
        iactx.image.processor.ImageProcessor
        """
        from .image.processor import dl1

        return dl1(self._tree, config)

class CameraPlots:
    """``ds.iact.plot``: HoloViews plots of a camera group (see :mod:`iactx.plotting`)."""

    def __init__(self, ds):
        self._ds = ds

    def camera(self, var="image", *, event=None, tel=None, obs_id=None, sample=None, mask=None, hillas=None,
               ring=None, scale="linear", linthresh=1.0, cmap="viridis", clim=None, title=None, n_sigma=1.0,
               focal_length=None):
        """Camera image of one telescope event; see :func:`iactx.plotting.camera`."""
        from .plotting import camera

        return camera(self._ds, var, event=event, tel=tel, obs_id=obs_id, sample=sample, mask=mask,
                      hillas=hillas, ring=ring, scale=scale, linthresh=linthresh, cmap=cmap, clim=clim,
                      title=title, n_sigma=n_sigma, focal_length=focal_length)

    def waveforms(self, event=None, tel=None, pixels=None, *, obs_id=None, var="waveform", window=None,
                  n_brightest=1):
        """Waveforms of some pixels with the integration window; see :func:`iactx.plotting.waveforms`."""
        from .plotting import waveforms

        return waveforms(self._ds, event=event, tel=tel, obs_id=obs_id, pixels=pixels, var=var, window=window,
                         n_brightest=n_brightest)

    def browser(self, var="image", *, sample=None, waveform="waveform", mask=None, hillas=None, window=None,
                scale="linear", linthresh=1.0, cmap="viridis", clim=None):
        """Image and waveform browser over events and telescopes; see :func:`iactx.plotting.browser`."""
        from .plotting import browser

        return browser(self._ds, var, sample=sample, waveform=waveform, mask=mask, hillas=hillas, window=window,
                       scale=scale, linthresh=linthresh, cmap=cmap, clim=clim)


class TreePlots:
    """``tree.iact.plot``: HoloViews plots of an event tree (see :mod:`iactx.plotting`)."""

    def __init__(self, tree):
        self._tree = tree

    def array(self, event=None, *, obs_id=None, axes=True, axis_length=None, labels=None, title=None):
        """Telescope positions, triggered telescopes, image axes; see :func:`iactx.plotting.array`."""
        from .plotting import array

        return array(self._tree, event, obs_id=obs_id, axes=axes, axis_length=axis_length, labels=labels,
                     title=title)
