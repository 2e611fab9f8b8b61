"""The instrument model of a sim_telarray file."""

from __future__ import annotations

import warnings

import numpy as np
from astropy import units as u
from astropy.coordinates import EarthLocation

from ..instrument import (
    CameraDescription,
    CameraGeometry,
    CameraReadout,
    OpticsDescription,
    SubarrayDescription,
    TelescopeDescription,
    TelescopeGuess,
    guess_telescope,
    size_type_from_mirror_area,
    unknown_telescope,
)

__all__ = ["subarray_from_simtel", "FocalLengthFallbackWarning"]


class FocalLengthFallbackWarning(UserWarning):
    """The file has no effective focal length; the equivalent one is used instead."""


def _meta_text(meta, key):
    value = meta.get(key)
    return None if value is None else value.decode("utf-8", "replace").strip()


def _telescope_from_meta(meta, mirror_area):
    """Names from the telescope metadata, when the simulation wrote them."""
    optics_name = _meta_text(meta, b"OPTICS_CONFIG_NAME")
    camera_name = _meta_text(meta, b"CAMERA_CONFIG_NAME")
    mirror_class = _meta_text(meta, b"MIRROR_CLASS")
    if optics_name is None or camera_name is None or mirror_class is None:
        return None
    mirror_class = int(mirror_class)
    if mirror_class == 2:
        shape = "schwarzschild-couder"
    elif mirror_class == 0:
        if int(float(_meta_text(meta, b"PARABOLIC_DISH") or 0)) == 1:
            shape = "parabolic"
        else:
            dish = float((_meta_text(meta, b"DISH_SHAPE_Length") or "0").split()[0])
            focal = float((_meta_text(meta, b"FOCAL_Length") or "0").split()[0])
            shape = "davies-cotton" if dish == focal else "hybrid"
    else:
        shape = "unknown"
    return TelescopeGuess(
        size_type_from_mirror_area(mirror_area), optics_name, camera_name,
        2 if mirror_class == 2 else 1, shape,
    )


def _camera(camera_name, description):
    """Camera geometry (derotated) and readout from a telescope description."""
    settings = description["camera_settings"]
    pixels = description["pixel_settings"]
    organisation = description["camera_organization"]
    try:
        pix_type, pix_rotation = CameraGeometry.simtel_pixel_shape(settings["pixel_shape"][0])
    except ValueError:
        warnings.warn(f"unknown pixel shape code {settings['pixel_shape'][0]} for {camera_name}; using hexagons")
        pix_type, pix_rotation = "hexagon", 0.0
    geometry = CameraGeometry(
        camera_name, settings["pixel_x"], settings["pixel_y"], settings["pixel_area"], pix_type,
        pix_rotation=pix_rotation, cam_rotation=-np.rad2deg(float(settings["cam_rot"])),
    ).derotated()
    readout = CameraReadout(
        camera_name,
        sampling_rate=1.0 / float(pixels["time_slice"]),
        reference_pulse_shape=pixels["ref_shape"],
        reference_pulse_sample_width=float(pixels["ref_step"]),
        n_channels=organisation["n_gains"],
        n_pixels=organisation["n_pixels"],
        n_samples=pixels["sum_bins"],
    )
    return CameraDescription(camera_name, geometry, readout)


def _reference_location(global_meta, observation_height):
    lat, lon = global_meta.get(b"*LATITUDE"), global_meta.get(b"*LONGITUDE")
    height = global_meta.get(b"ALTITUDE")
    if lat is None or lon is None or height is None:
        # no geodetic position in the file: keep the height of the site
        return EarthLocation(lon=0 * u.deg, lat=0 * u.deg, height=observation_height * u.m)
    return EarthLocation(lon=float(lon) * u.deg, lat=float(lat) * u.deg, height=float(height) * u.m)


def subarray_from_simtel(simtel_file, path, focal_length="effective"):
    """Build the :class:`SubarrayDescription` of an open sim_telarray file.

    Parameters
    ----------
    simtel_file : SimtelStream
        The open file, its header read.
    path : str
        Its name, for messages.
    focal_length : {"effective", "equivalent"}
        Which focal length the returned per-telescope ``focal_length`` uses.

    Returns
    -------
    subarray : SubarrayDescription
    focal_lengths : dict[int, float]
        The chosen focal length of each telescope [m]; the equivalent one,
        with a :class:`FocalLengthFallbackWarning`, where the file has no
        effective focal length.
    """
    if focal_length not in ("effective", "equivalent"):
        raise ValueError(f"focal_length must be 'effective' or 'equivalent', got {focal_length!r}")
    header = simtel_file.header
    descriptions, positions, focal_lengths, fallback = {}, {}, {}, []
    geometries, readout_shapes = {}, {}
    for tel_id, description in simtel_file.telescope_descriptions.items():
        settings = description["camera_settings"]
        n_pixels = int(settings["n_pixels"])
        mirror_area = float(settings["mirror_area"])
        equivalent = float(settings["focal_length"])
        effective = float(settings.get("effective_focal_length", np.nan))
        if not effective > 0:
            effective = np.nan
        try:
            guess = _telescope_from_meta(simtel_file.telescope_meta.get(tel_id, {}), mirror_area)
        except (ValueError, IndexError) as err:  # numbers in the metadata text that are not numbers
            raise ValueError(f"{path}: unreadable metadata of telescope {tel_id} ({err})") from None
        if guess is None:
            try:
                guess = guess_telescope(n_pixels, equivalent, settings["n_mirrors"])
            except ValueError:
                guess = unknown_telescope(mirror_area, n_pixels)
        optics = OpticsDescription(
            guess.name, guess.size_type, guess.reflector_shape, guess.n_mirrors,
            equivalent, effective, mirror_area, settings["n_mirrors"],
        )
        camera = _camera(guess.camera_name, description)
        # telescopes of one camera type share one geometry object
        geometry = geometries.setdefault(guess.camera_name, camera.geometry)
        if geometry != camera.geometry:
            raise ValueError(f"{path}: telescopes with camera {guess.camera_name!r} differ in pixel layout")
        channels = camera.readout.n_channels, camera.readout.n_samples
        if readout_shapes.setdefault(guess.camera_name, channels) != channels:
            raise ValueError(f"{path}: telescopes with camera {guess.camera_name!r} differ in gains or samples "
                             f"({readout_shapes[guess.camera_name]} and {channels} for telescope {tel_id})")
        camera.geometry = geometry
        descriptions[tel_id] = TelescopeDescription(guess.name, optics, camera)
        index = int(np.nonzero(header["tel_id"] == tel_id)[0][0])
        positions[tel_id] = np.asarray(header["tel_pos"][index], np.float64)
        if focal_length == "effective" and np.isnan(effective):
            fallback.append(tel_id)
            focal_lengths[tel_id] = equivalent
        else:
            focal_lengths[tel_id] = optics.focal_length(focal_length)
    if fallback:
        warnings.warn(
            f"{path}: no effective focal length for telescopes {sorted(fallback)}; "
            "using the equivalent focal length for them",
            FocalLengthFallbackWarning,
            stacklevel=3,
        )
    name = _meta_text(simtel_file.global_meta, b"ARRAY_CONFIG_NAME") or "MonteCarloArray"
    location = _reference_location(simtel_file.global_meta, float(simtel_file.mc_run_headers[-1]["obsheight"])
                                   if simtel_file.mc_run_headers else 0.0)
    return SubarrayDescription(name, positions, descriptions, location), focal_lengths
