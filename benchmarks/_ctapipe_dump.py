"""Dump what ctapipe makes of sim_telarray files, for ``compare_ctapipe_r1.py``.

Runs in the separate ctapipe environment (see ``make_ctapipe_env.sh``), never
in iactx's own. For each input file it writes one ``.npz`` with only plain
numpy arrays (strings as unicode arrays, no pickles):

- ``tel_id``, ``camera_name``, ``tel_type``, ``pos`` (n_tels, 3) [m],
  ``equivalent_focal_length``, ``effective_focal_length`` [m];
- per camera ``<name>`` (camera names as ``camera_names``):
  ``geom__<name>__pix_x``, ``__pix_y`` [m], ``__pix_area`` [m2],
  ``__pix_rotation``, ``__cam_rotation`` [deg], ``__neighbor_indptr``,
  ``__neighbor_indices`` (CSR, indices sorted within each pixel);
- per camera the triggered telescope events as ctapipe's
  ``SimTelEventSource`` yields them with its default configuration (except
  ``focal_length_choice="EQUIVALENT"`` for files without an effective focal
  length, which ctapipe refuses to open otherwise; the choice is stored as
  ``focal_length_choice``):
  ``r1__<name>__event_id``, ``__tel_id``, ``__waveform``
  (n, n_pixels, n_samples), ``__selected_gain`` (n, n_pixels).

usage: python _ctapipe_dump.py OUT_DIR FILE [FILE ...]
       (writes OUT_DIR/<file name>.npz)
"""

import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from ctapipe.io import SimTelEventSource


def _csr(neighbors):
    """CSR arrays of a list of neighbour lists, sorted within each row."""
    rows = [np.sort(np.asarray(row, np.int64)) for row in neighbors]
    indptr = np.zeros(len(rows) + 1, np.int64)
    np.cumsum([len(row) for row in rows], out=indptr[1:])
    indices = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    return indptr, indices


def _subarray_arrays(subarray):
    tel_ids = list(subarray.tel_ids)
    tels = [subarray.tel[t] for t in tel_ids]
    out = {
        "tel_id": np.asarray(tel_ids, np.int64),
        "camera_name": np.asarray([t.camera.name for t in tels], str),
        "tel_type": np.asarray([str(t) for t in tels], str),
        "pos": np.asarray([subarray.positions[t].to_value("m") for t in tel_ids], np.float64).reshape(-1, 3),
        "equivalent_focal_length": np.asarray([t.optics.equivalent_focal_length.to_value("m") for t in tels]),
        "effective_focal_length": np.asarray([t.optics.effective_focal_length.to_value("m") for t in tels]),
    }
    names = sorted({t.camera.name for t in tels})
    out["camera_names"] = np.asarray(names, str)
    for name in names:
        geom = next(t.camera.geometry for t in tels if t.camera.name == name)
        prefix = f"geom__{name}__"
        out[prefix + "pix_x"] = geom.pix_x.to_value("m")
        out[prefix + "pix_y"] = geom.pix_y.to_value("m")
        out[prefix + "pix_area"] = geom.pix_area.to_value("m2")
        out[prefix + "pix_rotation"] = np.float64(geom.pix_rotation.to_value("deg"))
        out[prefix + "cam_rotation"] = np.float64(geom.cam_rotation.to_value("deg"))
        out[prefix + "neighbor_indptr"], out[prefix + "neighbor_indices"] = _csr(geom.neighbors)
    return out


def _r1_arrays(source):
    per_camera = defaultdict(lambda: defaultdict(list))
    for event in source:
        for tel_id, r1 in event.r1.tel.items():
            name = source.subarray.tel[tel_id].camera.name
            waveform = np.asarray(r1.waveform)
            if waveform.ndim == 3:
                # gain-selected R1 keeps a channel axis of length one
                if waveform.shape[0] != 1:
                    raise ValueError(f"tel {tel_id}: R1 waveform is not gain-selected, shape {waveform.shape}")
                waveform = waveform[0]
            columns = per_camera[name]
            columns["event_id"].append(event.index.event_id)
            columns["tel_id"].append(tel_id)
            columns["waveform"].append(waveform)
            columns["selected_gain"].append(np.asarray(r1.selected_gain_channel))
    out = {}
    for name, columns in per_camera.items():
        for column, values in columns.items():
            out[f"r1__{name}__{column}"] = np.stack(values) if column in ("waveform", "selected_gain") \
                else np.asarray(values, np.int64)
    return out


def _open(path):
    """ctapipe's source with its defaults; the equivalent focal length where the file has no effective one."""
    try:
        return SimTelEventSource(path), "EFFECTIVE"
    except RuntimeError as err:
        if "effective focal length was not present" not in str(err):
            raise
        return SimTelEventSource(path, focal_length_choice="EQUIVALENT"), "EQUIVALENT"


def dump(path, out_dir):
    """Write ``out_dir/<name of path>.npz`` with ctapipe's view of ``path``."""
    source, focal_length_choice = _open(path)
    with source:
        arrays = _subarray_arrays(source.subarray)
        arrays.update(_r1_arrays(source))
    arrays["focal_length_choice"] = np.asarray(focal_length_choice)
    target = Path(out_dir) / f"{Path(path).name}.npz"
    np.savez(target, **arrays)
    return target


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    out_dir, *paths = argv
    for path in paths:
        print(dump(path, out_dir))


if __name__ == "__main__":
    main(sys.argv[1:])
