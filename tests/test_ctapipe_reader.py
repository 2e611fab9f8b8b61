"""Reading ctapipe DL1 files (``iactx.open_dl1``, ``iactx process`` and ``iactx info`` on them).

The round trip iactx -> ctapipe format -> iactx keeps every value the
format carries; ``ctapipe-process`` outputs of the sample files (made when a
ctapipe environment exists) give the images and parameters of iactx's own
processing of the same input.
"""

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import data_file

import iactx
from iactx.io.ctapipe_reader import is_ctapipe_file, read_ctapipe_dl1
from iactx.io.ctapipe_schema import (
    GEOMETRY_COLUMNS,
    IMPACT_COLUMNS,
    MUON_GROUPS,
    PARAMETER_GROUPS,
    SHOWER_COLUMNS,
    TRUE_PARAMETER_GROUPS,
    columns,
)
from iactx.tools.cli import main

REPO = Path(__file__).resolve().parent.parent
SHOWER_FILES = ["lst_with_photons.simtel.zst", "lst_muons_with_true_photons.simtel.zst",
                "gamma_with_obslevel_particles.simtel.zst", "camsettings_v6.simtel.zst"]
#: ctapipe dtype of every schema column
_CTAPIPE_DTYPES = {name: np.dtype(dtype) for name, dtype, _, _ in columns(
    PARAMETER_GROUPS + TRUE_PARAMETER_GROUPS + MUON_GROUPS) + SHOWER_COLUMNS + GEOMETRY_COLUMNS + IMPACT_COLUMNS}
#: variables that ctapipe's tables hold in float32 besides the schema's (positions, array pointing)
_FLOAT32 = {"pos_x", "pos_y", "pos_z", "array_altitude", "array_azimuth"}
#: variables of iactx's trees that ctapipe's format does not carry
_NOT_CARRIED = {"tracking_mode", "provenance", "HillasReconstructor_quality_criteria"}
_PARAMETERS = [name for name, *_ in columns(PARAMETER_GROUPS) if name != "core_psi"]


def _process(name, output, *options):
    assert main(["process", "--input", str(name), "--output", str(output), "--no-progress", *options]) == 0
    return output


def _stored(name, values):
    """``values`` as ctapipe's format stores variable ``name``."""
    dtype = _CTAPIPE_DTYPES.get(name, np.dtype("<f4") if name in _FLOAT32 else None)
    return values if dtype is None or values.dtype.kind not in "fiu" else values.astype(dtype)


def _compare_node(ours, ref, path):
    """Every variable and coordinate of ``ref`` that ``ours`` has: same dims, dtype, units and stored values."""
    for name in ref.variables:
        if name not in ours.variables:
            continue
        a, b = ours[name], ref[name]
        where = f"{path}/{name}"
        assert a.dims == b.dims and a.dtype == b.dtype, (where, a.dims, b.dims, a.dtype, b.dtype)
        assert a.attrs.get("units") == b.attrs.get("units"), (where, a.attrs.get("units"), b.attrs.get("units"))
        if name in ("pointing_alt", "pointing_az"):  # float32 radians in ctapipe's table
            np.testing.assert_allclose(a.values, b.values, rtol=1e-7, err_msg=where)
        else:
            np.testing.assert_array_equal(a.values, _stored(name, b.values).astype(b.dtype), err_msg=where)


def _missing(ours, ref):
    """Variables of ``ref`` (a NetCDF tree) that ``ours`` lacks, as ``path/name``."""
    out = set()
    for node in ref.subtree:
        have = ours[node.path].to_dataset(inherit=False).variables
        out |= {name for name in node.to_dataset(inherit=False).variables if name not in have}
    return out


@pytest.fixture(scope="module", params=SHOWER_FILES)
def round_trip(request, tmp_path_factory):
    """One sample file processed with images to the ctapipe format and to NetCDF, both read back."""
    folder = tmp_path_factory.mktemp("round_trip")
    path = data_file(request.param)
    options = ["--write-images"] + (["--reconstruct"] if request.param == "camsettings_v6.simtel.zst" else [])
    if request.param == "lst_muons_with_true_photons.simtel.zst":
        options.append("--write-muon-parameters")
    h5 = _process(path, folder / "out.h5", "--output-format", "ctapipe", *options)
    nc = _process(path, folder / "out.nc", *options)
    return h5, iactx.open_dl1(h5), iactx.open_dl1(nc)


def test_round_trip_keeps_every_value(round_trip):
    h5, ours, ref = round_trip
    assert is_ctapipe_file(h5)
    assert ours.iact.cameras == ref.iact.cameras
    for node in ref.subtree:
        _compare_node(ours[node.path].to_dataset(inherit=False), node.to_dataset(inherit=False), node.path)
    # not carried: the attributes above and the true timing and peak-time statistics (not in ctapipe's tables)
    assert {n for n in _missing(ours, ref) if not n.startswith(("true_timing_", "true_peak_time_"))} == set()
    for name in ref.iact.cameras:
        for var in ("image", "image_mask", "hillas_intensity", "pointing_alt", "focal_length"):
            assert var in ours[name].ds
        np.testing.assert_array_equal(ours[name].ds.indexes["tel_event"], ref[name].ds.indexes["tel_event"])
    for key, value in ref.attrs.items():
        if key.startswith("simulation_"):
            assert ours.attrs[key] == value, key
    for key, value in ref["instrument"].attrs.items():
        assert ours["instrument"].attrs[key] == pytest.approx(value, abs=1e-6), key
    assert ours.attrs["source"] == "ctapipe" and ours.attrs["focal_length_kind"] == "effective"
    # the reference metadata ("CTA ...") describes each file itself: not carried from one to the other
    assert {k for k in set(ref.attrs) - set(ours.attrs) if not k.startswith("CTA ")} <= \
        _NOT_CARRIED | {"input_file", "source", "iactx_version", "created_by"}


def test_process_recomputes_from_images_or_carries_parameters(tmp_path):
    name = data_file("lst_muons_with_true_photons.simtel.zst")
    ref = iactx.open_dl1(_process(name, tmp_path / "ref.nc"))
    with_images = _process(name, tmp_path / "img.h5", "--output-format", "ctapipe", "--write-images")
    without = _process(name, tmp_path / "par.h5", "--output-format", "ctapipe")
    again = iactx.open_dl1(_process(with_images, tmp_path / "again.nc"))
    carried = iactx.open_dl1(_process(without, tmp_path / "carried.nc"))
    assert "image" not in carried["LSTCam"].ds
    stricter = iactx.open_dl1(_process(with_images, tmp_path / "stricter.nc",
                                       "--TailcutsImageCleaner.picture_threshold_pe=30"))
    assert (stricter["LSTCam"].ds["hillas_intensity"] < ref["LSTCam"].ds["hillas_intensity"]).all()
    for var in _PARAMETERS:
        values = ref["LSTCam"].ds[var].values
        np.testing.assert_array_equal(again["LSTCam"].ds[var].values, values, err_msg=var)
        np.testing.assert_array_equal(carried["LSTCam"].ds[var].values, _stored(var, values).astype(values.dtype),
                                      err_msg=var)


def test_info_and_foreign_files(tmp_path, capsys):
    import h5py

    out = _process(data_file("camsettings_v6.simtel.zst"), tmp_path / "cam.h5", "--output-format", "ctapipe")
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.count("(ctapipe DL1 file)") == 1 and "19 telescopes" in text
    assert "LSTcam" in text and "NectarCam" in text and "DL1b (parameters)" in text
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = [1, 2, 3]
    assert not is_ctapipe_file(foreign)
    assert main(["info", str(foreign)]) != 0
    assert f"{foreign} is neither a sim_telarray nor an iactx event-tree file" in capsys.readouterr().err
    with pytest.raises(ValueError, match="foreign.h5 is not an iactx event-tree file"):
        iactx.open_dl1(foreign)
    with pytest.raises(ValueError, match="foreign.h5 is not a ctapipe HDF5 file"):
        read_ctapipe_dl1(foreign)


def _ctapipe_process():
    """``ctapipe-process`` of the ctapipe environment, or skip saying why there is none."""
    python = Path(os.environ.get("CTAPIPE_PYTHON") or REPO.parent / "ctapipe-venv" / "bin" / "python")
    executable = python.with_name("ctapipe-process")
    if not executable.exists():
        pytest.skip(f"no ctapipe environment at {python} (set CTAPIPE_PYTHON; see benchmarks/make_ctapipe_env.sh)")
    return executable


def _relative(ours, ref):
    """Largest |ours - ref| / |ref|, 0 where equal or both NaN, inf where only one is NaN."""
    ours, ref = np.asarray(ours, float), np.asarray(ref, float)
    with np.errstate(all="ignore"):
        rel = np.abs(ours - ref) / np.abs(ref)
    rel = np.where((ours == ref) | (np.isnan(ours) & np.isnan(ref)), 0.0, rel)
    return float(np.max(np.where(np.isnan(rel), np.inf, rel), initial=0.0))


@pytest.mark.parametrize("name", SHOWER_FILES)
def test_ctapipe_process_output_equals_own_processing(name, tmp_path):
    executable = _ctapipe_process()
    path = data_file(name)
    theirs = tmp_path / "ctapipe.h5"
    result = subprocess.run([str(executable), "--input", str(path), "--output", str(theirs), "--write-images",
                             "--SimTelEventSource.focal_length_choice=EQUIVALENT"], capture_output=True, text=True,
                            cwd=tmp_path, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    ours = iactx.open_dl1(_process(path, tmp_path / "iactx.nc", "--write-images",
                                   "--EventSource.focal_length_choice=equivalent"))
    tree = read_ctapipe_dl1(theirs, focal_length="equivalent")
    assert sorted(tree.iact.cameras) == sorted(ours.iact.cameras)
    worst = {}
    for camera in ours.iact.cameras:
        a, b = tree[camera].ds, ours[camera].ds
        np.testing.assert_array_equal(a.indexes["tel_event"], b.indexes["tel_event"])
        np.testing.assert_array_equal(a["image_mask"].values, b["image_mask"].values)
        np.testing.assert_array_equal(a["focal_length"].values, b["focal_length"].values)
        for var in ["image", "peak_time", *_PARAMETERS]:
            worst[var] = max(worst.get(var, 0.0), _relative(a[var].values, b[var].values))
    for var in ("true_energy", "true_alt", "true_core_x", "true_x_max"):
        np.testing.assert_array_equal(tree[var].values, ours[var].values)
    bad = {var: rel for var, rel in worst.items() if rel > 1e-5}
    assert not bad, bad
