"""Coordinate frames of an IACT array (astropy) and their vectorised counterparts.

- :mod:`iactx.coordinates.frames`: astropy frames with ctapipe's names
  (:class:`CameraFrame`, :class:`TelescopeFrame`, :class:`NominalFrame`,
  :class:`GroundFrame`, :class:`TiltedGroundFrame`, ...), usable with
  ``SkyCoord`` and ``transform_to`` like any astropy frame.
- :mod:`iactx.coordinates.projections`: the same transformations on plain
  numpy arrays (degrees and metres) for whole pixel arrays and batches of
  events; no astropy objects.
"""

from . import projections
from .frames import (
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

__all__ = [
    "CameraFrame",
    "EngineeringCameraFrame",
    "TelescopeFrame",
    "NominalFrame",
    "GroundFrame",
    "TiltedGroundFrame",
    "EastingNorthingFrame",
    "PlanarRepresentation",
    "project_to_ground",
    "projections",
]
