"""Shared fixtures: the sample sim_telarray files found through IACTX_DATA_PATH.

Without the data the tests that need it are skipped with a reason, except
under ``CI=true``, where a missing file fails the suite.
"""

import os
from pathlib import Path

import pytest

#: the sample files and what their README says about them
SAMPLE_FILES = {
    "lst_with_photons.simtel.zst": {"n_tels": 1, "cameras": {"LSTCam"}, "n_events": 1},
    "lst_muons_with_true_photons.simtel.zst": {"n_tels": 1, "cameras": {"LSTCam"}, "n_events": 3},
    "gamma_with_obslevel_particles.simtel.zst": {"n_tels": 1, "cameras": {"HESS-1U"}, "n_events": 1},
    "camsettings_v6.simtel.zst": {"n_tels": 19, "cameras": {"LSTcam", "NectarCam"}, "n_events": 1},
    "calib_events.simtel.gz": {
        "n_tels": 7,
        "cameras": {"LSTCam", "NectarCam", "FlashCam", "ASTRICam", "CHEC", "DigiCam", "SCTCam"},
        "n_events": 1,
    },
}


def data_dir():
    """The folder named by IACTX_DATA_PATH, or None."""
    value = os.environ.get("IACTX_DATA_PATH")
    return Path(value) if value else None


def _missing(reason):
    """Skip a test that lacks its data, or fail it under ``CI=true``."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def data_file(name):
    """Path of a sample file; skip (or fail under CI=true) when it is missing."""
    folder = data_dir()
    path = folder / name if folder else None
    if path is None or not path.is_file():
        _missing(f"sample file {name} not found (set IACTX_DATA_PATH to the folder holding it)")
    return path


def amplify_tool():
    """The shared tool that repeats the events of a sim_telarray file (beside the sample data)."""
    folder = data_dir()
    path = folder.parent.parent / "tools" / "amplify_simtel.py" if folder else None
    if path is None or not path.is_file():
        _missing(f"amplify tool not found at {path} (it sits in the tools folder beside the data)")
    return path


@pytest.fixture(params=sorted(SAMPLE_FILES))
def sample_name(request):
    """Each sample file name in turn."""
    return request.param
