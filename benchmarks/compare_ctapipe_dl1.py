"""Compare iactx's DL1 (images, cleaning masks, image parameters) with ctapipe 0.32.

ctapipe runs in its own environment through ``ctapipe_dl1_dump.py``
(subprocess); iactx never imports it. For every sample file:

- ``full`` mode: ``tree.iact.dl1()`` (calibration, cleaning, parameters,
  all defaults) against ctapipe's ``CameraCalibrator`` + ``ImageProcessor``
  (ctapipe-process's defaults): images, ``image_mask``, every parameter in
  the telescope frame, the camera-frame variant, and the true-image
  parameters.
- ``images`` mode: ctapipe's own images and peak times are put into the
  tree and only iactx's cleaning and parameters run (isolates them from
  calibration).

Then toy images on the LSTCam geometry (``--toys N``) go through both
packages: the four cleanings (tail cuts, MARS, FACT, time-constrained with
the cleaner defaults) and the parameters in both frames.

Figures: pixels whose mask differs, and per parameter the largest relative
difference ``|iactx - ctapipe| / |ctapipe|`` (0 when equal, NaN against a
number counts as a mismatch).

usage:
    python benchmarks/compare_ctapipe_dl1.py [--mode full|images|auto] [--toys 2000]
        [--ctapipe-python PATH] [--data DIR] [--json OUT]

The ctapipe interpreter comes from ``--ctapipe-python``, else
``$CTAPIPE_PYTHON``, else ``/work/ctapipe-venv/bin/python``; the data from
``--data``, else ``$IACTX_DATA_PATH``, else ``/work/shared/data/simtel``.
Exit status 1 when a mask differs or a parameter is off by more than
``--tolerance`` (default 1e-4).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

import iactx
from iactx.image.processor import ImageProcessor

HERE = Path(__file__).resolve().parent
DUMP = HERE / "ctapipe_dl1_dump.py"
FILES = ["lst_with_photons.simtel.zst", "lst_muons_with_true_photons.simtel.zst",
         "gamma_with_obslevel_particles.simtel.zst", "camsettings_v6.simtel.zst"]
#: parameters ctapipe's container holds that are not image parameters
SKIP = {"core_psi"}


def run_ctapipe(python, *args):
    result = subprocess.run([python, str(DUMP), *map(str, args)], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"ctapipe helper failed:\n{result.stderr[-3000:]}")
    return result.stdout


def relative_difference(ours, ref):
    """Per element |ours - ref| / |ref|: 0 when equal or both NaN, inf when only one is NaN."""
    ours = np.asarray(ours, float)
    ref = np.asarray(ref, float)
    with np.errstate(all="ignore"):
        rel = np.abs(ours - ref) / np.abs(ref)
    rel = np.where((ours == ref) | (np.isnan(ours) & np.isnan(ref)), 0.0, rel)
    return np.where(np.isnan(rel), np.inf, rel)


def row_order(cam, keys):
    """Positions in ``cam`` of ctapipe's (obs_id, event_id, tel_id) rows."""
    index = cam.indexes["tel_event"]
    return index.get_indexer([tuple(k) for k in keys])


def compare_params(cam, ref, prefix, rows, n_pixels, degenerate):
    """Largest relative difference of every parameter.

    Timing fits of 3-pixel images keep 2 of the 3 points, so every start of
    the least-trimmed-squares fit is an exact fit, and which one ctapipe
    keeps is decided by rounding noise (residual sums of ~1e-29): those
    images are left out of the timing figures and counted in ``degenerate``.
    """
    out = {}
    exact_fit = n_pixels == 3
    for key in ref:
        if not key.startswith(prefix):
            continue
        name = key[len(prefix):]
        if name in SKIP or name.replace("true_", "", 1) in SKIP:
            continue
        if name not in cam:
            out[name] = None
            continue
        rel = relative_difference(cam[name].values[rows], ref[key])
        if "timing_" in name:
            degenerate[name] = int((rel[exact_fit] > 1e-4).sum())
            rel = rel[~exact_fit]
        out[name] = float(rel.max(initial=0.0))
    return out


def with_ctapipe_images(tree, dump):
    nodes = {node.path: node.to_dataset(inherit=False) for node in tree.subtree}
    for name in tree.iact.cameras:
        cam = nodes[f"/{name}"]
        rows = row_order(cam, dump[f"{name}/keys"])
        image = np.empty((cam.sizes["tel_event"], cam.sizes["pixel"]), np.float32)
        times = np.empty_like(image)
        image[rows] = dump[f"{name}/image"]
        times[rows] = dump[f"{name}/peak_time"]
        nodes[f"/{name}"] = cam.drop_vars("waveform").assign(
            image=(("tel_event", "pixel"), image, {"units": "pe"}),
            peak_time=(("tel_event", "pixel"), times, {"units": "ns"}))
    return xr.DataTree.from_dict(nodes)


def compare_file(path, python, workdir, mode):
    dump_path = workdir / (path.name + ".npz")
    run_ctapipe(python, "process", path, dump_path)
    dump = dict(np.load(dump_path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. the fallback to the equivalent focal length
        tree = iactx.read_simtel(path)
    if mode == "images":
        tree = with_ctapipe_images(tree, dump)
    telescope = ImageProcessor()(tree)
    camera = ImageProcessor(use_telescope_frame=False)(tree)
    results = {}
    for name in telescope.iact.cameras:
        cam = telescope[name].to_dataset(inherit=False)
        cam_frame = camera[name].to_dataset(inherit=False)
        rows = row_order(cam, dump[f"{name}/keys"])
        mask = cam.image_mask.values[rows]
        n_pixels = dump[f"{name}/image_mask"].sum(axis=1)
        degenerate = {}
        entry = {
            "n_tel_events": int(rows.size),
            "image_max_abs_diff": float(np.abs(cam.image.values[rows] - dump[f"{name}/image"]).max()),
            "peak_time_max_abs_diff": float(np.abs(cam.peak_time.values[rows] - dump[f"{name}/peak_time"]).max()),
            "mask_pixels_differing": int((mask != dump[f"{name}/image_mask"]).sum()),
            "mask_pixels_selected": int(dump[f"{name}/image_mask"].sum()),
            "telescope_frame": compare_params(cam, dump, f"{name}/params/", rows, n_pixels, degenerate),
            "camera_frame": compare_params(cam_frame, dump, f"{name}/params_cam/", rows, n_pixels, degenerate),
            "true_image": compare_params(cam, dump, f"{name}/true/", rows, n_pixels, degenerate),
            "n_three_pixel_images": int((n_pixels == 3).sum()),
            "three_pixel_timing_differences": degenerate,
        }
        results[name] = entry
    return results


# --------------------------------------------------------------------------- toys
def toy_images(geom, n, seed=0):
    """Shower-like ellipses with noise, peak-time gradients and some noise-only images."""
    rng = np.random.default_rng(seed)
    x, y = geom.pix_x, geom.pix_y
    radius = np.hypot(x, y).max()
    images = rng.normal(0.0, 1.8, (n, x.size))
    times = rng.normal(0.0, 1.2, (n, x.size)) + 20.0
    for i in range(n):
        if rng.random() < 0.1:
            continue
        cx, cy = rng.uniform(-0.8, 0.8, 2) * radius
        length, width = rng.uniform(0.05, 0.25), rng.uniform(0.02, 0.06)
        psi = rng.uniform(0, np.pi)
        dx, dy = x - cx, y - cy
        longi = dx * np.cos(psi) + dy * np.sin(psi)
        trans = -dx * np.sin(psi) + dy * np.cos(psi)
        skew = 1 + rng.uniform(-0.5, 0.5) * np.tanh(longi / length)
        amplitude = 10 ** rng.uniform(1.5, 4) / (2 * np.pi * length * width) * geom.pix_area
        images[i] += amplitude * skew * np.exp(-0.5 * ((longi / length) ** 2 + (trans / width) ** 2))
        times[i] += rng.uniform(-40, 40) * longi
    return images.astype(np.float32), times.astype(np.float32)


def toy_group(base, image, times, focal):
    """A camera group like ``base`` (same pixels) holding the toy images."""
    from iactx.io.event_tree import tel_event_index

    n = image.shape[0]
    coords = {k: base.coords[k] for k in ("pixel", "pix_x", "pix_y", "pix_area", "neighbors")}
    ds = xr.Dataset({"image": (("tel_event", "pixel"), image, {"units": "pe"}),
                     "peak_time": (("tel_event", "pixel"), times, {"units": "ns"}),
                     "focal_length": ("tel_event", np.full(n, focal), {"units": "m"})},
                    coords=coords, attrs=base.attrs)
    return ds.assign_coords(tel_event_index(np.ones(n), np.arange(n), np.ones(n)))


def compare_toys(n, python, workdir, data):
    from iactx.image.cleaning import CLEANERS

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = iactx.read_simtel(data / "lst_with_photons.simtel.zst")
    name = tree.iact.cameras[0]
    base = tree[name].to_dataset(inherit=False)
    geom = base.iact.geometry()
    focal = float(base.focal_length.values[0])
    image, times = toy_images(geom, n)
    src = workdir / "toys_in.npz"
    out = workdir / "toys_out.npz"
    np.savez(src, image=image, peak_time=times, pix_x=geom.pix_x, pix_y=geom.pix_y, pix_area=geom.pix_area,
             pix_type="hexagon", focal_length=focal)
    run_ctapipe(python, "images", src, out)
    ref = dict(np.load(out))
    cam = toy_group(base, image, times, focal)
    masks = {}
    for short, cls in (("tailcuts", "TailcutsImageCleaner"), ("mars", "MARSImageCleaner"),
                       ("fact", "FACTImageCleaner"), ("time_constrained", "TimeConstrainedImageCleaner")):
        mask = CLEANERS[cls]()(cam).values
        masks[short] = {"pixels_differing": int((mask != ref[f"mask/{short}"]).sum()),
                        "pixels_selected": int(ref[f"mask/{short}"].sum()),
                        "images_differing": int((mask != ref[f"mask/{short}"]).any(axis=1).sum())}
    results = {"n_images": n, "masks": masks}
    cam = cam.assign(image_mask=(("tel_event", "pixel"), CLEANERS["TailcutsImageCleaner"]()(cam).values))
    from iactx.image.parameters import image_parameters

    rows = np.arange(n)
    results["n_parameterised"] = int(np.isfinite(ref["params/hillas_intensity"]).sum())
    n_pixels = ref["mask/tailcuts"].sum(axis=1)
    degenerate = {}
    for frame, key in (("telescope", "params/"), ("camera", "params_cam/")):
        params = image_parameters(cam, frame)
        results[f"{frame}_frame"] = compare_params(params, ref, key, rows, n_pixels, degenerate)
    results["n_three_pixel_images"] = int(((n_pixels == 3) & np.isfinite(ref["params/hillas_intensity"])).sum())
    results["three_pixel_timing_differences"] = degenerate
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ctapipe-python", default=os.environ.get("CTAPIPE_PYTHON", "/work/ctapipe-venv/bin/python"))
    parser.add_argument("--data", default=os.environ.get("IACTX_DATA_PATH", "/work/shared/data/simtel"))
    parser.add_argument("--mode", choices=["auto", "full", "images"], default="auto",
                        help="full: iactx calibrates too; images: ctapipe's images in; auto: full")
    parser.add_argument("--toys", type=int, default=2000, help="toy images through both (0: none)")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--json", help="write all figures to this file")
    args = parser.parse_args(argv)
    data = Path(args.data)
    mode = "full" if args.mode == "auto" else args.mode
    report = {"mode": mode, "files": {}}
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for name in FILES:
            path = data / name
            if not path.is_file():
                print(f"{name}: missing, skipped")
                continue
            report["files"][name] = results = compare_file(path, args.ctapipe_python, workdir, mode)
            for cam, r in results.items():
                print(f"\n{name} / {cam}: {r['n_tel_events']} telescope events, "
                      f"image max |diff| {r['image_max_abs_diff']:.3g} pe, "
                      f"peak_time max |diff| {r['peak_time_max_abs_diff']:.3g} ns, "
                      f"image_mask: {r['mask_pixels_differing']} of {r['mask_pixels_selected']} pixels differ")
                failed |= r["mask_pixels_differing"] > 0
                for which in ("telescope_frame", "camera_frame", "true_image"):
                    values = {k: v for k, v in r[which].items() if v is not None}
                    if not values:
                        continue
                    worst = max(values, key=values.get)
                    missing = [k for k, v in r[which].items() if v is None]
                    print(f"  {which:16s} {len(values):2d} parameters, max relative difference "
                          f"{values[worst]:.2e} ({worst})" + (f"; not computed: {missing}" if missing else ""))
                    failed |= values[worst] > args.tolerance
                if r["n_three_pixel_images"]:
                    print(f"  3-pixel images: {r['n_three_pixel_images']}; timing parameters differing there: "
                          f"{r['three_pixel_timing_differences']}")
        if args.toys:
            report["toys"] = toys = compare_toys(args.toys, args.ctapipe_python, workdir, data)
            print(f"\ntoy images on LSTCam: {toys['n_images']} images, {toys['n_parameterised']} parameterised")
            for method, m in toys["masks"].items():
                print(f"  {method:17s} mask: {m['pixels_differing']} of {m['pixels_selected']} pixels differ "
                      f"({m['images_differing']} images)")
                failed |= m["pixels_differing"] > 0
            for which in ("telescope_frame", "camera_frame"):
                values = {k: v for k, v in toys[which].items() if v is not None}
                worst = max(values, key=values.get)
                print(f"  {which:16s} {len(values):2d} parameters, max relative difference "
                      f"{values[worst]:.2e} ({worst})")
                failed |= values[worst] > args.tolerance
            print(f"  3-pixel images (exact-fit timing, decided by rounding noise in ctapipe): "
                  f"{toys['n_three_pixel_images']}; timing parameters differing there: "
                  f"{toys['three_pixel_timing_differences']}")
    per_parameter = {}
    for results in report["files"].values():
        for r in results.values():
            for which in ("telescope_frame", "camera_frame", "true_image"):
                for k, v in r[which].items():
                    if v is not None:
                        per_parameter[k] = max(per_parameter.get(k, 0.0), v)
    report["max_relative_difference_per_parameter"] = per_parameter
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    print("\n" + ("FAILED" if failed else f"OK: masks identical, parameters within {args.tolerance:g}"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
