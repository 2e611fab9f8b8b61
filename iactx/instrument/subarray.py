"""A set of telescopes at known positions around a reference location."""

from __future__ import annotations

from collections import defaultdict
from fnmatch import fnmatchcase

import numpy as np
import xarray as xr
from astropy import units as u
from astropy.coordinates import EarthLocation

from ._units import to_value
from .camera import CameraDescription, CameraGeometry, CameraReadout
from .optics import OpticsDescription
from .telescope import TelescopeDescription

__all__ = ["SubarrayDescription"]


class SubarrayDescription:
    """Telescopes of an array, their positions and the array's reference location.

    Parameters
    ----------
    name : str
        Name of the array layout.
    tel_positions : dict[int, array_like]
        Position of each telescope (x north, y west, z up) relative to the
        reference location [m].
    tel_descriptions : dict[int, TelescopeDescription]
        Description of each telescope.
    reference_location : astropy.coordinates.EarthLocation
        Geodetic position of the array centre.
    """

    def __init__(self, name, tel_positions, tel_descriptions, reference_location):
        if set(tel_positions) != set(tel_descriptions):
            raise ValueError("tel_positions and tel_descriptions must have the same telescope ids")
        self.name = name
        ids = sorted(int(t) for t in tel_descriptions)
        self.tel = {t: tel_descriptions[t] for t in ids}
        self.positions = {t: np.asarray(to_value(tel_positions[t], "m"), np.float64) for t in ids}
        self.reference_location = reference_location

    def __len__(self):
        return len(self.tel)

    def __repr__(self):
        types = ", ".join(f"{len(ids)} {t}" for t, ids in self.ids_by_type().items())
        return f"SubarrayDescription({self.name!r}: {types})"

    @property
    def tel_ids(self):
        """Telescope ids in increasing order, int array."""
        return np.array(list(self.tel), dtype=np.int32)

    @property
    def tel_index(self):
        """Map from telescope id to its row in :attr:`tel_ids`."""
        return {t: i for i, t in enumerate(self.tel)}

    @property
    def telescope_types(self):
        """Distinct telescope type strings, sorted."""
        return sorted({d.type for d in self.tel.values()})

    @property
    def camera_types(self):
        """Distinct camera names, sorted."""
        return sorted({d.camera.name for d in self.tel.values()})

    def geometries(self):
        """One :class:`CameraGeometry` per camera name."""
        out = {}
        for desc in self.tel.values():
            out.setdefault(desc.camera.name, desc.camera.geometry)
        return dict(sorted(out.items()))

    def readouts(self, camera_name):
        """Readout of each telescope with the given camera, by telescope id."""
        return {t: d.camera.readout for t, d in self.tel.items() if d.camera.name == camera_name}

    def ids_by_type(self):
        """Telescope ids grouped by type string."""
        groups = defaultdict(list)
        for tel_id, desc in self.tel.items():
            groups[desc.type].append(tel_id)
        return dict(sorted(groups.items()))

    def ids_by_camera(self):
        """Telescope ids grouped by camera name."""
        groups = defaultdict(list)
        for tel_id, desc in self.tel.items():
            groups[desc.camera.name].append(tel_id)
        return dict(sorted(groups.items()))

    def get_tel_ids(self, pattern):
        """Ids of the telescopes whose type matches a glob pattern such as ``"LST*"``."""
        return [t for t, d in self.tel.items() if fnmatchcase(d.type, pattern)]

    def select_subarray(self, tel_ids, name=None):
        """A new subarray with only the given telescopes.

        Raises
        ------
        KeyError
            Naming the ids that are not part of this subarray.
        """
        tel_ids = [int(t) for t in tel_ids]
        missing = sorted(set(tel_ids) - set(self.tel))
        if missing:
            raise KeyError(f"telescopes {missing} are not in subarray {self.name!r} (ids {list(self.tel)})")
        return SubarrayDescription(
            name or self.name, {t: self.positions[t] for t in tel_ids},
            {t: self.tel[t] for t in tel_ids}, self.reference_location,
        )

    def to_dataset(self):
        """The ``/instrument`` node: one row per telescope along ``tel``.

        Returns
        -------
        xarray.Dataset
            Coordinates ``tel`` (telescope id); variables type, camera and
            optics names, positions [m], focal lengths [m], mirror area [m2]
            and mirror counts; the reference location in the attributes.
        """
        descs = list(self.tel.values())
        pos = np.array([self.positions[t] for t in self.tel]).reshape(-1, 3)
        optics = [d.optics for d in descs]

        def column(values, dtype, attrs):
            return ("tel", np.asarray(values, dtype=dtype), attrs)

        data = {
            "tel_type": column([d.type for d in descs], str, {"long_name": "telescope type"}),
            "camera_name": column([d.camera.name for d in descs], str, {}),
            "optics_name": column([d.name for d in descs], str, {}),
            "size_type": column([o.size_type for o in optics], str, {}),
            "reflector_shape": column([o.reflector_shape for o in optics], str, {}),
            "pos_x": column(pos[:, 0], np.float64, {"units": "m", "long_name": "position north of the reference"}),
            "pos_y": column(pos[:, 1], np.float64, {"units": "m", "long_name": "position west of the reference"}),
            "pos_z": column(pos[:, 2], np.float64, {"units": "m", "long_name": "height above the reference"}),
            "equivalent_focal_length": column([o.equivalent_focal_length for o in optics], np.float64, {"units": "m"}),
            "effective_focal_length": column([o.effective_focal_length for o in optics], np.float64, {"units": "m"}),
            "mirror_area": column([o.mirror_area for o in optics], np.float64, {"units": "m2"}),
            "n_mirrors": column([o.n_mirrors for o in optics], np.int32, {}),
            "n_mirror_tiles": column([o.n_mirror_tiles for o in optics], np.int32, {}),
        }
        loc = self.reference_location
        attrs = {
            "subarray_name": self.name,
            "reference_lon": float(loc.lon.deg),
            "reference_lat": float(loc.lat.deg),
            "reference_height": float(loc.height.to_value("m")),
        }
        return xr.Dataset(data, coords={"tel": ("tel", self.tel_ids, {"long_name": "telescope id"})}, attrs=attrs)

    @classmethod
    def from_tree(cls, tree):
        """Rebuild the subarray from an event tree's ``/instrument`` node and camera groups."""
        inst = tree["instrument"].to_dataset()
        geometries = {}
        descs, positions = {}, {}
        for i, tel_id in enumerate(inst["tel"].values.tolist()):
            row = {k: inst[k].values[i] for k in inst.data_vars}
            group = tree[row["camera_name"]].to_dataset()
            if row["camera_name"] not in geometries:
                geometries[row["camera_name"]] = CameraGeometry.from_dataset(group)
            camera = CameraDescription(row["camera_name"], geometries[row["camera_name"]],
                                       CameraReadout.from_dataset(group, tel_id))
            optics = OpticsDescription(
                row["optics_name"], row["size_type"], row["reflector_shape"], row["n_mirrors"],
                row["equivalent_focal_length"], row["effective_focal_length"], row["mirror_area"],
                row["n_mirror_tiles"],
            )
            descs[tel_id] = TelescopeDescription(row["optics_name"], optics, camera)
            positions[tel_id] = np.array([row["pos_x"], row["pos_y"], row["pos_z"]])
        a = inst.attrs
        location = EarthLocation(lon=a["reference_lon"] * u.deg, lat=a["reference_lat"] * u.deg,
                                 height=a["reference_height"] * u.m)
        return cls(a["subarray_name"], positions, descs, location)

    def __eq__(self, other):
        if not isinstance(other, SubarrayDescription):
            return NotImplemented
        return (
            self.name == other.name and list(self.tel) == list(other.tel)
            and all(self.tel[t] == other.tel[t] for t in self.tel)
            and all(np.allclose(self.positions[t], other.positions[t]) for t in self.tel)
        )

    __hash__ = None

