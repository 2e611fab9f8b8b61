"""Configuration files and command-line overrides.

A configuration is a mapping ``{ClassName: {parameter: value}}``, read from
YAML, JSON or TOML files (by extension) and from ``--ClassName.parameter=value``
options. Later sources override earlier ones, parameter by parameter. Files
are parsed as data only (YAML's safe loader, ``json``, ``tomllib``); nothing
in them is executed, and YAML aliases, which can make a small file expand to
gigabytes, are refused.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import yaml

__all__ = ["ConfigError", "read_config_file", "parse_overrides", "merge_configs"]


class ConfigError(ValueError):
    """A configuration file or option is malformed or names something unknown."""


class _LoaderWithoutAliases(yaml.SafeLoader):
    """YAML's safe loader refusing aliases (``*name``): a few hundred bytes of them expand to gigabytes."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in configurations",
                                              self.peek_event().start_mark)
        return super().compose_node(parent, index)


def _one_line(err):
    """A parser's message (YAML's spans several lines, with the position) on one line."""
    return " ".join(str(err).split())


def _load_yaml(text):
    return yaml.load(text, Loader=_LoaderWithoutAliases)  # noqa: S506 - a safe loader, without aliases


_READERS = {
    ".yaml": _load_yaml,
    ".yml": _load_yaml,
    ".json": json.loads,
    ".toml": tomllib.loads,
}


def read_config_file(path):
    """Read one configuration file into ``{ClassName: {parameter: value}}``.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ConfigError
        Unknown extension, a syntax error, or not a mapping of mappings; the
        message names the file.
    """
    path = Path(os.fspath(path)).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise ConfigError(f"config file {path}: unknown format {path.suffix!r}; use one of {sorted(_READERS)}")
    try:
        content = reader(path.read_text())
    except (yaml.YAMLError, json.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"config file {path} cannot be parsed: {_one_line(err)}") from err
    if content is None:
        return {}
    _check_shape(content, str(path))
    return content


def _check_shape(content, origin):
    if not isinstance(content, dict):
        raise ConfigError(f"{origin}: expected a mapping of class names to parameters, got {type(content).__name__}")
    for section, values in content.items():
        if not isinstance(values, dict):
            raise ConfigError(f"{origin}: section {section!r} must map parameter names to values, "
                              f"got {type(values).__name__}")


def parse_overrides(options):
    """Turn ``["--Class.param=value", ...]`` into a configuration mapping.

    Values are read as YAML scalars or lists, so ``5``, ``5.0``, ``true``,
    ``[1, 2]`` and ``LST*`` all mean what they look like.

    Raises
    ------
    ConfigError
        An option not of the form ``--Class.parameter=value``.
    """
    config = {}
    for option in options:
        body = option[2:] if option.startswith("--") else None
        key, sep, text = (body or "").partition("=")
        section, dot, name = key.partition(".")
        if not body or not sep or not dot or not section or not name:
            raise ConfigError(f"option {option!r} is not of the form --ClassName.parameter=value")
        try:
            value = _load_yaml(text) if text.strip() else ""
        except yaml.YAMLError as err:
            raise ConfigError(f"option {option!r}: cannot read the value ({_one_line(err)})") from err
        config.setdefault(section, {})[name] = value
    return config


def merge_configs(*configs):
    """Merge configurations; later ones win parameter by parameter."""
    merged = {}
    for config in configs:
        for section, values in (config or {}).items():
            merged.setdefault(section, {}).update(values)
    return merged
