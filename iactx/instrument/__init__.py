"""Instrument model: cameras, optics, telescopes and the subarray."""

from .camera import PIXEL_SHAPES, CameraDescription, CameraGeometry, CameraReadout
from .guess import TelescopeGuess, guess_telescope, unknown_telescope
from .optics import OpticsDescription, size_type_from_mirror_area
from .subarray import SubarrayDescription
from .telescope import TelescopeDescription

__all__ = [
    "PIXEL_SHAPES",
    "CameraDescription",
    "CameraGeometry",
    "CameraReadout",
    "OpticsDescription",
    "SubarrayDescription",
    "TelescopeDescription",
    "TelescopeGuess",
    "guess_telescope",
    "size_type_from_mirror_area",
    "unknown_telescope",
]
