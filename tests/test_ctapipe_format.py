"""ctapipe-format output (``iactx process --output-format ctapipe``, ``write_ctapipe_dl1``).

Read with PyTables only (no ctapipe): the tables, columns, dtypes and unit
attributes ctapipe 0.32 writes, values equal to the NetCDF output of the same
run, atomic writing, batches. The check with ctapipe itself
(``benchmarks/check_ctapipe_format.py``) runs when a ctapipe environment exists.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import data_file

import iactx
from iactx.io.ctapipe_format import CtapipeDL1Writer, write_ctapipe_dl1
from iactx.tools.cli import main

tables = pytest.importorskip("tables")

REPO = Path(__file__).resolve().parent.parent
STEREO = "camsettings_v6.simtel.zst"


def _process(name, output, *options):
    assert main(["process", "--input", str(data_file(name)), "--output", str(output), "--no-progress",
                 *options]) == 0
    return output


@pytest.fixture(scope="module")
def stereo(tmp_path_factory):
    """camsettings_v6 with images and stereo reconstruction, as ctapipe format and as NetCDF."""
    folder = tmp_path_factory.mktemp("ctapipe_format")
    options = ["--write-images", "--reconstruct"]
    h5 = _process(STEREO, folder / "out.h5", "--output-format", "ctapipe", *options)
    nc = _process(STEREO, folder / "out.nc", *options)
    with tables.open_file(h5) as f:
        content = {node._v_pathname: (node.read(), {k: node.attrs[k] for k in node.attrs._v_attrnamesuser})
                   for node in f.walk_nodes("/", "Table")}
        root = {k: f.root._v_attrs[k] for k in f.root._v_attrs._v_attrnamesuser}
    return content, root, iactx.open_dl1(nc)


def _units(attrs):
    """Column name -> unit attribute of a table written like ctapipe."""
    names = {int(k.split("_")[1]): str(v) for k, v in attrs.items() if k.startswith("CTAFIELD_") and
             k.endswith("_NAME")}
    return {names[i]: str(attrs[f"CTAFIELD_{i}_UNIT"]) for i in names if f"CTAFIELD_{i}_UNIT" in attrs}


def test_tables_and_root_metadata(stereo):
    content, root, tree = stereo
    tel_ids = sorted(int(t) for name in tree.iact.cameras for t in np.unique(tree[name]["tel"].values))
    expected = ["/dl1/event/subarray/trigger", "/dl1/event/telescope/trigger", "/simulation/event/subarray/shower",
                "/simulation/service/shower_distribution", "/configuration/instrument/subarray/layout",
                "/configuration/instrument/telescope/optics", "/configuration/simulation/run",
                "/configuration/observation/observation_block", "/dl2/event/subarray/geometry/HillasReconstructor"]
    expected += [f"/configuration/instrument/telescope/camera/{kind}_{i}" for kind in ("geometry", "readout")
                 for i in range(3)]  # LSTcam with two pulse shapes, NectarCam
    for kind in ("dl1/event/telescope/parameters", "dl1/event/telescope/images", "simulation/event/telescope/images",
                 "simulation/event/telescope/parameters", "dl2/event/telescope/impact/HillasReconstructor"):
        expected += [f"/{kind}/tel_{t:03d}" for t in tel_ids]
    assert tel_ids == [1, 2, 3, 4, 5, 9, 10, 14, 19]
    assert set(expected) <= set(content), sorted(set(expected) - set(content))
    assert root["CTA PRODUCT DATA MODEL VERSION"] == "v7.6.0"
    assert root["CTA PRODUCT DATA LEVELS"] == "DL1_IMAGES,DL1_PARAMETERS,DL2"
    assert root["CTA PROCESS TYPE"] == "Simulation" and root["CTA PRODUCT DATA CATEGORY"] == "Sim"
    assert root["CTA ACTIVITY NAME"] == "iactx process" and root["CTA ACTIVITY SOFTWARE NAME"] == "iactx"
    assert root["CTA INSTRUMENT ID"] == "LaPalma-prod6"
    assert root["CTA ACTIVITY START TIME"] <= root["CTA ACTIVITY STOP TIME"]


def test_columns_dtypes_and_units(stereo):
    content, _, _ = stereo
    trigger, attrs = content["/dl1/event/subarray/trigger"]
    assert trigger.dtype.names == ("obs_id", "event_id", "time", "tels_with_trigger", "event_type")
    assert [trigger.dtype[n].str for n in ("obs_id", "event_id", "event_type")] == ["<i4", "<i8", "<i8"]
    assert trigger.dtype["time"].shape == (2,) and trigger.dtype["time"].base == np.uint32
    assert trigger["tels_with_trigger"].shape == (1, 19) and np.flatnonzero(trigger["tels_with_trigger"][0]).tolist() \
        == [0, 1, 2, 3, 4, 8, 9, 13, 18]
    assert attrs["CTAFIELD_2_TRANSFORM"] == "time" and attrs["CTAFIELD_2_TIME_FORMAT"] == "ctao_high_res"
    assert attrs["CTAFIELD_3_TRANSFORM"] == "tel_list_to_mask" and attrs["CTAFIELD_4_TRANSFORM"] == "enum"
    tel_trigger, _ = content["/dl1/event/telescope/trigger"]
    assert tel_trigger["tel_id"].tolist() == [1, 2, 3, 4, 5, 9, 10, 14, 19] and tel_trigger.dtype["tel_id"].str == "<i2"

    params, attrs = content["/dl1/event/telescope/parameters/tel_001"]
    assert params.dtype.names[:4] == ("obs_id", "event_id", "tel_id", "hillas_intensity")
    assert len(params.dtype.names) == 3 + 42
    dtypes = {n: params.dtype[n].str for n in params.dtype.names}
    assert dtypes["hillas_fov_lon"] == "<f8" and dtypes["leakage_intensity_width_1"] == "<f4"
    assert dtypes["morphology_n_pixels"] == "<i8" and dtypes["intensity_max"] == "<f4"
    units = _units(attrs)
    assert units["fov_lon"] == "deg" and units["psi"] == "deg" and units["slope"] == "deg**-1"
    assert "intensity" not in units  # ctapipe stores the intensity without a unit
    assert attrs["CTAFIELD_3_NAME"] == "intensity"

    images, _ = content["/dl1/event/telescope/images/tel_001"]
    assert images.dtype.names == ("obs_id", "event_id", "tel_id", "image", "peak_time", "image_mask", "is_valid")
    assert images.dtype["image"].shape == (1855,) and images.dtype["image"].base == np.float32
    true_images, _ = content["/simulation/event/telescope/images/tel_001"]
    assert true_images.dtype.names[3:] == ("true_image_sum", "true_image")
    assert true_images["true_image_sum"][0] == true_images["true_image"][0].clip(0).sum() > 0

    shower, attrs = content["/simulation/event/subarray/shower"]
    assert shower.dtype.names[2:] == ("true_energy", "true_alt", "true_az", "true_core_x", "true_core_y",
                                      "true_h_first_int", "true_x_max", "true_starting_grammage",
                                      "true_shower_primary_id")
    assert _units(attrs) == {"energy": "TeV", "alt": "deg", "az": "deg", "core_x": "m", "core_y": "m",
                             "h_first_int": "m", "x_max": "g.cm**-2", "starting_grammage": "g.cm**-2"}

    dist, attrs = content["/simulation/service/shower_distribution"]
    assert dist.dtype.names == ("obs_id", "hist_id", "n_entries", "bins_energy", "bins_core_dist", "histogram")
    assert {k: str(v) for k, v in attrs.items() if k.endswith("_UNIT")} == {
        "CTAFIELD_3_UNIT": "TeV", "CTAFIELD_4_UNIT": "m"}

    layout, attrs = content["/configuration/instrument/subarray/layout"]
    assert layout["tel_id"].tolist() == list(range(1, 20)) and layout.dtype["tel_id"].str == "<u2"
    assert attrs["TAB_TYPE"] == "subarray" and attrs["TAB_VER"] == "2.0" and attrs["name"] == "LaPalma-prod6"
    optics, _ = content["/configuration/instrument/telescope/optics"]
    assert set(optics["reflector_shape"].tolist()) <= {b"PARABOLIC", b"DAVIES_COTTON", b"HYBRID",
                                                       b"SCHWARZSCHILD_COUDER", b"UNKNOWN"}
    geometry, attrs = content["/configuration/instrument/telescope/camera/geometry_0"]
    assert geometry.dtype.names == ("pix_id", "pix_x", "pix_y", "pix_area")
    assert attrs["TAB_TYPE"] == "ctapipe.instrument.CameraGeometry" and attrs["PIX_TYPE"] == "hexagon"
    geometry_unit = {str(attrs[f"CTAFIELD_{i}_UNIT"]) for i in (1, 2)}
    assert geometry_unit == {"m"} and str(attrs["CTAFIELD_3_UNIT"]) == "m**2"
    scheduling, _ = content["/configuration/observation/scheduling_block"]
    assert scheduling["sb_type"].tolist() == [0]  # SchedulingBlockType.OBSERVATION, as ctapipe's simtel source


def test_values_equal_netcdf_output(stereo):
    content, _, tree = stereo
    root = tree.to_dataset(inherit=False)
    shower, _ = content["/simulation/event/subarray/shower"]
    for name in ("true_energy", "true_alt", "true_az", "true_core_x", "true_x_max"):
        np.testing.assert_array_equal(shower[name], root[name].values)
    assert shower["true_energy"][0] == pytest.approx(0.2)
    geometry, _ = content["/dl2/event/subarray/geometry/HillasReconstructor"]
    for name in ("HillasReconstructor_alt", "HillasReconstructor_az", "HillasReconstructor_core_x",
                 "HillasReconstructor_h_max"):
        np.testing.assert_array_equal(geometry[name], root[name].values)
    np.testing.assert_array_equal(geometry["HillasReconstructor_telescopes"], root["HillasReconstructor_telescopes"])
    n_checked = 0
    for name in tree.iact.cameras:
        cam = tree[name].to_dataset()
        for tel_id in np.unique(cam["tel"].values).tolist():
            sel = cam.sel(tel=tel_id)
            params, _ = content[f"/dl1/event/telescope/parameters/tel_{tel_id:03d}"]
            np.testing.assert_array_equal(params["event_id"], np.atleast_1d(sel["event"].values))
            for var in ("hillas_intensity", "hillas_fov_lon", "hillas_psi", "timing_slope", "concentration_cog",
                        "morphology_n_pixels", "leakage_pixels_width_1"):
                np.testing.assert_array_equal(params[var], np.atleast_1d(sel[var].values), err_msg=var)
            np.testing.assert_allclose(params["leakage_intensity_width_2"],  # float32 in ctapipe's table
                                       np.atleast_1d(sel["leakage_intensity_width_2"].values), rtol=1e-6)
            images, _ = content[f"/dl1/event/telescope/images/tel_{tel_id:03d}"]
            np.testing.assert_array_equal(images["image"], np.atleast_2d(sel["image"].values))
            np.testing.assert_array_equal(images["image_mask"], np.atleast_2d(sel["image_mask"].values))
            true, _ = content[f"/simulation/event/telescope/parameters/tel_{tel_id:03d}"]
            np.testing.assert_array_equal(true["true_hillas_intensity"],
                                          np.atleast_1d(sel["true_hillas_intensity"].values))
            n_checked += 1
    assert n_checked == 9
    intensity = content["/dl1/event/telescope/parameters/tel_001"][0]["hillas_intensity"]
    assert intensity[0] > 50


def test_batches_equal_one_write(tmp_path):
    name = "lst_muons_with_true_photons.simtel.zst"
    one = _process(name, tmp_path / "one.h5", "--output-format", "ctapipe", "--write-images")
    many = _process(name, tmp_path / "many.h5", "--output-format", "ctapipe", "--write-images",
                    "--EventSource.batch_size=1")
    with tables.open_file(one) as a, tables.open_file(many) as b:
        paths = sorted(n._v_pathname for n in a.walk_nodes("/", "Table"))
        assert paths == sorted(n._v_pathname for n in b.walk_nodes("/", "Table"))
        for path in paths:
            x, y = a.get_node(path).read(), b.get_node(path).read()
            assert x.dtype == y.dtype, path
            for column in x.dtype.names:
                np.testing.assert_array_equal(x[column], y[column], err_msg=f"{path} {column}")
        assert len(a.root.dl1.event.subarray.trigger) == 3
        assert a.root.dl1.event.telescope.parameters.tel_001.col("event_id").tolist() == [
            int(e) for e in b.root.dl1.event.subarray.trigger.col("event_id")]


def test_muon_table(tmp_path):
    out = _process("lst_muons_with_true_photons.simtel.zst", tmp_path / "mu.h5", "--output-format", "ctapipe",
                   "--write-muon-parameters")
    with tables.open_file(out) as f:
        muon = f.root.dl1.event.telescope.muon.tel_001
        rows = muon.read()
        attrs = {k: muon.attrs[k] for k in muon.attrs._v_attrnamesuser}
        assert f.root._v_attrs["CTA PRODUCT DATA LEVELS"] == "DL1_PARAMETERS,DL1_MUON"
    assert len(rows) == 3 and len(rows.dtype.names) == 3 + 27
    assert rows.dtype["muonparameters_ring_intensity"].str == "<f4"
    assert rows.dtype["muonparameters_n_pixels_in_ring"].str == "<i8"
    assert rows.dtype["muonefficiency_is_valid"].str == "|b1"
    units = _units(attrs)
    assert units["radius"] == "deg" and units["mean_squared_error"] == "deg**2" and units["impact"] == "m"
    np.testing.assert_allclose(rows["muonring_radius"], 1.2, rtol=0.01)  # LST muon rings of about 1.2 deg


def test_true_image_sum_always_written(tmp_path):
    """Simulated events get /simulation/event/telescope/images even without true images (HDF5EventSource)."""
    out = _process("lst_with_photons.simtel.zst", tmp_path / "noimg.h5", "--output-format", "ctapipe")
    with tables.open_file(out) as f:
        table = f.root.simulation.event.telescope.images.tel_001.read()
    assert table.dtype.names == ("obs_id", "event_id", "tel_id", "true_image_sum")
    assert table["true_image_sum"].tolist() == [-1]


def test_writing_is_atomic(tmp_path):
    tree = iactx.open_dl1(_process("lst_with_photons.simtel.zst", tmp_path.parent / f"{tmp_path.name}.nc"))
    path = tmp_path / "x.h5"

    class Boom(Exception):
        pass

    with pytest.raises(Boom), CtapipeDL1Writer(path) as writer:
        writer.append(tree)
        raise Boom
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="no events"):
        CtapipeDL1Writer(path).close()
    assert list(tmp_path.iterdir()) == []
    assert write_ctapipe_dl1(tree, path) == path
    with pytest.raises(FileExistsError):
        write_ctapipe_dl1(tree, path)
    size = path.stat().st_size
    broken = tree.copy()
    broken["instrument"] = broken["instrument"].to_dataset().drop_vars("pos_x")
    with pytest.raises(KeyError):
        write_ctapipe_dl1(broken, path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.h5"] and path.stat().st_size == size


def test_cli_error_leaves_no_file(tmp_path):
    out = tmp_path / "none.h5"
    assert main(["process", "--input", str(tmp_path / "missing.simtel.zst"), "--output", str(out),
                 "--output-format", "ctapipe", "--no-progress"]) != 0
    assert list(tmp_path.iterdir()) == []


def _ctapipe_python():
    python = Path(os.environ.get("CTAPIPE_PYTHON") or REPO.parent / "ctapipe-venv" / "bin" / "python")
    if not python.exists():
        pytest.skip(f"no ctapipe environment at {python} (set CTAPIPE_PYTHON; see benchmarks/make_ctapipe_env.sh)")
    return python


def test_ctapipe_reads_and_agrees():
    """ctapipe 0.32's TableLoader, HDF5EventSource, ctapipe-fileinfo and ctapipe-merge on iactx's files."""
    python = _ctapipe_python()
    folder = data_file(STEREO).parent
    result = subprocess.run([str(python), str(REPO / "benchmarks" / "check_ctapipe_format.py"),
                             "--iactx", str(Path(sys.executable).with_name("iactx")), "--data", str(folder)],
                            capture_output=True, text=True, timeout=900, check=False)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert "ctapipe 0.32 reads iactx's files and they agree with ctapipe-process" in result.stdout, report
    assert "PROBLEM" not in result.stdout and "-> 4 events ok" in result.stdout, report


def test_true_impact_distance_equals_the_toys_own():
    from iactx.reco.geometry_toy import stereo_geometry_toy
    from iactx.reco.true_impact import true_impact_distance

    tree = stereo_geometry_toy(50, seed=3)
    for name in tree.iact.cameras:
        got = true_impact_distance(tree, name)
        assert got.attrs["units"] == "m"
        np.testing.assert_allclose(got.values, tree[name].ds["true_impact_distance"].values, rtol=1e-12)
