"""Compare iactx's muon analysis with ctapipe's MuonProcessor on a sim_telarray file.

``ctapipe_muon_dump.py`` runs under the separate ctapipe environment
(``--ctapipe-python`` or the ``CTAPIPE_PYTHON`` environment variable,
default ``../ctapipe-venv/bin/python`` next to the repository) and dumps
what ``ctapipe-process --write-muon-parameters`` computes with its
defaults: DL1 images and masks, and every MuonProcessor output. iactx reads
the same file and runs ``cam.iact.calibrate().iact.clean().iact.muon_fit()``
with its defaults. Telescope events are matched by (obs_id, event_id,
tel_id). The script prints, per muon candidate, ring radius, centre and
optical efficiency side by side with their differences, the largest
difference of every other muon column, and, as a check of each ring
fitter on its own, one fit of every method on ctapipe's cleaning mask.

Pass criteria (exit status 1 otherwise): every muon ctapipe finds is found;
radius within ``--radius-rtol`` (1 %), centre within ``--center-rtol``
(1 %) of the radius, optical efficiency within ``--efficiency-rtol`` (5 %).

usage:
    python benchmarks/compare_ctapipe_muons.py [FILE] [--data-path DIR] [--ctapipe-python PATH]
        [--keep DIR] [--json OUT]
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

HERE = Path(__file__).resolve().parent
HELPER = HERE / "ctapipe_muon_dump.py"
DEFAULT_FILE = "lst_muons_with_true_photons.simtel.zst"
METHODS = ("kundu_chaudhuri", "taubin", "kundu_chaudhuri_taubin")
RING = ("radius", "center_fov_lon", "center_fov_lat", "radius_err", "center_fov_lon_err", "center_fov_lat_err")


def default_python():
    return os.environ.get("CTAPIPE_PYTHON", str(HERE.parent.parent / "ctapipe-venv" / "bin" / "python"))


def ctapipe_dump(python, path, out):
    """Run the dump helper under ctapipe's environment; {camera: {name: array}}."""
    subprocess.run([python, str(HELPER), "process", str(path), str(out)], check=True, capture_output=True,
                   text=True)
    data = np.load(out)
    result = {}
    for key in data.files:
        cam, _, name = key.partition("/")
        result.setdefault(cam, {})[name] = data[key]
    return result


def iactx_muons(path):
    """iactx's default chain on the file: {camera: Dataset with image, image_mask and the muon columns}."""
    import iactx
    from iactx.image.muon import fit_muon_rings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fallback to the equivalent focal length, as ctapipe's
        tree = iactx.read_simtel(path)
    out = {}
    for name in tree.iact.cameras:
        cam = tree[name].to_dataset(inherit=False).iact.calibrate().iact.clean()
        out[name] = cam.iact.muon_fit(tree["instrument"])
        singles = {}
        for method in METHODS:
            rings, _ = fit_muon_rings(cam, method=method, n_iterations=1)
            singles[method] = rings
        out[name].attrs["_singles"] = singles
    return out


def _match(keys_a, keys_b):
    index = {tuple(k): i for i, k in enumerate(keys_b.tolist())}
    pairs = [(i, index[tuple(k)]) for i, k in enumerate(keys_a.tolist()) if tuple(k) in index]
    return np.array([p[0] for p in pairs], int), np.array([p[1] for p in pairs], int)


def compare(ct, ix, args):
    report = {"cameras": {}, "ok": True}
    for cam, ref in ct.items():
        if cam not in ix:
            print(f"{cam}: missing from iactx")
            report["ok"] = False
            continue
        ds = ix[cam]
        keys = np.column_stack([ds["obs_id"].values, ds["event"].values, ds["tel"].values]).astype(np.int64)
        i_ix, i_ct = _match(keys, ref["keys"])
        image_diff = float(np.max(np.abs(ds["image"].values[i_ix] - ref["image"][i_ct]), initial=0.0))
        mask_diff = int(np.sum(ds["image_mask"].values[i_ix] != ref["image_mask"][i_ct]))
        print(f"\n{cam}: {len(i_ix)} telescope events matched; DL1 image max |diff| {image_diff:.3g} pe, "
              f"{mask_diff} mask pixels differ")
        ct_found = np.isfinite(ref["muon/muonefficiency_optical_efficiency"][i_ct])
        ix_found = np.isfinite(ds["muonefficiency_optical_efficiency"].values[i_ix])
        rows = []
        header = (f"{'event':>6} {'tel':>4} | {'radius iactx':>12} {'ctapipe':>9} {'rel':>8} | "
                  f"{'centre lon':>10} {'ctapipe':>9} {'lat':>9} {'ctapipe':>9} {'|d|/r':>8} | "
                  f"{'eff iactx':>9} {'ctapipe':>9} {'rel':>8}")
        print(header)
        print("-" * len(header))
        for a, b in zip(i_ix, i_ct):
            if not (np.isfinite(ref["muon/muonring_radius"][b]) or np.isfinite(ds["muonring_radius"].values[a])):
                continue  # not a muon candidate on either side
            r_ix, r_ct = ds["muonring_radius"].values[a], ref["muon/muonring_radius"][b]
            lon_ix, lon_ct = ds["muonring_center_fov_lon"].values[a], ref["muon/muonring_center_fov_lon"][b]
            lat_ix, lat_ct = ds["muonring_center_fov_lat"].values[a], ref["muon/muonring_center_fov_lat"][b]
            e_ix = ds["muonefficiency_optical_efficiency"].values[a]
            e_ct = ref["muon/muonefficiency_optical_efficiency"][b]
            row = {
                "event": int(keys[a, 1]), "tel": int(keys[a, 2]),
                "radius": [float(r_ix), float(r_ct), float(r_ix / r_ct - 1)],
                "center_fov_lon": [float(lon_ix), float(lon_ct)],
                "center_fov_lat": [float(lat_ix), float(lat_ct)],
                "center_offset_over_radius": float(np.hypot(lon_ix - lon_ct, lat_ix - lat_ct) / r_ct),
                "optical_efficiency": [float(e_ix), float(e_ct), float(e_ix / e_ct - 1)],
            }
            rows.append(row)
            print(f"{row['event']:>6} {row['tel']:>4} | {r_ix:12.5f} {r_ct:9.5f} {r_ix / r_ct - 1:+8.2e} | "
                  f"{lon_ix:10.5f} {lon_ct:9.5f} {lat_ix:9.5f} {lat_ct:9.5f} "
                  f"{row['center_offset_over_radius']:8.2e} | {e_ix:9.5f} {e_ct:9.5f} {e_ix / e_ct - 1:+8.2e}")
        missing = int(np.sum(ct_found & ~ix_found))
        extra = int(np.sum(ix_found & ~ct_found))
        print(f"muons: ctapipe {int(ct_found.sum())}, iactx {int(ix_found.sum())}, missed {missing}, extra {extra}")
        columns = {}
        print("\nlargest difference per muon column (telescope events where either side has a value):")
        for name in sorted(k for k in ref if k.startswith("muon/")):
            col = name.split("/", 1)[1]
            a = np.asarray(ds[col].values[i_ix], float)
            b = np.asarray(ref[name][i_ct], float)
            both = np.isfinite(a) & np.isfinite(b)
            nan_mismatch = int(np.sum(np.isfinite(a) != np.isfinite(b)))
            diff = np.abs(a - b)[both]
            rel = (diff / np.maximum(np.abs(b[both]), 1e-12))
            columns[col] = {"max_abs": float(diff.max(initial=0)), "max_rel": float(rel.max(initial=0)),
                            "nan_mismatch": nan_mismatch}
            print(f"  {col:45s} abs {columns[col]['max_abs']:10.3e}  rel {columns[col]['max_rel']:10.3e}"
                  f"  NaN mismatches {nan_mismatch}")
        singles = {}
        print("\nsingle ring fit on ctapipe's cleaning mask, largest difference per method (deg):")
        for method in METHODS:
            rings = ds.attrs["_singles"][method]
            diffs = {}
            for field in RING:
                a = rings[f"muonring_{field}"].values[i_ix]
                b = ref[f"single/{method}/muonring_{field}"][i_ct]
                both = np.isfinite(a) & np.isfinite(b)
                diffs[field] = float(np.max(np.abs(a - b)[both], initial=0.0))
            if method != "kundu_chaudhuri":
                # both minimise the same loss: which point is lower?
                from iactx.image.muon.ring_fit_kernels import taubin_loss

                lon, lat = ref["geometry/pix_lon"], ref["geometry/pix_lat"]
                lower = []
                for a, b in zip(i_ix, i_ct):
                    m = ref["image_mask"][b]
                    w = np.ones(m.sum()) if method == "taubin" else ref["image"][b][m].astype(float)
                    ours = taubin_loss(lon[m], lat[m], w, rings["muonring_center_fov_lon"].values[a],
                                       rings["muonring_center_fov_lat"].values[a], rings["muonring_radius"].values[a])
                    theirs = taubin_loss(lon[m], lat[m], w, ref[f"single/{method}/muonring_center_fov_lon"][b],
                                         ref[f"single/{method}/muonring_center_fov_lat"][b],
                                         ref[f"single/{method}/muonring_radius"][b])
                    lower.append(ours <= theirs)
                diffs["iactx_loss_lower_or_equal"] = f"{sum(lower)}/{len(lower)}"
            singles[method] = diffs
            print(f"  {method:24s} " + "  ".join(f"{f} {v:.2e}" if isinstance(v, float) else f"{f} {v}"
                                                 for f, v in diffs.items()))
        ok = missing == 0 and all(
            abs(r["radius"][2]) <= args.radius_rtol and r["center_offset_over_radius"] <= args.center_rtol
            and abs(r["optical_efficiency"][2]) <= args.efficiency_rtol for r in rows)
        report["cameras"][cam] = {"muons": rows, "columns": columns, "single_fits": singles,
                                  "image_max_abs_diff": image_diff, "mask_pixels_differing": mask_diff,
                                  "missed": missing, "extra": extra, "ok": ok}
        report["ok"] &= ok
    print(f"\n{'PASS' if report['ok'] else 'FAIL'}: radius within {args.radius_rtol:.0%}, centre within "
          f"{args.center_rtol:.0%} of the radius, efficiency within {args.efficiency_rtol:.0%}")
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", default=DEFAULT_FILE)
    parser.add_argument("--data-path", default=os.environ.get("IACTX_DATA_PATH", str(HERE.parent.parent / "shared"
                                                                                      / "data" / "simtel")))
    parser.add_argument("--ctapipe-python", default=default_python())
    parser.add_argument("--keep", default=None, help="folder to keep ctapipe's dump in")
    parser.add_argument("--json", default=None, help="write the comparison as JSON")
    parser.add_argument("--radius-rtol", type=float, default=0.01)
    parser.add_argument("--center-rtol", type=float, default=0.01)
    parser.add_argument("--efficiency-rtol", type=float, default=0.05)
    args = parser.parse_args(argv)
    path = Path(args.file)
    if not path.is_file():
        path = Path(args.data_path) / args.file
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.keep or tmp) / (path.name + ".ctapipe_muons.npz")
        out.parent.mkdir(parents=True, exist_ok=True)
        ct = ctapipe_dump(args.ctapipe_python, path, out)
        ix = iactx_muons(path)
        report = compare(ct, ix, args)
    report["file"] = str(path)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
