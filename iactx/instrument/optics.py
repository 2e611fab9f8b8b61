"""Optical structure of a telescope."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._units import to_value

__all__ = ["OpticsDescription", "size_type_from_mirror_area"]


def size_type_from_mirror_area(mirror_area):
    """Telescope size class from the mirror area [m2].

    Mirror diameters below 8 m are ``"SST"``, below 16 m ``"MST"``, larger
    ones ``"LST"``.
    """
    diameter = 2 * np.sqrt(float(to_value(mirror_area, "m2")) / np.pi)
    if diameter < 8:
        return "SST"
    if diameter < 16:
        return "MST"
    return "LST"


@dataclass(eq=False)
class OpticsDescription:
    """Optics of a telescope.

    Parameters
    ----------
    name : str
        Name of the optical structure, e.g. ``"LST"`` or ``"MST"``.
    size_type : {"LST", "MST", "SST", "UNKNOWN"}
        Size class.
    reflector_shape : str
        ``"parabolic"``, ``"davies-cotton"``, ``"hybrid"``,
        ``"schwarzschild-couder"`` or ``"unknown"``.
    n_mirrors : int
        Number of mirror surfaces (1 or 2).
    equivalent_focal_length : float
        Nominal focal length used in the simulation [m].
    effective_focal_length : float
        Focal length from ray tracing of a point source [m]; NaN when unknown.
    mirror_area : float
        Total reflective area [m2].
    n_mirror_tiles : int
        Number of mirror facets.
    """

    name: str
    size_type: str
    reflector_shape: str
    n_mirrors: int
    equivalent_focal_length: float
    effective_focal_length: float
    mirror_area: float
    n_mirror_tiles: int

    def __post_init__(self):
        self.equivalent_focal_length = float(to_value(self.equivalent_focal_length, "m"))
        self.effective_focal_length = float(to_value(self.effective_focal_length, "m"))
        self.mirror_area = float(to_value(self.mirror_area, "m2"))
        self.n_mirrors, self.n_mirror_tiles = int(self.n_mirrors), int(self.n_mirror_tiles)

    def focal_length(self, kind="effective"):
        """Focal length [m] of the given kind, ``"effective"`` or ``"equivalent"``."""
        if kind == "effective":
            return self.effective_focal_length
        if kind == "equivalent":
            return self.equivalent_focal_length
        raise ValueError(f"focal length kind must be 'effective' or 'equivalent', got {kind!r}")

    def __eq__(self, other):
        if not isinstance(other, OpticsDescription):
            return NotImplemented
        return (
            (self.name, self.size_type, self.reflector_shape, self.n_mirrors, self.n_mirror_tiles)
            == (other.name, other.size_type, other.reflector_shape, other.n_mirrors, other.n_mirror_tiles)
            and np.allclose(
                [self.equivalent_focal_length, self.effective_focal_length, self.mirror_area],
                [other.equivalent_focal_length, other.effective_focal_length, other.mirror_area],
                equal_nan=True,
            )
        )

    __hash__ = None
