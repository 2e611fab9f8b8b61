"""Compare iactx's calibration (image, peak_time) with ctapipe's on sim_telarray files.

For every file, ``ctapipe_calibration_helper.py`` runs under the separate
ctapipe environment (``--ctapipe-python`` or the ``CTAPIPE_PYTHON``
environment variable, default ``../ctapipe-venv/bin/python``) and dumps
ctapipe's ``CameraCalibrator`` output with its defaults to an .npz; iactx
reads the same file and runs ``tree.iact.calibrate()`` with its defaults.
Telescope events are matched by (obs_id, event_id, tel_id) and, per file
and camera, the script prints:

- ``image``: the largest relative difference ``|a - b| / max(|b|, 1 pe)``
  over all pixels, and the largest absolute one [pe];
- ``peak_time``: the largest absolute difference [ns] over the pixels with
  signal (ctapipe image above ``--signal`` pe) and over all pixels.

Calibration events (the whole of ``calib_events.simtel.gz``) are read and
gain-selected on both sides. Exit status 1 when an image differs by more
than ``--rtol`` or a signal pixel's peak time by more than ``--time-tol``.

usage:
    python benchmarks/compare_ctapipe_calibration.py [FILES...] [--data-path DIR]
        [--ctapipe-python PATH] [--extractor NAME] [--keep DIR] [--json OUT]
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
HELPER = HERE / "ctapipe_calibration_helper.py"
DEFAULT_FILES = [
    "lst_with_photons.simtel.zst",
    "lst_muons_with_true_photons.simtel.zst",
    "gamma_with_obslevel_particles.simtel.zst",
    "camsettings_v6.simtel.zst",
    "calib_events.simtel.gz",
]


def _default_python():
    return os.environ.get("CTAPIPE_PYTHON", str(HERE.parent.parent / "ctapipe-venv" / "bin" / "python"))


def _has_only_calibration_events(path):
    return "calib_events" in Path(path).name


def ctapipe_dump(python, path, out, extractor=None):
    cmd = [python, str(HELPER), "dump", str(path), str(out)]
    if _has_only_calibration_events(path):
        cmd.append("--calibration-events")
    if extractor:
        cmd += ["--extractor", extractor]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    data = np.load(out)
    cameras = sorted({key.split("/")[0] for key in data.files if "/" in key})
    return {cam: {name: data[f"{cam}/{name}"] for name in ("keys", "image", "peak_time", "is_valid")}
            for cam in cameras}, str(data["ctapipe_version"])


def iactx_calibrate(path, extractor=None):
    import iactx  # noqa: F401  (registers the accessors)

    tree = iactx.read_simtel(path, focal_length="equivalent",
                             calibration_events=_has_only_calibration_events(path))
    tree = tree.iact.calibrate(extractor or "NeighborPeakWindowSum")
    out = {}
    for name in tree.iact.cameras:
        cam = tree[name].to_dataset(inherit=False)
        keys = np.column_stack([cam["obs_id"].values, cam["event"].values, cam["tel"].values]).astype(np.int64)
        out[name] = {"keys": keys, "image": cam["image"].values, "peak_time": cam["peak_time"].values}
    return out


def compare(ours, theirs, signal):
    rows = []
    for camera, ref in theirs.items():
        if camera not in ours:
            rows.append({"camera": camera, "error": "camera missing in iactx"})
            continue
        mine = ours[camera]
        index = {tuple(k): i for i, k in enumerate(mine["keys"].tolist())}
        missing = [tuple(k) for k in ref["keys"].tolist() if tuple(k) not in index]
        take = np.array([index[tuple(k)] for k in ref["keys"].tolist() if tuple(k) in index], int)
        keep = np.array([tuple(k) in index for k in ref["keys"].tolist()], bool)
        a_img, b_img = mine["image"][take], ref["image"][keep]
        a_t, b_t = mine["peak_time"][take], ref["peak_time"][keep]
        rel = np.abs(a_img - b_img) / np.maximum(np.abs(b_img), 1.0)
        has_signal = b_img > signal
        dt = np.abs(a_t - b_t)
        rows.append({
            "camera": camera,
            "tel_events": int(keep.sum()),
            "missing_in_iactx": len(missing),
            "extra_in_iactx": int(len(mine["keys"]) - keep.sum()),
            "pixels": int(b_img.size),
            "image_max_rel": float(rel.max(initial=0.0)),
            "image_max_abs": float(np.abs(a_img - b_img).max(initial=0.0)),
            "image_pixels_rel_gt_1e-4": int((rel > 1e-4).sum()),
            "signal_pixels": int(has_signal.sum()),
            "peak_time_max_abs_signal": float(dt[has_signal].max(initial=0.0)),
            "peak_time_max_abs_all": float(dt.max(initial=0.0)),
        })
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", help="sim_telarray files (default: the sample files)")
    parser.add_argument("--data-path", default=os.environ.get("IACTX_DATA_PATH", "../shared/data/simtel"))
    parser.add_argument("--ctapipe-python", default=_default_python())
    parser.add_argument("--extractor", default=None, help="extractor for both (default: ctapipe's default)")
    parser.add_argument("--signal", type=float, default=5.0, help="pe above which a pixel has signal")
    parser.add_argument("--rtol", type=float, default=1e-4)
    parser.add_argument("--time-tol", type=float, default=1e-3, help="ns")
    parser.add_argument("--keep", default=None, help="folder to keep ctapipe's .npz dumps in")
    parser.add_argument("--json", default=None, help="write the table as JSON here")
    args = parser.parse_args(argv)

    files = [Path(f) for f in args.files] or [Path(args.data_path) / f for f in DEFAULT_FILES]
    files = [f for f in files if f.is_file()] or sys.exit(f"no input files found (data path {args.data_path})")
    if not Path(args.ctapipe_python).exists():
        sys.exit(f"ctapipe python not found: {args.ctapipe_python} (use --ctapipe-python or CTAPIPE_PYTHON)")

    all_rows = []
    version = "?"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for path in files:
            theirs, version = ctapipe_dump(args.ctapipe_python, path, folder / f"{path.name}.ctapipe.npz",
                                           args.extractor)
            ours = iactx_calibrate(path, args.extractor)
            for row in compare(ours, theirs, args.signal):
                all_rows.append({"file": path.name, **row})

    header = (f"{'file':42s} {'camera':10s} {'tel_ev':>6s} {'image max rel':>14s} {'image max abs':>14s} "
              f"{'t max |d| sig':>14s} {'t max |d| all':>14s}")
    print(f"iactx vs ctapipe {version} CameraCalibrator, extractor {args.extractor or 'NeighborPeakWindowSum'}")
    print(header)
    failed = False
    for row in all_rows:
        if "error" in row:
            print(f"{row['file']:42s} {row['camera']:10s} {row['error']}")
            failed = True
            continue
        print(f"{row['file']:42s} {row['camera']:10s} {row['tel_events']:6d} {row['image_max_rel']:14.3g} "
              f"{row['image_max_abs']:14.3g} {row['peak_time_max_abs_signal']:14.3g} "
              f"{row['peak_time_max_abs_all']:14.3g}")
        failed |= row["image_max_rel"] > args.rtol or row["peak_time_max_abs_signal"] > args.time_tol
        failed |= row["missing_in_iactx"] > 0
    if args.json:
        Path(args.json).write_text(json.dumps({"ctapipe_version": version, "rows": all_rows}, indent=1))
    print("OK" if not failed else "DIFFERENCES ABOVE TOLERANCE")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
