"""Check that iactx's R1 waveforms and instrument model agree with ctapipe 0.32.

Runs in iactx's environment. ctapipe lives in a separate one (built by
``make_ctapipe_env.sh``); ``_ctapipe_dump.py`` is run there, in a subprocess,
and writes ctapipe's arrays to ``.npz`` files in a temporary folder, which
are then compared with what ``iactx.read_simtel`` makes of the same files:

- subarray: telescope ids, camera names, telescope type strings, positions,
  equivalent and effective focal lengths;
- per camera: pixel positions and areas (after ctapipe's derotation), pixel
  and camera rotation, the neighbours of every pixel, and the focal length
  carried with each telescope event;
- per camera: the triggered telescope events, their R1 ``waveform`` against
  ctapipe's ``event.r1.tel[tel_id].waveform`` and ``selected_gain`` against
  ``event.r1.tel[tel_id].selected_gain_channel``; once with the default gain
  selection (4000 ADC counts, which no sample of these files reaches) and
  once with a low threshold (``--gain-threshold``, 450 by default) set on
  both sides, so that the low-gain path is compared as well.

Floating-point values agree when ``|iactx - ctapipe| <= rtol * max(|ctapipe|, 1)``
(``rtol`` = 1e-5 by default), NaN matching NaN; angles are compared modulo
360 deg; ids, names, neighbour lists and selected gains must be equal. The
table shows, per file, camera and quantity, the number of values compared,
the largest absolute difference and the largest difference relative to
``max(|ctapipe|, 1)``. The exit status is 0 when everything agrees, 1 on a
disagreement, 2 when ctapipe cannot be run.

usage: python benchmarks/compare_ctapipe_r1.py [--data DIR] [--ctapipe-python PYTHON]
                                               [--rtol RTOL] [--gain-threshold T] [FILE ...]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import iactx

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_FILES = (
    "camsettings_v6.simtel.zst",
    "lst_with_photons.simtel.zst",
    "lst_muons_with_true_photons.simtel.zst",
)
DEFAULT_CTAPIPE_PYTHON = REPO.parent / "ctapipe-venv" / "bin" / "python"
DEFAULT_DATA = REPO.parent / "shared" / "data" / "simtel"
#: threshold [ADC counts] of the second comparison, low enough to put pixels on the low gain
DEFAULT_GAIN_THRESHOLD = 450.0


def ctapipe_python(option=None):
    """The ctapipe environment's interpreter: ``option``, ``$CTAPIPE_PYTHON`` or ``../ctapipe-venv``."""
    return Path(option or os.environ.get("CTAPIPE_PYTHON") or DEFAULT_CTAPIPE_PYTHON)


def data_folder(option=None):
    """The sample files' folder: ``option``, ``$IACTX_DATA_PATH`` or ``../shared/data/simtel``."""
    return Path(option or os.environ.get("IACTX_DATA_PATH") or DEFAULT_DATA)


@dataclass
class Row:
    """One line of the comparison table."""

    file: str
    camera: str
    quantity: str
    n: int
    max_abs: float
    max_rel: float
    ok: bool
    note: str = ""


def _float_row(file, camera, quantity, ours, theirs, rtol, angle=False):
    ours = np.asarray(ours, np.float64)
    theirs = np.asarray(theirs, np.float64)
    if ours.shape != theirs.shape:
        return Row(file, camera, quantity, theirs.size, np.nan, np.nan, False,
                   f"shape {ours.shape} (iactx) != {theirs.shape} (ctapipe)")
    both_nan = np.isnan(ours) & np.isnan(theirs)
    diff = np.abs(ours - theirs)
    if angle:
        diff = np.abs((ours - theirs + 180.0) % 360.0 - 180.0)
    diff = np.where(both_nan, 0.0, diff)
    scale = np.maximum(np.abs(np.nan_to_num(theirs)), 1.0)
    rel = diff / scale
    max_abs = float(np.max(diff, initial=0.0))
    max_rel = float(np.max(rel, initial=0.0))
    ok = bool(np.all(rel <= rtol))  # False where exactly one side is NaN
    return Row(file, camera, quantity, theirs.size, max_abs, max_rel, ok)


def _exact_row(file, camera, quantity, ours, theirs):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    if ours.shape != theirs.shape:
        return Row(file, camera, quantity, theirs.size, np.nan, np.nan, False,
                   f"shape {ours.shape} (iactx) != {theirs.shape} (ctapipe)")
    differ = int(np.count_nonzero(ours != theirs))
    numeric = ours.dtype.kind in "iub" and theirs.dtype.kind in "iub"
    max_abs = float(np.max(np.abs(ours.astype(np.int64) - theirs.astype(np.int64)), initial=0)) if numeric else np.nan
    note = f"{differ} differ" if differ else ""
    if differ and not numeric:
        first = np.flatnonzero(ours.ravel() != theirs.ravel())[0]
        note += f", e.g. {str(ours.ravel()[first])!r} != {str(theirs.ravel()[first])!r}"
    return Row(file, camera, quantity, theirs.size, max_abs, max_abs if numeric else np.nan, differ == 0, note)


def _neighbor_lists(table):
    """Sorted neighbour ids of each pixel from the -1 padded table."""
    return [tuple(sorted(row[row >= 0].tolist())) for row in np.asarray(table)]


def _ctapipe_neighbor_lists(indptr, indices):
    return [tuple(indices[indptr[i]:indptr[i + 1]].tolist()) for i in range(len(indptr) - 1)]


def _neighbor_row(file, camera, ours, theirs):
    differ = sum(a != b for a, b in zip(ours, theirs)) + abs(len(ours) - len(theirs))
    n_pairs = sum(len(t) for t in theirs)
    return Row(file, camera, "neighbors", n_pairs, np.nan, np.nan, differ == 0,
               f"{differ} pixels differ" if differ else f"{len(theirs)} pixels")


def _read(path, gain_threshold=None):
    """iactx's tree of the whole file, with the default or the given gain-selection threshold."""
    options = {} if gain_threshold is None else {"gain_threshold": float(gain_threshold)}
    with warnings.catch_warnings():
        # files without an effective focal length: iactx warns and uses the equivalent one
        warnings.simplefilter("ignore", iactx.io.simtel_instrument.FocalLengthFallbackWarning)
        with iactx.io.simtel.SimtelSource(path, **options) as source:
            return next(source.batches(batch_size=None))


def compare_file(path, dump, rtol):
    """Rows comparing iactx's reading of ``path`` with ctapipe's arrays in ``dump``."""
    name = Path(path).name
    tree = _read(path)
    inst = tree["instrument"].to_dataset()
    rows = [
        _exact_row(name, "-", "tel_id", inst["tel"].values, dump["tel_id"]),
        _exact_row(name, "-", "camera_name", inst["camera_name"].values.astype(str), dump["camera_name"]),
        _exact_row(name, "-", "tel_type", inst["tel_type"].values.astype(str), dump["tel_type"]),
        _float_row(name, "-", "position", np.stack([inst[f"pos_{c}"].values for c in "xyz"], axis=1),
                   dump["pos"], rtol),
        _float_row(name, "-", "equivalent_focal_length", inst["equivalent_focal_length"].values,
                   dump["equivalent_focal_length"], rtol),
        _float_row(name, "-", "effective_focal_length", inst["effective_focal_length"].values,
                   dump["effective_focal_length"], rtol),
    ]
    chosen = dump["effective_focal_length"] if str(dump["focal_length_choice"]) == "EFFECTIVE" \
        else dump["equivalent_focal_length"]
    focal_length_of = dict(zip(dump["tel_id"].tolist(), chosen))
    ours_cameras = sorted(n for n, node in tree.children.items() if "tel_event" in node.dims)
    rows.append(_exact_row(name, "-", "camera groups", np.asarray(ours_cameras, str), dump["camera_names"]))
    for camera in dump["camera_names"].tolist():
        if camera not in ours_cameras:
            continue
        rows.extend(_compare_camera(name, camera, tree[camera].to_dataset(), dump, focal_length_of, rtol))
    if "gain_threshold" in dump:
        threshold = float(dump["gain_threshold"])
        low = _read(path, threshold)
        for camera in dump["camera_names"].tolist():
            if camera in ours_cameras:
                rows.extend(_r1_rows(name, camera, low[camera].to_dataset(), dump, "r1_threshold",
                                     f" (threshold {threshold:g})", rtol))
    return rows


def _compare_camera(name, camera, cam, dump, focal_length_of, rtol):
    geom = f"geom__{camera}__"
    rows = [
        _float_row(name, camera, "pix_x", cam["pix_x"].values, dump[geom + "pix_x"], rtol),
        _float_row(name, camera, "pix_y", cam["pix_y"].values, dump[geom + "pix_y"], rtol),
        _float_row(name, camera, "pix_area", cam["pix_area"].values, dump[geom + "pix_area"], rtol),
        _float_row(name, camera, "pix_rotation", cam.attrs["pix_rotation"], dump[geom + "pix_rotation"], rtol,
                   angle=True),
        _float_row(name, camera, "cam_rotation", cam.attrs["cam_rotation"], dump[geom + "cam_rotation"], rtol,
                   angle=True),
        _neighbor_row(name, camera, _neighbor_lists(cam["neighbors"].values),
                      _ctapipe_neighbor_lists(dump[geom + "neighbor_indptr"], dump[geom + "neighbor_indices"])),
    ]
    rows.extend(_r1_rows(name, camera, cam, dump, "r1", "", rtol, focal_length_of))
    return rows


def _r1_rows(name, camera, cam, dump, prefix, label, rtol, focal_length_of=None):
    """Rows for the telescope events, R1 waveforms and selected gains of one camera."""
    r1 = f"{prefix}__{camera}__"
    rows = []
    if r1 + "event_id" in dump:
        theirs_keys = list(zip(dump[r1 + "event_id"].tolist(), dump[r1 + "tel_id"].tolist()))
    else:
        theirs_keys = []
    ours_keys = list(zip(cam["event"].values.tolist(), cam["tel"].values.tolist()))
    position = {key: i for i, key in enumerate(ours_keys)}
    missing = [k for k in theirs_keys if k not in position]
    extra = sorted(set(ours_keys) - set(theirs_keys))
    rows.append(Row(name, camera, "tel_event keys" + label, len(theirs_keys), np.nan, np.nan,
                    not missing and not extra,
                    f"{len(missing)} missing in iactx, {len(extra)} extra in iactx" if missing or extra
                    else "(event_id, tel_id) identical"))
    if not theirs_keys or missing:
        return rows
    order = np.asarray([position[k] for k in theirs_keys])
    rows.append(_float_row(name, camera, "waveform" + label, cam["waveform"].values[order], dump[r1 + "waveform"],
                           rtol))
    gain_row = _exact_row(name, camera, "selected_gain" + label, cam["selected_gain"].values[order],
                          dump[r1 + "selected_gain"])
    gain_row.note = gain_row.note or f"{np.count_nonzero(dump[r1 + 'selected_gain'])} on low gain"
    rows.append(gain_row)
    if focal_length_of is not None:
        rows.append(_float_row(name, camera, "focal_length", cam["focal_length"].values[order],
                               [focal_length_of[tel] for _, tel in theirs_keys], rtol))
    return rows


def run_ctapipe_dump(python, paths, out_dir, gain_threshold=None):
    """Run ``_ctapipe_dump.py`` under ``python``; return ``{path: npz path}``."""
    command = [str(python), str(HERE / "_ctapipe_dump.py"), str(out_dir), *map(str, paths)]
    if gain_threshold is not None:
        command += ["--gain-threshold", str(gain_threshold)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return {path: Path(out_dir) / f"{Path(path).name}.npz" for path in paths}


def format_table(rows):
    """The comparison table as text."""
    header = ("file", "camera", "quantity", "n", "max |diff|", "max rel", "ok", "")

    def number(x):
        return "-" if x is None or np.isnan(x) else f"{x:.3g}"

    lines = [(r.file, r.camera, r.quantity, str(r.n), number(r.max_abs), number(r.max_rel),
              "yes" if r.ok else "NO", r.note) for r in rows]
    widths = [max(len(str(line[i])) for line in [header, *lines]) for i in range(len(header))]
    out = []
    for line in [header, *lines]:
        out.append("  ".join(str(v).ljust(w) if i < 3 or i == 7 else str(v).rjust(w)
                             for i, (v, w) in enumerate(zip(line, widths))).rstrip())
        if line is header:
            out.append("  ".join("-" * w for w in widths[:-1]))
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", help=f"sim_telarray files (default: {', '.join(DEFAULT_FILES)} "
                                                 "in the data folder)")
    parser.add_argument("--data", help="folder of the sample files (default $IACTX_DATA_PATH or ../shared/data/simtel)")
    parser.add_argument("--ctapipe-python",
                        help="python of the ctapipe environment "
                             "(default $CTAPIPE_PYTHON or ../ctapipe-venv/bin/python)")
    parser.add_argument("--rtol", type=float, default=1e-5,
                        help="tolerance relative to max(|ctapipe value|, 1) (default 1e-5)")
    parser.add_argument("--gain-threshold", type=float, default=DEFAULT_GAIN_THRESHOLD,
                        help="threshold [ADC counts] of the second, low-gain comparison; 0 to skip "
                             f"(default {DEFAULT_GAIN_THRESHOLD:g})")
    args = parser.parse_args(argv)
    paths = [Path(f) for f in args.files] or [data_folder(args.data) / f for f in DEFAULT_FILES]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        print(f"missing input files: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    python = ctapipe_python(args.ctapipe_python)
    if not python.exists():
        print(f"no ctapipe python at {python} (set --ctapipe-python or CTAPIPE_PYTHON; "
              "see benchmarks/make_ctapipe_env.sh)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="iactx_ctapipe_") as tmp:
        try:
            dumps = run_ctapipe_dump(python, paths, tmp, args.gain_threshold or None)
        except RuntimeError as err:
            print(err, file=sys.stderr)
            return 2
        rows = []
        for path, npz in dumps.items():
            with np.load(npz) as dump:
                rows.extend(compare_file(path, dump, args.rtol))
    print(f"iactx {iactx.__version__} against ctapipe ({python}); "
          f"floats agree when |iactx - ctapipe| <= {args.rtol:g} * max(|ctapipe|, 1)\n")
    print(format_table(rows))
    bad = [r for r in rows if not r.ok]
    print(f"\n{len(rows) - len(bad)} of {len(rows)} comparisons agree" + (
        "; disagreements: " + ", ".join(f"{r.file}/{r.camera}/{r.quantity}" for r in bad) if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
