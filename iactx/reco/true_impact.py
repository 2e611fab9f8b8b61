"""True impact distance: how far each telescope stood from the simulated shower axis."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..coordinates import projections as proj
from .hillas_reconstructor_kernels import impact_distance_kernel

__all__ = ["true_impact_distance"]

_TRUTH = ("true_core_x", "true_core_y", "true_alt", "true_az")


def true_impact_distance(tree, name):
    """Distance of each telescope of a camera group from the true shower axis.

    The axis runs through the true core on the ground (z = 0) along the
    true direction; the distance is measured from the telescope position
    (ground frame, with its height), as ctapipe's ``true_impact_distance``.

    Parameters
    ----------
    tree : xarray.DataTree
        Event tree with the true shower at the root (``true_core_x/y`` [m],
        ``true_alt/az`` [deg]) and ``/instrument`` positions.
    name : str
        Camera group.

    Returns
    -------
    xarray.DataArray or None
        ``true_impact_distance`` (tel_event) float64 [m]; None when the tree
        has no true shower.
    """
    root = tree.to_dataset(inherit=False)
    if any(v not in root for v in _TRUTH):
        return None
    cam = tree[name].to_dataset(inherit=False)
    instrument = tree["instrument"].to_dataset(inherit=False)
    event_keys = pd.MultiIndex.from_arrays([root["obs_id"].values, root["event_id"].values])
    rows = event_keys.get_indexer(pd.MultiIndex.from_arrays([cam["obs_id"].values, cam["event"].values]))
    tels = pd.Index(instrument["tel"].values).get_indexer(cam["tel"].values)
    positions = np.column_stack([instrument[k].values for k in ("pos_x", "pos_y", "pos_z")]).astype(np.float64)
    core = np.column_stack([root["true_core_x"].values[rows], root["true_core_y"].values[rows]]).astype(np.float64)
    directions = proj.altaz_to_cartesian(root["true_alt"].values[rows], root["true_az"].values[rows])
    distance = np.empty(rows.size)
    impact_distance_kernel(np.ascontiguousarray(positions[tels]), core, np.ascontiguousarray(directions), distance)
    return xr.DataArray(distance, dims="tel_event", name="true_impact_distance",
                        attrs={"units": "m", "long_name": "distance of the telescope from the true shower axis"})
