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


@xr.register_datatree_accessor("iact")
class IactTreeAccessor:
    """Analysis methods on a whole event tree, applied to every camera group."""

    def __init__(self, tree):
        self._tree = tree

    @property
    def cameras(self):
        """Names of the camera groups."""
        return camera_groups(self._tree)

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
