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

__all__ = ["ComponentRegistry", "section_config"]


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
    tool : str, optional
        The section of the tool itself: sections nested in it are top-level.
    """

    def __init__(self, components, aliases=None, tool=None):
        self.components = dict(components)
        self.aliases = dict(aliases or {})
        self.tool = tool

    def parameter_names(self, section):
        """Configurable parameter names of a component (``name`` excluded)."""
        return [p for p in self.components[section].param if p != "name"]

    def normalize(self, config):
        """Map aliases onto component names and check every section and parameter.

        A section may hold the sections of the components it configures, as
        in ctapipe (``ImageProcessor: {TailcutsImageCleaner: {...}}``); such a
        nested section is kept under its dotted path
        (``"ImageProcessor.TailcutsImageCleaner"``) and applies only below its
        parent (see :func:`section_config`); sections nested in the ``tool``'s
        own section count as top-level. Choices of a selector are matched
        regardless of case (``EQUIVALENT`` means ``equivalent``).

        Returns
        -------
        dict
            ``{component or dotted path: {parameter: value}}`` with only known names.

        Raises
        ------
        ConfigError
            Unknown section or parameter, naming the valid ones.
        """
        out = {}
        for section, values in config.items():
            self._normalize_section(section, values, (), out)
        return out

    def _normalize_section(self, section, values, parents, out):
        target, renames = self.aliases.get(section, (section, {}))
        if target not in self.components:
            valid = sorted([*self.components, *self.aliases])
            where = f" in {'.'.join(parents)}" if parents else ""
            raise ConfigError(f"unknown configuration section {section!r}{where}{_suggest(section, valid)}; "
                              f"valid sections: {', '.join(valid)}")
        if not isinstance(values, dict):
            raise ConfigError(f"section {'.'.join((*parents, section))} must map parameter names to values, "
                              f"got {type(values).__name__}")
        known = self.parameter_names(target)
        path = () if target == self.tool else (*parents, target)
        for name, value in values.items():
            if name in renames and renames[name] is None:
                continue
            if name not in renames and name not in known and isinstance(value, dict) \
                    and (name in self.components or name in self.aliases):
                self._normalize_section(name, value, path, out)
                continue
            owner, _, name_here = renames.get(name, name).rpartition(".")
            if name_here not in self.parameter_names(owner or target):
                raise ConfigError(f"unknown parameter {section}.{name}{_suggest(name, known)}; "
                                  f"{target} has: {', '.join(known)}")
            key = owner or ".".join(path) or target
            out.setdefault(key, {})[name_here] = self._canonical(owner or target, name_here, value)

    def _canonical(self, section, name, value):
        """A selector's choice spelled as the component spells it (ctapipe's enums ignore case)."""
        parameter = self.components[section].param[name]
        objects = getattr(parameter, "objects", None)
        if not objects or not all(isinstance(o, str) for o in objects):
            return value

        def match(item):
            if not isinstance(item, str) or item in objects:
                return item
            same = [o for o in objects if o.lower() == item.lower()]
            return same[0] if len(same) == 1 else item

        return [match(v) for v in value] if isinstance(value, list) else match(value)

    def create(self, section, config, **overrides):
        """An instance of ``section`` configured from ``config`` (already normalised).

        ``section`` is a component name or the dotted path of a nested section;
        only that section's values are used.

        Raises
        ------
        ConfigError
            A value of the wrong type or out of bounds, naming ``Class.parameter``.
        """
        cls = self.components[section.rpartition(".")[2]]
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


def section_config(config, *path):
    """The parameters of the component at the end of ``path``, as ctapipe scopes nested sections.

    A component configured inside its parents (``path``, outermost first)
    takes its top-level section, then the sections nested in its parents,
    the more specific ones winning: for ``("ShowerProcessor",
    "HillasReconstructor", "StereoQualityQuery")`` the sections
    ``StereoQualityQuery``, ``HillasReconstructor.StereoQualityQuery`` and
    ``ShowerProcessor.HillasReconstructor.StereoQualityQuery``.

    Parameters
    ----------
    config : dict
        Normalised configuration (:meth:`ComponentRegistry.normalize`).
    *path : str
        Component names from the outermost parent to the component.

    Returns
    -------
    dict

    Examples
    --------
    >>> config = {"StereoQualityQuery": {"min_intensity": 50.0},
    ...           "HillasReconstructor.StereoQualityQuery": {"min_intensity": 100.0}}
    >>> section_config(config, "ShowerProcessor", "HillasReconstructor", "StereoQualityQuery")
    {'min_intensity': 100.0}
    >>> section_config(config, "ShowerProcessor", "HillasIntersection", "StereoQualityQuery")
    {'min_intensity': 50.0}
    """
    merged = {}
    for start in range(len(path) - 1, -1, -1):
        merged.update((config or {}).get(".".join(path[start:]), {}))
    return merged
