"""Write the figures of docs/plotting.md into docs/figures/ (static PNGs, matplotlib backend).

Usage::

    IACTX_DATA_PATH=../shared/data/simtel python docs/make_figures.py

The images need a charge, a cleaning mask and Hillas parameters. They are
computed here with a few lines of numpy (a local-peak window sum, two-level
tail cuts, weighted second moments) so that the script depends only on
the plotting and reading code; an analysis gets them from the calibration,
cleaning and parameter steps of iactx instead.
"""

import os
import sys
import warnings
from pathlib import Path

import numpy as np

import holoviews as hv

import iactx
from iactx.coordinates.projections import camera_to_telescope
from iactx.plotting import array, camera
from iactx.plotting.waveforms import integration_window

HERE = Path(__file__).resolve().parent
FIGURES = HERE / "figures"
DPI = 100


def charge_and_time(ds, width=7, shift=3):
    """Sum of each waveform in a window about its peak [pe] and the weighted mean time there [ns]."""
    wf = ds["waveform"].transpose("tel_event", "pixel", "sample").values.astype(np.float64)
    rate = ds.attrs["sampling_rate"]
    charge = np.empty(wf.shape[:2])
    peak_time = np.empty(wf.shape[:2])
    samples = np.arange(wf.shape[2])
    for k in range(wf.shape[0]):  # a handful of telescope events
        start, stop = integration_window(wf[k], "LocalPeakWindowSum", window_width=width, window_shift=shift)
        inside = (samples[None, :] >= start[:, None]) & (samples[None, :] < stop[:, None])
        summed = np.where(inside, wf[k], 0.0)
        charge[k] = summed.sum(axis=1)
        positive = np.clip(summed, 0, None)
        with np.errstate(invalid="ignore", divide="ignore"):
            peak_time[k] = (positive * samples).sum(axis=1) / positive.sum(axis=1) / rate
    image = ds["waveform"].isel(sample=0, drop=True).copy(data=charge.astype(np.float32))
    time = ds["waveform"].isel(sample=0, drop=True).copy(data=peak_time.astype(np.float32))
    return (image.rename("image").assign_attrs(units="pe", long_name="charge"),
            time.rename("peak_time").assign_attrs(units="ns", long_name="peak time"))


def tailcuts(image, neighbors, picture=10.0, boundary=5.0):
    """Pixels above ``picture`` with a picture neighbour, plus their neighbours above ``boundary``."""
    table = np.asarray(neighbors)
    valid = table >= 0
    safe = np.where(valid, table, 0)
    above = image >= picture
    core = above & (above[safe] & valid).any(axis=1)
    near_core = (core[safe] & valid).any(axis=1)
    return core | ((image >= boundary) & near_core)


def hillas(x, y, weights):
    """Centroid, length, width (1 sigma) and angle [deg] of a weighted pixel distribution (camera frame)."""
    w = weights / weights.sum()
    cx, cy = np.sum(w * x), np.sum(w * y)
    cov = np.cov(np.vstack([x, y]), aweights=w, bias=True)
    values, vectors = np.linalg.eigh(cov)
    psi = np.degrees(np.arctan2(vectors[1, 1], vectors[0, 1]))
    return {"x": cx, "y": cy, "length": np.sqrt(values[1]), "width": np.sqrt(values[0]), "psi": psi}


def add_parameters(ds):
    """The group with image, peak_time, image_mask and telescope-frame Hillas parameters."""
    image, peak_time = charge_and_time(ds)
    masks, rows = [], []
    f = ds["focal_length"].values
    for k in range(ds.sizes["tel_event"]):
        values = image.values[k]
        mask = tailcuts(values, ds["neighbors"].values)
        masks.append(mask)
        if mask.sum() >= 3:
            h = hillas(ds["pix_x"].values[mask], ds["pix_y"].values[mask], values[mask])
            # to the telescope frame [deg]: fov_lat = x / f, fov_lon = y / f, so psi' = 90 deg - psi
            fov_lon, fov_lat = camera_to_telescope(h["x"], h["y"], f[k])
            rows.append((fov_lon, fov_lat, np.degrees(h["length"] / f[k]), np.degrees(h["width"] / f[k]),
                         90.0 - h["psi"]))
        else:
            rows.append((np.nan,) * 5)
    rows = np.array(rows)
    out = ds.assign(image=(image.dims, image.values, image.attrs),
                    peak_time=(peak_time.dims, peak_time.values, peak_time.attrs),
                    image_mask=(("tel_event", "pixel"), np.array(masks)))
    for i, name in enumerate(("fov_lon", "fov_lat", "length", "width", "psi")):
        out[f"hillas_{name}"] = ("tel_event", rows[:, i], {"units": "deg"})
    return out


def read(name, **kwargs):
    folder = Path(os.environ.get("IACTX_DATA_PATH", HERE.parent.parent / "shared" / "data" / "simtel"))
    path = folder / name
    if not path.is_file():
        sys.exit(f"{path} not found: set IACTX_DATA_PATH to the folder of the sample files")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return iactx.read_simtel(path, **kwargs)


def save(plot, name, **options):
    path = FIGURES / name
    hv.save(plot.opts(**options) if options else plot, path, backend="matplotlib", dpi=DPI)
    print(f"{path.relative_to(HERE.parent)}: {path.stat().st_size / 1024:.0f} kB")
    return path


def main():
    FIGURES.mkdir(exist_ok=True)
    hv.extension("matplotlib")
    hv.output(fig="png")

    stereo = read("camsettings_v6.simtel.zst")
    lst = add_parameters(stereo["LSTcam"].to_dataset())
    nectar = add_parameters(stereo["NectarCam"].to_dataset())
    event = int(lst.indexes["tel_event"][0][1])

    plot = camera(lst, "image", event=event, tel=1, mask="image_mask", hillas=True, n_sigma=2, scale="symlog")
    save(plot.opts(fig_size=160), "lstcam_image_mask_hillas.png")

    brightest = int(np.argmax(nectar["image"].sum("pixel").values))
    tel = int(nectar.indexes["tel_event"][brightest][2])
    selected = nectar.sel(event=event, tel=tel)
    mask = selected["image_mask"].values.ravel()
    assert mask.sum() > 0
    x, y = nectar["pix_x"].values[mask], nectar["pix_y"].values[mask]
    zoom = 0.12 + max(np.ptp(x), np.ptp(y)) / 2
    centre = (x.mean(), y.mean())
    image = camera(nectar, "image", event=event, tel=tel, mask="image_mask", scale="symlog",
                   title=f"NectarCam, tel {tel}, event {event}: charge")
    times = camera(nectar, nectar["peak_time"].where(nectar["image_mask"]), event=event, tel=tel, cmap="plasma",
                   mask="image_mask", title="peak time of the cleaned pixels (zoom)")
    times = times.opts(xlim=(centre[0] - zoom, centre[0] + zoom), ylim=(centre[1] - zoom, centre[1] + zoom),
                       show_legend=False)
    save((image.opts(show_legend=False) + times).opts(fig_size=130), "nectarcam_peak_time.png")

    calib = read("calib_events.simtel.gz", calibration_events=True, focal_length="equivalent")
    sct = calib["SCTCam"].to_dataset()
    total = sct["waveform"].sum("sample").assign_attrs(units="pe", long_name="summed waveform")
    plot = camera(sct, total, scale="symlog", cmap="cividis",
                  title="SCTCam (11 328 pixels), calibration event, summed waveform")
    save(plot.opts(fig_size=160), "sctcam_image.png")

    tree = stereo.copy()
    tree["LSTcam"] = lst
    tree["NectarCam"] = nectar
    save(array(tree, event=event).opts(fig_size=150), "array_event.png")


if __name__ == "__main__":
    main()
