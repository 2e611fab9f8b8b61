"""Cell layout of iactx's square images against ctapipe's ``image_to_cartesian_representation``.

For every camera group of the sample files, the pixel geometry is written
to a .npz, ctapipe (in its separate environment; this script runs itself
there with ``dump``) places the pixels on its 2-D grid, and the two
layouts are compared: both must be one-to-one, and ctapipe's ``(row, col)``
must be an integer affine image of iactx's (``A @ (row, col) + b`` with
``|det A| = 1``), i.e. the same cells up to the choice and direction of
the grid axes. Prints one line per camera; exit status 1 on a mismatch.

usage:
    python benchmarks/compare_ctapipe_square_images.py [--ctapipe-python PATH] [--data DIR]
    CTAPIPE_PYTHON: python dump IN.npz OUT.npz     (run by the first form)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_CTAPIPE_PYTHON = os.environ.get("CTAPIPE_PYTHON", str(HERE.parent.parent / "ctapipe-venv" / "bin" / "python"))
SAMPLES = ("calib_events.simtel.gz", "camsettings_v6.simtel.zst", "gamma_with_obslevel_particles.simtel.zst")


def dump(inp, out):
    """ctapipe's (row, col) of every pixel of every camera in ``inp``; runs in the ctapipe environment."""
    import astropy.units as u
    from ctapipe.instrument import CameraGeometry

    d = np.load(inp)
    res = {}
    for key in sorted({k.rsplit(".", 1)[0] for k in d.files}):
        geom = CameraGeometry(key, np.arange(d[f"{key}.x"].size), d[f"{key}.x"] * u.m, d[f"{key}.y"] * u.m,
                              d[f"{key}.area"] * u.m**2, str(d[f"{key}.type"]),
                              pix_rotation=float(d[f"{key}.rotation"]) * u.deg)
        res[f"{key}.row"], res[f"{key}.col"] = geom.image_index_to_cartesian_index(np.arange(geom.n_pixels))
    np.savez(out, **res)


def integer_affine(src, dst):
    """The integer matrix A and offset b with ``dst = src @ A.T + b``, or None when there is none."""
    design = np.column_stack([src, np.ones(len(src))])
    coef = np.linalg.lstsq(design, dst, rcond=None)[0]
    exact = np.rint(coef)
    if not np.array_equal(design @ exact, dst) or abs(round(np.linalg.det(exact[:2].T))) != 1:
        return None
    return exact[:2].T.astype(int), exact[2].astype(int)


def main():
    import iactx
    from iactx.image import camera_square_grid

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ctapipe-python", default=DEFAULT_CTAPIPE_PYTHON)
    parser.add_argument("--data", default=os.environ.get("IACTX_DATA_PATH", "../shared/data/simtel"))
    args = parser.parse_args()
    geoms, grids = {}, {}
    for name in SAMPLES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = iactx.read_simtel(Path(args.data) / name, calibration_events="calib_events" in name)
        for camera in tree.iact.cameras:
            cam = tree[camera].ds
            geom, key = cam.iact.geometry(), f"{name.split('.')[0]}:{camera}"
            geoms.update({f"{key}.x": geom.pix_x, f"{key}.y": geom.pix_y, f"{key}.area": geom.pix_area,
                          f"{key}.type": geom.pix_type, f"{key}.rotation": geom.pix_rotation})
            grids[key] = camera_square_grid(cam)
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = Path(tmp) / "geometries.npz", Path(tmp) / "cells.npz"
        np.savez(inp, **geoms)
        subprocess.run([args.ctapipe_python, __file__, "dump", str(inp), str(out)], check=True)
        theirs = dict(np.load(out))
    failed = False
    for key, grid in grids.items():
        row, col = theirs[f"{key}.row"], theirs[f"{key}.col"]
        one_to_one = np.unique(row * (col.max() + 1) + col).size == row.size
        affine = integer_affine(np.column_stack([grid.row, grid.col]), np.column_stack([row, col]))
        ok = one_to_one and affine is not None
        failed |= not ok
        shape = (int(row.max()) + 1, int(col.max()) + 1)
        print(f"{key:50s} iactx {grid.shape} ctapipe {shape} ctapipe one-to-one {one_to_one} "
              f"same cells {'A=' + str(affine[0].tolist()) if affine else 'NO'}")
    return 1 if failed else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["dump"]:
        dump(*sys.argv[2:4])
    else:
        sys.exit(main())
