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

With ``--toys N`` (default 60), N toy muon rings with known parameters
(random impact point, centre, radius, width and efficiency; drawn with
iactx's light model plus the noise the likelihood assumes) replace the
image of the file's first telescope event, and both analyse them from the
cleaning on; the script prints how far the two agree and how far each is
from the truth.

Pass criteria (exit status 1 otherwise): every muon ctapipe finds in the file
is found; radius within ``--radius-rtol`` (1 %), centre within
``--center-rtol`` (1 %) of the radius, optical efficiency within
``--efficiency-rtol`` (5 %); the toys are reported, not judged.

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


def make_toys(path, n, seed=0):
    """Toy muon images on the camera of the file's first telescope event; (camera group, truth)."""
    import iactx
    from iactx.image.muon._geometry import telescope_frame_table
    from iactx.image.muon.intensity_kernels import AREA_RATIOS, expected_ring_light_kernel
    from iactx.io.event_tree import tel_event_index

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = iactx.read_simtel(path, max_events=1)
    name = tree.iact.cameras[0]
    cam = tree[name].to_dataset(inherit=False).isel(tel_event=[0])
    tel = int(cam["tel"].values[0])
    inst = tree["instrument"].to_dataset().sel(tel=tel)
    table = telescope_frame_table(cam)
    rng = np.random.default_rng(seed)
    distance, angle = rng.uniform(0, 1.2, n), rng.uniform(-np.pi, np.pi, n)
    truth = {
        "impact": rng.uniform(0.3, 10.0, n), "phi": rng.uniform(-np.pi, np.pi, n),
        "center_fov_lon": distance * np.cos(angle), "center_fov_lat": distance * np.sin(angle),
        "radius": rng.uniform(1.0, 1.25, n), "width": rng.uniform(0.015, 0.03, n),
        "optical_efficiency": rng.uniform(0.12, 0.3, n),
    }
    hole = 0.74 if str(inst["tel_type"].values).startswith("LST") else 0.0
    ones = np.ones(n)
    mu = np.empty((n, cam.sizes["pixel"]))
    expected_ring_light_kernel(
        np.zeros(n, np.int64), np.deg2rad(table.pix_lon), np.deg2rad(table.pix_lat), truth["impact"], truth["phi"],
        np.deg2rad(truth["center_fov_lon"]), np.deg2rad(truth["center_fov_lat"]), np.deg2rad(truth["radius"]),
        np.deg2rad(truth["width"]), truth["optical_efficiency"], np.sqrt(float(inst["mirror_area"]) / np.pi) * ones,
        hole * ones, np.deg2rad(table.pixel_width[0, 0]) * ones, np.full(n, 3), 300e-9 * ones, 600e-9 * ones,
        AREA_RATIOS[table.pix_type] * ones, mu)
    images = (mu + rng.normal(size=mu.shape) * np.sqrt(1.1 ** 2 + 1.25 * mu)).astype(np.float32)
    toys = cam.isel(tel_event=np.zeros(n, int)).drop_vars(["tel_event", "obs_id", "event", "tel"])
    toys = toys.drop_vars([v for v, x in toys.data_vars.items() if "tel_event" in x.dims and x.ndim > 1])
    toys = toys.assign(image=(("tel_event", "pixel"), images, {"units": "pe"}))
    toys = toys.assign_coords(tel_event_index(np.zeros(n), np.arange(n), np.full(n, tel)))
    return toys, tree["instrument"].to_dataset(), truth


def compare_toys(python, path, n, tmp):
    toys, instrument, truth = make_toys(path, n)
    images = Path(tmp) / "toy_images.npz"
    np.savez(images, image=toys["image"].values)
    out = Path(tmp) / "toy_ctapipe.npz"
    subprocess.run([python, str(HELPER), "toys", str(path), str(images), str(out)], check=True, capture_output=True,
                   text=True)
    ct = np.load(out)
    ix = toys.iact.clean().iact.muon_fit(instrument)
    mask_diff = int(np.sum(ix["image_mask"].values != ct["image_mask"]))
    found_ct = np.isfinite(ct["muon/muonefficiency_optical_efficiency"])
    found_ix = np.isfinite(ix["muonefficiency_optical_efficiency"].values)
    both = found_ct & found_ix
    r_ix, r_ct = ix["muonring_radius"].values, ct["muon/muonring_radius"]
    offset = np.hypot(ix["muonring_center_fov_lon"].values - ct["muon/muonring_center_fov_lon"],
                      ix["muonring_center_fov_lat"].values - ct["muon/muonring_center_fov_lat"]) / r_ct
    e_ix, e_ct = ix["muonefficiency_optical_efficiency"].values, ct["muon/muonefficiency_optical_efficiency"]
    rel_r = np.abs(r_ix / r_ct - 1)[both]
    rel_e = np.abs(e_ix / e_ct - 1)[both]
    e_true = truth["optical_efficiency"]
    print(f"\ntoy rings: {n} images, {mask_diff} cleaning-mask pixels differ; muons found by ctapipe "
          f"{int(found_ct.sum())}, by iactx {int(found_ix.sum())}, by both {int(both.sum())}")

    def q(x):
        return "median {:.2e}  95% {:.2e}  max {:.2e}".format(*np.percentile(x, [50, 95, 100])) if x.size else "-"

    print(f"  |radius iactx / ctapipe - 1|            {q(rel_r)}")
    print(f"  |centre iactx - ctapipe| / radius       {q(offset[both])}")
    print(f"  |efficiency iactx / ctapipe - 1|        {q(rel_e)}   within 5 %: "
          f"{int(np.sum(rel_e <= 0.05))}/{rel_e.size}")
    print(f"  |efficiency iactx / truth - 1|          {q(np.abs(e_ix / e_true - 1)[both])}")
    print(f"  |efficiency ctapipe / truth - 1|        {q(np.abs(e_ct / e_true - 1)[both])}")
    return {"n": n, "mask_pixels_differing": mask_diff, "found_ctapipe": int(found_ct.sum()),
            "found_iactx": int(found_ix.sum()), "found_both": int(both.sum()),
            "radius_rel_diff_max": float(rel_r.max(initial=0)), "center_offset_over_radius_max":
            float(offset[both].max(initial=0)), "efficiency_rel_diff": rel_e.tolist(),
            "efficiency_within_5pct": int(np.sum(rel_e <= 0.05)),
            "efficiency_iactx_vs_truth": (e_ix / e_true - 1)[both].tolist(),
            "efficiency_ctapipe_vs_truth": (e_ct / e_true - 1)[both].tolist()}


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
    parser.add_argument("--toys", type=int, default=60, help="toy rings to compare as well (0: none)")
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
        if args.toys:
            report["toys"] = compare_toys(args.ctapipe_python, path, args.toys, tmp)
    report["file"] = str(path)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
