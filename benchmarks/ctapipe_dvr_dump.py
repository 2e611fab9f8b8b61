"""ctapipe's TailCutsDataVolumeReducer on a sim_telarray file, dumped to .npz.

Runs in the separate ctapipe environment only (never imports iactx);
``compare_ctapipe_dvr.py`` calls it through a subprocess. ``EventSource``
(gain selection on; calibration events read with ``--calibration-events``)
followed by ``CameraCalibrator`` with ``data_volume_reducer_type =
TailCutsDataVolumeReducer`` and every other option at ctapipe's default.
Per camera name the keys ``(obs_id, event_id, tel_id)``, the pixels kept
(``mask``, from the DVR bit of the DL0 pixel status, checked against a
direct call of the reducer on the R1 waveforms) and the DL1 ``image`` and
``peak_time`` of every telescope event are written.

usage:
    python ctapipe_dvr_dump.py INPUT OUT.npz [--calibration-events]
"""

import argparse
import json
import sys

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--calibration-events", action="store_true")
    args = parser.parse_args(argv)

    import ctapipe
    from ctapipe.calib import CameraCalibrator
    from ctapipe.containers import PixelStatus
    from ctapipe.io import EventSource

    out = {}
    with EventSource(args.input, focal_length_choice="EQUIVALENT", select_gain=True,
                     skip_calibration_events=not args.calibration_events) as source:
        calibrator = CameraCalibrator(source.subarray, data_volume_reducer_type="TailCutsDataVolumeReducer")
        for event in source:
            direct = {tel_id: calibrator.data_volume_reducer(r1.waveform, tel_id=tel_id,
                                                             selected_gain_channel=r1.selected_gain_channel)
                      for tel_id, r1 in event.r1.tel.items()}
            calibrator(event)
            for tel_id, dl1 in event.dl1.tel.items():
                mask = (event.dl0.tel[tel_id].pixel_status & np.uint8(PixelStatus.DVR_STATUS)) > 0
                if not np.array_equal(mask, direct[tel_id]):
                    raise RuntimeError(f"pixel status and reducer disagree for tel {tel_id}")
                camera = source.subarray.tel[tel_id].camera.name
                entry = out.setdefault(camera, {"keys": [], "mask": [], "image": [], "peak_time": []})
                entry["keys"].append((event.index.obs_id, event.index.event_id, tel_id))
                entry["mask"].append(np.asarray(mask, bool))
                entry["image"].append(np.asarray(dl1.image, np.float32))
                entry["peak_time"].append(np.asarray(dl1.peak_time, np.float32))
    arrays = {"ctapipe_version": np.array(ctapipe.__version__)}
    for camera, entry in out.items():
        arrays[f"{camera}/keys"] = np.asarray(entry["keys"], np.int64)
        for name in ("mask", "image", "peak_time"):
            arrays[f"{camera}/{name}"] = np.stack(entry[name])
    np.savez(args.output, **arrays)
    print(json.dumps({camera: len(entry["keys"]) for camera, entry in out.items()}))


if __name__ == "__main__":
    sys.exit(main())
