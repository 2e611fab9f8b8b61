"""Transform the inputs of ``compare_ctapipe_frames.py`` with ctapipe's frames; write a .npz.

Runs in the separate ctapipe environment (never in iactx's): only ctapipe's
public frames and astropy are used.

usage:
    python ctapipe_frames_dump.py IN.npz OUT.npz

IN.npz holds, for N points: camera positions ``cam_x``, ``cam_y`` [m],
``focal_length`` [m], telescope pointing ``pointing_alt/az`` [deg], nominal
origin ``origin_alt/az`` [deg], sky directions ``alt``, ``az`` [deg], ground
points ``ground_x/y/z`` [m] with tilted-frame directions ``tilt_alt/az``,
the scalar camera rotations to try ``rotations`` [deg], an observation time
``obstime`` (ISO string) and a location ``location`` (lon [deg], lat [deg],
height [m]).
"""

import sys
import warnings

import numpy as np


def main(inp, out):
    import astropy.units as u
    from astropy.coordinates import ICRS, AltAz, EarthLocation, SkyCoord
    from astropy.time import Time

    from ctapipe.coordinates import (
        CameraFrame,
        EngineeringCameraFrame,
        GroundFrame,
        MissingFrameAttributeWarning,
        NominalFrame,
        TelescopeFrame,
        TiltedGroundFrame,
        project_to_ground,
    )

    warnings.simplefilter("ignore", MissingFrameAttributeWarning)
    d = dict(np.load(inp))
    res = {}
    pointing = SkyCoord(alt=d["pointing_alt"] * u.deg, az=d["pointing_az"] * u.deg, frame=AltAz())
    origin = SkyCoord(alt=d["origin_alt"] * u.deg, az=d["origin_az"] * u.deg, frame=AltAz())
    tel_frame = TelescopeFrame(telescope_pointing=pointing)
    nom_frame = NominalFrame(origin=origin)
    focal = d["focal_length"] * u.m
    for k, rotation in enumerate(d["rotations"]):
        cam_frame = CameraFrame(focal_length=focal, telescope_pointing=pointing, rotation=rotation * u.deg)
        cam = SkyCoord(x=d["cam_x"] * u.m, y=d["cam_y"] * u.m, frame=cam_frame)
        tel = cam.transform_to(tel_frame)
        nom = tel.transform_to(nom_frame)
        altaz = nom.transform_to(AltAz())
        res[f"r{k}_tel_lon"], res[f"r{k}_tel_lat"] = tel.fov_lon.deg, tel.fov_lat.deg
        res[f"r{k}_nom_lon"], res[f"r{k}_nom_lat"] = nom.fov_lon.deg, nom.fov_lat.deg
        res[f"r{k}_alt"], res[f"r{k}_az"] = altaz.alt.deg, altaz.az.deg
        # and back: AltAz -> nominal -> telescope -> camera, from independent sky directions
        sky = SkyCoord(alt=d["alt"] * u.deg, az=d["az"] * u.deg, frame=AltAz())
        nom_b = sky.transform_to(nom_frame)
        tel_b = nom_b.transform_to(tel_frame)
        cam_b = tel_b.transform_to(cam_frame)
        res[f"r{k}_back_nom_lon"], res[f"r{k}_back_nom_lat"] = nom_b.fov_lon.deg, nom_b.fov_lat.deg
        res[f"r{k}_back_tel_lon"], res[f"r{k}_back_tel_lat"] = tel_b.fov_lon.deg, tel_b.fov_lat.deg
        res[f"r{k}_back_x"], res[f"r{k}_back_y"] = cam_b.x.to_value(u.m), cam_b.y.to_value(u.m)

    cam = SkyCoord(x=d["cam_x"] * u.m, y=d["cam_y"] * u.m, frame=CameraFrame(focal_length=focal))
    for n_mirrors in (1, 2):
        eng = cam.transform_to(EngineeringCameraFrame(n_mirrors=n_mirrors))
        res[f"eng{n_mirrors}_x"], res[f"eng{n_mirrors}_y"] = eng.x.to_value(u.m), eng.y.to_value(u.m)

    tilt_dir = SkyCoord(alt=d["tilt_alt"] * u.deg, az=d["tilt_az"] * u.deg, frame=AltAz())
    ground = SkyCoord(x=d["ground_x"] * u.m, y=d["ground_y"] * u.m, z=d["ground_z"] * u.m, frame=GroundFrame())
    tilted = ground.transform_to(TiltedGroundFrame(pointing_direction=tilt_dir))
    res["tilted_x"], res["tilted_y"], res["tilted_z"] = (tilted.cartesian.xyz.to_value(u.m))
    back = tilted.transform_to(GroundFrame())
    res["ground_back_x"], res["ground_back_y"], res["ground_back_z"] = back.cartesian.xyz.to_value(u.m)
    proj = project_to_ground(tilted)
    res["projected_x"], res["projected_y"] = proj.x.to_value(u.m), proj.y.to_value(u.m)

    # celestial: camera -> ICRS and back with an observation time and a location
    lon, lat, height = d["location"]
    location = EarthLocation(lon=lon * u.deg, lat=lat * u.deg, height=height * u.m)
    obstime = Time(str(d["obstime"]))
    altaz_frame = AltAz(obstime=obstime, location=location)
    pointing_t = SkyCoord(alt=d["pointing_alt"] * u.deg, az=d["pointing_az"] * u.deg, frame=altaz_frame)
    cam_t = SkyCoord(x=d["cam_x"] * u.m, y=d["cam_y"] * u.m, frame=CameraFrame(
        focal_length=focal, telescope_pointing=pointing_t, obstime=obstime, location=location))
    icrs = cam_t.transform_to(ICRS())
    res["icrs_ra"], res["icrs_dec"] = icrs.ra.deg, icrs.dec.deg
    cam_back = icrs.transform_to(cam_t.frame)
    res["icrs_back_x"], res["icrs_back_y"] = cam_back.x.to_value(u.m), cam_back.y.to_value(u.m)

    ground_loc = GroundFrame(x=d["ground_x"] * u.m, y=d["ground_y"] * u.m, z=d["ground_z"] * u.m,
                             reference_location=location)
    earth = ground_loc.to_earth_location()
    res["earth_lon"], res["earth_lat"], res["earth_height"] = (
        earth.lon.deg, earth.lat.deg, earth.height.to_value(u.m))
    np.savez(out, **{k: np.asarray(v, dtype=np.float64) for k, v in res.items()})


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
