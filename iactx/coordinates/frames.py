"""Astropy coordinate frames of an IACT array, with ctapipe's names and conventions.

========================  =========================================================
frame                     coordinates
========================  =========================================================
:class:`CameraFrame`      ``x``, ``y`` [length] in the focal plane (H.E.S.S. / sim_telarray
                          convention: parked at the horizon pointing north, ``x``
                          points north and ``y`` west)
:class:`EngineeringCameraFrame`
                          ``x``, ``y`` as MAGIC/FACT: looking at the camera from the
                          dish, ``x`` right and ``y`` up
:class:`TelescopeFrame`   ``fov_lon``, ``fov_lat``: offsets from the telescope pointing
:class:`NominalFrame`     ``fov_lon``, ``fov_lat``: offsets from an arbitrary ``origin``
                          (common frame of an array in divergent pointing)
:class:`GroundFrame`      ``x`` north, ``y`` west, ``z`` up [m] around the array
                          reference location
:class:`TiltedGroundFrame`
                          the plane perpendicular to ``pointing_direction``
:class:`EastingNorthingFrame`
                          ``easting``, ``northing``, ``height`` [m]
========================  =========================================================

Transformations: camera <-> telescope (focal length, camera rotation),
camera <-> engineering camera, telescope / nominal <-> ``AltAz`` (and from
there to every astropy frame, e.g. ``ICRS`` when ``obstime`` and
``location`` are set), ground <-> tilted ground, ground <-> easting /
northing. The numbers come from :mod:`iactx.coordinates.projections`, the
vectorised helpers used on the hot paths, so both always agree.

Unlike ctapipe, importing this module does not replace astropy's own
``AltAz`` -> ``AltAz`` transformation.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.coordinates import (
    ITRS,
    AffineTransform,
    AltAz,
    Angle,
    Attribute,
    BaseCoordinateFrame,
    BaseRepresentation,
    CartesianRepresentation,
    CoordinateAttribute,
    DynamicMatrixTransform,
    EarthLocationAttribute,
    FunctionTransform,
    QuantityAttribute,
    RepresentationMapping,
    TimeAttribute,
    UnitSphericalRepresentation,
    frame_transform_graph,
)

from . import projections as proj

__all__ = [
    "PlanarRepresentation",
    "CameraFrame",
    "EngineeringCameraFrame",
    "TelescopeFrame",
    "NominalFrame",
    "GroundFrame",
    "TiltedGroundFrame",
    "EastingNorthingFrame",
    "project_to_ground",
]

_WRAP_180 = Angle(180, unit=u.deg)


class PlanarRepresentation(BaseRepresentation):
    """Points in a plane: ``x`` and ``y`` with the same physical type.

    Parameters
    ----------
    x, y : astropy.units.Quantity
        Coordinates; broadcast against each other.
    """

    attr_classes = {"x": u.Quantity, "y": u.Quantity}

    def __init__(self, x, y=None, differentials=None, copy=True):
        if y is None and isinstance(x, PlanarRepresentation):
            x, y = x.x, x.y
        if not (isinstance(x, u.Quantity) and isinstance(y, u.Quantity)):
            raise TypeError("x and y must be astropy Quantities")
        if x.unit.physical_type != y.unit.physical_type:
            raise u.UnitsError(f"x ({x.unit}) and y ({y.unit}) must have the same physical type")
        super().__init__(x, y, differentials=differentials, copy=copy)

    @property
    def xy(self):
        """``[x, y]`` as one Quantity of shape (2, ...)."""
        return u.Quantity([self.x, self.y])

    @classmethod
    def from_cartesian(cls, cartesian):
        return cls(cartesian.x, cartesian.y)

    def to_cartesian(self):
        return CartesianRepresentation(self.x, self.y, np.zeros(self.x.shape) * self.x.unit)

    def norm(self):
        return np.hypot(self.x, self.y)


class CameraFrame(BaseCoordinateFrame):
    """Positions in the focal plane of a telescope.

    H.E.S.S. / sim_telarray convention: with the telescope at the horizon
    pointing north, ``x`` points north (up) and ``y`` west. To go from the
    MAGIC/FACT convention use :class:`EngineeringCameraFrame`.

    Attributes
    ----------
    focal_length : astropy.units.Quantity
        Focal length [m], scalar or one per coordinate; needed to go to the
        telescope frame.
    rotation : astropy.units.Quantity
        Rotation of the camera (0 for derotated cameras).
    telescope_pointing : astropy.coordinates.AltAz
        Pointing of the telescope, needed to go on to the sky.
    obstime : astropy.time.Time
    location : astropy.coordinates.EarthLocation
    """

    default_representation = PlanarRepresentation

    focal_length = QuantityAttribute(default=0, unit=u.m)
    rotation = QuantityAttribute(default=0 * u.deg, unit=u.rad)
    telescope_pointing = CoordinateAttribute(frame=AltAz, default=None)
    obstime = TimeAttribute(default=None)
    location = EarthLocationAttribute(default=None)


class _MirrorAttribute(Attribute):
    """Number of mirrors of the optics, 1 or 2."""

    def convert_input(self, value):
        if value in (1, 2):
            return value, False
        raise ValueError(f"n_mirrors must be 1 or 2, got {value!r}")


class EngineeringCameraFrame(CameraFrame):
    """The camera frame as MAGIC and FACT define it.

    Standing at the dish and looking at the camera, ``x`` points right and
    ``y`` up: ``(x, y) = (-y_cam, -x_cam)`` for single-mirror telescopes,
    ``(y_cam, -x_cam)`` for dual-mirror ones (``n_mirrors=2``).
    """

    n_mirrors = _MirrorAttribute(default=1)


class _FieldOfViewFrame(BaseCoordinateFrame):
    """Spherical field-of-view offsets ``fov_lon``, ``fov_lat``, with ``fov_lon`` in [-180, 180) deg."""

    frame_specific_representation_info = {
        UnitSphericalRepresentation: [
            RepresentationMapping("lon", "fov_lon"),
            RepresentationMapping("lat", "fov_lat"),
        ]
    }
    default_representation = UnitSphericalRepresentation

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if isinstance(self._data, UnitSphericalRepresentation):
            self._data.lon.wrap_angle = _WRAP_180


class TelescopeFrame(_FieldOfViewFrame):
    """Spherical offsets from the pointing direction of one telescope.

    ``fov_lon`` is aligned with azimuth and ``fov_lat`` with altitude at the
    pointing position; ``fov_lon`` is wrapped to [-180, 180) deg. This is an
    astropy sky-offset frame of ``AltAz``.

    Attributes
    ----------
    telescope_pointing : astropy.coordinates.AltAz
        Pointing of the telescope.
    obstime : astropy.time.Time
        Observation time, passed on to ``AltAz`` (needed to reach celestial frames).
    location : astropy.coordinates.EarthLocation
        Location, passed on to ``AltAz``.
    """

    telescope_pointing = CoordinateAttribute(frame=AltAz, default=None)
    obstime = TimeAttribute(default=None)
    location = EarthLocationAttribute(default=None)


class NominalFrame(_FieldOfViewFrame):
    """Spherical offsets from an arbitrary ``origin`` in ``AltAz``.

    The common field-of-view frame of several telescopes, e.g. around the
    array pointing when telescopes point in divergent directions.
    ``fov_lon`` is wrapped to [-180, 180) deg.

    Attributes
    ----------
    origin : astropy.coordinates.AltAz
        Origin of the frame.
    obstime : astropy.time.Time
    location : astropy.coordinates.EarthLocation
    """

    origin = CoordinateAttribute(frame=AltAz, default=None)
    obstime = TimeAttribute(default=None)
    location = EarthLocationAttribute(default=None)


def _altaz_deg(coord, what):
    if coord is None:
        raise ValueError(f"the frame has no {what}; set it to transform to or from AltAz")
    return coord.alt.to_value(u.deg), coord.az.to_value(u.deg)


def _lon_lat_deg(coord):
    sph = coord.represent_as(UnitSphericalRepresentation)
    return sph.lon.to_value(u.deg), sph.lat.to_value(u.deg)


def _unit_spherical(lon_deg, lat_deg):
    return UnitSphericalRepresentation(lon=u.Quantity(np.asarray(lon_deg), u.deg, copy=False),
                                       lat=u.Quantity(np.asarray(lat_deg), u.deg, copy=False))


# --- camera <-> telescope -----------------------------------------------------------------

def _focal_length(frame):
    focal_length = frame.focal_length
    if focal_length.shape == () and focal_length.value == 0:
        raise ValueError("the CameraFrame has no focal_length; set it to transform to or from TelescopeFrame")
    return focal_length.to_value(u.m)


@frame_transform_graph.transform(FunctionTransform, CameraFrame, TelescopeFrame)
def _camera_to_telescope(camera_coord, telescope_frame):
    cart = camera_coord.cartesian
    x, y = cart.x.to_value(u.m), cart.y.to_value(u.m)
    lon, lat = proj.camera_to_telescope(x, y, _focal_length(camera_coord), camera_coord.rotation.to_value(u.deg))
    return telescope_frame.realize_frame(_unit_spherical(lon, lat))


@frame_transform_graph.transform(FunctionTransform, TelescopeFrame, CameraFrame)
def _telescope_to_camera(telescope_coord, camera_frame):
    x, y = proj.telescope_to_camera(telescope_coord.fov_lon.to_value(u.deg), telescope_coord.fov_lat.to_value(u.deg),
                                    _focal_length(camera_frame), camera_frame.rotation.to_value(u.deg))
    return camera_frame.realize_frame(CartesianRepresentation(x * u.m, y * u.m, np.zeros(np.shape(x)) * u.m))


# --- camera <-> engineering camera ----------------------------------------------------------

_NO_OFFSET = CartesianRepresentation(0, 0, 0, unit=u.m)


def _engineering_matrix(n_mirrors, inverse=False):
    m = np.eye(3)
    m[:2, :2] = proj._ENGINEERING_1M if n_mirrors == 1 else proj._ENGINEERING_2M
    return m.T if inverse else m


@frame_transform_graph.transform(AffineTransform, CameraFrame, EngineeringCameraFrame)
def _camera_to_engineering(camera_coord, engineering_frame):
    return _engineering_matrix(engineering_frame.n_mirrors), _NO_OFFSET


@frame_transform_graph.transform(AffineTransform, EngineeringCameraFrame, CameraFrame)
def _engineering_to_camera(engineering_coord, camera_frame):
    return _engineering_matrix(engineering_coord.n_mirrors, inverse=True), _NO_OFFSET


# --- telescope / nominal <-> AltAz ----------------------------------------------------------

@frame_transform_graph.transform(DynamicMatrixTransform, AltAz, TelescopeFrame)
def _altaz_to_telescope(altaz_coord, telescope_frame):
    alt, az = _altaz_deg(telescope_frame.telescope_pointing, "telescope_pointing")
    return proj.sky_offset_matrix(az, alt)


@frame_transform_graph.transform(DynamicMatrixTransform, TelescopeFrame, AltAz)
def _telescope_to_altaz(telescope_coord, altaz_frame):
    alt, az = _altaz_deg(telescope_coord.telescope_pointing, "telescope_pointing")
    return np.swapaxes(proj.sky_offset_matrix(az, alt), -1, -2)


@frame_transform_graph.transform(DynamicMatrixTransform, AltAz, NominalFrame)
def _altaz_to_nominal(altaz_coord, nominal_frame):
    alt, az = _altaz_deg(nominal_frame.origin, "origin")
    return proj.sky_offset_matrix(az, alt)


@frame_transform_graph.transform(DynamicMatrixTransform, NominalFrame, AltAz)
def _nominal_to_altaz(nominal_coord, altaz_frame):
    alt, az = _altaz_deg(nominal_coord.origin, "origin")
    return np.swapaxes(proj.sky_offset_matrix(az, alt), -1, -2)


@frame_transform_graph.transform(FunctionTransform, TelescopeFrame, TelescopeFrame)
def _telescope_to_telescope(from_coord, to_frame):
    """Between two pointings, through the pointing of each (so through ``AltAz``)."""
    altaz = from_coord.transform_to(from_coord.telescope_pointing)
    return altaz.transform_to(to_frame.telescope_pointing).transform_to(to_frame)


@frame_transform_graph.transform(FunctionTransform, NominalFrame, NominalFrame)
def _nominal_to_nominal(from_coord, to_frame):
    altaz = from_coord.transform_to(from_coord.origin)
    return altaz.transform_to(to_frame.origin).transform_to(to_frame)


# --- ground frames --------------------------------------------------------------------------

def _local_to_earth_location(north, east, up, reference_location):
    """EarthLocation of a local (north, east, up) offset from ``reference_location``."""
    local = AltAz(CartesianRepresentation(north, east, up), location=reference_location)
    itrs = local.transform_to(ITRS(location=reference_location))
    return ITRS(itrs.cartesian + reference_location.get_itrs().cartesian).earth_location


def _earth_location_to_local(location, reference_location):
    """Local (north, east, up) offset of ``location`` from ``reference_location``."""
    offset = location.get_itrs().cartesian - reference_location.get_itrs().cartesian
    local = ITRS(offset, location=reference_location).transform_to(AltAz(location=reference_location))
    return local.cartesian.x, local.cartesian.y, local.cartesian.z


class GroundFrame(BaseCoordinateFrame):
    """Positions on the ground around the array reference location.

    ``x`` points north, ``y`` west, ``z`` up, in metres above the reference
    location (the CORSIKA / sim_telarray convention). Telescope positions,
    shower cores and impact points live here.

    Attributes
    ----------
    reference_location : astropy.coordinates.EarthLocation
        Needed only to go to and from geodetic positions.
    """

    default_representation = CartesianRepresentation
    reference_location = EarthLocationAttribute(default=None)

    def to_earth_location(self):
        """The geodetic positions (:class:`~astropy.coordinates.EarthLocation`) of these points."""
        if self.reference_location is None:
            raise ValueError("GroundFrame.to_earth_location needs the frame's reference_location")
        cart = self.cartesian
        return _local_to_earth_location(cart.x, -cart.y, cart.z, self.reference_location)

    @classmethod
    def from_earth_location(cls, location, reference_location):
        """Ground-frame coordinates of geodetic positions, relative to ``reference_location``."""
        north, east, up = _earth_location_to_local(location, reference_location)
        return cls(x=north, y=-east, z=up, reference_location=reference_location)

    @property
    def observation_level(self):
        """Height of the reference location."""
        return self.reference_location.height


class EastingNorthingFrame(BaseCoordinateFrame):
    """Ground positions as ``easting``, ``northing``, ``height`` [m] (for maps and plots)."""

    default_representation = CartesianRepresentation
    frame_specific_representation_info = {
        CartesianRepresentation: [
            RepresentationMapping("x", "easting"),
            RepresentationMapping("y", "northing"),
            RepresentationMapping("z", "height"),
        ]
    }
    reference_location = EarthLocationAttribute(default=None)

    def to_earth_location(self):
        """The geodetic positions of these points."""
        if self.reference_location is None:
            raise ValueError("EastingNorthingFrame.to_earth_location needs the frame's reference_location")
        return _local_to_earth_location(self.northing, self.easting, self.height, self.reference_location)

    @classmethod
    def from_earth_location(cls, location, reference_location):
        """Easting / northing of geodetic positions relative to ``reference_location``."""
        north, east, up = _earth_location_to_local(location, reference_location)
        return cls(easting=east, northing=north, height=up, reference_location=reference_location)


class TiltedGroundFrame(BaseCoordinateFrame):
    """Cartesian frame whose ``z`` axis is ``pointing_direction`` (the plane perpendicular to it).

    Used to intersect image axes for the shower core: ``x`` lies in the
    vertical plane through the direction, ``y`` is horizontal (see
    :func:`iactx.coordinates.projections.tilted_matrix`).

    Attributes
    ----------
    pointing_direction : astropy.coordinates.AltAz
        Array pointing or reconstructed shower direction.
    """

    default_representation = CartesianRepresentation
    pointing_direction = CoordinateAttribute(frame=AltAz, default=None)


def _xyz_m(coord):
    cart = coord.cartesian
    return cart.x.to_value(u.m), cart.y.to_value(u.m), cart.z.to_value(u.m)


@frame_transform_graph.transform(FunctionTransform, GroundFrame, TiltedGroundFrame)
def _ground_to_tilted(ground_coord, tilted_frame):
    alt, az = _altaz_deg(tilted_frame.pointing_direction, "pointing_direction")
    x, y, z = proj.ground_to_tilted(*_xyz_m(ground_coord), alt, az)
    return tilted_frame.realize_frame(CartesianRepresentation(x * u.m, y * u.m, z * u.m))


@frame_transform_graph.transform(FunctionTransform, TiltedGroundFrame, GroundFrame)
def _tilted_to_ground(tilted_coord, ground_frame):
    alt, az = _altaz_deg(tilted_coord.pointing_direction, "pointing_direction")
    x, y, z = proj.tilted_to_ground(*_xyz_m(tilted_coord), alt, az)
    return ground_frame.realize_frame(CartesianRepresentation(x * u.m, y * u.m, z * u.m))


@frame_transform_graph.transform(FunctionTransform, GroundFrame, GroundFrame)
def _ground_to_ground(ground_coord, ground_frame):
    """Positions do not depend on the reference location attribute."""
    return ground_frame.realize_frame(ground_coord.data)


_GROUND_TO_EASTING_NORTHING = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


@frame_transform_graph.transform(AffineTransform, GroundFrame, EastingNorthingFrame)
def _ground_to_easting_northing(ground_coord, frame):
    return _GROUND_TO_EASTING_NORTHING, _NO_OFFSET


@frame_transform_graph.transform(AffineTransform, EastingNorthingFrame, GroundFrame)
def _easting_northing_to_ground(coord, ground_frame):
    return _GROUND_TO_EASTING_NORTHING.T, _NO_OFFSET


def project_to_ground(tilted_coord):
    """Project tilted-frame points onto the ground (``z = 0``) along the tilted frame's direction.

    Parameters
    ----------
    tilted_coord : TiltedGroundFrame or SkyCoord in it

    Returns
    -------
    GroundFrame
        Points with ``z = 0``.
    """
    frame = getattr(tilted_coord, "frame", tilted_coord)
    alt, az = _altaz_deg(frame.pointing_direction, "pointing_direction")
    x, y = proj.project_to_ground(*_xyz_m(frame), alt, az)
    return GroundFrame(x=x * u.m, y=y * u.m, z=np.zeros(np.shape(x)) * u.m)
