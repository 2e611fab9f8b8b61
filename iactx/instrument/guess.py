"""Recognise telescopes from the numbers a simulation file always has.

sim_telarray files written without the optics and camera names in their
metadata still carry the pixel count, the equivalent focal length and the
number of mirror tiles. The table below maps those onto known telescopes.
"""

from __future__ import annotations

from typing import NamedTuple

from ._units import to_value
from .optics import size_type_from_mirror_area

__all__ = ["TelescopeGuess", "guess_telescope", "unknown_telescope"]


class TelescopeGuess(NamedTuple):
    """What the lookup table knows about a telescope."""

    size_type: str
    name: str
    camera_name: str
    n_mirrors: int
    reflector_shape: str


_SC, _DC, _HYB, _PAR = "schwarzschild-couder", "davies-cotton", "hybrid", "parabolic"

#: (n_pixels, equivalent focal length [m] rounded to 0.01, n_mirror_tiles or None)
KNOWN_TELESCOPES = {
    (2048, 2.28, None): TelescopeGuess("SST", "GCT", "CHEC", 2, _SC),
    (2368, 2.15, None): TelescopeGuess("SST", "ASTRI", "ASTRICam", 2, _SC),
    (2048, 2.15, None): TelescopeGuess("SST", "ASTRI", "CHEC", 2, _SC),
    (1296, 5.60, None): TelescopeGuess("SST", "1M", "DigiCam", 1, _DC),
    (1764, 16.0, None): TelescopeGuess("MST", "MST", "FlashCam", 1, _HYB),
    (1855, 16.0, None): TelescopeGuess("MST", "MST", "NectarCam", 1, _HYB),
    (1855, 28.0, None): TelescopeGuess("LST", "LST", "LSTCam", 1, _PAR),
    (11328, 5.59, None): TelescopeGuess("MST", "SCT", "SCTCam", 1, _SC),
    (1039, 16.97, 964): TelescopeGuess("LST", "MAGIC-1", "MAGICCam", 1, _PAR),
    (1039, 16.97, 247): TelescopeGuess("LST", "MAGIC-2", "MAGICCam", 1, _PAR),
    (1039, 17.0, 964): TelescopeGuess("LST", "MAGIC-1", "MAGICCam", 1, _PAR),
    (1039, 17.0, 247): TelescopeGuess("LST", "MAGIC-2", "MAGICCam", 1, _PAR),
    (960, 15.0, None): TelescopeGuess("MST", "HESS-I", "HESS-I", 1, _DC),
    (2048, 36.0, None): TelescopeGuess("LST", "HESS-II", "HESS-II", 1, _PAR),
    (1440, 4.89, None): TelescopeGuess("SST", "FACT", "FACT", 1, _HYB),
}


def guess_telescope(n_pixels, focal_length, n_mirror_tiles=None):
    """Identify a telescope from its pixel count and equivalent focal length.

    Parameters
    ----------
    n_pixels : int
        Pixels in the camera.
    focal_length : float or Quantity
        Equivalent focal length [m].
    n_mirror_tiles : int, optional
        Mirror facets; only needed to tell MAGIC-1 from MAGIC-2.

    Returns
    -------
    TelescopeGuess

    Raises
    ------
    ValueError
        When no known telescope matches.
    """
    f = round(float(to_value(focal_length, "m")), 2)
    for tiles in (n_mirror_tiles, None):
        hit = KNOWN_TELESCOPES.get((int(n_pixels), f, tiles))
        if hit is not None:
            return hit
    raise ValueError(f"unknown telescope: {n_pixels} pixels, focal length {f} m")


def unknown_telescope(mirror_area, n_pixels, n_mirrors=-1):
    """Names for a telescope the table does not know (``UNKNOWN-<n>PX`` camera)."""
    area = float(to_value(mirror_area, "m2"))
    return TelescopeGuess(
        size_type_from_mirror_area(area), f"UNKNOWN-{area:.0f}M2", f"UNKNOWN-{int(n_pixels)}PX",
        int(n_mirrors), "unknown",
    )
