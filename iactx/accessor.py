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


@xr.register_dataset_accessor("iact")
class IactDatasetAccessor:
    """Analysis methods on one camera group (dims ``tel_event``, ``pixel``, ...)."""

    def __init__(self, ds):
        self._ds = ds

    def geometry(self):
        """The :class:`~iactx.instrument.CameraGeometry` of this camera group."""
        from .instrument import CameraGeometry

        return CameraGeometry.from_dataset(self._ds)

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

    def map_cameras(self, func):
        """A new tree with ``func(dataset)`` applied to every camera group."""
        nodes = {node.path: node.to_dataset(inherit=False) for node in self._tree.subtree}
        for name in self.cameras:
            nodes[f"/{name}"] = func(nodes[f"/{name}"])
        return xr.DataTree.from_dict(nodes)

    def reconstruct(self, method="HillasReconstructor", *, min_intensity=50.0, min_width=0.0, min_pixels=3,
                    min_telescopes=2, weighted_core=False):
        """Stereo reconstruction of every event; returns a new tree.

        Parameters
        ----------
        method : {"HillasReconstructor"}
            Algorithm, also the prefix of the output variables.
        min_intensity, min_width, min_pixels : float, float, int or None
            Stereo quality query (exclusive bounds on ``hillas_intensity``,
            ``hillas_width``, ``morphology_n_pixels``); ``None`` drops one.
        min_telescopes : int
            Fewest telescopes passing the query for an event to be reconstructed.
        weighted_core : bool
            Weight the image axes in the core intersection (ctapipe does not).

        Returns
        -------
        xarray.DataTree
            ``{method}_alt``, ``_az``, ``_core_x``, ``_core_y``, ``_h_max``, ... at the
            root; ``{method}_tel_impact_distance`` and ``core_psi`` in the camera groups.

        See Also
        --------
        iactx.reco.reconstruct, iactx.reco.HillasReconstructor
        """
        from .reco import reconstruct

        return reconstruct(self._tree, method, min_intensity=min_intensity, min_width=min_width,
                           min_pixels=min_pixels, min_telescopes=min_telescopes, weighted_core=weighted_core)

    def theta(self, source=None, method="HillasReconstructor"):
        """Angular distance [deg] of each reconstructed direction from the source, along ``event``.

        ``source``: ``None`` (simulated direction of each event), ``(alt, az)``
        or an astropy ``SkyCoord``; see :func:`iactx.reco.theta.theta`.
        """
        from .reco.theta import theta

        return theta(self._tree, source, method)

class CameraPlots:
    """``ds.iact.plot``: HoloViews plots of a camera group (see :mod:`iactx.plotting`)."""

    def __init__(self, ds):
        self._ds = ds

    def camera(self, var="image", *, event=None, tel=None, obs_id=None, sample=None, mask=None, hillas=None,
               ring=None, scale="linear", linthresh=1.0, cmap="viridis", clim=None, title=None):
        """Camera image of one telescope event; see :func:`iactx.plotting.camera`."""
        from .plotting import camera

        return camera(self._ds, var, event=event, tel=tel, obs_id=obs_id, sample=sample, mask=mask,
                      hillas=hillas, ring=ring, scale=scale, linthresh=linthresh, cmap=cmap, clim=clim,
                      title=title)

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
