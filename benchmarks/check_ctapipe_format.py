"""Check iactx's ctapipe-format DL1/DL2 files with ctapipe 0.32 itself.

Run with the python of the ctapipe environment (``benchmarks/make_ctapipe_env.sh``),
never with iactx's: iactx is called as a command (``--iactx``), ctapipe is
imported here. For every sample file:

1. ``iactx process --output-format ctapipe --write-images`` (with
   ``--reconstruct`` on a stereo file and ``--write-muon-parameters`` on the
   muon file) and ``ctapipe-process`` with the matching options on the same
   input; ctapipe's effective focal length, else (as iactx) the equivalent one.
2. ``ctapipe.io.TableLoader`` (instrument, simulated, parameters, images,
   true images and parameters, muons, DL2, observation info) reads both files;
   per telescope: the same rows, and every column of ctapipe's output must
   exist in iactx's with the same dtype and unit and values within
   ``--rtol`` (NaN equals NaN).
3. ``HDF5EventSource`` iterates over iactx's file: same events, same
   telescopes with DL1, same Hillas intensities; ``ctapipe-fileinfo`` reads it.

Then ``ctapipe-merge`` merges two iactx-written files and TableLoader reads the
result (rows = sum of the inputs).

Columns are reported by group, with the largest relative difference
``|iactx - ctapipe| / |ctapipe|``. Groups ``parameters``, ``true_parameters``,
``images``, ``true_images``, ``simulation``, ``instrument`` and ``event`` must agree;
``muon`` and ``dl2`` are printed (they depend on iactx's muon fit and stereo
reconstruction, checked by ``compare_ctapipe_muons.py`` and
``compare_ctapipe_reco.py``), and so are the columns listed in ``KNOWN``.

usage:
    /work/ctapipe-venv/bin/python benchmarks/check_ctapipe_format.py
        [--iactx PATH] [--data DIR] [--rtol 1e-5] [--json OUT] [FILE ...]

Exit status 1 when a required group differs or ctapipe cannot read a file.
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
REPO = HERE.parent
FILES = ["lst_with_photons.simtel.zst", "lst_muons_with_true_photons.simtel.zst",
         "gamma_with_obslevel_particles.simtel.zst", "camsettings_v6.simtel.zst"]
STEREO = {"camsettings_v6.simtel.zst"}
MUONS = {"lst_muons_with_true_photons.simtel.zst"}
REQUIRED = ("parameters", "true_parameters", "images", "true_images", "simulation", "instrument", "index", "event")
#: columns known to differ, and why (not iactx's writer: what the event tree holds)
KNOWN = {
    "true_starting_grammage": "not read from sim_telarray by iactx (NaN)",
    "HillasReconstructor_alt_uncert": "iactx computes the uncertainties ctapipe 0.32 leaves NaN or approximates",
    "HillasReconstructor_az_uncert": "idem",
    "HillasReconstructor_ang_distance_uncert": "idem",
    "HillasReconstructor_core_uncert_x": "idem", "HillasReconstructor_core_uncert_y": "idem",
    "HillasReconstructor_core_tilted_uncert_x": "idem", "HillasReconstructor_core_tilted_uncert_y": "idem",
    "HillasReconstructor_h_max_uncert": "idem",
    "n_trigger_pixels": "not read from sim_telarray by iactx (-1)",
    "time_mono": "iactx's tree holds the event's trigger time only, ctapipe each telescope's",
    "true_image_sum": "without true images iactx writes -1 (unknown), as ctapipe's default",
    "true_impact_distance": "true impact distances are not in iactx's event tree (table not written)",
    "true_impact_distance_uncert": "idem",
    "scheduled_start_time": "iactx takes the first event's trigger time, ctapipe the run header's time",
    "actual_start_time": "idem",
}
_PARAMETER_PREFIXES = ("hillas_", "timing_", "leakage_", "concentration_", "morphology_", "intensity_",
                       "peak_time_", "core_")


def group_of(column):
    """Report group of a TableLoader column."""
    if column in ("obs_id", "event_id", "tel_id"):
        return "index"
    if column in ("image", "peak_time", "image_mask", "is_valid"):
        return "images"
    if column in ("true_image", "true_image_sum"):
        return "true_images"
    if column.startswith("muon"):
        return "muon"
    if column.startswith("HillasReconstructor"):
        return "dl2"
    if column.startswith("true_") and column[5:].startswith(_PARAMETER_PREFIXES):
        return "true_parameters"
    if column.startswith("true_"):
        return "simulation"
    if column.startswith(_PARAMETER_PREFIXES):
        return "parameters"
    if column.startswith(("subarray_pointing", "telescope_pointing", "time", "event_type", "tels_with_trigger",
                          "n_trigger_pixels", "actual_", "scheduled_", "sb_id", "producer_id", "state")):
        return "event"
    return "instrument"


def relative_difference(ours, ref):
    """Largest |ours - ref| / |ref| (0 when equal or both NaN, inf when only one is NaN)."""
    ours = np.asarray(ours, float)
    ref = np.asarray(ref, float)
    if ours.size == 0:
        return 0.0
    with np.errstate(all="ignore"):
        rel = np.abs(ours - ref) / np.abs(ref)
    rel = np.where((ours == ref) | (np.isnan(ours) & np.isnan(ref)), 0.0, rel)
    return float(np.max(np.where(np.isnan(rel), np.inf, rel)))


def run(command, what, cwd=None):
    """Run ``command`` (in ``cwd``, where ctapipe's tools leave their provenance logs); its result."""
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, cwd=cwd, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed ({' '.join(map(str, command))}):\n{result.stderr[-3000:]}")
    return result


def produce(path, workdir, iactx):
    """iactx's and ctapipe's outputs of ``path`` (same options), and the focal length used (ctapipe's name)."""
    ours, ref = workdir / f"{path.name}.iactx.h5", workdir / f"{path.name}.ctapipe.h5"
    ctapipe = [Path(sys.executable).with_name("ctapipe-process"), "--input", path, "--output", ref, "--overwrite",
               "--write-images"]
    options = ["--write-images"]
    if path.name in STEREO:
        ctapipe.append("--write-showers")
        options.append("--reconstruct")
    if path.name in MUONS:
        ctapipe.append("--write-muon-parameters")
        options.append("--write-muon-parameters")
    focal = "EFFECTIVE"
    try:
        run(ctapipe, "ctapipe-process", workdir)
    except RuntimeError as err:  # no effective focal length in the file: iactx falls back to the equivalent one
        if "focal_length_choice" not in str(err):
            raise
        focal = "EQUIVALENT"
        run(ctapipe + [f"--SimTelEventSource.focal_length_choice={focal}"], "ctapipe-process", workdir)
    run([iactx, "process", "--input", path, "--output", ours, "--output-format", "ctapipe", "--overwrite",
         "--no-progress", f"--EventSource.focal_length_choice={focal.lower()}", *options], "iactx process")
    return ours, ref, focal


def load(path, muons, focal):
    """TableLoader's per-telescope tables (everything), subarray events and shower distribution."""
    from ctapipe.io import TableLoader

    with TableLoader(path, instrument=True, simulated=True, dl1_parameters=True, dl1_images=True,
                     true_images=True, true_parameters=True, dl1_muons=muons, dl2=True,
                     observation_info=True, focal_length_choice=focal) as loader:
        return (loader.read_telescope_events_by_id(), loader.read_subarray_events(),
                loader.read_shower_distribution())


def compare_tables(ours, ref, where, rtol, out):
    """Compare every column of ``ref`` with ``ours``: presence, dtype, unit, values; fill ``out``."""
    if len(ours) != len(ref):
        out["problems"].append(f"{where}: {len(ours)} rows, ctapipe {len(ref)}")
        return
    keys = [c for c in ("obs_id", "event_id", "tel_id") if c in ref.colnames]
    for table in (ours, ref):
        table.sort(keys)
    for name in ref.colnames:
        group = group_of(name)
        if name not in ours.colnames:
            if name in KNOWN:
                out["known"][name] = np.inf
            else:
                out["problems" if group in REQUIRED else "notes"].append(f"{where}: column {name} missing")
            continue
        a, b = ours[name], ref[name]
        unit_a, unit_b = getattr(a, "unit", None), getattr(b, "unit", None)
        if np.asarray(a).dtype != np.asarray(b).dtype or unit_a != unit_b:
            out["problems"].append(f"{where}: {name} dtype/unit {np.asarray(a).dtype} [{unit_a}], "
                                   f"ctapipe {np.asarray(b).dtype} [{unit_b}]")
        if hasattr(a, "jd"):  # astropy Time: equal to the nanosecond
            rel = 0.0 if np.all(np.abs((a - b).to_value("s")) < 1e-9) else np.inf
        elif np.asarray(a).dtype.kind in "SUO" or np.asarray(b).dtype.kind in "SUO":
            rel = 0.0 if [str(x) for x in a] == [str(x) for x in b] else np.inf
        else:
            rel = relative_difference(a, b)
        stats = out["groups"].setdefault(group, {"columns": 0, "max_rel": 0.0, "worst": None})
        stats["columns"] += 1
        if name in KNOWN:
            if rel > rtol:
                out["known"][name] = max(out["known"].get(name, 0.0), rel)
            continue
        if rel > stats["max_rel"]:
            stats["max_rel"], stats["worst"] = rel, name
        if rel > rtol and group in REQUIRED:
            out["problems"].append(f"{where}: {name} differs by {rel:.3g}")


def check_event_source(ours, ref, focal, rtol, out):
    """HDF5EventSource reads iactx's file: same events, telescopes and Hillas intensities as ctapipe's."""
    from ctapipe.io import HDF5EventSource

    def events(path):
        with HDF5EventSource(path, focal_length_choice=focal) as source:
            levels = {level.name for level in source.datalevels}
            return levels, {(int(e.index.obs_id), int(e.index.event_id)): {
                int(t): float(dl1.parameters.hillas.intensity) for t, dl1 in e.dl1.tel.items()} for e in source}

    try:
        levels_b, b = events(ref)
    except Exception as err:  # noqa: BLE001 - a ctapipe limitation is a note when iactx's file shares it
        try:
            events(ours)
        except type(err):
            out["notes"].append(f"HDF5EventSource fails on ctapipe's own file as on iactx's: {err!r}")
            return
        out["problems"].append(f"HDF5EventSource fails on ctapipe's file only: {err!r}")
        return
    levels_a, a = events(ours)
    if levels_a != levels_b:
        out["problems"].append(f"HDF5EventSource data levels {sorted(levels_a)}, ctapipe {sorted(levels_b)}")
    if a.keys() != b.keys() or any(a[k].keys() != b[k].keys() for k in a):
        out["problems"].append("HDF5EventSource: events or telescopes differ")
        return
    rel = max((relative_difference(list(a[k].values()), list(b[k].values())) for k in a), default=0.0)
    out["event_source"] = {"events": len(a), "tel_events": sum(map(len, a.values())), "hillas_intensity_max_rel": rel}
    if rel > rtol:
        out["problems"].append(f"HDF5EventSource: hillas intensity differs by {rel:.3g}")


def check_file(path, workdir, iactx, rtol):
    """All the checks of one sample file; a dict of figures and problems."""
    out = {"file": path.name, "groups": {}, "known": {}, "problems": [], "notes": []}
    ours, ref, focal = produce(path, workdir, iactx)
    muons = path.name in MUONS
    tels_a, sub_a, dist_a = load(ours, muons, focal)
    tels_b, sub_b, dist_b = load(ref, muons, focal)
    if sorted(tels_a) != sorted(tels_b):
        out["problems"].append(f"telescopes {sorted(tels_a)}, ctapipe {sorted(tels_b)}")
    for tel_id in sorted(set(tels_a) & set(tels_b)):
        compare_tables(tels_a[tel_id], tels_b[tel_id], f"tel {tel_id}", rtol, out)
    compare_tables(sub_a, sub_b, "subarray events", rtol, out)
    compare_tables(dist_a, dist_b, "shower distribution", rtol, out)
    check_event_source(ours, ref, focal, rtol, out)
    run([Path(sys.executable).with_name("ctapipe-fileinfo"), ours], "ctapipe-fileinfo", workdir)
    out["tel_events"] = sum(len(t) for t in tels_a.values())
    return out, ours, focal


def check_merge(files, workdir, focal):
    """ctapipe-merge of iactx-written files (same focal length choice), read back with TableLoader."""
    from ctapipe.io import TableLoader

    merged = workdir / "merged.h5"
    run([Path(sys.executable).with_name("ctapipe-merge"), *files, "--output", merged, "--overwrite"],
        "ctapipe-merge", workdir)
    counts = []
    for path in [*files, merged]:
        with TableLoader(path, focal_length_choice=focal) as loader:
            counts.append(len(loader.read_subarray_events()))
    return {"inputs": [Path(f).name for f in files], "events": counts[:-1], "merged_events": counts[-1],
            "ok": counts[-1] == sum(counts[:-1])}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", help="sample files (default: the four shower files)")
    parser.add_argument("--iactx", default=os.environ.get("IACTX_COMMAND", str(REPO / ".venv" / "bin" / "iactx")))
    parser.add_argument("--data", default=os.environ.get("IACTX_DATA_PATH", "/work/shared/data/simtel"))
    parser.add_argument("--rtol", type=float, default=1e-5)
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    paths = [Path(f) if Path(f).exists() else Path(args.data) / f for f in (args.files or FILES)]
    results, failed = [], False
    with tempfile.TemporaryDirectory(prefix="iactx-ctapipe-format-") as tmp:
        outputs = {}
        for path in paths:
            result, ours, focal = check_file(path, Path(tmp), args.iactx, args.rtol)
            results.append(result)
            outputs.setdefault(focal, []).append(ours)
            print(f"\n{path.name}: {result['tel_events']} telescope events")
            for group, stats in sorted(result["groups"].items()):
                worst = f" ({stats['worst']})" if stats["worst"] else ""
                print(f"  {group:16s} {stats['columns']:4d} column values  max rel {stats['max_rel']:.2e}{worst}")
            for name, rel in sorted(result["known"].items()):
                print(f"  known: {name} differs by {rel:.3g}: {KNOWN[name]}")
            for note in result["notes"]:
                print(f"  note: {note}")
            for problem in result["problems"]:
                print(f"  PROBLEM: {problem}")
            failed |= bool(result["problems"])
        pair = next(([focal, files[:2]] for focal, files in outputs.items() if len(files) >= 2), None)
        merge = check_merge(pair[1], Path(tmp), pair[0]) if pair else None
    if merge:
        print(f"\nctapipe-merge {' + '.join(merge['inputs'])}: {merge['events']} -> {merge['merged_events']} events "
              f"{'ok' if merge['ok'] else 'WRONG'}")
        failed |= not merge["ok"]
    print("\nctapipe 0.32 reads iactx's files and they agree with ctapipe-process"
          if not failed else "\nDIFFERENCES FOUND")
    if args.json:
        Path(args.json).write_text(json.dumps({"files": results, "merge": merge, "rtol": args.rtol}, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
