"""Stereo reconstruction of the shower geometry and angular distances to a source.

- :func:`reconstruct` (``tree.iact.reconstruct()``): shower direction, core
  and height of maximum per event, with ctapipe's ``HillasReconstructor``
  or ``HillasIntersection``.
- :class:`HillasReconstructor`, :class:`HillasIntersection`,
  :class:`StereoQualityQuery`, :class:`ShowerProcessor`: the same as
  configurable ``param`` components. For config files and ``iactx process``:
  :data:`COMPONENTS` (configuration sections) and
  :func:`reconstruct_chain` ``(tree, config) -> tree``.
- :mod:`iactx.reco.theta`: theta, theta-square, ON/OFF counts.
"""

from __future__ import annotations

from .hillas_intersection import HillasIntersection
from .hillas_reconstructor import HillasReconstructor
from .shower_processor import METHODS, ShowerProcessor, reconstruct_chain
from .stereo import HILLAS_INPUTS, StereoQualityQuery, camera_radius
from .theta import off_positions, source_direction, theta, theta2_counts

__all__ = [
    "COMPONENTS",
    "HILLAS_INPUTS",
    "METHODS",
    "HillasIntersection",
    "HillasReconstructor",
    "ShowerProcessor",
    "StereoQualityQuery",
    "camera_radius",
    "off_positions",
    "reconstruct",
    "reconstruct_chain",
    "source_direction",
    "theta",
    "theta2_counts",
]

#: configurable components of the stereo step, by configuration section name
COMPONENTS = {"ShowerProcessor": ShowerProcessor, **METHODS, "StereoQualityQuery": StereoQualityQuery}


def reconstruct(tree, method="HillasReconstructor", *, min_intensity=50.0, min_width=0.0, min_pixels=3,
                min_telescopes=2, weighted_core=False, weighting="harmonic-mean-intensity"):
    """Reconstruct the shower geometry of every event of an event tree.

    Parameters
    ----------
    tree : xarray.DataTree
        Event tree whose camera groups hold the Hillas parameters in the
        telescope frame (``hillas_intensity``, ``hillas_fov_lon``,
        ``hillas_fov_lat``, ``hillas_psi``, ``hillas_length``,
        ``hillas_width`` [deg]) and ``morphology_n_pixels``.
    method : {"HillasReconstructor", "HillasIntersection"}
        Reconstruction algorithm; also the prefix of the output variables.
    min_intensity, min_width, min_pixels : float, float, int or None
        The stereo quality query: a telescope event enters if
        ``hillas_intensity > min_intensity``, ``hillas_width > min_width``
        and ``morphology_n_pixels > min_pixels``; ``None`` drops a criterion.
    min_telescopes : int
        Fewest telescopes passing the query for an event to be reconstructed.
    weighted_core : bool
        HillasReconstructor: weight the image axes in the core intersection
        (ctapipe does not).
    weighting : {"harmonic-mean-intensity", "Konrad", "HESS"}
        HillasIntersection: intensity weight of the image pairs.

    Returns
    -------
    xarray.DataTree
        A new tree. At the root, along ``event``: ``{method}_alt``, ``_az``
        [deg], ``_core_x``, ``_core_y``, ``_core_tilted_x``,
        ``_core_tilted_y``, ``_h_max`` [m], their uncertainties
        (``_alt_uncert``, ``_az_uncert``, ``_ang_distance_uncert`` [deg],
        ``_core_uncert_x/y``, ``_core_tilted_uncert_x/y``, ``_h_max_uncert``
        [m]; NaN where the method does not estimate them), ``_is_valid``,
        ``_average_intensity`` and ``_telescopes`` (event, tel) in the order
        of ``/instrument``. In each camera group, along ``tel_event``:
        ``{method}_tel_impact_distance`` [m] (and ``_uncert``), and for
        HillasReconstructor ``core_psi`` [deg].

    Examples
    --------
    >>> tree = tree.iact.reconstruct()                                  # doctest: +SKIP
    >>> tree.ds.HillasReconstructor_alt.where(tree.ds.HillasReconstructor_is_valid)   # doctest: +SKIP
    >>> tree = tree.iact.reconstruct("HillasIntersection")             # doctest: +SKIP
    """
    if method not in METHODS:
        raise ValueError(f"unknown reconstruction method {method!r}; available: {', '.join(METHODS)}")
    query = StereoQualityQuery(min_intensity=min_intensity, min_width=min_width, min_pixels=min_pixels)
    options = {"weighted_core": weighted_core} if method == "HillasReconstructor" else {"weighting": weighting}
    return METHODS[method](quality_query=query, min_telescopes=min_telescopes, **options)(tree)
