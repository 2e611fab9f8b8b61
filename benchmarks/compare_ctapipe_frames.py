"""Agreement of iactx's coordinate frames with ctapipe's on the same inputs.

Draws random camera positions, focal lengths, pointings, nominal origins,
sky directions and ground points, transforms them with ctapipe's frames in
the separate ctapipe environment (``ctapipe_frames_dump.py``) and with
iactx's astropy frames and vectorised helpers here, and prints the largest
difference of each quantity. Exit status 1 if an angle differs by more than
1e-6 deg or a length by more than 1e-6 m (positions of up to a few km) or
1e-9 m (camera positions).

usage:
    python benchmarks/compare_ctapipe_frames.py [--ctapipe-python PATH] [--n N] [--seed S]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import ICRS, AltAz, EarthLocation, SkyCoord
from astropy.time import Time

from iactx.coordinates import (
    CameraFrame,
    EngineeringCameraFrame,
    GroundFrame,
    NominalFrame,
    TelescopeFrame,
    TiltedGroundFrame,
    project_to_ground,
)
from iactx.coordinates import projections as proj

HERE = Path(__file__).resolve().parent
DEFAULT_CTAPIPE_PYTHON = os.environ.get("CTAPIPE_PYTHON", str(HERE.parent.parent / "ctapipe-venv" / "bin" / "python"))


def make_inputs(n, seed):
    rng = np.random.default_rng(seed)
    pointing_alt = rng.uniform(20, 89.5, n)
    pointing_az = rng.uniform(0, 360, n)
    return {
        "cam_x": rng.uniform(-1.2, 1.2, n),
        "cam_y": rng.uniform(-1.2, 1.2, n),
        "focal_length": rng.uniform(2.0, 30.0, n),
        "pointing_alt": pointing_alt,
        "pointing_az": pointing_az,
        # nominal origin within a few degrees of the pointing (divergent pointing)
        "origin_alt": np.clip(pointing_alt + rng.normal(0, 2, n), 0, 90),
        "origin_az": np.mod(pointing_az + rng.normal(0, 3, n), 360),
        "alt": np.clip(pointing_alt + rng.normal(0, 2, n), -10, 90),
        "az": np.mod(pointing_az + rng.normal(0, 3, n), 360),
        "ground_x": rng.uniform(-2000, 2000, n),
        "ground_y": rng.uniform(-2000, 2000, n),
        "ground_z": rng.uniform(-50, 150, n),
        "tilt_alt": rng.uniform(20, 90, n),
        "tilt_az": rng.uniform(0, 360, n),
        "rotations": np.array([0.0, 10.893, -100.0]),
        "obstime": np.array("2023-03-21T23:30:00"),
        "location": np.array([-17.891, 28.762, 2200.0]),
    }


def iactx_frames(d):
    """Everything the dump computes, with iactx's astropy frames."""
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
    res["tilted_x"], res["tilted_y"], res["tilted_z"] = tilted.cartesian.xyz.to_value(u.m)
    back = tilted.transform_to(GroundFrame())
    res["ground_back_x"], res["ground_back_y"], res["ground_back_z"] = back.cartesian.xyz.to_value(u.m)
    projected = project_to_ground(tilted)
    res["projected_x"], res["projected_y"] = projected.x.to_value(u.m), projected.y.to_value(u.m)
    lon, lat, height = d["location"]
    location = EarthLocation(lon=lon * u.deg, lat=lat * u.deg, height=height * u.m)
    obstime = Time(str(d["obstime"]))
    pointing_t = SkyCoord(alt=d["pointing_alt"] * u.deg, az=d["pointing_az"] * u.deg,
                          frame=AltAz(obstime=obstime, location=location))
    cam_t = SkyCoord(x=d["cam_x"] * u.m, y=d["cam_y"] * u.m, frame=CameraFrame(
        focal_length=focal, telescope_pointing=pointing_t, obstime=obstime, location=location))
    icrs = cam_t.transform_to(ICRS())
    res["icrs_ra"], res["icrs_dec"] = icrs.ra.deg, icrs.dec.deg
    cam_back = icrs.transform_to(cam_t.frame)
    res["icrs_back_x"], res["icrs_back_y"] = cam_back.x.to_value(u.m), cam_back.y.to_value(u.m)
    earth = GroundFrame(x=d["ground_x"] * u.m, y=d["ground_y"] * u.m, z=d["ground_z"] * u.m,
                        reference_location=location).to_earth_location()
    res["earth_lon"], res["earth_lat"], res["earth_height"] = earth.lon.deg, earth.lat.deg, earth.height.to_value(u.m)
    return res


def iactx_projections(d):
    """The same chain with the vectorised helpers (no astropy objects)."""
    res = {}
    for k, rotation in enumerate(d["rotations"]):
        lon, lat = proj.camera_to_telescope(d["cam_x"], d["cam_y"], d["focal_length"], rotation)
        nlon, nlat = proj.telescope_to_nominal(lon, lat, d["pointing_alt"], d["pointing_az"],
                                               d["origin_alt"], d["origin_az"])
        alt, az = proj.nominal_to_altaz(nlon, nlat, d["origin_alt"], d["origin_az"])
        res[f"r{k}_tel_lon"], res[f"r{k}_tel_lat"] = lon, lat
        res[f"r{k}_nom_lon"], res[f"r{k}_nom_lat"] = nlon, nlat
        res[f"r{k}_alt"], res[f"r{k}_az"] = alt, az
        blon, blat = proj.altaz_to_nominal(d["alt"], d["az"], d["origin_alt"], d["origin_az"])
        tlon, tlat = proj.nominal_to_telescope(blon, blat, d["origin_alt"], d["origin_az"],
                                               d["pointing_alt"], d["pointing_az"])
        res[f"r{k}_back_nom_lon"], res[f"r{k}_back_nom_lat"] = blon, blat
        res[f"r{k}_back_tel_lon"], res[f"r{k}_back_tel_lat"] = tlon, tlat
        res[f"r{k}_back_x"], res[f"r{k}_back_y"] = proj.telescope_to_camera(tlon, tlat, d["focal_length"], rotation)
    for n_mirrors in (1, 2):
        res[f"eng{n_mirrors}_x"], res[f"eng{n_mirrors}_y"] = proj.camera_to_engineering(d["cam_x"], d["cam_y"],
                                                                                        n_mirrors)
    args = d["tilt_alt"], d["tilt_az"]
    tx, ty, tz = proj.ground_to_tilted(d["ground_x"], d["ground_y"], d["ground_z"], *args)
    res["tilted_x"], res["tilted_y"], res["tilted_z"] = tx, ty, tz
    res["ground_back_x"], res["ground_back_y"], res["ground_back_z"] = proj.tilted_to_ground(tx, ty, tz, *args)
    res["projected_x"], res["projected_y"] = proj.project_to_ground(tx, ty, tz, *args)
    return res


def run_ctapipe(python, inputs):
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(inp, **inputs)
        subprocess.run([python, str(HERE / "ctapipe_frames_dump.py"), str(inp), str(out)], check=True)
        return dict(np.load(out))


def _kind(key):
    if key.endswith(("_lon", "_lat", "_alt", "_az", "_ra", "_dec")):
        return "deg"
    if key.startswith(("r", "eng", "icrs_back")) and key.endswith(("_x", "_y")):
        return "m (camera)"
    return "m (ground)"


TOLERANCE = {"deg": 1e-6, "m (camera)": 1e-9, "m (ground)": 1e-6}


def angle_difference(a, b):
    return np.abs(np.mod(a - b + 180.0, 360.0) - 180.0)


def compare(reference, results, label):
    worst = {}
    failed = []
    for key, ref in reference.items():
        if key not in results:
            continue
        kind = _kind(key)
        value = np.asarray(results[key])
        diff = angle_difference(value, ref) if kind == "deg" else np.abs(value - ref)
        m = float(np.nanmax(diff))
        worst[key] = (kind, m)
        if not m <= TOLERANCE[kind]:
            failed.append(key)
    print(f"\n{label}: largest difference to ctapipe")
    for key, (kind, m) in worst.items():
        print(f"  {key:22s} {m:10.3e} {kind}")
    return failed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ctapipe-python", default=DEFAULT_CTAPIPE_PYTHON)
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    inputs = make_inputs(args.n, args.seed)
    reference = run_ctapipe(args.ctapipe_python, inputs)
    failed = compare(reference, iactx_frames(inputs), "iactx astropy frames")
    failed += compare(reference, iactx_projections(inputs), "iactx vectorised projections")
    print(f"\n{args.n} points, camera rotations {list(inputs['rotations'])} deg; tolerance "
          f"{TOLERANCE['deg']:g} deg, {TOLERANCE['m (ground)']:g} m (ground), {TOLERANCE['m (camera)']:g} m (camera)")
    if failed:
        print("OUTSIDE TOLERANCE:", ", ".join(sorted(set(failed))))
        return 1
    print("all within tolerance")
    return 0


if __name__ == "__main__":
    sys.exit(main())
