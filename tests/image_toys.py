"""Synthetic cameras and images for the cleaning and image-parameter tests.

Regular hexagonal and square grids of touching pixels, camera groups built
from them with any images, and noiseless shower-like images with known
centroid, length, width, orientation and skewness.
"""

import numpy as np
import xarray as xr
from scipy import stats

from iactx.instrument import CameraGeometry
from iactx.io.event_tree import tel_event_index


def hex_geometry(n_rings=8, spacing=0.05, name="ToyHex"):
    """Hexagonal grid of touching hexagonal pixels (flat-to-flat ``spacing`` [m])."""
    q, r = np.meshgrid(np.arange(-n_rings, n_rings + 1), np.arange(-n_rings, n_rings + 1))
    q, r = q.ravel(), r.ravel()
    keep = np.abs(q + r) <= n_rings
    q, r = q[keep], r[keep]
    x = spacing * (q + r / 2.0)
    y = spacing * r * np.sqrt(3) / 2.0
    area = np.full(x.size, np.sqrt(3) / 2 * spacing**2)
    return CameraGeometry(name, x, y, area, "hexagon")


def square_geometry(n_side=15, spacing=0.05, name="ToySquare"):
    """Square grid of touching square pixels."""
    i, j = np.meshgrid(np.arange(n_side) - n_side // 2, np.arange(n_side) - n_side // 2)
    x, y = spacing * i.ravel().astype(float), spacing * j.ravel().astype(float)
    return CameraGeometry(name, x, y, np.full(x.size, spacing**2), "square")


def camera_group(geom, image, peak_time=None, *, tel_ids=None, event_ids=None, focal_length=16.0, mask=None):
    """A camera group (tel_event, pixel) holding ``image`` (and ``peak_time``, ``image_mask``)."""
    image = np.asarray(image)
    n = image.shape[0]
    tel_ids = np.ones(n, int) if tel_ids is None else np.asarray(tel_ids)
    event_ids = np.arange(n) if event_ids is None else np.asarray(event_ids)
    coords, attrs = geom.to_coords()
    data = {
        "image": (("tel_event", "pixel"), image, {"units": "pe"}),
        "focal_length": ("tel_event", np.broadcast_to(np.asarray(focal_length, float), (n,)).copy(), {"units": "m"}),
    }
    if peak_time is not None:
        data["peak_time"] = (("tel_event", "pixel"), np.asarray(peak_time), {"units": "ns"})
    if mask is not None:
        data["image_mask"] = (("tel_event", "pixel"), np.asarray(mask, bool))
    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    return ds.assign_coords(tel_event_index(np.ones(n, np.int64), event_ids, tel_ids))


def shower_image(geom, *, x, y, length, width, psi_deg, intensity, skew_shape=0.0):
    """Expected charge per pixel of an elliptical shower image.

    Longitudinally a skew-normal of standard deviation ``length`` and mean at
    (x, y) along direction ``psi_deg`` (the direction in which the tail points
    for a positive ``skew_shape``), transversally a normal of width ``width``.

    Returns
    -------
    image : ndarray (n_pixels,)
    moments : dict
        ``skewness`` and ``kurtosis`` (non-excess) of the longitudinal profile.
    """
    psi = np.deg2rad(psi_deg)
    dist = stats.skewnorm(skew_shape)
    mean, var, skew, kurt = (float(v) for v in dist.stats(moments="mvsk"))
    scale = length / np.sqrt(var)
    dx, dy = geom.pix_x - x, geom.pix_y - y
    longi = dx * np.cos(psi) + dy * np.sin(psi)
    trans = -dx * np.sin(psi) + dy * np.cos(psi)
    density = dist.pdf(longi / scale + mean) / scale * stats.norm.pdf(trans, scale=width)
    return intensity * density * geom.pix_area, {"skewness": skew, "kurtosis": kurt + 3.0}
