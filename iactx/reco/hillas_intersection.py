"""Stereo geometry by intersecting image axes, as ctapipe's ``HillasIntersection``.

Algorithm I of Hofmann et al., Astropart. Phys. 12 (1999) 135. For every
array event, the telescope events passing a :class:`StereoQualityQuery`
contribute their Hillas ellipse:

1. The image centroids are taken from each telescope's frame to the
   nominal frame of the array pointing; the image axes (angle
   ``hillas_psi``, used as it is) cross pair by pair, and the source is the
   weighted mean of the crossings, its uncertainty their weighted standard
   deviation (``alt_uncert = az_uncert`` is the quadratic sum of the two
   components). The pair weight is an intensity weight (``weighting``)
   times the sine of the angle between the axes.
2. The same axes through the telescope positions in the tilted frame
   perpendicular to the array pointing cross at the core, averaged the
   same way, then projected along the pointing onto the ground.
3. Each image puts the shower maximum at ``impact / disp`` from the tilted
   plane (distance of the telescope from the core over the angular distance
   of the centroid from the source); the intensity-weighted mean times the
   cosine of the zenith angle, plus the array's altitude, is ``h_max``
   (NaN above 100 km).

Like ctapipe, an event whose source lands more than 45 deg from the array
pointing (in either nominal coordinate) is not valid, and an event of two
images has zero uncertainties. Outputs follow ctapipe's ``HillasIntersection_*``
DL2 columns; fields ctapipe leaves undefined (``core_uncert_x/y``,
``ang_distance_uncert``, ``h_max_uncert``) are NaN.

Everything is batched: the telescope events of all array events go through
one numba call (:mod:`.hillas_intersection_kernels`).
"""

from __future__ import annotations

import numpy as np
import param

from ..coordinates import projections as proj
from .hillas_intersection_kernels import WEIGHTINGS, hillas_intersection_kernel
from .stereo import GeometryReconstructor

__all__ = ["HillasIntersection", "FOV_LIMIT", "H_MAX_LIMIT"]

#: sources farther than this from the array pointing, in fov_lon or fov_lat, are not valid [deg]
FOV_LIMIT = 45.0
#: heights of the shower maximum above this are replaced by NaN [m]
H_MAX_LIMIT = 100_000.0


class HillasIntersection(GeometryReconstructor):
    """Shower direction, core and height of maximum from the crossings of the image axes.

    The same numbers as ctapipe's ``HillasIntersection`` on the same
    telescope-frame Hillas parameters. An instance is called on an event
    tree and returns a new one with the ``HillasIntersection_*`` outputs
    (see :meth:`GeometryReconstructor.__call__`).

    Parameters
    ----------
    quality_query : StereoQualityQuery, optional
        Which telescope events enter; default ctapipe's criteria.
    **params
        ``min_telescopes`` and ``weighting`` (below).

    See Also
    --------
    iactx.reco.HillasReconstructor : the plane-intersection method, ctapipe's default.

    Examples
    --------
    >>> tree = HillasIntersection(min_telescopes=3)(tree)                       # doctest: +SKIP
    >>> tree.ds.HillasIntersection_alt.where(tree.ds.HillasIntersection_is_valid)   # doctest: +SKIP
    """

    weighting = param.Selector(default="harmonic-mean-intensity", objects=list(WEIGHTINGS), doc=(
        "Intensity weight of a pair of images a, b (times |sin(psi_a - psi_b)|): "
        "'harmonic-mean-intensity' (ctapipe 0.32's name) and 'Konrad' (its former name) are "
        "a b / (a + b), 'HESS' is the same written 1 / (1 / a + 1 / b)."))

    #: prefix of the output variables
    prefix = "HillasIntersection"

    def _geometry(self, context, selection):
        c = context.te.columns
        n_events = context.n_events
        rows, ev = selection.rows, selection.event
        array_alt, array_az = context.array_pointing
        a_alt, a_az = array_alt[ev], array_az[ev]
        lon, lat = proj.telescope_to_nominal(c["hillas_fov_lon"][rows], c["hillas_fov_lat"][rows],
                                             c["pointing_alt"][rows], c["pointing_az"][rows], a_alt, a_az)
        pos = context.positions[rows]
        tx, ty, _ = proj.ground_to_tilted(pos[:, 0], pos[:, 1], pos[:, 2], a_alt, a_az)

        source = np.empty((n_events, 2))
        source_spread = np.empty((n_events, 2))
        core = np.empty((n_events, 2))
        core_spread = np.empty((n_events, 2))
        distance = np.empty(n_events)
        hillas_intersection_kernel(
            selection.offsets, np.ascontiguousarray(np.deg2rad(lon)), np.ascontiguousarray(np.deg2rad(lat)),
            np.ascontiguousarray(np.deg2rad(c["hillas_psi"][rows])), np.ascontiguousarray(c["hillas_intensity"][rows]),
            np.ascontiguousarray(tx, np.float64), np.ascontiguousarray(ty, np.float64), WEIGHTINGS[self.weighting],
            source, source_spread, core, core_spread, distance)

        src_lon, src_lat = np.rad2deg(source[:, 0]), np.rad2deg(source[:, 1])
        alt, az = proj.nominal_to_altaz(src_lon, src_lat, array_alt, array_az)
        core_x, core_y = proj.project_to_ground(core[:, 0], core[:, 1], 0.0, array_alt, array_az)
        reference_height = float(context.instrument.attrs.get("reference_height", 0.0))
        with np.errstate(invalid="ignore"):
            h_max = distance * np.cos(np.deg2rad(90.0 - array_alt)) + reference_height
            h_max = np.where(h_max > H_MAX_LIMIT, np.nan, h_max)
            usable = ~((np.abs(src_lon) > FOV_LIMIT) | (np.abs(src_lat) > FOV_LIMIT))
        error = np.rad2deg(np.hypot(source_spread[:, 0], source_spread[:, 1]))
        fields = {"alt": alt, "az": az, "alt_uncert": error, "az_uncert": error, "core_x": core_x, "core_y": core_y,
                  "core_tilted_x": core[:, 0], "core_tilted_y": core[:, 1], "core_tilted_uncert_x": core_spread[:, 0],
                  "core_tilted_uncert_y": core_spread[:, 1], "h_max": h_max}
        return {"fields": fields, "direction": proj.altaz_to_cartesian(alt, az), "usable": usable}
