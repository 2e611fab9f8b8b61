"""Coordinate frames: round trips, known values (some computed with ctapipe 0.32), helpers == frames."""

import warnings

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import ICRS, AltAz, EarthLocation, SkyCoord
from astropy.time import Time

from iactx.coordinates import (
    CameraFrame,
    EastingNorthingFrame,
    EngineeringCameraFrame,
    GroundFrame,
    NominalFrame,
    PlanarRepresentation,
    TelescopeFrame,
    TiltedGroundFrame,
    project_to_ground,
)
from iactx.coordinates import projections as proj

LOCATION = EarthLocation(lon=-17.891 * u.deg, lat=28.762 * u.deg, height=2200 * u.m)


def altaz(alt, az, **kwargs):
    return SkyCoord(alt=np.asarray(alt) * u.deg, az=np.asarray(az) * u.deg, frame=AltAz(**kwargs))


def angle_diff(a, b):
    return np.abs(np.mod(np.asarray(a) - np.asarray(b) + 180.0, 360.0) - 180.0)


@pytest.fixture
def rng():
    return np.random.default_rng(42)


# ------------------------------------------------------------------ known values


def test_camera_to_telescope_known_values_from_ctapipe():
    """Numbers printed by ctapipe 0.32's frames for the same inputs."""
    pointing = altaz(70, 180)
    cam = SkyCoord(x=[0.5, -0.3] * u.m, y=[0.2, 0.7] * u.m,
                   frame=CameraFrame(focal_length=28 * u.m, telescope_pointing=pointing, rotation=10 * u.deg))
    tel = cam.transform_to(TelescopeFrame(telescope_pointing=pointing))
    np.testing.assert_allclose(tel.fov_lon.deg, [0.580704265217814, 1.304033471622041], rtol=0, atol=1e-12)
    np.testing.assert_allclose(tel.fov_lat.deg, [0.93652865712822, -0.853289776933055], rtol=0, atol=1e-12)
    sky = cam.transform_to(AltAz())
    np.testing.assert_allclose(sky.alt.deg, [70.92806511743746, 69.10757808487784], rtol=0, atol=1e-10)
    np.testing.assert_allclose(sky.az.deg, [181.7772027101428, 183.6584684371222], rtol=0, atol=1e-10)
    nominal = cam.transform_to(NominalFrame(origin=altaz(71, 175)))
    np.testing.assert_allclose(nominal.fov_lon.deg, [2.209873334107618, 3.078787716682871], rtol=0, atol=1e-10)
    np.testing.assert_allclose(nominal.fov_lat.deg, [0.051755034740775, -1.672138257113003], rtol=0, atol=1e-10)


def test_ground_to_tilted_known_values_from_ctapipe():
    ground = SkyCoord(x=[100.0] * u.m, y=[-50.0] * u.m, z=[20.0] * u.m, frame=GroundFrame())
    tilted = ground.transform_to(TiltedGroundFrame(pointing_direction=altaz(60, 30)))
    np.testing.assert_allclose(tilted.cartesian.xyz.to_value(u.m).ravel(),
                               [86.65063509461096, 6.698729810778055, 73.12177826491072], atol=1e-9)
    projected = project_to_ground(tilted)
    np.testing.assert_allclose([projected.x.to_value(u.m)[0], projected.y.to_value(u.m)[0]],
                               [90.0, -44.226497308103745], atol=1e-9)
    assert projected.z.to_value(u.m)[0] == 0


def test_simple_geometry():
    """Pointing centre, small offsets along each axis, the equidistant mapping."""
    pointing = altaz(60, 90)
    frame = CameraFrame(focal_length=10 * u.m, telescope_pointing=pointing)
    centre = SkyCoord(x=0 * u.m, y=0 * u.m, frame=frame).transform_to(AltAz())
    assert centre.alt.deg == pytest.approx(60, abs=1e-12) and centre.az.deg == pytest.approx(90, abs=1e-10)
    # x towards higher altitude: fov_lat = x / f rad
    tel = SkyCoord(x=0.1 * u.m, y=0 * u.m, frame=frame).transform_to(TelescopeFrame(telescope_pointing=pointing))
    assert tel.fov_lat.rad == pytest.approx(0.01, rel=1e-14) and tel.fov_lon.deg == pytest.approx(0, abs=1e-14)
    up = SkyCoord(fov_lon=0 * u.deg, fov_lat=1 * u.deg, frame=TelescopeFrame(telescope_pointing=pointing))
    assert up.transform_to(AltAz()).alt.deg == pytest.approx(61, abs=1e-12)
    # at the horizon fov_lon is azimuth
    side = SkyCoord(fov_lon=1 * u.deg, fov_lat=0 * u.deg, frame=TelescopeFrame(telescope_pointing=altaz(0, 90)))
    assert side.transform_to(AltAz()).az.deg == pytest.approx(91, abs=1e-12)
    # fov_lon is wrapped to [-180, 180)
    behind = SkyCoord(alt=0 * u.deg, az=350 * u.deg, frame=AltAz()).transform_to(
        TelescopeFrame(telescope_pointing=altaz(0, 10)))
    assert behind.fov_lon.deg == pytest.approx(-20, abs=1e-12)


def test_engineering_frame():
    cam = SkyCoord(x=[0.1, 0.2] * u.m, y=[0.3, -0.4] * u.m, frame=CameraFrame())
    one = cam.transform_to(EngineeringCameraFrame())
    np.testing.assert_allclose(one.x.to_value(u.m), [-0.3, 0.4])
    np.testing.assert_allclose(one.y.to_value(u.m), [-0.1, -0.2])
    two = cam.transform_to(EngineeringCameraFrame(n_mirrors=2))
    np.testing.assert_allclose(two.x.to_value(u.m), [0.3, -0.4])
    np.testing.assert_allclose(two.y.to_value(u.m), [-0.1, -0.2])
    back = two.transform_to(CameraFrame())
    np.testing.assert_allclose(back.x.to_value(u.m), [0.1, 0.2], atol=1e-15)
    np.testing.assert_allclose(back.y.to_value(u.m), [0.3, -0.4], atol=1e-15)
    with pytest.raises(ValueError, match="1 or 2"):
        EngineeringCameraFrame(n_mirrors=3)


def test_planar_representation():
    rep = PlanarRepresentation(1 * u.m, [1, 2, 3] * u.cm)
    assert rep.x.shape == (3,)
    assert rep.xy.shape == (2, 3)
    np.testing.assert_allclose(rep.to_cartesian().z.value, 0)
    with pytest.raises(u.UnitsError):
        PlanarRepresentation(1 * u.m, 1 * u.deg)
    with pytest.raises(TypeError):
        PlanarRepresentation(1.0, 2.0)


def test_missing_attributes_raise_clear_errors():
    cam = SkyCoord(x=0.1 * u.m, y=0 * u.m, frame=CameraFrame())
    with pytest.raises(ValueError, match="focal_length"):
        cam.transform_to(TelescopeFrame())
    tel = SkyCoord(fov_lon=1 * u.deg, fov_lat=0 * u.deg, frame=TelescopeFrame())
    with pytest.raises(ValueError, match="telescope_pointing"):
        tel.transform_to(AltAz())


# ------------------------------------------------------------------ round trips


def test_round_trip_camera_telescope_nominal_altaz(rng):
    n = 1000
    x, y = rng.uniform(-1.2, 1.2, n), rng.uniform(-1.2, 1.2, n)
    f = rng.uniform(2, 30, n)
    p_alt, p_az = rng.uniform(10, 89.5, n), rng.uniform(0, 360, n)
    o_alt, o_az = np.clip(p_alt + rng.normal(0, 2, n), 0, 90), np.mod(p_az + rng.normal(0, 2, n), 360)
    for rotation in (0.0, 23.4):
        pointing = altaz(p_alt, p_az)
        cam_frame = CameraFrame(focal_length=f * u.m, telescope_pointing=pointing, rotation=rotation * u.deg)
        cam = SkyCoord(x=x * u.m, y=y * u.m, frame=cam_frame)
        sky = cam.transform_to(TelescopeFrame(telescope_pointing=pointing)).transform_to(
            NominalFrame(origin=altaz(o_alt, o_az))).transform_to(AltAz())
        back = sky.transform_to(NominalFrame(origin=altaz(o_alt, o_az))).transform_to(
            TelescopeFrame(telescope_pointing=pointing)).transform_to(cam_frame)
        np.testing.assert_allclose(back.x.to_value(u.m), x, atol=1e-12)
        np.testing.assert_allclose(back.y.to_value(u.m), y, atol=1e-12)


def test_telescope_to_telescope_goes_through_the_sky():
    a, b = altaz(70, 0), altaz(70.5, 1)
    c = SkyCoord(fov_lon=0.3 * u.deg, fov_lat=-0.2 * u.deg, frame=TelescopeFrame(telescope_pointing=a))
    via = c.transform_to(TelescopeFrame(telescope_pointing=b))
    direct = c.transform_to(AltAz()).transform_to(TelescopeFrame(telescope_pointing=b))
    assert via.fov_lon.deg == pytest.approx(direct.fov_lon.deg, abs=1e-12)
    assert via.fov_lat.deg == pytest.approx(direct.fov_lat.deg, abs=1e-12)
    n = SkyCoord(fov_lon=0.3 * u.deg, fov_lat=-0.2 * u.deg, frame=NominalFrame(origin=a))
    n2 = n.transform_to(NominalFrame(origin=b))
    assert n2.fov_lon.deg == pytest.approx(direct.fov_lon.deg, abs=1e-12)


def test_round_trip_ground_tilted_and_earth(rng):
    n = 200
    xyz = rng.uniform(-1000, 1000, (3, n))
    direction = altaz(rng.uniform(20, 90, n), rng.uniform(0, 360, n))
    ground = SkyCoord(x=xyz[0] * u.m, y=xyz[1] * u.m, z=xyz[2] * u.m, frame=GroundFrame())
    tilted = ground.transform_to(TiltedGroundFrame(pointing_direction=direction))
    # a rotation: lengths are kept
    np.testing.assert_allclose(np.linalg.norm(tilted.cartesian.xyz.to_value(u.m), axis=0),
                               np.linalg.norm(xyz, axis=0), rtol=1e-13)
    back = tilted.transform_to(GroundFrame())
    np.testing.assert_allclose(back.cartesian.xyz.to_value(u.m), xyz, atol=1e-9)
    # the tilted z axis is the direction
    d = proj.altaz_to_cartesian(direction.alt.deg, direction.az.deg)
    np.testing.assert_allclose(tilted.cartesian.z.to_value(u.m), np.einsum("ij,ji->i", d, xyz), atol=1e-9)
    located = GroundFrame(x=xyz[0] * u.m, y=xyz[1] * u.m, z=xyz[2] * u.m, reference_location=LOCATION)
    earth = located.to_earth_location()
    again = GroundFrame.from_earth_location(earth, LOCATION)
    np.testing.assert_allclose(again.cartesian.xyz.to_value(u.m), xyz, atol=1e-6)
    # a point 1 km north is north; one 1 km west has a smaller longitude
    north = GroundFrame(x=1000 * u.m, y=0 * u.m, z=0 * u.m, reference_location=LOCATION).to_earth_location()
    west = GroundFrame(x=0 * u.m, y=1000 * u.m, z=0 * u.m, reference_location=LOCATION).to_earth_location()
    assert north.lat > LOCATION.lat and west.lon < LOCATION.lon
    en = SkyCoord(located).transform_to(EastingNorthingFrame())
    np.testing.assert_allclose(en.easting.to_value(u.m), -xyz[1])
    np.testing.assert_allclose(en.northing.to_value(u.m), xyz[0])
    np.testing.assert_allclose(en.transform_to(GroundFrame()).cartesian.xyz.to_value(u.m), xyz, atol=1e-9)


def test_project_to_ground_moves_along_the_direction(rng):
    direction = altaz(55, 120)
    p = rng.uniform(-100, 100, (3, 20))
    tilted = SkyCoord(x=p[0] * u.m, y=p[1] * u.m, z=p[2] * u.m, frame=TiltedGroundFrame(pointing_direction=direction))
    ground = tilted.transform_to(GroundFrame()).cartesian.xyz.to_value(u.m)
    projected = project_to_ground(tilted)
    shift = np.stack([projected.x.to_value(u.m), projected.y.to_value(u.m), np.zeros(20)]) - ground
    d = proj.altaz_to_cartesian(55, 120)
    # the shift is parallel to the direction
    np.testing.assert_allclose(np.cross(shift.T, d), 0, atol=1e-9)


def test_icrs_round_trip():
    t = Time("2023-03-21T23:30:00")
    pointing = altaz(65, 200, obstime=t, location=LOCATION)
    frame = CameraFrame(focal_length=28 * u.m, telescope_pointing=pointing, obstime=t, location=LOCATION)
    cam = SkyCoord(x=[0.0, 0.4] * u.m, y=[0.0, -0.2] * u.m, frame=frame)
    icrs = cam.transform_to(ICRS())
    # the camera centre is the pointing
    centre = pointing.transform_to(ICRS())
    assert icrs[0].separation(centre).deg < 1e-9
    back = icrs.transform_to(frame)
    np.testing.assert_allclose(back.x.to_value(u.m), [0.0, 0.4], atol=1e-10)
    np.testing.assert_allclose(back.y.to_value(u.m), [0.0, -0.2], atol=1e-10)


# ------------------------------------------------------------------ helpers == frames


def test_projections_equal_frames(rng):
    n = 2000
    x, y, f = rng.uniform(-1.5, 1.5, n), rng.uniform(-1.5, 1.5, n), rng.uniform(2, 30, n)
    p_alt, p_az = rng.uniform(10, 89.9, n), rng.uniform(0, 360, n)
    o_alt, o_az = np.clip(p_alt + rng.normal(0, 3, n), 0, 90), np.mod(p_az + rng.normal(0, 3, n), 360)
    rotation = -33.0
    pointing = altaz(p_alt, p_az)
    cam = SkyCoord(x=x * u.m, y=y * u.m, frame=CameraFrame(focal_length=f * u.m, telescope_pointing=pointing,
                                                           rotation=rotation * u.deg))
    tel = cam.transform_to(TelescopeFrame(telescope_pointing=pointing))
    lon, lat = proj.camera_to_telescope(x, y, f, rotation)
    np.testing.assert_allclose(lon, tel.fov_lon.deg, rtol=0, atol=1e-12)
    np.testing.assert_allclose(lat, tel.fov_lat.deg, rtol=0, atol=1e-12)
    sky = tel.transform_to(AltAz())
    alt, az = proj.telescope_to_altaz(lon, lat, p_alt, p_az)
    np.testing.assert_allclose(alt, sky.alt.deg, rtol=0, atol=1e-10)
    assert angle_diff(az, sky.az.deg).max() < 1e-9
    assert np.all((az >= 0) & (az < 360))
    nom = sky.transform_to(NominalFrame(origin=altaz(o_alt, o_az)))
    nlon, nlat = proj.camera_to_nominal(x, y, f, p_alt, p_az, o_alt, o_az, rotation)
    np.testing.assert_allclose(nlon, nom.fov_lon.deg, rtol=0, atol=1e-10)
    np.testing.assert_allclose(nlat, nom.fov_lat.deg, rtol=0, atol=1e-10)
    np.testing.assert_allclose(proj.altaz_to_nominal(alt, az, o_alt, o_az), [nlon, nlat], atol=1e-10)
    back = proj.nominal_to_telescope(nlon, nlat, o_alt, o_az, p_alt, p_az)
    np.testing.assert_allclose(back, [lon, lat], atol=1e-10)
    np.testing.assert_allclose(proj.telescope_to_camera(*back, f, rotation), [x, y], atol=1e-12)
    np.testing.assert_allclose(proj.nominal_to_altaz(nlon, nlat, o_alt, o_az)[0], alt, atol=1e-10)


def test_pixel_array_batches_broadcast(rng):
    """Whole pixel arrays of several telescope events at once: (n_events, 1) against (n_pixels,)."""
    pix_x, pix_y = rng.uniform(-1, 1, 1855), rng.uniform(-1, 1, 1855)
    f = np.array([28.0, 16.0, 5.6])
    lon, lat = proj.camera_to_telescope(pix_x, pix_y, f[:, np.newaxis])
    assert lon.shape == (3, 1855)
    for i, fi in enumerate(f):
        tel = SkyCoord(x=pix_x * u.m, y=pix_y * u.m, frame=CameraFrame(focal_length=fi * u.m)).transform_to(
            TelescopeFrame())
        np.testing.assert_allclose(lon[i], tel.fov_lon.deg, atol=1e-12)
        np.testing.assert_allclose(lat[i], tel.fov_lat.deg, atol=1e-12)


def test_ground_helpers_equal_frames(rng):
    xyz = rng.uniform(-500, 500, (3, 100))
    alt, az = rng.uniform(20, 90, 100), rng.uniform(0, 360, 100)
    frame = TiltedGroundFrame(pointing_direction=altaz(alt, az))
    tilted = SkyCoord(x=xyz[0] * u.m, y=xyz[1] * u.m, z=xyz[2] * u.m, frame=GroundFrame()).transform_to(frame)
    np.testing.assert_allclose(proj.ground_to_tilted(*xyz, alt, az), tilted.cartesian.xyz.to_value(u.m), atol=1e-10)
    projected = project_to_ground(tilted)
    np.testing.assert_allclose(proj.project_to_ground(*proj.ground_to_tilted(*xyz, alt, az), alt, az),
                               [projected.x.to_value(u.m), projected.y.to_value(u.m)], atol=1e-9)


def test_cartesian_directions():
    np.testing.assert_allclose(proj.altaz_to_cartesian(0, 0), [1, 0, 0], atol=1e-16)   # north
    np.testing.assert_allclose(proj.altaz_to_cartesian(0, 90), [0, -1, 0], atol=1e-16)  # east is -y
    np.testing.assert_allclose(proj.altaz_to_cartesian(90, 0), [0, 0, 1], atol=1e-16)
    alt, az = proj.cartesian_to_altaz(proj.altaz_to_cartesian([10, 45, 80], [350, 0, 123], 5.0))
    np.testing.assert_allclose(alt, [10, 45, 80], atol=1e-12)
    np.testing.assert_allclose(az, [350, 0, 123], atol=1e-12)


def test_angular_separation_matches_astropy(rng):
    a = altaz(rng.uniform(-10, 90, 300), rng.uniform(0, 360, 300))
    b = altaz(rng.uniform(-10, 90, 300), rng.uniform(0, 360, 300))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = a.separation(b).deg
    got = proj.angular_separation(a.alt.deg, a.az.deg, b.alt.deg, b.az.deg)
    np.testing.assert_allclose(got, expected, atol=1e-10)
    assert proj.angular_separation(70, 10, 70, 10) == 0
    assert proj.angular_separation(0, 0, 0, 180) == pytest.approx(180)


def test_transforms_are_registered_with_astropy():
    from astropy.coordinates import frame_transform_graph

    assert frame_transform_graph.get_transform(CameraFrame, TelescopeFrame) is not None
    assert frame_transform_graph.get_transform(GroundFrame, TiltedGroundFrame) is not None
