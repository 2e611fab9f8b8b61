"""Time the muon analysis per image, iactx next to ctapipe (separate environment).

Inputs are the calibrated, cleaned muon images of a sim_telarray file (by
default the three LSTCam muons of ``lst_muons_with_true_photons``). iactx's
ring fit and ring parameters run batched, so their images are repeated
``--copies`` times to give a batch of realistic size; the intensity fit is
one likelihood fit per ring and is timed ring by ring. ctapipe's
MuonProcessor pieces are timed per image by ``ctapipe_muon_dump.py bench``
under ``--ctapipe-python`` (``CTAPIPE_PYTHON``, default
``../ctapipe-venv/bin/python``).

Timings (best of ``--runs``), seconds per image:

- ``ring_fit``: three ring fits (cleaned pixels, then twice the pixels near the ring);
- ``intensity_fit``: the likelihood fit of impact, width and optical efficiency;
- ``muon_processor``: everything (selection, ring fits, parameters, intensity fit);

for iactx with all numba threads and with one.

usage:
    python benchmarks/bench_muons.py [FILE] [--copies N] [--runs R] [--ctapipe-python PATH] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
HELPER = HERE / "ctapipe_muon_dump.py"
DEFAULT_FILE = "lst_muons_with_true_photons.simtel.zst"


def default_python():
    return os.environ.get("CTAPIPE_PYTHON", str(HERE.parent.parent / "ctapipe-venv" / "bin" / "python"))


def best(func, runs):
    func()  # warm up: compilation, caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def iactx_timings(path, copies, runs):
    import numba
    import xarray as xr

    import iactx
    from iactx.image.muon import fit_muon_rings, muon_fit, muon_ring_parameters
    from iactx.image.muon._geometry import telescope_frame_table
    from iactx.image.muon.intensity_fitter import fit_ring_intensity
    from iactx.image.muon.intensity_kernels import AREA_RATIOS

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = iactx.read_simtel(path)
    name = tree.iact.cameras[0]
    instrument = tree["instrument"].to_dataset()
    cam = tree[name].to_dataset(inherit=False).iact.calibrate().iact.clean()
    cam = cam.drop_vars([v for v in ("waveform", "selected_gain", "true_image") if v in cam])
    muons = muon_fit(cam, instrument, ring_mask=True)
    found = np.flatnonzero(np.isfinite(muons["muonefficiency_optical_efficiency"].values))
    one = cam.isel(tel_event=found)
    batch = xr.concat([one] * copies, dim="tel_event")  # repeated keys are fine for timing
    n_batch = batch.sizes["tel_event"]
    table = telescope_frame_table(one)
    mirror_radius = float(np.sqrt(instrument["mirror_area"].values[0] / np.pi))
    pixel = float(np.deg2rad(table.pixel_width[0, 0]))
    rings = muons.isel(tel_event=found)
    lon, lat = np.deg2rad(table.pix_lon[0]), np.deg2rad(table.pix_lat[0])
    fits = []
    for k in range(found.size):
        m = rings["muon_ring_mask"].values[k]
        fits.append((one["image"].values[k][m].astype(float), np.full(m.sum(), 1.1), lon[m], lat[m],
                     *np.deg2rad([rings["muonring_center_fov_lon"].values[k], rings["muonring_center_fov_lat"].values[k],
                                  rings["muonring_radius"].values[k]])))

    def ring_fit():
        r, _ = fit_muon_rings(batch)
        r["muonring_radius"].values  # noqa: B018

    def parameters():
        r, _ = fit_muon_rings(batch)
        muon_ring_parameters(batch, r)["muonparameters_containment"].values  # noqa: B018

    def intensity_fit():
        for args in fits:
            fit_ring_intensity(*args, mirror_radius=mirror_radius, hole_radius=0.74, pixel_diameter=pixel,
                               area_ratio=AREA_RATIOS["hexagon"])

    def whole():
        muon_fit(one, instrument)["muonefficiency_optical_efficiency"].values  # noqa: B018

    out = {"n_images": int(found.size), "batch": int(n_batch), "threads": numba.get_num_threads()}
    for label, threads in (("all_threads", numba.get_num_threads()), ("one_thread", 1)):
        previous = numba.get_num_threads()
        numba.set_num_threads(threads)
        try:
            out[label] = {
                "ring_fit": best(ring_fit, runs) / n_batch,
                "ring_fit_and_parameters": best(parameters, runs) / n_batch,
                "intensity_fit": best(intensity_fit, runs) / found.size,
                "muon_processor": best(whole, runs) / found.size,
            }
        finally:
            numba.set_num_threads(previous)
    return out


def ctapipe_timings(python, path, runs):
    proc = subprocess.run([python, str(HELPER), "bench", str(path), "--repeat", "5", "--runs", str(runs)],
                          check=True, capture_output=True, text=True)
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"n_images": data["n_candidates"], **{k: min(v) for k, v in data["seconds_per_image"].items()}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", default=DEFAULT_FILE)
    parser.add_argument("--data-path", default=os.environ.get("IACTX_DATA_PATH", str(HERE.parent.parent / "shared"
                                                                                      / "data" / "simtel")))
    parser.add_argument("--copies", type=int, default=200, help="batch = muon images repeated this often")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ctapipe-python", default=default_python())
    parser.add_argument("--no-ctapipe", action="store_true")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    path = Path(args.file)
    if not path.is_file():
        path = Path(args.data_path) / args.file
    result = {"file": str(path), "iactx": iactx_timings(path, args.copies, args.runs)}
    if not args.no_ctapipe:
        result["ctapipe"] = ctapipe_timings(args.ctapipe_python, path, args.runs)
    ix = result["iactx"]
    print(f"{result['file']}: {ix['n_images']} muon images; iactx batch of {ix['batch']}, "
          f"{ix['threads']} numba threads")
    print(f"{'ms per image':24s} {'iactx (all threads)':>20s} {'iactx (1 thread)':>17s} {'ctapipe':>10s}")
    for key in ("ring_fit", "ring_fit_and_parameters", "intensity_fit", "muon_processor"):
        ct = result.get("ctapipe", {}).get(key)
        ct_text = f"{ct * 1e3:10.3f}" if ct is not None else f"{'-':>10s}"
        print(f"{key:24s} {ix['all_threads'][key] * 1e3:20.3f} {ix['one_thread'][key] * 1e3:17.3f} {ct_text}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
