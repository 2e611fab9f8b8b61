"""Stereo geometry from Hillas parameters, as ctapipe's ``HillasReconstructor``.

For every array event, the telescope events passing a
:class:`StereoQualityQuery` contribute their image axis:

1. The image centroid and a second point on the major axis (offset by a
   tenth of the camera radius) are taken from the telescope frame to the
   sky; with the telescope they span a plane containing the shower axis.
2. The direction is the weighted mean of the crossings of every pair of
   planes (weights ``intensity * length / width`` of both images), and its
   uncertainty the mean angle between the direction and the crossings.
3. The image axes, re-expressed in a camera-like frame around the array
   pointing (``core_psi``), are lines through the telescopes in the tilted
   frame perpendicular to the pointing; their least-squares intersection,
   projected along the pointing onto the ground, is the core.
4. The lines from the telescopes towards their image centroids meet near
   the shower maximum; the height of their least-squares intersection
   above the array plus the array's altitude is ``h_max``.

Outputs follow ctapipe's column names and units (angles in degrees, lengths
in metres). Where ctapipe leaves uncertainties undefined, they are filled
from the scatter of the least-squares intersections: the core and ``h_max``
covariance is ``chi2 / dof`` times the inverse normal matrix (``dof = n - 2``
lines in the plane for the core, ``2 n - 3`` in space for ``h_max``), so
the core uncertainty needs at least three telescopes.
``ang_distance_uncert`` is the same mean off-angle ctapipe stores as
``alt_uncert`` and ``az_uncert``.

Everything is batched: the telescope events of all array events go through
one numba call (:mod:`.hillas_reconstructor_kernels`).
"""

from __future__ import annotations

import numpy as np
import param

from ..coordinates import projections as proj
from .hillas_reconstructor_kernels import hillas_stereo_kernel
# camera_radius lived here before stereo.py: still importable from here
from .stereo import GeometryReconstructor, camera_radius  # noqa: F401

__all__ = ["HillasReconstructor"]


class HillasReconstructor(GeometryReconstructor):
    """Shower direction, core and height of maximum from the Hillas ellipses of several telescopes.

    Reproduces ctapipe's ``HillasReconstructor`` (telescope-frame Hillas
    parameters). Call it on an event tree whose camera groups carry the
    Hillas parameters; it returns a new tree with ``HillasReconstructor_*``
    variables at the root (along ``event``) and the impact distance of
    every telescope event in the camera groups.

    Parameters
    ----------
    quality_query : StereoQualityQuery, optional
        Which telescope events enter; default ctapipe's criteria.
    **params
        The parameters below (``min_telescopes``, ``weighted_core``,
        ``camera_radius_fraction``).

    Examples
    --------
    >>> reco = HillasReconstructor(min_telescopes=3)            # doctest: +SKIP
    >>> tree = reco(tree)                                          # doctest: +SKIP
    >>> tree.ds[["HillasReconstructor_alt", "HillasReconstructor_az"]]   # doctest: +SKIP
    """

    weighted_core = param.Boolean(default=False, doc=(
        "Weight the image axes by intensity * length / width in the core intersection "
        "(ctapipe 0.32 does not: False reproduces its numbers)."))
    camera_radius_fraction = param.Number(default=0.1, bounds=(0, None), inclusive_bounds=(False, True), doc=(
        "Second point on each image axis at this fraction of the camera radius from the centroid."))

    #: prefix of the output variables
    prefix = "HillasReconstructor"

    def _geometry(self, context, selection):
        c = context.te.columns
        n_events = context.n_events
        rows, ev, offsets = selection.rows, selection.event, selection.offsets
        array_alt, array_az = context.array_pointing
        row_pos = context.positions

        # image axes on the sky: centroid and a second point along psi
        lon, lat = c["hillas_fov_lon"][rows], c["hillas_fov_lat"][rows]
        psi = np.deg2rad(c["hillas_psi"][rows])
        p_alt, p_az = c["pointing_alt"][rows], c["pointing_az"][rows]
        radius_deg = np.rad2deg(c["camera_radius"][rows] / c["focal_length"][rows])
        step = self.camera_radius_fraction * radius_deg
        cog_alt, cog_az = proj.telescope_to_altaz(lon, lat, p_alt, p_az)
        p2_alt, p2_az = proj.telescope_to_altaz(lon + step * np.cos(psi), lat + step * np.sin(psi), p_alt, p_az)
        cog_dir = proj.altaz_to_cartesian(cog_alt, cog_az)
        normals = np.cross(cog_dir, proj.altaz_to_cartesian(p2_alt, p2_az))
        # the axis seen from the array pointing, in camera-frame orientation (x ~ fov_lat, y ~ fov_lon)
        a_alt, a_az = array_alt[ev], array_az[ev]
        cog_lon, cog_lat = proj.altaz_to_nominal(cog_alt, cog_az, a_alt, a_az)
        p2_lon, p2_lat = proj.altaz_to_nominal(p2_alt, p2_az, a_alt, a_az)
        with np.errstate(divide="ignore", invalid="ignore"):
            core_psi = np.arctan((cog_lon - p2_lon) / (cog_lat - p2_lat))
            weights = c["hillas_intensity"][rows] * c["hillas_length"][rows] / c["hillas_width"][rows]
        tx, ty, _ = proj.ground_to_tilted(row_pos[rows, 0], row_pos[rows, 1], row_pos[rows, 2], a_alt, a_az)
        core_weights = weights if self.weighted_core else np.ones(rows.size)

        direction = np.empty((n_events, 3))
        direction_error = np.empty(n_events)
        core_tilted = np.empty((n_events, 2))
        core_cov = np.empty((n_events, 3))
        shower_max = np.empty((n_events, 3))
        shower_max_var = np.empty(n_events)
        hillas_stereo_kernel(offsets, np.ascontiguousarray(normals), np.ascontiguousarray(weights), core_psi,
                             np.ascontiguousarray(np.column_stack([tx, ty])), np.ascontiguousarray(core_weights),
                             np.ascontiguousarray(cog_dir), np.ascontiguousarray(row_pos[rows]),
                             direction, direction_error, core_tilted, core_cov, shower_max, shower_max_var)

        alt, az = proj.cartesian_to_altaz(direction)
        core_x, core_y = proj.project_to_ground(core_tilted[:, 0], core_tilted[:, 1], 0.0, array_alt, array_az)
        # the projection is linear in the tilted (x, y): propagate the covariance through it
        jx = np.stack(proj.project_to_ground(1.0, 0.0, 0.0, array_alt, array_az), axis=-1)
        jy = np.stack(proj.project_to_ground(0.0, 1.0, 0.0, array_alt, array_az), axis=-1)
        jac = np.stack([jx, jy], axis=-1)  # (n_events, 2 ground, 2 tilted)
        cov_t = np.stack([np.stack([core_cov[:, 0], core_cov[:, 1]], -1),
                          np.stack([core_cov[:, 1], core_cov[:, 2]], -1)], -2)
        cov_g = jac @ cov_t @ np.swapaxes(jac, -1, -2)
        error_deg = np.rad2deg(direction_error)
        reference_height = float(context.instrument.attrs.get("reference_height", 0.0))

        with np.errstate(invalid="ignore"):
            fields = {
                "alt": alt, "az": az, "alt_uncert": error_deg, "az_uncert": error_deg, "ang_distance_uncert": error_deg,
                "core_x": core_x, "core_y": core_y, "core_uncert_x": np.sqrt(cov_g[:, 0, 0]),
                "core_uncert_y": np.sqrt(cov_g[:, 1, 1]), "core_tilted_x": core_tilted[:, 0],
                "core_tilted_y": core_tilted[:, 1], "core_tilted_uncert_x": np.sqrt(core_cov[:, 0]),
                "core_tilted_uncert_y": np.sqrt(core_cov[:, 2]), "h_max": shower_max[:, 2] + reference_height,
                "h_max_uncert": np.sqrt(shower_max_var),
            }
        tel_fields = {"core_psi": (np.rad2deg(core_psi), "deg", (
            f"image axis angle in the tilted frame of the array pointing, used for the core ({self.prefix})"))}
        return {"fields": fields, "direction": direction, "usable": np.ones(n_events, bool), "tel_fields": tel_fields}

