"""Simulated events that need no input file: the toy event source.

:func:`toy_events` draws gamma-ray showers or muons, makes their images
with :mod:`iactx.image.toymodel` and returns an event tree with the data
model of the sim_telarray reader (root truth, ``/instrument``, one group
per camera type with ``waveform``, ``selected_gain``, ``true_image``, ...)
plus the true image parameters of every telescope event.

Geometry of a gamma-ray shower: its axis comes from the true direction and
hits the ground at the true core; the shower maximum lies on the axis at
the depth ``true_x_max`` of an exponential atmosphere. Each telescope sees
the image centroid in the direction of the shower maximum and the major
axis pointing back to the true direction, so images of one event
intersect at the source like real ones. Intensity falls with the
telescope's distance from the axis (the impact distance) beyond the
Cherenkov plateau, images get longer with it, the light arrives later
along the axis for distant telescopes, and a telescope triggers when its
expected intensity exceeds a threshold and its centroid is in the field of
view. Muons are single rings around the muon direction, each seen by one
telescope.

Truth in the camera groups, per telescope event, in the telescope frame
(degrees; ``fov_lon = y / f`` and ``fov_lat = x / f`` in radians for camera
coordinates ``x, y`` and the effective focal length ``f``, the small-angle
mapping the reference implementation uses):

- gammas: ``true_hillas_fov_lon``, ``true_hillas_fov_lat``,
  ``true_hillas_length``, ``true_hillas_width`` [deg], ``true_hillas_psi``
  [deg, in (-90, 90]], ``true_hillas_skewness``, ``true_timing_slope``
  [ns / deg along psi], ``true_timing_intercept`` [ns, at the centroid];
- muons: ``true_muonring_center_fov_lon``, ``true_muonring_center_fov_lat``,
  ``true_muonring_radius``, ``true_muonring_width`` [deg];
- both: ``true_hillas_intensity`` [p.e., expected, including light off the
  camera], ``true_impact_distance`` [m], ``true_peak_time`` per pixel [ns,
  NaN without signal].

Lengths and widths are those of the pixel-integrated image (see
:mod:`iactx.image.toymodel`). ``true_image`` holds the Poisson signal
photo-electrons; the waveforms add night-sky background (its mean
subtracted) and electronic noise, in p.e. like calibrated R1 data.
"""

from __future__ import annotations

import math

import numpy as np

from ..coordinates.projections import (
    altaz_to_cartesian,
    altaz_to_telescope,
    cartesian_to_altaz,
    telescope_to_altaz,
    telescope_to_camera,
)
from ..image import toymodel
from ..image import toymodel_kernels as _k
from ..instrument import SubarrayDescription
from ..instrument.builtin import mini_subarray, toy_subarray
from .event_tree import EVENT_TYPES, camera_group, make_tree, root_dataset

__all__ = ["KINDS", "ToySource", "toy_event_batches", "toy_events"]

#: kinds of toy events
KINDS = ("gamma", "muon")

_GRAMMAGE = "g cm-2"
#: exponential atmosphere: sea-level depth [g cm-2] and scale height [m]
_X_SEA, _SCALE_HEIGHT = 1030.0, 8400.0
#: radiation length in air [g cm-2] and critical energy [TeV]
_X_RAD, _E_CRITICAL = 37.0, 85e-6
#: refractive index of air minus one where muon light is emitted, muon mass [TeV]
_AIR_N_MINUS_1, _MUON_MASS = 2.3e-4, 0.10566e-3
#: photo-electrons per TeV and m2 of mirror in the Cherenkov plateau, plateau radius and fall [m]
_YIELD, _PLATEAU, _FALL = 6.5, 120.0, 80.0
#: muon ring photo-electrons per m2 of mirror for the saturated Cherenkov angle
_MUON_YIELD = 5.5
_PRIMARY_GAMMA, _PRIMARY_MU_PLUS, _PRIMARY_MU_MINUS = 0, 5, 6
_START_TIME = np.datetime64("2025-01-01T00:00:00", "ns")


# --------------------------------------------------------------------------- helpers


def _height(slant_depth, alt):
    """Height above sea level [m] of a slant depth [g cm-2] along a direction of altitude ``alt`` [deg]."""
    vertical = np.maximum(slant_depth * np.sin(np.deg2rad(alt)), 1e-3)
    return _SCALE_HEIGHT * np.log(_X_SEA / vertical)


def _normalise_axis(psi, *signed):
    """Bring axis angles [deg] into (-90, 90], flipping the sign of quantities along the axis."""
    psi = (psi + 180.0) % 360.0 - 180.0
    flip = (psi <= -90.0) | (psi > 90.0)
    psi = np.where(flip, np.where(psi > 90.0, psi - 180.0, psi + 180.0), psi)
    return (psi, *(np.where(flip, -v, v) for v in signed))


# --------------------------------------------------------------------------- source


class ToySource:
    """Toy events in the event-tree data model.

    Parameters
    ----------
    subarray : SubarrayDescription, {"toy", "mini"} or None
        Telescopes; ``None`` or ``"toy"`` is
        :func:`iactx.instrument.builtin.toy_subarray`, ``"mini"``
        :func:`iactx.instrument.builtin.mini_subarray`.
    kind : {"gamma", "muon"}
        What to simulate.
    seed : None, int or numpy.random.Generator
        Same seed, same events.
    obs_id : int
        Observation id of the events.
    pointing_alt, pointing_az : float
        Array pointing [deg], all telescopes parallel.
    energy_range : (float, float)
        Energy range [TeV]; for muons the muon energy.
    spectral_index : float
        Power-law index of the energy distribution.
    max_scatter : float
        Radius of the disc the gamma-ray cores are drawn from [m].
    viewcone : float
        Radius of the cone around the pointing the gamma-ray directions are
        drawn from [deg]; 0 for a point source on the optical axis.
    trigger_threshold : float
        Expected intensity a telescope needs to trigger [p.e.].
    min_telescopes : int, optional
        Triggered telescopes an array event needs (gammas); by default 2,
        or 1 for single-telescope subarrays.
    nsb_rate : float
        Night-sky background per pixel [p.e. / ns].
    electronic_noise : float
        Electronic noise per waveform sample [p.e.].
    oversampling : int
        Sub-pixel refinement of the image integration.
    """

    name = "toy"

    def __init__(self, *, subarray=None, kind="gamma", seed=None, obs_id=1, pointing_alt=70.0, pointing_az=0.0,
                 energy_range=None, spectral_index=None, max_scatter=400.0, viewcone=0.0,
                 trigger_threshold=50.0, min_telescopes=None, nsb_rate=0.2, electronic_noise=0.2,
                 oversampling=3):
        if kind not in KINDS:
            raise ValueError(f"unknown toy event kind {kind!r}; expected one of {KINDS}")
        self.subarray = _subarray(subarray)
        self.kind = kind
        self.obs_id = int(obs_id)
        self.pointing = (float(pointing_alt), float(pointing_az))
        if not 0 < self.pointing[0] <= 90:
            raise ValueError(f"pointing_alt must be in (0, 90] deg, got {pointing_alt}")
        default_energy = (0.02, 50.0) if kind == "gamma" else (0.01, 0.2)
        self.energy_range = tuple(float(e) for e in (energy_range or default_energy))
        if not 0 < self.energy_range[0] < self.energy_range[1]:
            raise ValueError(f"energy_range must be (min, max) with 0 < min < max [TeV], got {energy_range}")
        if kind == "muon" and self.energy_range[0] <= _muon_threshold():
            raise ValueError(f"energy_range for muons must start above the Cherenkov threshold "
                             f"{_muon_threshold() * 1e3:.2f} GeV, got {self.energy_range[0] * 1e3:.3g} GeV")
        self.spectral_index = float(spectral_index if spectral_index is not None else
                                    (-2.0 if kind == "gamma" else -2.7))
        self.max_scatter = _non_negative("max_scatter", max_scatter)
        self.viewcone = _non_negative("viewcone", viewcone)
        self.trigger_threshold = _non_negative("trigger_threshold", trigger_threshold)
        n_tels = len(self.subarray)
        self.min_telescopes = min(2, n_tels) if min_telescopes is None else int(min_telescopes)
        if not 1 <= self.min_telescopes <= n_tels:
            raise ValueError(f"min_telescopes must be between 1 and the {n_tels} telescopes, got {min_telescopes}")
        self.nsb_rate = _non_negative("nsb_rate", nsb_rate)
        self.electronic_noise = _non_negative("electronic_noise", electronic_noise)
        self.oversampling = int(oversampling)
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self._tel_ids = self.subarray.tel_ids
        self._positions = np.array([self.subarray.positions[t] for t in self._tel_ids])
        self._instrument = self.subarray.to_dataset()
        self._cameras = self._camera_constants()
        self.n_showers = 0
        self.n_read = 0
        self._time = _START_TIME

    @staticmethod
    def is_compatible(path):
        """Whether ``path`` is a toy address: ``"toy"``, ``"toy:gamma"`` or ``"toy:muon"``."""
        text = str(path)
        return text == "toy" or text.startswith("toy:")

    @classmethod
    def read(cls, path="toy", *, n_events=100, **options):
        """All events of a toy address in one tree, e.g. ``read("toy:muon", n_events=50, seed=1)``."""
        text = str(path)
        if not cls.is_compatible(text):
            raise ValueError(f"{text!r} is not a toy address; use 'toy', 'toy:gamma' or 'toy:muon'")
        if ":" in text:
            options.setdefault("kind", text.split(":", 1)[1])
        return toy_events(n_events, **options)

    def _camera_constants(self):
        """Per camera: telescope rows, focal lengths, pixel variance and field-of-view radius."""
        constants = {}
        for name, tel_ids in self.subarray.ids_by_camera().items():
            geometry = self.subarray.tel[tel_ids[0]].camera.geometry
            focal = {t: self.subarray.tel[t].optics.effective_focal_length for t in tel_ids}
            focal = {t: f if np.isfinite(f) else self.subarray.tel[t].optics.equivalent_focal_length
                     for t, f in focal.items()}
            constants[name] = {
                "variance": toymodel.pixel_variance(geometry, self.oversampling),
                "radius": float(np.hypot(geometry.pix_x, geometry.pix_y).max()),
                "focal": focal,
            }
        return constants

    def _tel_constants(self):
        """Per telescope, in id order: focal length [m], pixel variance [deg2], field-of-view radius
        [deg], mirror area [m2] and readout window [ns]."""
        constants = {k: np.empty(len(self._tel_ids)) for k in ("focal", "variance", "fov", "mirror", "window")}
        for i, tel_id in enumerate(self._tel_ids.tolist()):
            desc = self.subarray.tel[tel_id]
            camera = self._cameras[desc.camera.name]
            f = camera["focal"][tel_id]
            constants["focal"][i] = f
            constants["variance"][i] = camera["variance"] * (np.rad2deg(1.0) / f) ** 2
            constants["fov"][i] = np.rad2deg(camera["radius"] / f)
            constants["mirror"][i] = desc.optics.mirror_area
            constants["window"][i] = desc.camera.readout.n_samples / desc.camera.readout.sampling_rate
        return constants

    # ------------------------------------------------------------------- events

    def batches(self, batch_size=100, n_events=100):
        """Yield event trees of at most ``batch_size`` events, ``n_events`` in all.

        Parameters
        ----------
        batch_size : int or None
            Events per tree; ``None`` for a single tree.
        n_events : int
            Events to simulate.
        """
        if n_events < 1:
            raise ValueError(f"n_events must be at least 1, got {n_events}")
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        remaining = int(n_events)
        while remaining > 0:
            size = remaining if batch_size is None else min(int(batch_size), remaining)
            yield self._tree(size)
            remaining -= size

    def _tree(self, n):
        events, tel_events = self._draw_gammas(n) if self.kind == "gamma" else self._draw_muons(n)
        root = self._root(events)
        cameras = {}
        camera_of = np.array([self.subarray.tel[int(t)].camera.name for t in self._tel_ids])
        for name in self.subarray.ids_by_camera():
            rows = {k: v[camera_of[tel_events["tel_index"]] == name] for k, v in tel_events.items()}
            cameras[name] = self._camera_group(name, rows, root["event_id"].values)
        self.n_read += n
        return make_tree(root, self._instrument, cameras)

    def _energies(self, n):
        e_min, e_max = self.energy_range
        g = self.spectral_index + 1.0
        u = self._rng.random(n)
        if abs(g) < 1e-9:
            return e_min * (e_max / e_min) ** u
        return (e_min**g + u * (e_max**g - e_min**g)) ** (1.0 / g)

    def _directions(self, n, radius):
        """Directions (alt, az) [deg] uniform in solid angle within ``radius`` [deg] of the pointing."""
        cos_max = np.cos(np.deg2rad(radius))
        theta = np.arccos(1.0 - self._rng.random(n) * (1.0 - cos_max))
        phi = self._rng.uniform(0, 2 * np.pi, n)
        lon, lat = np.rad2deg(theta * np.cos(phi)), np.rad2deg(theta * np.sin(phi))
        return telescope_to_altaz(lon, lat, *self.pointing), (lon, lat)

    def _draw_gammas(self, n):
        """Array events with at least ``min_telescopes`` triggered telescopes, and their telescope events."""
        tels = self._tel_constants()
        collected, count, tries = [], 0, 0
        while count < n:
            m = max(2 * (n - count), 64)
            candidates = self._gamma_candidates(m, tels)
            keep = np.flatnonzero(candidates["n_triggered"] >= self.min_telescopes)
            if keep.size:
                last = keep[min(n - count, keep.size) - 1]
                collected.append((candidates, keep[keep <= last], self.n_showers))
                self.n_showers += last + 1
                count += min(n - count, keep.size)
            else:
                self.n_showers += m
            tries += m
            if count == 0 and tries > 1000 * n + 10_000:
                raise ValueError(f"none of {tries} toy showers triggered {self.min_telescopes} telescopes; "
                                 "lower trigger_threshold or min_telescopes, or raise energy_range")
        return self._gather(collected, tels["focal"])

    def _gamma_candidates(self, m, tels):
        rng = self._rng
        n_tel = len(self._tel_ids)
        variance, fov, mirror = tels["variance"], tels["fov"], tels["mirror"]
        energy = self._energies(m)
        (alt, az), _ = self._directions(m, self.viewcone)
        r = self.max_scatter * np.sqrt(rng.random(m))
        phi = rng.uniform(0, 2 * np.pi, m)
        core = np.stack([r * np.cos(phi), r * np.sin(phi), np.zeros(m)], axis=-1)
        x_max = _X_RAD * np.log(energy / _E_CRITICAL) + rng.normal(0, 20.0, m)
        x_first = rng.exponential(9.0 / 7.0 * _X_RAD, m)
        h_obs = self.subarray.reference_location.height.to_value("m")
        h_max = _height(x_max, alt)
        axis = altaz_to_cartesian(alt, az)
        distance = (h_max - h_obs) / np.sin(np.deg2rad(alt))
        shower_max = core + distance[:, None] * axis
        # per telescope: direction of the shower maximum and distance from the axis
        to_max = shower_max[:, None, :] - self._positions[None, :, :]
        cog_lon, cog_lat = altaz_to_telescope(*cartesian_to_altaz(to_max), *self.pointing)
        src_lon, src_lat = altaz_to_telescope(alt, az, *self.pointing)
        offset = self._positions[None, :, :] - core[:, None, :]
        along = np.einsum("mtk,mk->mt", offset, axis)
        impact = np.linalg.norm(offset - along[..., None] * axis[:, None, :], axis=-1)
        lateral = np.where(impact < _PLATEAU, 1.0, np.exp(-(impact - _PLATEAU) / _FALL))
        intensity = energy[:, None] * _YIELD * mirror[None, :] * lateral * rng.lognormal(0, 0.3, (m, n_tel))
        # sizes of the light distribution [deg], then as recorded by the pixels
        log_e = np.log10(energy / 0.1)[:, None]
        width_light = 0.045 * np.clip(1 + 0.25 * log_e, 0.6, None) * rng.lognormal(0, 0.15, (m, n_tel))
        length_light = width_light * (1.5 + impact / 100.0) * rng.lognormal(0, 0.15, (m, n_tel))
        width = np.sqrt(width_light**2 + variance)
        length = np.sqrt(length_light**2 + variance)
        # skewness away from the source, within reach of a skew-normal light distribution
        limit = 0.9 * toymodel.MAX_SKEW_NORMAL * (length_light / length) ** 3
        skewness = np.minimum(rng.uniform(0.1, 0.5, (m, n_tel)), limit)
        slope = (impact - 100.0) / 25.0  # later arrival along the axis for distant telescopes [ns / deg]
        away = np.rad2deg(np.arctan2(cog_lat - src_lat[:, None], cog_lon - src_lon[:, None]))
        psi, skewness, slope = _normalise_axis(away, skewness, slope)
        intercept = 0.4 * tels["window"][None, :] + rng.normal(0, 1.0, (m, n_tel))
        triggered = (intensity >= self.trigger_threshold) & (np.hypot(cog_lon, cog_lat) < 0.9 * fov)
        return {
            "root": {
                "energy": energy, "alt": alt, "az": az, "core_x": core[:, 0], "core_y": core[:, 1],
                "h_first_int": _height(x_first, alt), "x_max": x_max,
                "primary": np.full(m, _PRIMARY_GAMMA, np.int32),
            },
            "tel": {
                "triggered": triggered, "intensity": intensity, "fov_lon": cog_lon, "fov_lat": cog_lat,
                "length": length, "width": width, "psi": psi, "skewness": skewness,
                "timing_slope": slope, "timing_intercept": intercept, "impact": impact,
            },
            "n_triggered": triggered.sum(axis=1),
        }

    def _draw_muons(self, n):
        rng = self._rng
        tels = self._tel_constants()
        tel = rng.integers(0, len(self._tel_ids), n)
        variance, mirror = tels["variance"][tel], tels["mirror"][tel]
        energy = self._energies(n)
        (alt, az), (lon, lat) = self._directions(n, 0.6 * tels["fov"][tel])
        # Cherenkov angle of the muon
        beta = np.sqrt(1.0 - (_MUON_MASS / energy) ** 2)
        radius = np.rad2deg(np.arccos(1.0 / ((1.0 + _AIR_N_MINUS_1) * beta)))
        saturated = np.arccos(1.0 / (1.0 + _AIR_N_MINUS_1))
        width = np.sqrt(rng.uniform(0.03, 0.08, n) ** 2 + variance)
        intensity = (_MUON_YIELD * mirror * np.sin(2 * np.deg2rad(radius)) / np.sin(2 * saturated)
                     * rng.lognormal(0, 0.1, n))
        intercept = 0.4 * tels["window"][tel] + rng.normal(0, 1.0, n)
        mirror_radius = np.sqrt(mirror / np.pi)
        impact = mirror_radius * np.sqrt(rng.random(n))
        angle = rng.uniform(0, 2 * np.pi, n)
        core = self._positions[tel, :2] + np.stack([impact * np.cos(angle), impact * np.sin(angle)], axis=-1)
        triggered = np.ones((n, 1), bool)
        candidates = {
            "root": {
                "energy": energy, "alt": alt, "az": az, "core_x": core[:, 0], "core_y": core[:, 1],
                "h_first_int": np.full(n, np.nan), "x_max": np.full(n, np.nan),
                "primary": np.where(rng.random(n) < 0.55, _PRIMARY_MU_PLUS, _PRIMARY_MU_MINUS).astype(np.int32),
            },
            "tel": {
                "triggered": triggered, "intensity": intensity[:, None], "center_fov_lon": lon[:, None],
                "center_fov_lat": lat[:, None], "radius": radius[:, None], "width": width[:, None],
                "timing_intercept": intercept[:, None], "impact": impact[:, None], "tel_index": tel[:, None],
            },
        }
        self.n_showers += n
        return self._gather([(candidates, np.arange(n), self.n_showers - n)], tels["focal"])

    def _gather(self, collected, focal):
        """Root quantities of the kept events and flat arrays of their triggered telescope events."""
        root, tel = {}, {}
        for candidates, keep, first_shower in collected:
            for key, values in candidates["root"].items():
                root.setdefault(key, []).append(values[keep])
            root.setdefault("shower", []).append(first_shower + keep)
            triggered = candidates["tel"]["triggered"][keep]
            event, column = np.nonzero(triggered)
            tel.setdefault("event", []).append(event + sum(len(k) for k in root["shower"][:-1]))
            for key, values in candidates["tel"].items():
                if key != "triggered":
                    tel.setdefault(key, []).append(np.asarray(values)[keep][event, column])
            if "tel_index" not in candidates["tel"]:
                tel.setdefault("tel_index", []).append(column)
        root = {k: np.concatenate(v) for k, v in root.items()}
        tel = {k: np.concatenate(v) for k, v in tel.items()}
        tel["focal"] = focal[tel["tel_index"]]
        order = np.lexsort((self._tel_ids[tel["tel_index"]], tel["event"]))
        return root, {k: v[order] for k, v in tel.items()}

    # ------------------------------------------------------------------- nodes

    def _root(self, events):
        n = events["energy"].shape[0]
        event_id = (events["shower"] + 1) * 100
        gaps = self._rng.exponential(1e6, n).astype(np.int64)  # mean 1 ms between events [ns]
        time = self._time + np.cumsum(gaps).astype("timedelta64[ns]")
        self._time = time[-1]
        alt, az = self.pointing
        data_vars = {
            "trigger_time": (time, {"long_name": "central trigger time (UTC)"}),
            "event_type": (np.full(n, 32, np.int16), {"long_name": "event type code",
                                                       "flag_values": list(EVENT_TYPES),
                                                       "flag_meanings": " ".join(EVENT_TYPES.values())}),
            "true_energy": (events["energy"], {"units": "TeV"}),
            "true_alt": (events["alt"], {"units": "deg"}),
            "true_az": (events["az"], {"units": "deg"}),
            "true_core_x": (events["core_x"], {"units": "m"}),
            "true_core_y": (events["core_y"], {"units": "m"}),
            "true_h_first_int": (events["h_first_int"], {"units": "m"}),
            "true_x_max": (events["x_max"], {"units": _GRAMMAGE}),
            "true_shower_primary_id": (events["primary"], {"long_name": "CORSIKA primary id, -1 if none"}),
            "array_altitude": (np.full(n, alt), {"units": "deg"}),
            "array_azimuth": (np.full(n, az), {"units": "deg"}),
        }
        attrs = {
            "source": "toy",
            "input_file": "",
            "focal_length_kind": "effective",
            "tracking_mode": 0,
            "simulation_energy_min": self.energy_range[0],
            "simulation_energy_max": self.energy_range[1],
            "simulation_energy_units": "TeV",
            "simulation_spectral_index": self.spectral_index,
            "simulation_n_showers": int(self.n_showers),
            "simulation_shower_reuse": 1,
            "simulation_max_scatter_range": self.max_scatter,
            "simulation_viewcone_max": self.viewcone,
            "simulation_diffuse": int(self.viewcone > 0),
            "simulation_observation_height": float(self.subarray.reference_location.height.to_value("m")),
            "toy_kind": self.kind,
            "toy_seed": str(self.seed) if isinstance(self.seed, (int, np.integer)) else "",
            "toy_nsb_rate": self.nsb_rate,
            "toy_nsb_rate_units": "pe / ns",
            "toy_electronic_noise": self.electronic_noise,
            "toy_electronic_noise_units": "pe",
        }
        return root_dataset(np.full(n, self.obs_id), event_id, data_vars, attrs)

    def _camera_group(self, name, rows, event_ids):
        tel_ids = self._tel_ids[rows["tel_index"]]
        geometry = self.subarray.tel[self.subarray.ids_by_camera()[name][0]].camera.geometry
        readouts = self.subarray.readouts(name)
        n, n_pixels = tel_ids.shape[0], geometry.n_pixels
        f = rows["focal"]
        to_m = np.deg2rad(1.0) * f  # [m / deg]
        kw = {"oversampling": self.oversampling}
        if self.kind == "gamma":
            x, y = telescope_to_camera(rows["fov_lon"], rows["fov_lat"], f)
            psi_camera = 90.0 - rows["psi"]
            expected = toymodel.skewed_gaussian_image(geometry, x, y, rows["length"] * to_m, rows["width"] * to_m,
                                                      psi_camera, rows["skewness"], rows["intensity"], **kw)
            times = toymodel.time_image(geometry, x, y, psi_camera, rows["timing_slope"] / to_m,
                                        rows["timing_intercept"])
        else:
            x, y = telescope_to_camera(rows["center_fov_lon"], rows["center_fov_lat"], f)
            expected = toymodel.ring_image(geometry, x, y, rows["radius"] * to_m, rows["width"] * to_m,
                                           rows["intensity"], **kw)
            times = np.repeat(rows["timing_intercept"][:, None], n_pixels, axis=1)
        expected = expected.reshape(n, n_pixels)
        true_image = np.empty((n, n_pixels), np.int32)
        _k.poisson_images(expected, toymodel.row_seeds(self._rng, n), true_image)
        times = times.reshape(n, n_pixels)
        waveform = self._waveforms(name, tel_ids, true_image, times)
        peak_time = np.where(true_image > 0, times, np.nan).astype(np.float32)
        data_vars = {
            "waveform": (("tel_event", "pixel", "sample"), waveform,
                         {"units": "pe", "long_name": "R1 waveform, pedestal-subtracted, gain-selected"}),
            "selected_gain": (("tel_event", "pixel"), np.zeros((n, n_pixels), np.int8),
                              {"long_name": "gain channel used (0 high, 1 low)"}),
            "time_shift": (("tel_event", "pixel"), np.zeros((n, n_pixels), np.float32),
                           {"units": "ns", "long_name": "peak time shift of the selected channel"}),
            "outlier_mask": (("tel_event", "pixel"), np.zeros((n, n_pixels), bool),
                             {"long_name": "pixel disabled (high voltage off) in the camera settings"}),
            "pointing_alt": ("tel_event", np.full(n, self.pointing[0]),
                             {"units": "deg", "long_name": "telescope pointing altitude"}),
            "pointing_az": ("tel_event", np.full(n, self.pointing[1]),
                            {"units": "deg", "long_name": "telescope pointing azimuth"}),
            "focal_length": ("tel_event", f.astype(np.float64), {"units": "m", "long_name": "effective focal length"}),
            "true_image": (("tel_event", "pixel"), true_image,
                           {"units": "pe", "long_name": "true photo-electrons, -1 if unknown"}),
            "true_peak_time": (("tel_event", "pixel"), peak_time,
                               {"units": "ns", "long_name": "true signal arrival time, NaN without signal"}),
            **self._truth(rows),
        }
        keys = (np.full(n, self.obs_id), event_ids[rows["event"]], tel_ids)
        return camera_group(geometry, readouts, keys, data_vars)

    def _truth(self, rows):
        def var(values, units=None, long_name=None):
            attrs = {} if units is None else {"units": units}
            if long_name:
                attrs["long_name"] = long_name
            return ("tel_event", np.asarray(values, np.float64), attrs)

        common = {
            "true_hillas_intensity": var(rows["intensity"], "pe", "expected signal, including light off the camera"),
            "true_impact_distance": var(rows["impact"], "m", "distance of the telescope from the shower axis"),
        }
        if self.kind == "muon":
            return {
                **common,
                "true_muonring_center_fov_lon": var(rows["center_fov_lon"], "deg"),
                "true_muonring_center_fov_lat": var(rows["center_fov_lat"], "deg"),
                "true_muonring_radius": var(rows["radius"], "deg"),
                "true_muonring_width": var(rows["width"], "deg", "rms of the radial profile, pixel-integrated"),
            }
        return {
            **common,
            "true_hillas_fov_lon": var(rows["fov_lon"], "deg"),
            "true_hillas_fov_lat": var(rows["fov_lat"], "deg"),
            "true_hillas_length": var(rows["length"], "deg", "pixel-integrated"),
            "true_hillas_width": var(rows["width"], "deg", "pixel-integrated"),
            "true_hillas_psi": var(rows["psi"], "deg"),
            "true_hillas_skewness": var(rows["skewness"]),
            "true_timing_slope": var(rows["timing_slope"], "ns / deg"),
            "true_timing_intercept": var(rows["timing_intercept"], "ns", "signal time at the centroid"),
        }

    def _waveforms(self, name, tel_ids, charge, times):
        readouts = self.subarray.readouts(name)
        first = next(iter(readouts.values()))
        out = np.empty((tel_ids.shape[0], first.n_pixels, first.n_samples), np.float32)
        models = {}
        for tel_id in np.unique(tel_ids):
            readout = readouts[int(tel_id)]
            key = next((k for k, r in models.items() if r[0] == readout), None)
            if key is None:
                models[int(tel_id)] = (readout, [tel_id])
            else:
                models[key][1].append(tel_id)
        options = {"nsb_rate": self.nsb_rate, "noise": self.electronic_noise, "seed": self._rng}
        if len(models) == 1:
            readout = next(iter(models.values()))[0]
            return toymodel.WaveformModel(readout).waveforms(charge, times, out=out, **options)
        for readout, ids in models.values():
            rows = np.flatnonzero(np.isin(tel_ids, ids))
            out[rows] = toymodel.WaveformModel(readout).waveforms(charge[rows], times[rows], **options)
        return out


def _non_negative(name, value):
    value = float(value)
    if not value >= 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    return value


def _muon_threshold():
    """Muon energy [TeV] below which no Cherenkov light is emitted."""
    n = 1.0 + _AIR_N_MINUS_1
    return _MUON_MASS / math.sqrt(1.0 - 1.0 / n**2)


def _subarray(subarray):
    if subarray is None or subarray == "toy":
        return toy_subarray()
    if subarray == "mini":
        return mini_subarray()
    if isinstance(subarray, SubarrayDescription):
        return subarray
    raise ValueError(f"subarray must be a SubarrayDescription, 'toy' or 'mini', got {subarray!r}")


def toy_event_batches(n_events, *, batch_size=100, **options):
    """Yield toy event trees of at most ``batch_size`` events, ``n_events`` in all.

    Options are those of :class:`ToySource`; event ids keep counting across
    batches.
    """
    yield from ToySource(**options).batches(batch_size=batch_size, n_events=n_events)


def toy_events(n_events, *, subarray=None, kind="gamma", seed=None, **options):
    """Simulate ``n_events`` array events into one event tree.

    Parameters
    ----------
    n_events : int
        Array events (each with at least one triggered telescope).
    subarray : SubarrayDescription, {"toy", "mini"} or None
        Telescopes (see :class:`ToySource`).
    kind : {"gamma", "muon"}
        Gamma-ray showers or single muon rings.
    seed : None, int or numpy.random.Generator
        Same seed, same events.
    **options
        Further :class:`ToySource` parameters (pointing, energies, trigger,
        night-sky background, noise, ...).

    Returns
    -------
    xarray.DataTree
        The data model of :func:`iactx.io.read_simtel` plus the true image
        parameters (see the module notes).

    Examples
    --------
    >>> tree = toy_events(10, seed=1)
    >>> sorted(tree.children)
    ['ToyHexCam', 'ToySquareCam', 'instrument']
    """
    source = ToySource(subarray=subarray, kind=kind, seed=seed, **options)
    return next(source.batches(batch_size=None, n_events=n_events))
