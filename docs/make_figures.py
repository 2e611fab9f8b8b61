"""Write the figures of docs/plotting.md into docs/figures/ (static PNGs, matplotlib backend).

Usage::

    IACTX_DATA_PATH=../shared/data/simtel python docs/make_figures.py

The stereo event of ``camsettings_v6.simtel.zst`` goes through the DL1
chain (``tree.iact.dl1()``: calibration, tail-cuts cleaning, Hillas
parameters with ctapipe-process's defaults); the plots read ``image``,
``peak_time``, ``image_mask`` and ``hillas_*`` from the result.
"""

import os
import sys
import warnings
from pathlib import Path

import holoviews as hv
import numpy as np

import iactx
from iactx.plotting import array, camera

HERE = Path(__file__).resolve().parent
FIGURES = HERE / "figures"
DPI = 100


def read(name, **kwargs):
    folder = Path(os.environ.get("IACTX_DATA_PATH", HERE.parent.parent / "shared" / "data" / "simtel"))
    path = folder / name
    if not path.is_file():
        sys.exit(f"{path} not found: set IACTX_DATA_PATH to the folder of the sample files")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return iactx.read_simtel(path, **kwargs)


def save(plot, name):
    path = FIGURES / name
    hv.save(plot, path, backend="matplotlib", dpi=DPI)
    print(f"{path.relative_to(HERE.parent)}: {path.stat().st_size / 1024:.0f} kB")
    return path


def main():
    FIGURES.mkdir(exist_ok=True)
    hv.extension("matplotlib")

    tree = read("camsettings_v6.simtel.zst").iact.dl1()
    lst = tree["LSTcam"].to_dataset()
    nectar = tree["NectarCam"].to_dataset()
    event = int(lst.indexes["tel_event"][0][1])

    # LSTCam: charge, cleaning mask and Hillas ellipse (2 sigma) of the brightest telescope
    tel = int(lst.indexes["tel_event"][int(np.nanargmax(lst["hillas_intensity"].values))][2])
    plot = camera(lst, "image", event=event, tel=tel, mask=True, hillas=True, n_sigma=2, scale="symlog")
    save(plot.opts(fig_size=160), "lstcam_image_mask_hillas.png")

    # NectarCam: charge and the peak time of the cleaned pixels, zoomed on the shower
    tel = int(nectar.indexes["tel_event"][int(np.nanargmax(nectar["hillas_intensity"].values))][2])
    mask = nectar["image_mask"].sel(event=event, tel=tel).values.ravel()
    x, y = nectar["pix_x"].values[mask], nectar["pix_y"].values[mask]
    half = 0.12 + max(np.ptp(x), np.ptp(y)) / 2
    image = camera(nectar, "image", event=event, tel=tel, mask=True, scale="symlog",
                   title=f"NectarCam, tel {tel}, event {event}: charge")
    times = camera(nectar, nectar["peak_time"].where(nectar["image_mask"]), event=event, tel=tel, cmap="plasma",
                   mask=True, title="peak time of the cleaned pixels (zoom)")
    times = times.opts(xlim=(x.mean() - half, x.mean() + half), ylim=(y.mean() - half, y.mean() + half))
    save((image.opts(show_legend=False) + times.opts(show_legend=False)).opts(fig_size=130),
         "nectarcam_peak_time.png")

    # SCTCam: 11 328 pixels (the sample file has a calibration event only)
    calib = read("calib_events.simtel.gz", calibration_events=True, focal_length="equivalent")
    sct = calib["SCTCam"].to_dataset()
    total = sct["waveform"].sum("sample").assign_attrs(units="pe", long_name="summed waveform")
    plot = camera(sct, total, scale="symlog", cmap="cividis",
                  title="SCTCam (11 328 pixels), calibration event, summed waveform")
    save(plot.opts(fig_size=160), "sctcam_image.png")

    # the array: triggered telescopes, true core and image axes projected on the ground
    save(array(tree, event=event).opts(fig_size=150), "array_event.png")


if __name__ == "__main__":
    main()
