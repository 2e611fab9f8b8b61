"""A telescope: optics plus camera."""

from __future__ import annotations

from dataclasses import dataclass

from .camera import CameraDescription
from .optics import OpticsDescription

__all__ = ["TelescopeDescription"]


@dataclass(eq=False)
class TelescopeDescription:
    """Optics and camera of one telescope.

    Parameters
    ----------
    name : str
        Name of the telescope structure (the optics name).
    optics : OpticsDescription
    camera : CameraDescription
    """

    name: str
    optics: OpticsDescription
    camera: CameraDescription

    @property
    def type(self):
        """Type string ``"{size}_{optics}_{camera}"``, e.g. ``"LST_LST_LSTCam"``."""
        return f"{self.optics.size_type}_{self.name}_{self.camera.name}"

    def __str__(self):
        return self.type

    def __eq__(self, other):
        if not isinstance(other, TelescopeDescription):
            return NotImplemented
        return self.name == other.name and self.optics == other.optics and self.camera == other.camera

    __hash__ = None
