"""Agreement with ctapipe 0.32: R1 waveforms, gain selection and instrument; HillasIntersection.

Runs ``benchmarks/compare_ctapipe_r1.py``, which calls ctapipe in its own
environment. ctapipe is never a dependency of iactx, so the test is skipped
where no ctapipe environment exists (as in CI); point ``CTAPIPE_PYTHON`` at
its interpreter (default ``../ctapipe-venv/bin/python``, built by
``benchmarks/make_ctapipe_env.sh``) to run it.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import data_file

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "compare_ctapipe_r1.py"
FILES = ("camsettings_v6.simtel.zst", "lst_with_photons.simtel.zst", "lst_muons_with_true_photons.simtel.zst")


def _ctapipe_python():
    """The ctapipe environment's python, or skip saying why there is none."""
    python = Path(os.environ.get("CTAPIPE_PYTHON") or REPO.parent / "ctapipe-venv" / "bin" / "python")
    if not python.exists():
        pytest.skip(f"no ctapipe environment at {python} (set CTAPIPE_PYTHON; see benchmarks/make_ctapipe_env.sh)")
    probe = subprocess.run([str(python), "-c", "import ctapipe.io"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"{python} cannot import ctapipe: {probe.stderr.strip().splitlines()[-1:]}")
    return python


def test_r1_and_subarray_agree_with_ctapipe():
    python = _ctapipe_python()
    paths = [str(data_file(name)) for name in FILES]
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--ctapipe-python", str(python), *paths],
        capture_output=True, text=True, timeout=600,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert "comparisons agree" in result.stdout and " NO " not in result.stdout, report


def test_hillas_intersection_agrees_with_ctapipe():
    """Same Hillas inputs as ctapipe's own chain on camsettings_v6 and on toy events: direction within
    1e-6 deg, core within 1e-5 m, same validity and telescopes."""
    python = _ctapipe_python()
    data = data_file("camsettings_v6.simtel.zst").parent
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "compare_ctapipe_reco.py"), "--reconstructor",
         "HillasIntersection", "--ctapipe-python", str(python), "--data-path", str(data), "--n-toy", "200"],
        capture_output=True, text=True, timeout=900,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert "HillasIntersection: all directions within 1e-06 deg, cores within 1e-05 m" in result.stdout, report
