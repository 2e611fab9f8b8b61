"""Configuration files, command-line overrides and their checks."""

import json

import param
import pytest

from iactx.config.files import ConfigError, merge_configs, parse_overrides, read_config_file
from iactx.config.registry import ComponentRegistry


class Cleaner(param.Parameterized):
    """A cleaner for the tests."""

    picture_threshold_pe = param.Number(10.0, bounds=(0, None), doc="picture threshold [p.e.]")
    min_picture_neighbors = param.Integer(2, bounds=(0, None), doc="neighbours needed")


class Processor(param.Parameterized):
    """A processor for the tests."""

    output_path = param.String("events.dl1.nc", doc="output file")
    overwrite = param.Boolean(False, doc="replace the output")


REGISTRY = ComponentRegistry(
    {"Cleaner": Cleaner, "Processor": Processor},
    aliases={"Stage1ProcessorTool": ("Processor", {"config_file": None,
                                                   "picture": "Cleaner.picture_threshold_pe"})},
)


def test_three_formats_give_the_same_config(tmp_path):
    content = {"Cleaner": {"picture_threshold_pe": 6.0, "min_picture_neighbors": 3}}
    (tmp_path / "c.json").write_text(json.dumps(content))
    (tmp_path / "c.yaml").write_text("Cleaner:\n  picture_threshold_pe: 6.0\n  min_picture_neighbors: 3\n")
    (tmp_path / "c.toml").write_text("[Cleaner]\npicture_threshold_pe = 6.0\nmin_picture_neighbors = 3\n")
    for name in ("c.json", "c.yaml", "c.toml"):
        assert read_config_file(tmp_path / name) == content


def test_precedence_later_files_then_command_line(tmp_path):
    first = tmp_path / "first.yaml"
    first.write_text("Cleaner:\n  picture_threshold_pe: 6.0\n  min_picture_neighbors: 3\n")
    second = tmp_path / "second.json"
    second.write_text('{"Cleaner": {"picture_threshold_pe": 8.0}}')
    cli = parse_overrides(["--Cleaner.min_picture_neighbors=1", "--Processor.overwrite=true"])
    merged = merge_configs(read_config_file(first), read_config_file(second), cli)
    assert merged == {"Cleaner": {"picture_threshold_pe": 8.0, "min_picture_neighbors": 1},
                      "Processor": {"overwrite": True}}
    cleaner = REGISTRY.create("Cleaner", REGISTRY.normalize(merged))
    assert (cleaner.picture_threshold_pe, cleaner.min_picture_neighbors) == (8.0, 1)


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ConfigError, match=r"unknown configuration section 'Claener' \(did you mean 'Cleaner'\?\)"):
        REGISTRY.normalize({"Claener": {}})
    with pytest.raises(ConfigError, match=r"unknown parameter Cleaner.picture_treshold_pe "
                                          r"\(did you mean 'picture_threshold_pe'\?\); Cleaner has: "
                                          r"picture_threshold_pe, min_picture_neighbors"):
        REGISTRY.normalize({"Cleaner": {"picture_treshold_pe": 5}})


def test_wrong_types_and_bounds_name_the_key():
    with pytest.raises(ConfigError, match="Cleaner.picture_threshold_pe"):
        REGISTRY.create("Cleaner", {"Cleaner": {"picture_threshold_pe": -1.0}})
    with pytest.raises(ConfigError, match="Cleaner.min_picture_neighbors"):
        REGISTRY.create("Cleaner", {"Cleaner": {"min_picture_neighbors": "two"}})


def test_aliases_map_and_ignore():
    config = REGISTRY.normalize({"Stage1ProcessorTool": {"config_file": "", "output_path": "x.h5", "picture": 7}})
    assert config == {"Processor": {"output_path": "x.h5"}, "Cleaner": {"picture_threshold_pe": 7}}


@pytest.mark.parametrize("bad", ["Cleaner.x=1", "--Cleaner=1", "--Cleaner.x", "--.x=1"])
def test_malformed_options(bad):
    with pytest.raises(ConfigError, match="is not of the form --ClassName.parameter=value"):
        parse_overrides([bad])


def test_bad_files_name_themselves(tmp_path):
    with pytest.raises(FileNotFoundError, match="config file not found: .*none.yaml"):
        read_config_file(tmp_path / "none.yaml")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ConfigError, match="broken.json cannot be parsed"):
        read_config_file(broken)
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="list.yaml: expected a mapping"):
        read_config_file(listed)
    other = tmp_path / "conf.ini"
    other.write_text("[a]\n")
    with pytest.raises(ConfigError, match="unknown format '.ini'"):
        read_config_file(other)


def test_yaml_tags_do_not_execute(tmp_path):
    evil = tmp_path / "evil.yaml"
    evil.write_text("Cleaner:\n  picture_threshold_pe: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match="evil.yaml cannot be parsed"):
        read_config_file(evil)


def test_describe_lists_every_parameter():
    text = REGISTRY.describe()
    assert "--Cleaner.picture_threshold_pe=10.0" in text
    assert "picture threshold [p.e.]" in text
    assert "--Processor.overwrite=False" in text
