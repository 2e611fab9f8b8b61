"""Toy stereo events with known geometry: Hillas ellipses built from a true shower axis.

For each event a shower axis is drawn (direction, core on the ground,
height of the shower maximum). Every telescope close enough to the core
sees an image whose centroid is the direction of the shower maximum and
whose major axis lies on the great circle through the centroid and the
source: the plane through the telescope and the shower axis. The axis angle
``hillas_psi`` is solved so that the second point the reconstruction uses
(a tenth of the camera radius along ``psi``) lies exactly on that great
circle, so an exact reconstruction gets the true direction and shower
maximum back to rounding. Optional Gaussian noise on the centroid and on
``psi`` makes the planes disagree like real images do.

Only the Hillas parameters the stereo reconstruction reads are made
(plus ``hillas_r``/``hillas_phi`` and ``morphology_n_pixels``); there are
no pixel images. For full toy images see :mod:`iactx.io.toy`.
"""

from __future__ import annotations

import numpy as np

from ..coordinates import projections as proj

__all__ = ["stereo_geometry_toy", "toy_subarray", "image_axis_psi"]


def _hex_camera(name, radius, spacing):
    from ..instrument import CameraGeometry

    n = int(np.ceil(radius / spacing)) + 1
    i, j = np.meshgrid(np.arange(-2 * n, 2 * n + 1), np.arange(-2 * n, 2 * n + 1))
    x = (i + 0.5 * j).ravel() * spacing
    y = (j * np.sqrt(3) / 2).ravel() * spacing
    inside = np.hypot(x, y) <= radius
    area = np.full(inside.sum(), np.sqrt(3) / 2 * spacing**2)
    return CameraGeometry(name, x[inside], y[inside], area, "hexagon")


def toy_subarray(positions=None):
    """A small array of two telescope types with hexagonal cameras (no file needed).

    Parameters
    ----------
    positions : dict[int, (x, y, z)], optional
        Telescope positions [m]; default four large telescopes in a square of
        side 200 m and five medium ones around them. Ids 1-4 are large
        (focal length 28 m, ``ToyLargeCam``), the others medium (16 m,
        ``ToyMediumCam``).

    Returns
    -------
    iactx.instrument.SubarrayDescription
    """
    from astropy import units as u
    from astropy.coordinates import EarthLocation

    from ..instrument import CameraDescription, CameraReadout, OpticsDescription, SubarrayDescription
    from ..instrument import TelescopeDescription

    if positions is None:
        positions = {1: (100, 100, 2), 2: (100, -100, 0), 3: (-100, -100, 5), 4: (-100, 100, 1),
                     5: (0, 0, 3), 6: (250, 0, -4), 7: (0, 250, 8), 8: (-250, 0, 0), 9: (0, -250, 6)}
    kinds = {
        "large": ("LST", "LST", "parabolic", 28.0, 386.0, _hex_camera("ToyLargeCam", 1.1, 0.05)),
        "medium": ("MST", "MST", "davies-cotton", 16.0, 106.0, _hex_camera("ToyMediumCam", 1.1, 0.05)),
    }
    descriptions = {}
    for tel_id in positions:
        name, size, shape, focal, area, geometry = kinds["large" if tel_id <= 4 else "medium"]
        readout = CameraReadout(geometry.name, 1.0, np.ones((1, 1)), 1.0, 1, geometry.n_pixels, 1)
        optics = OpticsDescription(name, size, shape, 1, focal, focal, area, 1)
        descriptions[tel_id] = TelescopeDescription(name, optics, CameraDescription(geometry.name, geometry, readout))
    location = EarthLocation(lon=-17.89 * u.deg, lat=28.76 * u.deg, height=2200 * u.m)
    return SubarrayDescription("toy", {t: np.asarray(p, float) for t, p in positions.items()}, descriptions,
                               location)


def _camera_radius_m(geometry):
    border = geometry.border_pixel_mask(1)
    x, y = geometry.pix_x, geometry.pix_y
    return float(np.mean(np.hypot(x[border] - x.mean(), y[border] - y.mean())))


def _newton_psi(lon0, lat0, normal, s, psi, iterations):
    for _ in range(iterations):
        lon, lat = lon0 + s * np.cos(psi), lat0 + s * np.sin(psi)
        v = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], -1)
        dv_dlon = np.stack([-np.cos(lat) * np.sin(lon), np.cos(lat) * np.cos(lon), np.zeros_like(lon)], -1)
        dv_dlat = np.stack([-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)], -1)
        g = np.sum(normal * v, -1)
        dg = np.sum(normal * (dv_dlon * (-s * np.sin(psi))[..., None] + dv_dlat * (s * np.cos(psi))[..., None]), -1)
        with np.errstate(divide="ignore", invalid="ignore"):
            psi = psi - np.where(dg != 0, g / dg, 0.0)
    return psi


def image_axis_psi(cog_lon, cog_lat, normal, step, guess, iterations=20):
    """Angle ``psi`` [deg] of the image axis whose point at ``step`` from the centroid lies on a great circle.

    The circle of radius ``step`` around the centroid crosses the great
    circle twice, on either side of the centroid; the crossing with ``psi``
    in [-90, 90) (the convention of Hillas parameters) is returned, so that
    ``centroid + step * (cos psi, sin psi)`` is on the great circle.

    Parameters
    ----------
    cog_lon, cog_lat : ndarray [deg]
        Centroids in the telescope frame.
    normal : ndarray, shape (..., 3)
        Normal of the great circle in the telescope frame's cartesian axes
        (x towards the pointing, y towards growing ``fov_lon``, z towards
        growing ``fov_lat``).
    step : ndarray [deg]
        Distance of the second point along the axis.
    guess : ndarray [deg]
        Starting value (e.g. the straight direction towards the source).

    Returns
    -------
    ndarray [deg]
    """
    s = np.deg2rad(step)
    lon0, lat0 = np.deg2rad(cog_lon), np.deg2rad(cog_lat)
    start = np.deg2rad(np.mod(np.asarray(guess, np.float64) + 90.0, 180.0) - 90.0)
    psi = np.rad2deg(_newton_psi(lon0, lat0, normal, s, start, iterations))
    outside = (psi < -90.0) | (psi >= 90.0)
    if np.any(outside):  # converged to the crossing on the other side: take the opposite one
        other = np.deg2rad(np.mod(psi + 90.0, 180.0) - 90.0)
        psi = np.where(outside, np.rad2deg(_newton_psi(lon0, lat0, normal, s, other, iterations)), psi)
    return np.mod(psi + 90.0, 180.0) - 90.0


def stereo_geometry_toy(n_events=100, *, subarray=None, seed=0, pointing=(70.0, 0.0), source_offset=0.0,
                        wobble=None, divergence=0.0, core_radius=250.0, h_max=(7000.0, 12000.0), max_impact=400.0, cog_noise=0.0,
                        psi_noise=0.0, obs_id=1, first_event_id=1, focal_length="effective"):
    """An event tree of stereo events with known geometry and Hillas parameters.

    Parameters
    ----------
    n_events : int
        Number of events.
    subarray : iactx.instrument.SubarrayDescription, optional
        Telescopes; default :func:`toy_subarray`. The camera groups get the
        subarray's pixel layouts, so the reconstruction uses the right
        camera radii.
    seed : int
        Random seed.
    pointing : (float, float)
        Array (and telescope) pointing ``(alt, az)`` [deg].
    source_offset : float
        Source directions are drawn uniformly within this distance of the
        pointing [deg] (0: on axis).
    wobble : (float, float), optional
        A point source at this offset ``(fov_lon, fov_lat)`` from the
        pointing [deg] (nominal frame), added to ``source_offset``'s draw.
    divergence : float
        Divergent pointing: each telescope points this far [deg] from the
        array pointing, offset in the nominal frame along
        ``(fov_lon, fov_lat) = (-y, x) / r`` for a telescope at ground
        position ``(x, y)`` and distance ``r`` from the array centre.
    core_radius : float
        Cores are uniform in a disk of this radius around the array centre [m].
    h_max : (float, float)
        Range of the height of the shower maximum above the array plane [m].
    max_impact : float
        Telescopes farther than this from the shower axis see nothing [m].
    cog_noise, psi_noise : float
        Standard deviation of Gaussian noise on the centroid and on ``psi`` [deg].
    obs_id : int
        Observation id of the events.
    first_event_id : int
        Event ids are ``first_event_id, first_event_id + 1, ...``.
    focal_length : {"effective", "equivalent"}
        Focal length carried with the camera groups.

    Returns
    -------
    xarray.DataTree
        Root: ``true_alt``, ``true_az`` [deg], ``true_core_x``,
        ``true_core_y`` [m], ``true_h_max`` [m above sea level],
        ``array_altitude``, ``array_azimuth`` [deg]. Camera groups:
        ``hillas_*``, ``morphology_n_pixels``, ``pointing_alt/az``,
        ``focal_length`` along ``tel_event``.
    """
    from ..io.event_tree import camera_group, make_tree, root_dataset

    rng = np.random.default_rng(seed)
    subarray = subarray or toy_subarray()
    tel_ids = subarray.tel_ids.astype(np.int64)
    positions = np.array([subarray.positions[t] for t in tel_ids], np.float64)
    p_alt, p_az = (float(a) for a in pointing)

    # true showers
    radius = source_offset * np.sqrt(rng.uniform(0, 1, n_events))
    angle = rng.uniform(0, 2 * np.pi, n_events)
    w_lon, w_lat = (0.0, 0.0) if wobble is None else (float(wobble[0]), float(wobble[1]))
    true_alt, true_az = proj.nominal_to_altaz(w_lon + radius * np.cos(angle), w_lat + radius * np.sin(angle),
                                              p_alt, p_az)
    r_core = core_radius * np.sqrt(rng.uniform(0, 1, n_events))
    phi_core = rng.uniform(0, 2 * np.pi, n_events)
    core = np.column_stack([r_core * np.cos(phi_core), r_core * np.sin(phi_core), np.zeros(n_events)])
    height = rng.uniform(*h_max, n_events)
    direction = proj.altaz_to_cartesian(true_alt, true_az)  # (n_events, 3) towards the source
    shower_max = core + direction * (height / direction[:, 2])[:, None]

    # every (event, telescope) pair, then the ones close enough to the axis
    ev, tel = np.meshgrid(np.arange(n_events), np.arange(tel_ids.size), indexing="ij")
    ev, tel = ev.ravel(), tel.ravel()
    rel = positions[tel] - core[ev]
    impact = np.linalg.norm(np.cross(rel, direction[ev]), axis=1)
    to_max = shower_max[ev] - positions[tel]
    cog_alt, cog_az = proj.cartesian_to_altaz(to_max)
    # telescope pointings: the array pointing, offset by the divergence in a direction set by the position
    norm = np.hypot(positions[:, 0], positions[:, 1])
    with np.errstate(invalid="ignore", divide="ignore"):
        out_x, out_y = np.where(norm > 0, positions[:, 0] / norm, 0.0), np.where(norm > 0, positions[:, 1] / norm, 0.0)
    tel_alt, tel_az = proj.nominal_to_altaz(-divergence * out_y, divergence * out_x, p_alt, p_az)
    t_alt, t_az = tel_alt[tel], tel_az[tel]
    cog_lon, cog_lat = proj.altaz_to_telescope(cog_alt, cog_az, t_alt, t_az)
    src_lon, src_lat = proj.altaz_to_telescope(true_alt[ev], true_az[ev], t_alt, t_az)

    descriptions = subarray.tel
    focal = np.array([descriptions[t].optics.focal_length(focal_length) for t in tel_ids])
    focal = np.where(np.isfinite(focal), focal, [descriptions[t].optics.equivalent_focal_length for t in tel_ids])
    radius_m = {name: _camera_radius_m(g) for name, g in subarray.geometries().items()}
    cam_radius_deg = np.array([np.rad2deg(radius_m[descriptions[t].camera.name] / f)
                               for t, f in zip(tel_ids, focal)])
    seen = (impact < max_impact) & (np.hypot(cog_lon, cog_lat) < 0.8 * cam_radius_deg[tel]) \
        & (np.hypot(src_lon - cog_lon, src_lat - cog_lat) > 0.02)
    ev, tel = ev[seen], tel[seen]
    cog_lon, cog_lat, src_lon, src_lat = cog_lon[seen], cog_lat[seen], src_lon[seen], src_lat[seen]
    impact, t_alt, t_az = impact[seen], t_alt[seen], t_az[seen]

    # the plane through the telescope and the shower axis, in the telescope frame's cartesian axes
    normal_ground = np.cross(to_max[seen], direction[ev])
    normal_altaz = normal_ground * np.array([1.0, -1.0, 1.0])  # ground (x north, y west) -> AltAz (y east)
    rotation = proj.sky_offset_matrix(t_az, t_alt)
    normal = np.einsum("...ij,...j->...i", rotation, normal_altaz)
    step = 0.1 * cam_radius_deg[tel]
    guess = np.rad2deg(np.arctan2(src_lat - cog_lat, src_lon - cog_lon))
    psi = image_axis_psi(cog_lon, cog_lat, normal, step, guess)

    n = ev.size
    cog_lon = cog_lon + rng.normal(0, cog_noise, n) if cog_noise else cog_lon
    cog_lat = cog_lat + rng.normal(0, cog_noise, n) if cog_noise else cog_lat
    psi = np.mod(psi + rng.normal(0, psi_noise, n) + 90.0, 180.0) - 90.0 if psi_noise else psi
    intensity = np.exp(rng.uniform(np.log(20), np.log(5000), n)) * np.exp(-impact / 300)
    length = rng.uniform(0.08, 0.3, n)
    width = length * rng.uniform(0.2, 0.6, n)
    n_pixels = np.maximum((intensity / 15).astype(np.int64), 1)

    event_id = np.arange(first_event_id, first_event_id + n_events, dtype=np.int64)
    nan_deg = {"units": "deg"}
    root = root_dataset(np.full(n_events, obs_id), event_id, {
        "true_alt": (true_alt, {"units": "deg"}),
        "true_az": (true_az, {"units": "deg"}),
        "true_core_x": (core[:, 0], {"units": "m"}),
        "true_core_y": (core[:, 1], {"units": "m"}),
        "true_h_max": (height + subarray.reference_location.height.to_value("m"),
                       {"units": "m", "long_name": "true height of the shower maximum above sea level"}),
        "array_altitude": (np.full(n_events, p_alt), nan_deg),
        "array_azimuth": (np.full(n_events, p_az), nan_deg),
    }, attrs={"source": "iactx.reco.geometry_toy", "focal_length_kind": focal_length})
    cameras = {}
    for name, ids in subarray.ids_by_camera().items():
        rows = np.flatnonzero(np.isin(tel_ids[tel], ids))
        rows = rows[np.lexsort((tel_ids[tel[rows]], ev[rows]))]
        values = {
            "hillas_intensity": (intensity[rows], "pe"),
            "hillas_fov_lon": (cog_lon[rows], "deg"),
            "hillas_fov_lat": (cog_lat[rows], "deg"),
            "hillas_r": (np.hypot(cog_lon[rows], cog_lat[rows]), "deg"),
            "hillas_phi": (np.rad2deg(np.arctan2(cog_lat[rows], cog_lon[rows])), "deg"),
            "hillas_psi": (psi[rows], "deg"),
            "hillas_length": (length[rows], "deg"),
            "hillas_width": (width[rows], "deg"),
            "pointing_alt": (t_alt[rows], "deg"),
            "pointing_az": (t_az[rows], "deg"),
            "focal_length": (focal[tel[rows]], "m"),
            "true_impact_distance": (impact[rows], "m"),
        }
        data_vars = {k: ("tel_event", v, {"units": unit}) for k, (v, unit) in values.items()}
        data_vars["morphology_n_pixels"] = ("tel_event", n_pixels[rows], {})
        keys = (np.full(rows.size, obs_id), event_id[ev[rows]], tel_ids[tel[rows]])
        cameras[name] = camera_group(subarray.geometries()[name], subarray.readouts(name), keys, data_vars)
    return make_tree(root, subarray.to_dataset(), cameras)
