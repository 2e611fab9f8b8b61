"""Check a configuration against the configurable components and apply it.

Components are ``param.Parameterized`` classes. A :class:`ComponentRegistry`
knows them by name (and by the ctapipe names that map onto them), rejects
unknown classes and parameters with the valid names and a did-you-mean, and
builds configured instances, turning every type or bounds error into a
:class:`~iactx.config.files.ConfigError` that names ``Class.parameter``.
"""

from __future__ import annotations

import difflib

from .files import ConfigError

__all__ = ["ComponentRegistry"]


def _suggest(name, candidates):
    close = difflib.get_close_matches(name, candidates, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class ComponentRegistry:
    """The configurable classes of a tool.

    Parameters
    ----------
    components : dict[str, type]
        ``param.Parameterized`` classes by section name.
    aliases : dict[str, tuple[str, dict[str, str]]], optional
        Other section names accepted for a component, e.g. ctapipe's
        ``"Stage1ProcessorTool": ("ProcessorTool", {...})``, with a renaming
        of parameters: ``{other_name: "parameter"}`` for a parameter of the
        target, ``{other_name: "Section.parameter"}`` for one of another
        component, ``{other_name: None}`` to accept and ignore it.
    """

    def __init__(self, components, aliases=None):
        self.components = dict(components)
        self.aliases = dict(aliases or {})

    def parameter_names(self, section):
        """Configurable parameter names of a component (``name`` excluded)."""
        return [p for p in self.components[section].param if p != "name"]

    def normalize(self, config):
        """Map aliases onto component names and check every section and parameter.

        Returns
        -------
        dict
            ``{component: {parameter: value}}`` with only known names.

        Raises
        ------
        ConfigError
            Unknown section or parameter, naming the valid ones.
        """
        out = {}
        for section, values in config.items():
            target, renames = self.aliases.get(section, (section, {}))
            if target not in self.components:
                valid = sorted([*self.components, *self.aliases])
                raise ConfigError(f"unknown configuration section {section!r}{_suggest(section, valid)}; "
                                  f"valid sections: {', '.join(valid)}")
            known = self.parameter_names(target)
            for name, value in values.items():
                if name in renames and renames[name] is None:
                    continue
                owner, _, name_here = renames.get(name, name).rpartition(".")
                owner = owner or target
                if name_here not in self.parameter_names(owner):
                    raise ConfigError(f"unknown parameter {section}.{name}{_suggest(name, known)}; "
                                      f"{target} has: {', '.join(known)}")
                out.setdefault(owner, {})[name_here] = value
        return out

    def create(self, section, config, **overrides):
        """An instance of ``section`` configured from ``config`` (already normalised).

        Raises
        ------
        ConfigError
            A value of the wrong type or out of bounds, naming ``Class.parameter``.
        """
        cls = self.components[section]
        values = {**config.get(section, {}), **overrides}
        instance = cls()
        for name, value in values.items():
            try:
                setattr(instance, name, value)
            except (ValueError, TypeError) as err:
                raise ConfigError(f"{section}.{name}: {err}") from err
        return instance

    def validate(self, config):
        """Build every configured component once, so that bad values fail before any work.

        Raises
        ------
        ConfigError
            Naming ``Class.parameter`` of the first bad value.
        """
        for section in config:
            self.create(section, config)

    def describe(self):
        """Every component and parameter with its default and doc, for ``--help``."""
        lines = []
        for section, cls in self.components.items():
            lines.append(f"{section}:")
            doc = (cls.__doc__ or "").strip().splitlines()
            if doc:
                lines.append(f"    {doc[0]}")
            for name in self.parameter_names(section):
                p = cls.param[name]
                lines.append(f"  --{section}.{name}={p.default!r}")
                if p.doc:
                    lines.append(f"        {' '.join(p.doc.split())}")
        return "\n".join(lines)
