"""Option values that depend on the telescope (ctapipe's TelescopeParameter rule).

A value is either a plain scalar, used for every telescope, or an ordered
list of rules. A rule is

- ``("type", pattern, value)``: telescopes whose type string (for example
  ``"LST_LST_LSTCam"``) matches the shell pattern (``fnmatch``, case
  sensitive; ``"*"`` matches every telescope);
- ``("id", tel_id, value)``: one telescope;

or the same as a dict, ``{"type": "LST*", "value": 6.0}`` or
``{"id": 3, "value": 8.0}``. Rules are applied in order and later matches
win, so a list usually starts with a ``("type", "*", default)`` rule.

>>> rules = [("type", "*", 5.0), ("type", "LST*", 6.0), ("id", 3, 8.0)]
>>> resolve(rules, tel_id=1, tel_type="LST_LST_LSTCam")
6.0
>>> resolve(rules, tel_id=3, tel_type="LST_LST_LSTCam")
8.0
>>> resolve(rules, tel_id=5, tel_type="MST_MST_NectarCam")
5.0
"""

from __future__ import annotations

from fnmatch import fnmatchcase

import numpy as np
import param

__all__ = [
    "TelescopeParameter",
    "is_per_telescope",
    "normalize_rules",
    "resolve",
    "resolve_per_tel_event",
]

_COMMANDS = ("type", "id")


def _is_rule(value):
    if isinstance(value, dict):
        return "value" in value and len(value) == 2 and any(c in value for c in _COMMANDS)
    return isinstance(value, (list, tuple)) and len(value) == 3 and isinstance(value[0], str) \
        and value[0] in _COMMANDS


def _checked_rule(rule):
    if isinstance(rule, dict):
        command = "type" if "type" in rule else "id"
        rule = (command, rule[command], rule["value"])
    command, argument, value = rule
    if command == "id":
        if isinstance(argument, bool) or not isinstance(argument, (int, np.integer, str)):
            raise ValueError(f"telescope rule {tuple(rule)!r}: the id must be an integer")
        try:
            argument = int(argument)
        except ValueError:
            raise ValueError(f"telescope rule {tuple(rule)!r}: the id must be an integer") from None
    elif not isinstance(argument, str):
        raise ValueError(f"telescope rule {tuple(rule)!r}: the type pattern must be a string")
    return (command, argument, value)


def is_per_telescope(value):
    """Whether ``value`` is a rule or a list of rules (rather than a scalar)."""
    if _is_rule(value):
        return True
    return isinstance(value, (list, tuple)) and len(value) > 0 and all(_is_rule(r) for r in value)


def normalize_rules(value):
    """The rules ``[(command, argument, value), ...]`` equivalent to ``value``.

    A scalar becomes ``[("type", "*", value)]``; one rule becomes a list of one.

    Raises
    ------
    ValueError
        For a malformed rule (unknown command, non-integer id, non-string pattern).
    """
    if _is_rule(value):
        return [_checked_rule(value)]
    if isinstance(value, (list, tuple)) and value and any(
            isinstance(r, (list, tuple, dict)) for r in value):
        rules = []
        for rule in value:
            if not _is_rule(rule):
                raise ValueError(f"telescope rule {rule!r}: expected ('type', pattern, value), "
                                 "('id', tel_id, value) or {'type'|'id': ..., 'value': ...}")
            rules.append(_checked_rule(rule))
        return rules
    return [("type", "*", value)]


def resolve(value, tel_id, tel_type=None):
    """The value of an option for one telescope.

    Parameters
    ----------
    value : scalar, rule or list of rules
        The option as configured.
    tel_id : int
        Telescope id.
    tel_type : str, optional
        Telescope type string, e.g. ``"MST_MST_NectarCam"``. Without it only
        ``"*"`` type patterns and id rules can be applied.

    Returns
    -------
    object
        The value of the last matching rule.

    Raises
    ------
    ValueError
        When no rule matches, or when a type pattern other than ``"*"`` must be
        checked but ``tel_type`` is not known.
    """
    found, result = False, None
    for command, argument, item in normalize_rules(value):
        if command == "id":
            if int(tel_id) == argument:
                found, result = True, item
        elif argument == "*":
            found, result = True, item
        elif tel_type is None:
            raise ValueError(f"the rule ('type', {argument!r}, ...) needs the telescope type of "
                             f"telescope {tel_id}; pass tel_types (the event-tree accessor takes "
                             "them from /instrument)")
        elif fnmatchcase(str(tel_type), argument):
            found, result = True, item
    if not found:
        raise ValueError(f"no value for telescope {tel_id} (type {tel_type}): add a "
                         "('type', '*', value) rule or one that matches this telescope")
    return result


def resolve_per_tel_event(value, tel_ids, tel_types=None, dtype=None):
    """The value of an option for every telescope event.

    Parameters
    ----------
    value : scalar, rule or list of rules
    tel_ids : array_like of int, shape (n_tel_events,)
        Telescope id of each telescope event.
    tel_types : dict[int, str], optional
        Type string of each telescope id.
    dtype : numpy dtype, optional
        dtype of the result (default: inferred from the values).

    Returns
    -------
    numpy.ndarray, shape (n_tel_events,)
    """
    tel_ids = np.asarray(tel_ids)
    if tel_ids.size and not isinstance(value, (list, tuple, dict)):  # one value for all: no rules to match
        return np.full(tel_ids.shape, value, dtype)
    types = tel_types or {}
    unique, inverse = np.unique(tel_ids, return_inverse=True)
    values = [resolve(value, int(t), types.get(int(t))) for t in unique]
    table = np.asarray(values, dtype=dtype) if values else np.empty(0, dtype=dtype or np.float64)
    return table[inverse.reshape(tel_ids.shape)] if tel_ids.size else np.empty(tel_ids.shape, table.dtype)


def _check_item(name, item, item_type, bounds, allow_none):
    if item is None and allow_none:
        return
    if item_type is bool:
        ok = isinstance(item, (bool, np.bool_))
    elif item_type is int:
        ok = isinstance(item, (int, np.integer)) and not isinstance(item, (bool, np.bool_))
    elif item_type is float:
        ok = isinstance(item, (int, float, np.integer, np.floating)) and not isinstance(item, (bool, np.bool_))
    else:
        ok = isinstance(item, item_type)
    if not ok:
        raise ValueError(f"{name}: value {item!r} is not a {item_type.__name__}")
    if item_type is float and np.isnan(item):
        raise ValueError(f"{name}: value nan is not allowed")
    if bounds is not None and item_type in (int, float):
        low, high = bounds
        if (low is not None and item < low) or (high is not None and item > high):
            raise ValueError(f"{name}: value {item!r} is outside the bounds {bounds}")


class TelescopeParameter(param.Parameter):
    """A ``param`` parameter holding a scalar or a list of per-telescope rules.

    Parameters
    ----------
    default : scalar or list of rules
    item_type : {float, int, bool, str}
        Type every value must have.
    bounds : tuple, optional
        Inclusive ``(low, high)`` bounds of every value (``None`` for open).
    """

    __slots__ = ["item_type", "bounds"]

    def __init__(self, default=None, *, item_type=float, bounds=None, **kwargs):
        self.item_type = item_type
        self.bounds = bounds
        super().__init__(default=default, **kwargs)
        self._validate(default)

    def _validate(self, val):
        super()._validate(val)
        if val is None and self.allow_None:
            return
        try:
            rules = normalize_rules(val)
        except ValueError as err:
            raise ValueError(f"{self.name}: {err}") from None
        for _, _, item in rules:
            _check_item(self.name, item, self.item_type, self.bounds, self.allow_None)
