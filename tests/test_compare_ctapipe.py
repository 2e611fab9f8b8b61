"""Agreement with ctapipe 0.32: R1 waveforms, gain selection and instrument.

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
