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
  (n, n_pixels, n_samples), ``__selected_gain`` (n, n_pixels);
- with ``--gain-threshold T``, the same once more with the
  ``ThresholdGainSelector`` threshold set to ``T`` [ADC counts], as
  ``r1_threshold__<name>__...`` (and ``gain_threshold``), so that the
  low-gain path is exercised on files whose samples stay below the default.

usage: python _ctapipe_dump.py OUT_DIR [--gain-threshold T] FILE [FILE ...]
       (writes OUT_DIR/<file name>.npz)
"""

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np
from ctapipe.io import SimTelEventSource
from traitlets.config import Config


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


def _r1_arrays(source, prefix):
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
            out[f"{prefix}__{name}__{column}"] = np.stack(values) if column in ("waveform", "selected_gain") \
                else np.asarray(values, np.int64)
    return out


def _open(path, gain_threshold=None):
    """ctapipe's source with its defaults; the equivalent focal length where the file has no effective one.

    ``gain_threshold`` replaces the default threshold of the gain selection.
    """
    config = Config()
    if gain_threshold is not None:
        config.ThresholdGainSelector.threshold = float(gain_threshold)
    try:
        return SimTelEventSource(path, config=config), "EFFECTIVE"
    except RuntimeError as err:
        if "effective focal length was not present" not in str(err):
            raise
        return SimTelEventSource(path, focal_length_choice="EQUIVALENT", config=config), "EQUIVALENT"


def dump(path, out_dir, gain_threshold=None):
    """Write ``out_dir/<name of path>.npz`` with ctapipe's view of ``path``."""
    source, focal_length_choice = _open(path)
    with source:
        arrays = _subarray_arrays(source.subarray)
        arrays.update(_r1_arrays(source, "r1"))
    arrays["focal_length_choice"] = np.asarray(focal_length_choice)
    if gain_threshold is not None:
        source, _ = _open(path, gain_threshold)
        with source:
            arrays.update(_r1_arrays(source, "r1_threshold"))
        arrays["gain_threshold"] = np.float64(gain_threshold)
    target = Path(out_dir) / f"{Path(path).name}.npz"
    np.savez(target, **arrays)
    return target


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir")
    parser.add_argument("files", nargs="+")
    parser.add_argument("--gain-threshold", type=float, help="extra pass with this gain-selection threshold")
    args = parser.parse_args(argv)
    for path in args.files:
        print(dump(path, args.out_dir, args.gain_threshold))


if __name__ == "__main__":
    main()
