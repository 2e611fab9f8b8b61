"""A built-in instrument for toy simulations, tests and tutorials.

Analytic cameras of touching pixels on regular grids, readouts with a
smooth reference pulse, LST- and MST-like optics, and two subarrays built
from them, all as the same :mod:`iactx.instrument` classes the sim_telarray
reader produces, so toy events look exactly like read events:

- :func:`hexagonal_camera`: LSTCam's pixel count (1855) and spacing (5 cm)
  on a hexagonal grid;
- :func:`square_camera`: a square grid of square pixels;
- :func:`mini_camera`: 127 hexagonal pixels for quick tests;
- :func:`toy_subarray`: 4 LST-like and 9 MST-like telescopes on a layout
  with the spacing of CTAO-North;
- :func:`mini_subarray`: three small telescopes.

Every function returns new objects, so callers may modify them freely.
"""

from __future__ import annotations

import numpy as np
from astropy import units as u
from astropy.coordinates import EarthLocation

from .camera import CameraDescription, CameraGeometry, CameraReadout
from .optics import OpticsDescription, size_type_from_mirror_area
from .subarray import SubarrayDescription
from .telescope import TelescopeDescription

__all__ = [
    "TOY_LOCATION",
    "hexagonal_camera",
    "mini_camera",
    "mini_subarray",
    "reference_pulse",
    "square_camera",
    "toy_optics",
    "toy_readout",
    "toy_subarray",
    "toy_telescope",
]

#: geodetic reference of the toy arrays, close to the CTAO-North site
TOY_LOCATION = {"lon": -17.892, "lat": 28.762, "height": 2150.0}

#: order of the pulse model ``(t / tau)**n exp(-t / tau)`` and its FWHM in units of tau
_PULSE_ORDER = 4
_PULSE_FWHM_IN_TAU = 4.755105928834299


def _hexagonal_grid(n_pixels, spacing):
    """The ``n_pixels`` points of a hexagonal grid closest to the origin.

    Neighbours lie along the x axis. Points at equal distance are taken
    whole orbits of the grid's 12 symmetries at a time, so the result keeps
    the six-fold symmetry whenever ``n_pixels`` allows it.
    """
    n = int(np.ceil(np.sqrt(n_pixels))) + 2
    q, r = np.meshgrid(np.arange(-n, n + 1), np.arange(-n, n + 1))
    x = (q + r / 2.0).ravel()
    y = (r * np.sqrt(3) / 2.0).ravel()
    radius = np.round(np.hypot(x, y), 9)
    angle = np.round(np.rad2deg(np.arctan2(y, x)) % 360.0, 9)
    folded = np.round(np.minimum(angle % 60.0, 60.0 - angle % 60.0), 9)
    order = np.lexsort((angle, folded, radius))[:n_pixels]
    return spacing * x[order], spacing * y[order]


def hexagonal_camera(name="ToyHexCam", n_pixels=1855, spacing=0.05):
    """A camera of touching hexagonal pixels, by default LSTCam's count and spacing.

    Parameters
    ----------
    name : str
        Camera name.
    n_pixels : int
        Number of pixels, taken around the centre ring by ring.
    spacing : float or Quantity
        Distance between neighbouring pixel centres, which is also the
        pixels' flat-to-flat width [m].

    Returns
    -------
    CameraGeometry
        Pixel 0 at the centre, neighbours along x, ``pix_rotation = 0``
        (one corner of every hexagon points to +y).
    """
    if n_pixels < 1:
        raise ValueError(f"n_pixels must be at least 1, got {n_pixels}")
    spacing = float(u.Quantity(spacing, u.m).to_value(u.m))
    x, y = _hexagonal_grid(int(n_pixels), spacing)
    area = np.full(x.size, np.sqrt(3) / 2 * spacing**2)
    return CameraGeometry(name, x, y, area, "hexagon")


def square_camera(name="ToySquareCam", n_side=40, spacing=0.05):
    """A square camera of ``n_side`` x ``n_side`` touching square pixels.

    Parameters
    ----------
    name : str
        Camera name.
    n_side : int
        Pixels along each side.
    spacing : float or Quantity
        Pixel pitch and edge length [m].

    Returns
    -------
    CameraGeometry
        Pixels numbered row by row from the lower left corner, sides
        parallel to the axes, centred on the optical axis.
    """
    if n_side < 1:
        raise ValueError(f"n_side must be at least 1, got {n_side}")
    spacing = float(u.Quantity(spacing, u.m).to_value(u.m))
    offsets = (np.arange(n_side) - (n_side - 1) / 2.0) * spacing
    x, y = np.meshgrid(offsets, offsets)
    return CameraGeometry(name, x.ravel(), y.ravel(), np.full(n_side**2, spacing**2), "square")


def mini_camera(name="ToyMiniCam"):
    """A small hexagonal camera (127 pixels of 8 cm) for quick tests."""
    return hexagonal_camera(name, n_pixels=127, spacing=0.08)


def reference_pulse(fwhm, sample_width=0.05, duration=None):
    """An analytic photo-electron pulse, as a shaping amplifier makes it.

    The shape is ``(t / tau)**4 exp(-t / tau)`` for ``t >= 0``: a fast rise
    and a slower fall, with ``tau`` set by the full width at half maximum.

    Parameters
    ----------
    fwhm : float
        Full width at half maximum [ns].
    sample_width : float
        Time step of the returned samples [ns].
    duration : float, optional
        Length of the pulse [ns]; by default long enough for the tail to
        fall below 1e-6 of the peak.

    Returns
    -------
    ndarray, shape (n_pulse_samples,)
        The pulse from ``t = 0``, scaled to 1 at its maximum (``t = 4 tau``).
    """
    if fwhm <= 0 or sample_width <= 0:
        raise ValueError(f"fwhm and sample_width must be positive, got {fwhm} and {sample_width}")
    tau = fwhm / _PULSE_FWHM_IN_TAU
    duration = 30.0 * tau if duration is None else float(duration)
    x = np.arange(int(np.ceil(duration / sample_width))) * sample_width / tau
    n = _PULSE_ORDER
    return (x / n) ** n * np.exp(n - x)


def toy_readout(name, n_pixels, *, sampling_rate, n_samples, fwhm, n_channels=1, pulse_sample_width=0.05):
    """A camera readout whose reference pulse is :func:`reference_pulse`.

    The low-gain channel, when there is one, has a 15 % wider pulse.

    Parameters
    ----------
    name : str
        Camera name.
    n_pixels, n_samples, n_channels : int
        Pixels, waveform samples and gain channels.
    sampling_rate : float
        Waveform sampling rate [GHz].
    fwhm : float
        High-gain pulse width [ns].
    pulse_sample_width : float
        Time step of the stored reference pulse [ns].
    """
    widths = fwhm * 1.15 ** np.arange(n_channels)
    duration = 30.0 * widths[-1] / _PULSE_FWHM_IN_TAU
    pulses = np.array([reference_pulse(w, pulse_sample_width, duration) for w in widths])
    return CameraReadout(name, sampling_rate, pulses, pulse_sample_width, n_channels, n_pixels, n_samples)


def toy_optics(kind):
    """Optics of an LST-like (``"LST"``) or MST-like (``"MST"``) telescope.

    Parabolic 28 m focal length and 387 m2 of mirrors for the LST,
    modified Davies-Cotton ("hybrid") 16 m and 106 m2 for the MST; the
    effective focal lengths are those ray tracing gives for such dishes.
    """
    table = {
        "LST": ("parabolic", 28.0, 29.30, 386.73, 198),
        "MST": ("hybrid", 16.0, 16.44, 106.24, 86),
    }
    if kind not in table:
        raise ValueError(f"unknown toy optics {kind!r}; expected one of {sorted(table)}")
    shape, equivalent, effective, area, tiles = table[kind]
    return OpticsDescription(kind, size_type_from_mirror_area(area), shape, 1, equivalent, effective, area, tiles)


def toy_telescope(kind):
    """A toy telescope: ``"LST"``, ``"MST"`` or ``"MINI"``.

    ``"LST"``: LST optics, :func:`hexagonal_camera`, 1 GHz, 40 samples, two
    gains, 2.9 ns pulses. ``"MST"``: MST optics, :func:`square_camera`,
    0.5 GHz, 30 samples, one gain, 6 ns pulses. ``"MINI"``: MST optics,
    :func:`mini_camera`, 1 GHz, 20 samples, one gain, 3 ns pulses.

    Returns
    -------
    TelescopeDescription
    """
    if kind == "LST":
        geometry = hexagonal_camera()
        settings = dict(sampling_rate=1.0, n_samples=40, fwhm=2.9, n_channels=2)
    elif kind == "MST":
        geometry = square_camera()
        settings = dict(sampling_rate=0.5, n_samples=30, fwhm=6.0, n_channels=1)
    elif kind == "MINI":
        geometry = mini_camera()
        settings = dict(sampling_rate=1.0, n_samples=20, fwhm=3.0, n_channels=1)
    else:
        raise ValueError(f"unknown toy telescope {kind!r}; expected 'LST', 'MST' or 'MINI'")
    readout = toy_readout(geometry.name, geometry.n_pixels, **settings)
    optics = toy_optics("LST" if kind == "LST" else "MST")
    return TelescopeDescription(optics.name, optics, CameraDescription(geometry.name, geometry, readout))


def _location():
    return EarthLocation(lon=TOY_LOCATION["lon"] * u.deg, lat=TOY_LOCATION["lat"] * u.deg,
                         height=TOY_LOCATION["height"] * u.m)


def _ring(n, radius, phase_deg):
    angle = np.deg2rad(phase_deg + 360.0 * np.arange(n) / n)
    return np.column_stack([radius * np.cos(angle), radius * np.sin(angle), np.zeros(n)])


def toy_subarray(n_lst=4, n_mst=9):
    """4 LST-like and 9 MST-like telescopes with CTAO-North spacing.

    The LSTs (ids 1 ..) stand on a square of about 100 m side around the
    centre, the MSTs (following ids) on an inner ring of 3 at 170 m and an
    outer ring at 280 m.

    Parameters
    ----------
    n_lst, n_mst : int
        Number of telescopes of each kind; the layout is filled in the
        order described above.

    Returns
    -------
    SubarrayDescription
    """
    if not 0 <= n_lst <= 4 or not 0 <= n_mst <= 9 or n_lst + n_mst == 0:
        raise ValueError(f"the toy layout has places for 1 to 4 LSTs and 0 to 9 MSTs, got {n_lst} and {n_mst}")
    lst_places = _ring(4, 70.0, 45.0)
    mst_places = np.vstack([_ring(3, 170.0, 0.0), _ring(6, 280.0, 30.0)])
    places = [("LST", p) for p in lst_places[:n_lst]] + [("MST", p) for p in mst_places[:n_mst]]
    positions, descriptions = {}, {}
    for tel_id, (kind, position) in enumerate(places, start=1):
        positions[tel_id] = position
        descriptions[tel_id] = toy_telescope(kind)
    return SubarrayDescription("ToyArray", positions, descriptions, _location())


def mini_subarray(n_tels=3):
    """``n_tels`` (1 to 3) small telescopes (:func:`mini_camera`) 120 m apart."""
    if not 1 <= n_tels <= 3:
        raise ValueError(f"the mini layout has places for 1 to 3 telescopes, got {n_tels}")
    places = _ring(3, 120.0 / np.sqrt(3), 90.0)[:n_tels]
    positions = {i: p for i, p in enumerate(places, start=1)}
    descriptions = {i: toy_telescope("MINI") for i in positions}
    return SubarrayDescription("MiniArray", positions, descriptions, _location())
