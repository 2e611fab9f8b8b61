"""Small synthetic camera groups and event trees for the plotting tests.

Regular hexagonal or square grids of touching pixels (so pixel areas and
orientations are known exactly), a few telescope events with Gaussian
pulses, and optionally a camera rotation.
"""

import numpy as np
import pandas as pd
import xarray as xr


def _rotate(x, y, deg):
    c, s = np.cos(np.deg2rad(deg)), np.sin(np.deg2rad(deg))
    return c * x - s * y, s * x + c * y


def grid(pix_type, n_rings=5, spacing=0.05):
    """Pixel centres of touching pixels and their area; hexagonal grids have neighbours along x."""
    if pix_type == "square":
        i, j = np.meshgrid(np.arange(-n_rings, n_rings + 1), np.arange(-n_rings, n_rings + 1))
        return spacing * i.ravel().astype(float), spacing * j.ravel().astype(float), spacing**2
    q, r = np.meshgrid(np.arange(-n_rings, n_rings + 1), np.arange(-n_rings, n_rings + 1))
    q, r = q.ravel(), r.ravel()
    keep = np.abs(-q - r) <= n_rings
    q, r = q[keep], r[keep]
    x = spacing * (q + r / 2.0)
    y = spacing * r * np.sqrt(3) / 2.0
    area = np.sqrt(3) / 2 * spacing**2 if pix_type == "hexagon" else np.pi * (spacing / 2) ** 2
    return x, y, area


def toy_camera(pix_type="hexagon", *, layout_rotation=0.0, cam_rotation=0.0, n_rings=5, spacing=0.05,
               keys=((1, 10, 1), (1, 10, 2), (1, 11, 1)), n_samples=20, name=None, seed=0):
    """A camera group with telescope events ``keys`` = (obs_id, event, tel).

    ``layout_rotation`` turns grid and pixels together (the derotated
    camera); ``cam_rotation`` is then stored the way sim_telarray cameras
    are before derotation: positions turned by ``+cam_rotation``, pixel
    rotation increased by it.
    """
    rng = np.random.default_rng(seed)
    x, y, area = grid(pix_type, n_rings, spacing)
    x, y = _rotate(x, y, layout_rotation)
    x, y = _rotate(x, y, cam_rotation)
    n = x.size
    t = np.arange(n_samples)
    peak = 8 + 4 * (x - x.min()) / (np.ptp(x) or 1)
    amplitude = 50 * np.exp(-((x - 0.05) ** 2 + (y + 0.05) ** 2) / (2 * 0.04**2)) + rng.normal(0, 0.3, n)
    waveforms = []
    for k in range(len(keys)):
        scale = 1.0 + k
        waveforms.append(scale * amplitude[:, None] * np.exp(-((t[None, :] - peak[:, None]) ** 2) / 4.0))
    waveform = np.asarray(waveforms, np.float32)
    image = waveform.sum(axis=2)
    index = pd.MultiIndex.from_tuples([tuple(map(int, k)) for k in keys], names=["obs_id", "event", "tel"])
    coords = xr.Coordinates.from_pandas_multiindex(index, "tel_event")
    ds = xr.Dataset(
        {
            "waveform": (("tel_event", "pixel", "sample"), waveform, {"units": "pe"}),
            "image": (("tel_event", "pixel"), image.astype(np.float32), {"units": "pe"}),
            "peak_time": (("tel_event", "pixel"), np.broadcast_to(peak, image.shape).astype(np.float32),
                          {"units": "ns"}),
            "image_mask": (("tel_event", "pixel"), image > 30),
            "true_image": (("tel_event", "pixel"), np.round(image).astype(np.int32), {"units": "pe"}),
            "focal_length": ("tel_event", np.full(len(keys), 16.0), {"units": "m"}),
            "pointing_alt": ("tel_event", np.full(len(keys), 70.0), {"units": "deg"}),
            "pointing_az": ("tel_event", np.full(len(keys), 0.0), {"units": "deg"}),
        },
        coords={
            **coords,
            "pixel": ("pixel", np.arange(n, dtype=np.int32)),
            "pix_x": ("pixel", x, {"units": "m"}),
            "pix_y": ("pixel", y, {"units": "m"}),
            "pix_area": ("pixel", np.full(n, area), {"units": "m2"}),
        },
        attrs={
            "camera_name": name or f"Toy{pix_type.capitalize()}",
            "pix_type": pix_type,
            "pix_rotation": float(layout_rotation + cam_rotation),
            "cam_rotation": float(cam_rotation),
            "sampling_rate": 1.0,
            "n_samples": n_samples,
        },
    )
    from iactx.instrument import CameraGeometry

    ds = ds.assign_coords(neighbors=(("pixel", "neighbor"), CameraGeometry.from_dataset(ds).neighbor_table))
    return ds


def toy_tree(cameras, positions, tel_types, *, true_core=(0.0, 0.0), event_ids=(10, 11), obs_id=1):
    """An event tree with an instrument table and the given camera groups.

    ``cameras``: {name: dataset}; ``positions``: {tel: (x, y, z)};
    ``tel_types``: {tel: type string}.
    """
    tels = sorted(positions)
    names = {}
    for name, ds in cameras.items():
        for tel in np.unique(ds.indexes["tel_event"].get_level_values("tel")):
            names[int(tel)] = name
    instrument = xr.Dataset(
        {
            "tel_type": ("tel", np.array([tel_types[t] for t in tels])),
            "camera_name": ("tel", np.array([names.get(t, "none") for t in tels])),
            "pos_x": ("tel", np.array([positions[t][0] for t in tels], float), {"units": "m"}),
            "pos_y": ("tel", np.array([positions[t][1] for t in tels], float), {"units": "m"}),
            "pos_z": ("tel", np.array([positions[t][2] for t in tels], float), {"units": "m"}),
            "mirror_area": ("tel", np.full(len(tels), 100.0), {"units": "m2"}),
        },
        coords={"tel": ("tel", np.array(tels, np.int32))},
        attrs={"subarray_name": "toy array"},
    )
    n = len(event_ids)
    root = xr.Dataset(
        {"true_core_x": ("event", np.full(n, float(true_core[0]))),
         "true_core_y": ("event", np.full(n, float(true_core[1])))},
        coords={"obs_id": ("event", np.full(n, obs_id, np.int64)),
                "event_id": ("event", np.array(event_ids, np.int64))},
    )
    return xr.DataTree.from_dict({"/": root, "/instrument": instrument, **{f"/{k}": v for k, v in cameras.items()}})
