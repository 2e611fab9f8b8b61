"""Camera geometry and readout description.

Everything is stored as plain numpy arrays in SI-like units (positions in m,
areas in m2, angles in deg, times in ns, rates in GHz) so that kernels can use
the values directly; astropy quantities are accepted at construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from scipy.spatial import KDTree

from ._units import to_value

__all__ = ["CameraGeometry", "CameraReadout", "CameraDescription", "PIXEL_SHAPES", "neighbor_csr"]

#: pixel shapes known to the geometry, as sim_telarray codes them
PIXEL_SHAPES = ("circle", "hexagon", "square")
_SIMTEL_PIXEL_SHAPES = {0: ("circle", 0.0), 1: ("hexagon", 0.0), 2: ("square", 0.0), 3: ("hexagon", 30.0)}


def _rotate(x, y, angle_deg):
    """Rotate points counter-clockwise by ``angle_deg`` about the origin."""
    c, s = np.cos(np.deg2rad(angle_deg)), np.sin(np.deg2rad(angle_deg))
    return c * x - s * y, s * x + c * y


def neighbor_csr(table, dtype=np.int32):
    """CSR arrays of a padded neighbour table (a camera group's ``neighbors``).

    Parameters
    ----------
    table : ndarray of int, shape (n_pixels, max_neighbors)
        Neighbour pixel indices of each pixel, padded with -1.
    dtype : numpy dtype
        Integer type of the result.

    Returns
    -------
    indptr : ndarray, shape (n_pixels + 1,)
    indices : ndarray, shape (n_neighbor_pairs,)
        The neighbours of pixel ``p`` are ``indices[indptr[p]:indptr[p + 1]]``.
    """
    table = np.asarray(table)
    valid = table >= 0
    indptr = np.zeros(table.shape[0] + 1, dtype)
    if valid.size:  # the running count of valid entries at each row's end (faster than a sum along rows)
        indptr[1:] = np.cumsum(valid.ravel())[table.shape[1] - 1::table.shape[1]]
    return indptr, table[valid].astype(dtype)


@dataclass(eq=False)
class CameraGeometry:
    """Pixel layout of a Cherenkov camera.

    Parameters
    ----------
    name : str
        Camera name, e.g. ``"LSTCam"``.
    pix_x, pix_y : array_like, shape (n_pixels,)
        Pixel centres in the camera frame [m].
    pix_area : array_like, shape (n_pixels,)
        Pixel areas [m2].
    pix_type : {"hexagon", "square", "circle"}
        Pixel shape.
    pix_rotation : float
        Rotation of every pixel about its own centre [deg].
    cam_rotation : float
        Rotation of the whole camera [deg]; zero once derotated.
    pix_id : array_like of int, optional
        Pixel ids, default ``0 .. n_pixels - 1``.

    Notes
    -----
    Neighbours follow the usual rule for regular grids: on a hexagonal grid
    every pixel closer than 1.4 times its nearest-neighbour distance (at most
    6), on a square grid every pixel closer than 1.5 times it in the L1 norm
    (at most 4). They are stored as CSR arrays ``neighbor_indptr`` and
    ``neighbor_indices`` ready for kernels.
    """

    name: str
    pix_x: np.ndarray
    pix_y: np.ndarray
    pix_area: np.ndarray
    pix_type: str
    pix_rotation: float = 0.0
    cam_rotation: float = 0.0
    pix_id: np.ndarray | None = None
    _cache: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self):
        self.pix_x = np.asarray(to_value(self.pix_x, "m"), dtype=np.float64)
        self.pix_y = np.asarray(to_value(self.pix_y, "m"), dtype=np.float64)
        self.pix_area = np.asarray(to_value(self.pix_area, "m2"), dtype=np.float64)
        self.pix_rotation = float(to_value(self.pix_rotation, "deg"))
        self.cam_rotation = float(to_value(self.cam_rotation, "deg"))
        n = self.pix_x.shape[0]
        self.pix_id = np.arange(n) if self.pix_id is None else np.asarray(self.pix_id)
        for label, arr in (("pix_y", self.pix_y), ("pix_area", self.pix_area), ("pix_id", self.pix_id)):
            if arr.shape != (n,):
                raise ValueError(f"{label} has shape {arr.shape}, expected ({n},) like pix_x")
        if self.pix_type not in PIXEL_SHAPES:
            raise ValueError(f"unknown pixel shape {self.pix_type!r}; expected one of {PIXEL_SHAPES}")

    @classmethod
    def simtel_pixel_shape(cls, code):
        """Pixel shape name and pixel rotation [deg] for a sim_telarray shape code."""
        try:
            return _SIMTEL_PIXEL_SHAPES[int(code)]
        except KeyError:
            raise ValueError(f"unknown sim_telarray pixel shape code {code}") from None

    @property
    def n_pixels(self):
        """Number of pixels."""
        return self.pix_x.shape[0]

    def __len__(self):
        return self.n_pixels

    def derotated(self):
        """The same camera with the camera rotation applied to the pixel positions.

        Pixel positions are rotated by ``-cam_rotation`` so that the returned
        geometry has ``cam_rotation == 0``, and the pixel rotation is changed by
        the same angle; this is how cameras read from sim_telarray are
        presented (their camera rotation is the negative of the file's).
        """
        x, y = _rotate(self.pix_x, self.pix_y, -self.cam_rotation)
        return CameraGeometry(
            self.name, x, y, self.pix_area.copy(), self.pix_type,
            pix_rotation=self.pix_rotation - self.cam_rotation, cam_rotation=0.0,
            pix_id=self.pix_id.copy(),
        )

    @property
    def grid_type(self):
        """``"square"`` for square pixels, else ``"hexagonal"``."""
        return "square" if self.pix_type == "square" else "hexagonal"

    @cached_property
    def pixel_width(self):
        """Pixel width [m], shape (n_pixels,).

        In-circle diameter for hexagons, edge length for squares, diameter for
        circles, computed from the pixel area.
        """
        if self.pix_type == "hexagon":
            return 2 * np.sqrt(self.pix_area / (2 * np.sqrt(3)))
        if self.pix_type == "square":
            return np.sqrt(self.pix_area)
        return 2 * np.sqrt(self.pix_area / np.pi)

    @cached_property
    def _neighbor_csr(self):
        n = self.n_pixels
        if n <= 1:
            return np.zeros(n + 1, np.int32), np.zeros(0, np.int32)
        if self.grid_type == "hexagonal":
            max_neighbors, norm, radius = 6, 2, 1.4
            if self.pix_type == "square":
                radius *= np.sqrt(5) / 2
        else:
            max_neighbors, norm, radius = 4, 1, 1.5
        points = np.column_stack([self.pix_x, self.pix_y])
        distances, candidates = KDTree(points).query(points, k=min(max_neighbors + 1, n), p=norm)
        distances, candidates = distances[:, 1:], candidates[:, 1:]
        inside = distances < radius * distances.min(axis=1, keepdims=True)
        pixels, slot = np.nonzero(inside)
        neighbors = candidates[pixels, slot]
        order = np.lexsort((neighbors, pixels))
        rows, cols = pixels[order], neighbors[order]
        indptr = np.zeros(n + 1, np.int32)
        np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
        return indptr, cols.astype(np.int32)

    @property
    def neighbor_indptr(self):
        """CSR row pointers of the neighbour table, shape (n_pixels + 1,)."""
        return self._neighbor_csr[0]

    @property
    def neighbor_indices(self):
        """CSR column indices of the neighbour table, shape (n_neighbor_pairs,)."""
        return self._neighbor_csr[1]

    @property
    def neighbors(self):
        """Neighbour ids of each pixel, a list of arrays."""
        indptr, indices = self._neighbor_csr
        return [indices[indptr[i]:indptr[i + 1]] for i in range(self.n_pixels)]

    @cached_property
    def neighbor_table(self):
        """Neighbour ids padded with -1, shape (n_pixels, max_neighbors), int32."""
        indptr, indices = self._neighbor_csr
        counts = np.diff(indptr)
        table = np.full((self.n_pixels, max(int(counts.max(initial=0)), 1)), -1, np.int32)
        row = np.repeat(np.arange(self.n_pixels), counts)
        col = np.arange(indices.size) - np.repeat(indptr[:-1], counts)
        table[row, col] = indices
        return table

    def border_pixel_mask(self, width=1):
        """Mask of pixels within ``width`` pixels of the camera edge, shape (n_pixels,).

        Width 1 marks pixels with fewer neighbours than the most any pixel has;
        width ``w`` marks pixels with a neighbour in the border of width ``w - 1``.
        """
        if width < 1:
            raise ValueError(f"border width must be at least 1, got {width}")
        if width in self._cache:
            return self._cache[width]
        indptr, indices = self._neighbor_csr
        counts = np.diff(indptr)
        if width == 1:
            mask = counts < counts.max(initial=0)
        else:
            inner = self.border_pixel_mask(width - 1)
            rows = np.repeat(np.arange(self.n_pixels), counts)
            mask = np.bincount(rows, weights=inner[indices], minlength=self.n_pixels) > 0
        self._cache[width] = mask
        return mask

    def to_coords(self):
        """Coordinates and attributes for a camera group.

        Returns
        -------
        coords : dict
            ``pix_x``, ``pix_y`` [m], ``pix_area`` [m2] on ``pixel``, and the
            padded neighbour table ``neighbors`` on ``(pixel, neighbor)``.
        attrs : dict
            Camera name, pixel shape, pixel and camera rotation [deg].
        """
        coords = {
            "pixel": ("pixel", self.pix_id.astype(np.int32), {"long_name": "pixel id"}),
            "pix_x": ("pixel", self.pix_x, {"units": "m", "long_name": "pixel x in the camera frame"}),
            "pix_y": ("pixel", self.pix_y, {"units": "m", "long_name": "pixel y in the camera frame"}),
            "pix_area": ("pixel", self.pix_area, {"units": "m2", "long_name": "pixel area"}),
            "neighbors": (("pixel", "neighbor"), self.neighbor_table,
                          {"long_name": "neighbour pixel ids, -1 padded"}),
        }
        attrs = {
            "camera_name": self.name,
            "pix_type": self.pix_type,
            "pix_rotation": self.pix_rotation,
            "cam_rotation": self.cam_rotation,
        }
        return coords, attrs

    @classmethod
    def from_dataset(cls, ds):
        """Rebuild the geometry from a camera group made by :meth:`to_coords`."""
        geom = cls(
            ds.attrs["camera_name"], ds["pix_x"].values, ds["pix_y"].values, ds["pix_area"].values,
            ds.attrs["pix_type"], pix_rotation=ds.attrs["pix_rotation"],
            cam_rotation=ds.attrs["cam_rotation"], pix_id=ds["pixel"].values,
        )
        if "neighbors" in ds.coords:
            geom.__dict__["_neighbor_csr"] = neighbor_csr(ds.variables["neighbors"].values)
        return geom

    def __eq__(self, other):
        if not isinstance(other, CameraGeometry):
            return NotImplemented
        return (
            self.name == other.name and self.pix_type == other.pix_type
            and np.isclose(self.pix_rotation, other.pix_rotation)
            and np.isclose(self.cam_rotation, other.cam_rotation)
            and np.array_equal(self.pix_id, other.pix_id)
            and np.allclose(self.pix_x, other.pix_x) and np.allclose(self.pix_y, other.pix_y)
            and np.allclose(self.pix_area, other.pix_area)
        )

    __hash__ = None


@dataclass(eq=False)
class CameraReadout:
    """Readout electronics of a camera.

    Parameters
    ----------
    name : str
        Camera name.
    sampling_rate : float
        Waveform sampling rate [GHz].
    reference_pulse_shape : array_like, shape (n_channels, n_pulse_samples)
        Reference pulse per gain channel, arbitrary normalisation.
    reference_pulse_sample_width : float
        Time step of the reference pulse [ns].
    n_channels, n_pixels, n_samples : int
        Gain channels, pixels and waveform samples.
    """

    name: str
    sampling_rate: float
    reference_pulse_shape: np.ndarray
    reference_pulse_sample_width: float
    n_channels: int
    n_pixels: int
    n_samples: int

    def __post_init__(self):
        self.sampling_rate = float(to_value(self.sampling_rate, "GHz"))
        self.reference_pulse_sample_width = float(to_value(self.reference_pulse_sample_width, "ns"))
        self.reference_pulse_shape = np.atleast_2d(np.asarray(self.reference_pulse_shape, np.float64))
        self.n_channels, self.n_pixels, self.n_samples = int(self.n_channels), int(self.n_pixels), int(self.n_samples)

    @property
    def sample_width(self):
        """Width of one waveform sample [ns]."""
        return 1.0 / self.sampling_rate

    @staticmethod
    def to_dataset_items(readouts):
        """Variables and attributes for the camera group of several telescopes.

        Telescopes of one camera type share sampling rate, sample count and
        pulse sampling, but may differ in reference pulse shape; the pulses
        are stacked along ``readout_tel`` (zero-padded to a common length).

        Parameters
        ----------
        readouts : dict[int, CameraReadout]
            Readout of each telescope id.

        Returns
        -------
        data_vars : dict
            ``reference_pulse_shape`` on ``(readout_tel, gain, pulse_sample)``.
        coords : dict
            ``readout_tel``, the telescope ids.
        attrs : dict
            Sampling rate [GHz], pulse sample width [ns], channel and sample counts.

        Raises
        ------
        ValueError
            When the telescopes disagree on anything but the pulse shape.
        """
        first = next(iter(readouts.values()))
        shared = ("sampling_rate", "reference_pulse_sample_width", "n_channels", "n_samples")
        for tel_id, readout in readouts.items():
            for name in shared:
                value, reference = float(getattr(readout, name)), float(getattr(first, name))
                if not abs(value - reference) <= 1e-8 + 1e-5 * abs(reference):  # np.isclose, without its ~10 us
                    raise ValueError(f"telescope {tel_id} of camera {first.name} has {name}="
                                     f"{getattr(readout, name)}, others {getattr(first, name)}")
        length = max(r.reference_pulse_shape.shape[1] for r in readouts.values())
        pulses = np.zeros((len(readouts), first.n_channels, length))
        for i, readout in enumerate(readouts.values()):
            pulses[i, :, : readout.reference_pulse_shape.shape[1]] = readout.reference_pulse_shape
        data_vars = {
            "reference_pulse_shape": (("readout_tel", "gain", "pulse_sample"), pulses,
                                      {"long_name": "reference pulse shape per telescope and gain channel"}),
        }
        coords = {"readout_tel": ("readout_tel", np.array(list(readouts), np.int32),
                                  {"long_name": "telescope id of each reference pulse"})}
        attrs = {
            "sampling_rate": first.sampling_rate,
            "sampling_rate_units": "GHz",
            "reference_pulse_sample_width": first.reference_pulse_sample_width,
            "reference_pulse_sample_width_units": "ns",
            "n_channels": first.n_channels,
            "n_samples": first.n_samples,
        }
        return data_vars, coords, attrs

    @classmethod
    def from_dataset(cls, ds, tel_id):
        """Rebuild the readout of telescope ``tel_id`` from its camera group."""
        return cls(
            ds.attrs["camera_name"], ds.attrs["sampling_rate"],
            ds["reference_pulse_shape"].sel(readout_tel=tel_id).values,
            ds.attrs["reference_pulse_sample_width"], ds.attrs["n_channels"], ds.sizes["pixel"],
            ds.attrs["n_samples"],
        )

    def __eq__(self, other):
        if not isinstance(other, CameraReadout):
            return NotImplemented
        return (
            self.name == other.name and np.isclose(self.sampling_rate, other.sampling_rate)
            and self.reference_pulse_shape.shape == other.reference_pulse_shape.shape
            and np.allclose(self.reference_pulse_shape, other.reference_pulse_shape)
            and np.isclose(self.reference_pulse_sample_width, other.reference_pulse_sample_width)
            and (self.n_channels, self.n_pixels, self.n_samples)
            == (other.n_channels, other.n_pixels, other.n_samples)
        )

    __hash__ = None


@dataclass(eq=False)
class CameraDescription:
    """A camera: its name, pixel geometry and readout."""

    name: str
    geometry: CameraGeometry
    readout: CameraReadout

    def __eq__(self, other):
        if not isinstance(other, CameraDescription):
            return NotImplemented
        return self.name == other.name and self.geometry == other.geometry and self.readout == other.readout

    __hash__ = None
