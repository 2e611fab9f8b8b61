"""Theta-square plot: ON events around the source and normalised OFF events, with a cut line.

HoloViews is imported only when a plot is made.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

__all__ = ["theta2", "theta_values"]


def _trees(tree_or_trees):
    import xarray as xr

    if isinstance(tree_or_trees, (xr.DataTree, str, Path)):
        tree_or_trees = [tree_or_trees]
    for item in tree_or_trees:
        if isinstance(item, (str, Path)):
            from ..io import open_dl1

            item = open_dl1(item)
        yield item


def theta_values(tree_or_trees, source=None, *, method="HillasReconstructor", n_off=3):
    """Theta to the source and to the OFF positions of all reconstructed events of one or more trees.

    Parameters
    ----------
    tree_or_trees : DataTree, path, or a list of them
        Reconstructed event trees (or event-tree files).
    source, method, n_off
        See :func:`iactx.reco.theta.theta` and :func:`iactx.reco.theta.theta_off`;
        ``n_off=0`` for no OFF positions.

    Returns
    -------
    theta_on : ndarray, shape (n_events,) [deg]
    theta_off : ndarray, shape (n_events, n_off) [deg]
        Only events with a valid reconstruction.
    source_offset : ndarray, shape (n_events,) [deg]
        Distance of the source from the array pointing (NaN if unknown).
    """
    from ..coordinates import projections as proj
    from ..reco.theta import source_direction, theta, theta_off

    on, off, offset = [], [], []
    for tree in _trees(tree_or_trees):
        root = tree.to_dataset(inherit=False)
        valid_name = f"{method}_is_valid"
        valid = root[valid_name].values if valid_name in root else np.isfinite(root[f"{method}_alt"].values)
        on.append(theta(tree, source, method).values[valid])
        if n_off:
            off.append(theta_off(tree, source, method, n_off).values[valid])
        else:
            off.append(np.zeros((int(valid.sum()), 0)))
        src_alt, src_az = source_direction(tree, source)
        if "array_altitude" in root and "array_azimuth" in root:
            offset.append(proj.angular_separation(src_alt.values, src_az.values, root["array_altitude"].values,
                                                  root["array_azimuth"].values)[valid])
        else:
            offset.append(np.full(int(valid.sum()), np.nan))
    return np.concatenate(on), np.concatenate(off, axis=0), np.concatenate(offset)


def _style(element, **per_backend):
    """Options per backend, for the backends that are loaded."""
    from .elements import register

    backends = register()
    for backend, options in per_backend.items():
        if backend in backends and options:
            element = element.opts(backend=backend, **options)
    return element


def theta2(tree_or_trees, source=None, *, method="HillasReconstructor", cut=0.04, n_off=3, bins=40,
           max_theta2=0.5, title=None):
    """Theta-square distribution of ON events with normalised OFF events.

    Parameters
    ----------
    tree_or_trees : DataTree, path, or a list of them
        Reconstructed event trees (``tree.iact.reconstruct()``) or files written from them.
    source : None, (alt, az) or SkyCoord
        Source position; default the simulated direction of each event
        (see :func:`iactx.reco.theta.source_direction`).
    method : str
        Reconstruction whose direction is used.
    cut : float
        Theta-square cut [deg2], drawn as a dashed line; the legend counts
        events inside it.
    n_off : int
        OFF positions reflected around the array pointing (0: no OFF
        histogram). OFF counts are scaled by ``alpha = 1 / n_off``.
    bins : int
        Number of bins between 0 and ``max_theta2``.
    max_theta2 : float
        Upper edge of the histogram [deg2].
    title : str, optional
        Default: the counts in the cut, the excess and its Li & Ma significance.

    Returns
    -------
    holoviews.Overlay
        ON histogram (``label`` with its count in the cut), OFF histogram
        scaled by ``alpha`` (when ``n_off > 0``) and the cut line.

    Examples
    --------
    >>> import holoviews as hv; hv.extension("bokeh")           # doctest: +SKIP
    >>> iactx.plotting.theta2(tree.iact.reconstruct(), source=(70, 180), cut=0.03)   # doctest: +SKIP
    """
    import holoviews as hv

    from ..reco.theta import theta2_counts

    theta_on, theta_off, offset = theta_values(tree_or_trees, source, method=method, n_off=n_off)
    if n_off and theta_on.size and np.nanmedian(offset) < 2 * np.sqrt(cut):
        warnings.warn(f"the source is {np.nanmedian(offset):.3g} deg from the pointing (median): the OFF "
                      f"positions overlap the ON region of radius {np.sqrt(cut):.3g} deg; use n_off=0 for "
                      "on-axis events", UserWarning, stacklevel=2)
    edges = np.linspace(0.0, float(max_theta2), int(bins) + 1)
    kdim = hv.Dimension("theta2", label="θ²", unit="deg²")
    vdim = hv.Dimension("events", label="events")
    on_counts, _ = np.histogram(theta_on**2, bins=edges)
    if n_off:
        counts = theta2_counts(theta_on, theta_off, cut)
    else:
        counts = {"n_on": int(np.count_nonzero(theta_on**2 < cut)), "n_off": 0, "alpha": 1.0,
                  "excess": float(np.count_nonzero(theta_on**2 < cut)), "significance": np.nan}
    on = hv.Histogram((edges, on_counts), kdims=[kdim], vdims=[vdim], label=f"ON: {counts['n_on']} in cut")
    on = _style(on, bokeh={"fill_alpha": 0.5, "color": "#1f77b4", "line_color": "#1f77b4"},
                matplotlib={"alpha": 0.5, "color": "#1f77b4", "edgecolor": "#1f77b4"})
    layers = [on]
    if n_off:
        off_counts, _ = np.histogram(theta_off.ravel() ** 2, bins=edges)
        alpha = counts["alpha"]
        off = hv.Histogram((edges, off_counts * alpha), kdims=[kdim], vdims=[vdim],
                           label=f"OFF × {alpha:.3g}: {counts['n_off'] * alpha:.1f} in cut")
        off = _style(off, bokeh={"fill_alpha": 0.35, "color": "#d62728", "line_color": "#d62728"},
                     matplotlib={"alpha": 0.35, "color": "#d62728", "edgecolor": "#d62728"})
        layers.append(off)
    line = _style(hv.VLine(float(cut), kdims=[kdim, vdim]),
                  bokeh={"color": "black", "line_dash": "dashed", "line_width": 1.5},
                  matplotlib={"color": "black", "linestyle": "--", "linewidth": 1.5})
    layers.append(line)
    if title is None:
        title = f"θ² < {cut:g} deg²: ON {counts['n_on']}"
        if n_off:
            title += (f", OFF {counts['n_off']} × {counts['alpha']:.3g}, excess {counts['excess']:.1f}, "
                      f"{counts['significance']:.1f} σ (Li & Ma)")
    overlay = hv.Overlay(layers)
    return _style(overlay, bokeh={"title": title, "legend_position": "top_right", "frame_width": 450},
                  matplotlib={"title": title, "legend_position": "top_right", "fig_inches": 6})
