"""Event selection before the DL1 chain: ctapipe's SoftwareTrigger and EventTypeFilter."""

import numpy as np
import pytest
import yaml
from conftest import data_file

import iactx
from iactx.event_selection import EventTypeFilter, SoftwareTrigger
from iactx.io.event_tree import tel_types_of
from iactx.tools.cli import main

pytestmark = pytest.mark.filterwarnings("ignore:.*no effective focal length")

LST_STEREO = [("type", "*", 0), ("type", "LST*", 2)]


def tel_events(tree):
    """(obs_id, event_id, tel_id) of every telescope event."""
    return {key for name in tree.iact.cameras for key in tree[name].to_dataset(inherit=False).indexes["tel_event"]}


def ctapipe_rule(tree, min_telescopes, min_of_type):
    """ctapipe's SoftwareTrigger.__call__, event by event, on the keys: the telescope events it keeps."""
    types = tel_types_of(tree)
    by_event = {}
    for obs, event, tel in tel_events(tree):
        by_event.setdefault((obs, event), set()).add(tel)
    kept = set()
    for (obs, event), tels in by_event.items():
        removed = set()
        for tel_type in set(types.values()):
            minimum = min_of_type.get(tel_type, 0)
            of_type = {t for t in tels if types[t] == tel_type}
            if minimum and len(of_type) < minimum:
                removed |= of_type
        if len(tels - removed) >= min_telescopes:
            kept |= {(obs, event, t) for t in tels - removed}
    return kept


@pytest.mark.parametrize("min_telescopes", [1, 2, 3, 5])
@pytest.mark.parametrize("lst_minimum", [0, 2, 3])
def test_software_trigger_keeps_what_ctapipe_keeps(min_telescopes, lst_minimum):
    tree = iactx.io.toy_events(60, seed=4)
    rules = [("type", "*", 0), ("type", "LST*", lst_minimum)]
    selected = SoftwareTrigger(min_telescopes=min_telescopes, min_telescopes_of_type=rules)(tree)
    expected = ctapipe_rule(tree, min_telescopes, {"LST_LST_ToyHexCam": lst_minimum})
    assert tel_events(selected) == expected
    events = {(o, e) for o, e, _ in expected}
    assert set(zip(selected["obs_id"].values.tolist(), selected["event_id"].values.tolist())) == events
    # the data of the kept telescope events are those of the input
    for name in tree.iact.cameras:
        kept = selected[name].to_dataset(inherit=False)
        np.testing.assert_array_equal(kept["waveform"].values,
                                      tree[name].ds["waveform"].sel(tel_event=kept["tel_event"]).values)
    if min_telescopes == 5 or lst_minimum == 3:  # these remove telescope events of the toy sample
        assert len(expected) < len(tel_events(tree))


def test_software_trigger_on_the_stereo_sample():
    tree = iactx.read_simtel(data_file("camsettings_v6.simtel.zst"))  # 4 LSTs and 5 MSTs triggered
    assert SoftwareTrigger()(tree) is tree
    without_lsts = SoftwareTrigger(min_telescopes_of_type=[("type", "*", 0), ("type", "LST*", 5)])(tree)
    assert without_lsts["LSTcam"].sizes["tel_event"] == 0 and without_lsts["NectarCam"].sizes["tel_event"] == 5
    assert without_lsts.sizes["event"] == 1
    assert SoftwareTrigger(min_telescopes=10)(tree).sizes["event"] == 0
    with pytest.raises(ValueError, match="not by id"):
        SoftwareTrigger(min_telescopes_of_type=[("type", "*", 0), ("id", 3, 2)])


def test_event_type_filter():
    tree = iactx.read_simtel(data_file("calib_events.simtel.gz"), calibration_events=True)
    assert tree["event_type"].values.tolist() == [2]  # sky pedestal
    assert EventTypeFilter()(tree) is tree
    assert EventTypeFilter(allowed_types=["SKY_PEDESTAL"])(tree).sizes["event"] == 1
    assert EventTypeFilter(allowed_types=[2, "flatfield"])(tree).sizes["event"] == 1
    emptied = EventTypeFilter(allowed_types=["SUBARRAY"])(tree)
    assert emptied.sizes["event"] == 0 and all(emptied[n].sizes["tel_event"] == 0 for n in emptied.iact.cameras)
    with pytest.raises(ValueError, match="EventTypeFilter.allowed_types: unknown event type 'SUBARAY'"):
        EventTypeFilter(allowed_types=["SUBARAY"])


def test_process_applies_a_ctapipe_trigger_configuration(tmp_path):
    config = tmp_path / "trigger.yaml"
    config.write_text(yaml.safe_dump({
        "SoftwareTrigger": {"min_telescopes": 2, "min_telescopes_of_type": [["type", "*", 0], ["type", "LST*", 5]]},
        "EventTypeFilter": {"allowed_types": ["SUBARRAY"]}}))
    out = tmp_path / "events.dl1.nc"
    assert main(["process", "--input", str(data_file("camsettings_v6.simtel.zst")), "--output", str(out),
                 "--config", str(config), "--no-progress"]) == 0
    tree = iactx.open_dl1(out)
    assert tree["LSTcam"].sizes["tel_event"] == 0 and tree["NectarCam"].sizes["tel_event"] == 5


def test_a_run_whose_events_are_all_rejected_keeps_its_shower_distribution(tmp_path):
    out = tmp_path / "events.dl1.nc"
    assert main(["process", "--input", str(data_file("lst_muons_with_true_photons.simtel.zst")), "--output",
                 str(out), "--EventSource.batch_size=1", "--EventTypeFilter.allowed_types=['FLATFIELD']",
                 "--no-progress"]) == 0
    tree = iactx.open_dl1(out)
    assert tree.sizes["event"] == 0
    assert tree["simulation/shower_distribution"].ds["obs_id"].values.tolist() == [14]


def test_ctapipe_format_keeps_the_distribution_of_an_emptied_last_batch(tmp_path):
    import tables

    from iactx.event_selection import select_events
    from iactx.image.processor import ImageProcessor
    from iactx.io.ctapipe_format import CtapipeDL1Writer
    from iactx.tools.process import build_registry

    batches = list(iactx.iter_simtel(data_file("lst_muons_with_true_photons.simtel.zst"), batch_size=1))
    processor = ImageProcessor(build_registry().normalize({}))
    with CtapipeDL1Writer(tmp_path / "events.h5") as writer:
        writer.append(processor(batches[0]))
        writer.append(processor(select_events(batches[-1], np.zeros(1, bool))))  # the last event rejected
    with tables.open_file(tmp_path / "events.h5") as h5:
        assert h5.root.dl1.event.subarray.trigger.nrows == 1
        assert h5.root.simulation.service.shower_distribution.nrows == 1
