"""Compare iactx's TailCutsDataVolumeReducer with ctapipe's on sim_telarray files.

For every file, ``ctapipe_dvr_dump.py`` runs under the separate ctapipe
environment (``--ctapipe-python`` or ``CTAPIPE_PYTHON``, default
``../ctapipe-venv/bin/python``) and dumps the pixels ctapipe's reducer keeps
(defaults: NeighborPeakWindowSum, tail cuts 10 / 5 p.e. with 2 picture
neighbours, boundary dilation, one end dilation) and the DL1 image and peak
time its ``CameraCalibrator`` gives with that reducer. iactx reads the same
file, runs :func:`iactx.image.reducer.reduce_volume` and calibrates the
reduced waveforms. Telescope events are matched by (obs_id, event_id,
tel_id); per file and camera the script prints the telescope events, the
pixels kept, the pixels whose mask differs, and the largest relative image
difference ``|a - b| / max(|b|, 1 pe)`` and absolute peak-time difference
[ns] over the kept pixels.

Exit status 1 when any mask pixel differs, a telescope event is missing, or
an image differs by more than ``--rtol``.

usage:
    python benchmarks/compare_ctapipe_dvr.py [FILES...] [--data-path DIR] [--ctapipe-python PATH]
        [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DUMP = HERE / "ctapipe_dvr_dump.py"
DEFAULT_FILES = [
    "lst_with_photons.simtel.zst",
    "lst_muons_with_true_photons.simtel.zst",
    "gamma_with_obslevel_particles.simtel.zst",
    "camsettings_v6.simtel.zst",
    "calib_events.simtel.gz",
]


def _only_calibration_events(path):
    return "calib_events" in Path(path).name


def ctapipe_masks(python, path, out):
    """ctapipe's masks, images and peak times by camera name, and its version."""
    cmd = [python, str(DUMP), str(path), str(out)]
    if _only_calibration_events(path):
        cmd.append("--calibration-events")
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    data = np.load(out)
    cameras = sorted({key.split("/")[0] for key in data.files if "/" in key})
    return ({cam: {name: data[f"{cam}/{name}"] for name in ("keys", "mask", "image", "peak_time")}
             for cam in cameras}, str(data["ctapipe_version"]))


def iactx_masks(path):
    """iactx's masks, and the images and peak times calibrated from the reduced waveforms."""
    import iactx
    from iactx.calib.calibrator import calibrate
    from iactx.image.reducer import reduce_volume
    from iactx.io.event_tree import tel_types_of

    tree = iactx.read_simtel(path, focal_length="equivalent", calibration_events=_only_calibration_events(path))
    types = tel_types_of(tree)
    out = {}
    for name in tree.iact.cameras:
        reduced = reduce_volume(tree[name].to_dataset(inherit=False), tel_types=types)
        cam = calibrate(reduced, tel_types=types)
        keys = np.column_stack([cam["obs_id"].values, cam["event"].values, cam["tel"].values]).astype(np.int64)
        out[name] = {"keys": keys, "mask": cam["dvr_mask"].values, "image": cam["image"].values,
                     "peak_time": cam["peak_time"].values}
    return out


def compare(ours, theirs):
    """One row of figures per camera."""
    rows = []
    for camera, ref in theirs.items():
        if camera not in ours:
            rows.append({"camera": camera, "error": "camera missing in iactx"})
            continue
        mine = ours[camera]
        index = {tuple(k): i for i, k in enumerate(mine["keys"].tolist())}
        found = np.array([tuple(k) in index for k in ref["keys"].tolist()], bool)
        take = np.array([index[tuple(k)] for k in ref["keys"].tolist() if tuple(k) in index], int)
        a_mask, b_mask = mine["mask"][take], ref["mask"][found]
        a_img, b_img = mine["image"][take], ref["image"][found]
        rel = np.abs(a_img - b_img) / np.maximum(np.abs(b_img), 1.0)
        dt = np.abs(mine["peak_time"][take] - ref["peak_time"][found])
        rows.append({
            "camera": camera,
            "tel_events": int(found.sum()),
            "missing_in_iactx": int((~found).sum()),
            "pixels": int(b_mask.size),
            "kept_pixels": int(b_mask.sum()),
            "mask_mismatches": int((a_mask != b_mask).sum()),
            "image_max_rel": float(rel.max(initial=0.0)),
            "peak_time_max_abs_kept": float(dt[b_mask].max(initial=0.0)),
        })
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", help="sim_telarray files (default: the sample files)")
    parser.add_argument("--data-path", default=os.environ.get("IACTX_DATA_PATH", "../shared/data/simtel"))
    parser.add_argument("--ctapipe-python", default=os.environ.get(
        "CTAPIPE_PYTHON", str(HERE.parent.parent / "ctapipe-venv" / "bin" / "python")))
    parser.add_argument("--rtol", type=float, default=1e-4)
    parser.add_argument("--json", default=None, help="write the table as JSON here")
    args = parser.parse_args(argv)

    files = [Path(f) for f in args.files] or [Path(args.data_path) / f for f in DEFAULT_FILES]
    files = [f for f in files if f.is_file()] or sys.exit(f"no input files found (data path {args.data_path})")
    if not Path(args.ctapipe_python).exists():
        sys.exit(f"ctapipe python not found: {args.ctapipe_python} (use --ctapipe-python or CTAPIPE_PYTHON)")

    rows, version = [], "?"
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            theirs, version = ctapipe_masks(args.ctapipe_python, path, Path(tmp) / f"{path.name}.npz")
            rows += [{"file": path.name, **row} for row in compare(iactx_masks(path), theirs)]

    print(f"iactx vs ctapipe {version} TailCutsDataVolumeReducer (defaults)")
    print(f"{'file':42s} {'camera':10s} {'tel_ev':>6s} {'pixels':>8s} {'kept':>7s} {'mask !=':>7s} "
          f"{'image max rel':>14s} {'t max |d| kept':>14s}")
    failed = False
    for row in rows:
        if "error" in row:
            print(f"{row['file']:42s} {row['camera']:10s} {row['error']}")
            failed = True
            continue
        print(f"{row['file']:42s} {row['camera']:10s} {row['tel_events']:6d} {row['pixels']:8d} "
              f"{row['kept_pixels']:7d} {row['mask_mismatches']:7d} {row['image_max_rel']:14.3g} "
              f"{row['peak_time_max_abs_kept']:14.3g}")
        failed |= row["mask_mismatches"] > 0 or row["missing_in_iactx"] > 0 or row["image_max_rel"] > args.rtol
    total = [r for r in rows if "error" not in r]
    print(f"total: {sum(r['tel_events'] for r in total)} telescope events, "
          f"{sum(r['pixels'] for r in total)} pixels, {sum(r['kept_pixels'] for r in total)} kept, "
          f"{sum(r['mask_mismatches'] for r in total)} mask mismatches")
    if args.json:
        Path(args.json).write_text(json.dumps({"ctapipe_version": version, "rows": rows}, indent=1))
    print("OK" if not failed else "DIFFERENCES")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
