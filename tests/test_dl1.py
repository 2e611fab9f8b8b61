"""Event trees on disk: exact round trip, merging runs, atomic writes."""

import h5py
import numpy as np
import pytest
import xarray as xr
from conftest import data_file

import iactx
from iactx.io.dl1 import EventTreeWriter, is_dl1_file

pytestmark = pytest.mark.filterwarnings("ignore:.*no effective focal length")


def assert_trees_identical(a, b):
    assert {n.path for n in a.subtree} == {n.path for n in b.subtree}
    for node in a.subtree:
        xr.testing.assert_identical(node.to_dataset(inherit=False), b[node.path].to_dataset(inherit=False))
        for name, var in node.to_dataset(inherit=False).variables.items():
            assert b[node.path].to_dataset(inherit=False)[name].dtype == var.dtype, (node.path, name)


def test_round_trip_is_identical(sample_name, tmp_path):
    tree = iactx.read_simtel(data_file(sample_name), keep_r0=True,
                             calibration_events=sample_name.startswith("calib"))
    path = iactx.write_dl1(tree, tmp_path / "events.dl1.nc")
    back = iactx.open_dl1(path)
    assert_trees_identical(tree, back)


def test_file_is_plain_netcdf(tmp_path):
    tree = iactx.read_simtel(data_file("camsettings_v6.simtel.zst"))
    path = iactx.write_dl1(tree, tmp_path / "events.nc")
    plain = xr.open_datatree(path, engine="h5netcdf")
    assert set(plain.children) == {"instrument", "LSTcam", "NectarCam", "simulation"}
    assert plain["simulation/shower_distribution"].ds["histogram"].dims == ("obs", "energy_bin", "core_dist_bin")
    assert plain["LSTcam"].ds["tel"].values.tolist() == [1, 2, 3, 4]
    import netCDF4

    with netCDF4.Dataset(path) as nc:
        assert nc.groups["LSTcam"].variables["waveform"].dimensions == ("tel_event", "pixel", "sample")
    with h5py.File(path) as h5:
        dset = h5["LSTcam/waveform"]
        assert dset.compression == "gzip"
        assert dset.chunks[1:] == dset.shape[1:]


def test_two_runs_merge_with_unique_keys(tmp_path):
    path = data_file("lst_muons_with_true_photons.simtel.zst")
    first = iactx.read_simtel(path)
    second = iactx.read_simtel(path)
    # a second run of the same simulation: same event ids, another obs_id
    root = second.to_dataset(inherit=False).assign_coords(obs_id=("event", [99] * second.sizes["event"]))
    cam = second["LSTCam"].to_dataset(inherit=False).reset_index("tel_event")
    cam = cam.assign_coords(obs_id=("tel_event", np.full(cam.sizes["tel_event"], 99)))
    cam = cam.set_xindex(["obs_id", "event", "tel"])
    second = xr.DataTree.from_dict({"/": root, "/instrument": second["instrument"].ds, "/LSTCam": cam})
    a = iactx.write_dl1(first, tmp_path / "run14.nc")
    b = iactx.write_dl1(second, tmp_path / "run99.nc")
    merged = iactx.open_dl1([a, b])
    assert merged.sizes["event"] == 6
    assert merged["LSTCam"].ds.indexes["tel_event"].is_unique
    assert sorted(set(merged["LSTCam"].ds["obs_id"].values.tolist())) == [14, 99]
    np.testing.assert_array_equal(
        merged["LSTCam"].ds["waveform"].sel(obs_id=99).values, first["LSTCam"].ds["waveform"].values)
    with pytest.raises(ValueError, match="appears in more than one of"):
        iactx.open_dl1([a, a])

    lazy = iactx.open_dl1([a, b], chunks={})
    assert lazy["LSTCam"].ds["waveform"].chunks[0] == (3, 3)  # one chunk per file, nothing read yet
    assert_trees_identical(lazy.load(), merged)
    singles = [iactx.open_dl1(p) for p in (a, b)]
    expected = xr.concat([t["LSTCam"].to_dataset(inherit=False) for t in singles], dim="tel_event",
                         data_vars="minimal", coords="minimal", compat="equals")
    xr.testing.assert_identical(merged["LSTCam"].to_dataset(inherit=False), expected)
    # run 99 was made without a shower distribution: the merged tree has run 14's alone
    assert merged["simulation/shower_distribution"].ds["obs_id"].values.tolist() == [14]
    xr.testing.assert_identical(merged["simulation/shower_distribution"].to_dataset(inherit=False),
                                singles[0]["simulation/shower_distribution"].to_dataset(inherit=False))


def test_merge_refuses_different_subarrays(tmp_path):
    a = iactx.write_dl1(iactx.read_simtel(data_file("lst_with_photons.simtel.zst")), tmp_path / "a.nc")
    b = iactx.write_dl1(iactx.read_simtel(data_file("camsettings_v6.simtel.zst")), tmp_path / "b.nc")
    with pytest.raises(ValueError, match="cannot merge"):
        iactx.open_dl1([a, b])


def test_existing_output_is_not_overwritten(tmp_path):
    tree = iactx.read_simtel(data_file("lst_with_photons.simtel.zst"))
    path = iactx.write_dl1(tree, tmp_path / "events.nc")
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="events.nc"):
        iactx.write_dl1(tree, path)
    assert path.read_bytes() == before
    iactx.write_dl1(tree, path, overwrite=True)
    assert is_dl1_file(path)


def test_interrupted_write_leaves_nothing(tmp_path, monkeypatch):
    tree = iactx.read_simtel(data_file("lst_with_photons.simtel.zst"))

    def fail(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(xr.Dataset, "dump_to_store", fail)  # while the first group is written
    with pytest.raises(KeyboardInterrupt):
        iactx.write_dl1(tree, tmp_path / "events.nc")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("flush_rows", [1, 2, 4096])
def test_batches_appended_equal_the_whole_tree(tmp_path, monkeypatch, flush_rows):
    monkeypatch.setattr("iactx.io.dl1.FLUSH_ROWS", flush_rows)  # later batches written one by one, two by two, at close
    path = data_file("lst_muons_with_true_photons.simtel.zst")
    whole = iactx.read_simtel(path)
    with EventTreeWriter(tmp_path / "batched.nc") as writer:
        for batch in iactx.iter_simtel(path, batch_size=1):
            writer.append(batch)
        writer.update_attrs(note="written in three batches")
    back = iactx.open_dl1(tmp_path / "batched.nc")
    assert back.attrs.pop("note") == "written in three batches"
    assert_trees_identical(whole, back)


def test_a_variable_missing_from_a_later_batch_keeps_fill_values(tmp_path):
    path = data_file("lst_muons_with_true_photons.simtel.zst")
    batches = list(iactx.iter_simtel(path, batch_size=1))
    root = batches[1].to_dataset(inherit=False)
    batches[1].dataset = root.drop_vars("true_energy")
    with EventTreeWriter(tmp_path / "gap.nc") as writer:
        for batch in batches:
            writer.append(batch)
    energy = iactx.open_dl1(tmp_path / "gap.nc").ds["true_energy"].values
    expected = [b.ds["true_energy"].values[0] for b in iactx.iter_simtel(path, batch_size=1)]
    assert energy[0] == expected[0] and energy[2] == expected[2]
    assert np.isnan(energy[1])


def test_error_while_streaming_leaves_no_file(tmp_path):
    path = data_file("lst_muons_with_true_photons.simtel.zst")
    with pytest.raises(RuntimeError, match="stop"):
        with EventTreeWriter(tmp_path / "out.nc") as writer:
            for i, batch in enumerate(iactx.iter_simtel(path, batch_size=1)):
                writer.append(batch)
                if i == 1:
                    raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="nothing was written to .*empty.nc: no events"):
        EventTreeWriter(tmp_path / "empty.nc").close()
    assert list(tmp_path.iterdir()) == []


def test_batches_are_stored_as_cf_encoding_stores_them():
    from xarray.conventions import encode_cf_variable

    from iactx.io.dl1 import _encoded_values, _encoding, _flat_nodes

    path = data_file("lst_muons_with_true_photons.simtel.zst")
    kinds = set()
    for node_path, ds in _flat_nodes(iactx.read_simtel(path).iact.dl1()).items():
        encoding = _encoding(ds)
        for name, var in ds.variables.items():
            mine = _encoded_values(name, var, encoding.get(name, {}))
            reference = var.copy(deep=False)
            reference.encoding = {k: v for k, v in encoding.get(name, {}).items() if k in ("units", "dtype", "calendar")}
            theirs = encode_cf_variable(reference, name=name).values
            assert mine.dtype == theirs.dtype and mine.shape == theirs.shape, (node_path, name)
            np.testing.assert_array_equal(mine, theirs, err_msg=f"{node_path}/{name}")
            kinds.add(var.dtype.kind)
    assert {"b", "f", "i", "M"} <= kinds  # booleans and times as well as numbers
