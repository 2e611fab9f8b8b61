"""Toy cameras and muon rings with known parameters, for the muon tests."""

import numpy as np
import pandas as pd
import xarray as xr

from iactx.instrument import CameraGeometry

FOCAL_LENGTH = 28.0  # m
PIXEL_SPACING = 0.05  # m, about 0.1 deg at 28 m


def hex_camera(radius_m=1.1, spacing=PIXEL_SPACING, name="ToyCam"):
    """A round camera of hexagonal pixels (about 1800 for the defaults, radius about 2.25 deg at 28 m)."""
    n = int(np.ceil(radius_m / spacing)) + 2
    i, j = np.meshgrid(np.arange(-2 * n, 2 * n + 1), np.arange(-2 * n, 2 * n + 1))
    x = spacing * (i + 0.5 * j)
    y = spacing * (np.sqrt(3) / 2 * j)
    keep = np.hypot(x, y) <= radius_m
    x, y = x[keep], y[keep]
    area = np.full(x.size, np.sqrt(3) / 2 * spacing ** 2)
    return CameraGeometry(name, x, y, area, "hexagon")


def fov(geometry, focal_length=FOCAL_LENGTH):
    """Telescope-frame pixel coordinates [deg] (fov_lon from y, fov_lat from x)."""
    return np.rad2deg(geometry.pix_y / focal_length), np.rad2deg(geometry.pix_x / focal_length)


def ring_image(geometry, center_lon, center_lat, radius, width, amplitude=20.0, arc=None,
               focal_length=FOCAL_LENGTH, rng=None, noise=0.0):
    """A Gaussian ring [deg] drawn on the camera: charge ``amplitude * exp(-(d - r)**2 / (2 width**2))``.

    ``arc=(phi_min, phi_max)`` [rad] keeps only that azimuth range about the centre; ``noise`` adds
    Gaussian noise of that width (with ``rng``).
    """
    lon, lat = fov(geometry, focal_length)
    d = np.hypot(lon - center_lon, lat - center_lat)
    image = amplitude * np.exp(-0.5 * ((d - radius) / width) ** 2)
    if arc is not None:
        phi = np.arctan2(lat - center_lat, lon - center_lon)
        image = np.where((phi >= arc[0]) & (phi <= arc[1]), image, 0.0)
    if noise:
        image = image + (rng or np.random.default_rng(0)).normal(0, noise, image.shape)
    return image


def camera_dataset(geometry, images, masks=None, focal_length=FOCAL_LENGTH, tel=1):
    """A camera group with ``image`` (and ``image_mask``) for the given images."""
    images = np.asarray(images, np.float32)
    n = images.shape[0]
    coords, attrs = geometry.to_coords()
    idx = xr.Coordinates.from_pandas_multiindex(
        pd.MultiIndex.from_arrays(
            [np.zeros(n, np.int64), np.arange(n, dtype=np.int64), np.full(n, tel, np.int32)],
            names=["obs_id", "event", "tel"]), "tel_event")
    data = {
        "image": (("tel_event", "pixel"), images, {"units": "pe"}),
        "focal_length": ("tel_event", np.full(n, focal_length), {"units": "m"}),
    }
    if masks is not None:
        data["image_mask"] = (("tel_event", "pixel"), np.asarray(masks, bool))
    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    return ds.assign_coords(idx)


def instrument_dataset(tels=(1,), tel_type="LST_LST_LSTCam", mirror_area=386.73, n_mirrors=1,
                       focal_length=FOCAL_LENGTH):
    """A minimal /instrument node."""
    tels = np.asarray(tels, np.int32)
    n = tels.size
    return xr.Dataset(
        {
            "tel_type": ("tel", np.array([tel_type] * n)),
            "mirror_area": ("tel", np.full(n, mirror_area)),
            "n_mirrors": ("tel", np.full(n, n_mirrors, np.int32)),
            "equivalent_focal_length": ("tel", np.full(n, focal_length)),
        },
        coords={"tel": tels},
    )


MIRROR_AREA = 386.73  # m2, LST-like


def model_ring_image(geometry, impact, phi, center_lon, center_lat, radius, width, efficiency, hole_radius=0.74,
                     mirror_area=MIRROR_AREA, focal_length=FOCAL_LENGTH, rng=None, pedestal=1.1):
    """A muon ring drawn from the intensity model (angles in deg, impact in m) with Gaussian noise."""
    from iactx.image.muon.intensity_kernels import AREA_RATIOS, expected_light_row

    lon, lat = np.deg2rad(fov(geometry, focal_length))
    mu = np.empty(lon.size)
    pixel = float(geometry.pixel_width[0] / focal_length)
    expected_light_row(lon, lat, impact, phi, np.deg2rad(center_lon), np.deg2rad(center_lat), np.deg2rad(radius),
                       np.deg2rad(width), efficiency, np.sqrt(mirror_area / np.pi), hole_radius, pixel, 3,
                       300e-9, 600e-9, AREA_RATIOS[geometry.pix_type], mu)
    if rng is None:
        return mu
    return mu + rng.normal(0, 1, mu.size) * np.sqrt(pedestal ** 2 + 1.25 * mu)
