"""The selection expressions of the muon analysis, checked and interpreted (never ``eval``).

ctapipe's muon processor selects images and rings with quality criteria
written as Python expressions over its containers, e.g.
``"dl1_params.morphology.n_pixels > 100"`` or
``"np.isfinite(ring.radius.value)"``. This module accepts the same texts and
their iactx spelling (column names: ``"morphology_n_pixels > 100"``) and
evaluates them on whole columns at once. Allowed:

- names: a column of the camera group or of the muon results, written as
  ``dl1_params.<container>.<field>`` (ctapipe's DL1 parameter containers),
  ``ring.<field>``, ``parameters.<field>``, ``efficiency.<field>``, or the
  column name itself; a trailing ``.value`` is ignored (values are stored
  in the units of ctapipe's fields: deg, m, p.e.); ``mask`` is the
  ``(tel_event, pixel)`` pixel mask of the criterion;
- numbers, ``True``/``False``, arithmetic, comparisons (also chained),
  ``and``/``or``/``not``, ``&``/``|``/``~``;
- functions ``np.isfinite``, ``np.isnan``, ``np.abs``, ``np.sqrt``, ``np.log10``
  (element-wise) and ``np.count_nonzero``, ``np.sum`` (over pixels);
- units ``u.deg``, ``u.rad``, ``u.m``, ``u.cm``, ``u.km``, ``u.dimensionless_unscaled``:
  factors into the stored units (deg, m).

Anything else is rejected with a :class:`ValueError` naming the criterion.
Columns are DataArrays or Variables; results are boolean arrays of the
same kind along ``tel_event``, lazy on dask-backed data.
"""

from __future__ import annotations

import ast
import math
import operator

import numpy as np
import xarray as xr

__all__ = ["compile_criteria", "column_name"]

#: ctapipe DL1 containers whose column prefix differs from the container name
_DL1_PREFIXES = {"intensity_statistics": "intensity", "peak_time_statistics": "peak_time"}
_PREFIXES = {"ring": "muonring", "parameters": "muonparameters", "efficiency": "muonefficiency"}
_UNITS = {"deg": 1.0, "rad": math.degrees(1.0), "m": 1.0, "cm": 0.01, "km": 1000.0,
          "dimensionless_unscaled": 1.0, "one": 1.0}
_ELEMENTWISE = {"isfinite": np.isfinite, "isnan": np.isnan, "abs": np.abs, "sqrt": np.sqrt,
                "log10": np.log10}
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.Pow: operator.pow, ast.BitAnd: operator.and_, ast.BitOr: operator.or_}
_COMPARE = {ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Lt: operator.lt, ast.LtE: operator.le,
            ast.Eq: operator.eq, ast.NotEq: operator.ne}


def _dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]


def column_name(parts):
    """The column for a dotted name (list of parts), or None if it is not one."""
    if parts and parts[-1] == "value" and len(parts) > 1:
        parts = parts[:-1]
    if len(parts) == 1:
        return parts[0]
    if parts[0] == "dl1_params" and len(parts) == 3:
        return f"{_DL1_PREFIXES.get(parts[1], parts[1])}_{parts[2]}"
    if parts[0] in _PREFIXES and len(parts) == 2:
        return f"{_PREFIXES[parts[0]]}_{parts[1]}"
    return None


class _Compiled:
    def __init__(self, name, text, tree):
        self.name = name
        self.text = text
        self.tree = tree
        self.columns = set()
        self._check(tree.body)

    def _reject(self, why):
        raise ValueError(f"quality criterion {self.name!r} ({self.text!r}): {why}")

    def _check(self, node):
        if isinstance(node, ast.Constant):
            if not isinstance(node.value, (int, float, bool)):
                self._reject(f"constant {node.value!r} is not a number")
        elif isinstance(node, (ast.Name, ast.Attribute)):
            parts = _dotted(node)
            if parts is None:
                self._reject("only plain names are allowed")
            if parts[0] == "u" and len(parts) == 2:
                if parts[1] not in _UNITS:
                    self._reject(f"unknown unit u.{parts[1]}; known: {', '.join(sorted(_UNITS))}")
                return
            column = column_name(parts)
            if column is None:
                self._reject(f"{'.'.join(parts)!r} is not a column")
            self.columns.add(column)
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                self._reject(f"operator {type(node.op).__name__} is not allowed")
            self._check(node.left)
            self._check(node.right)
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd, ast.Not, ast.Invert)):
                self._reject(f"operator {type(node.op).__name__} is not allowed")
            self._check(node.operand)
        elif isinstance(node, ast.BoolOp):
            for value in node.values:
                self._check(value)
        elif isinstance(node, ast.Compare):
            if any(type(op) not in _COMPARE for op in node.ops):
                self._reject("only <, <=, >, >=, ==, != comparisons are allowed")
            self._check(node.left)
            for comparator in node.comparators:
                self._check(comparator)
        elif isinstance(node, ast.Call):
            parts = _dotted(node.func)
            if (parts is None or len(parts) != 2 or parts[0] not in ("np", "numpy")
                    or parts[1] not in {*_ELEMENTWISE, "count_nonzero", "sum"}):
                self._reject("only np.isfinite, np.isnan, np.abs, np.sqrt, np.log10, np.count_nonzero "
                             "and np.sum may be called")
            if node.keywords or len(node.args) != 1:
                self._reject(f"np.{parts[1]} takes one argument and no keywords here")
            self._check(node.args[0])
        else:
            self._reject(f"{type(node).__name__} is not allowed")

    def evaluate(self, columns):
        result = self._eval(self.tree.body, columns)
        if not isinstance(result, (xr.DataArray, xr.Variable)):
            raise ValueError(f"quality criterion {self.name!r} ({self.text!r}) does not depend on any column")
        if "pixel" in result.dims:
            raise ValueError(f"quality criterion {self.name!r} ({self.text!r}) gives one value per pixel; "
                             "reduce it with np.count_nonzero or np.sum")
        return result.astype(bool)

    def _eval(self, node, columns):
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.Name, ast.Attribute)):
            parts = _dotted(node)
            if parts[0] == "u" and len(parts) == 2:
                return _UNITS[parts[1]]
            column = column_name(parts)
            if column not in columns:
                raise ValueError(f"quality criterion {self.name!r} ({self.text!r}) needs {column!r}, "
                                 f"which is not available; available: {', '.join(sorted(columns))}")
            return columns[column]
        if isinstance(node, ast.BinOp):
            return _BINARY[type(node.op)](self._eval(node.left, columns), self._eval(node.right, columns))
        if isinstance(node, ast.UnaryOp):
            value = self._eval(node.operand, columns)
            if isinstance(node.op, ast.USub):
                return -value
            if isinstance(node.op, ast.UAdd):
                return value
            return np.logical_not(value)
        if isinstance(node, ast.BoolOp):
            values = [self._eval(v, columns) for v in node.values]
            combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
            result = values[0]
            for value in values[1:]:
                result = combine(result, value)
            return result
        if isinstance(node, ast.Compare):
            left = self._eval(node.left, columns)
            result = True
            for op, comparator in zip(node.ops, node.comparators):
                right = self._eval(comparator, columns)
                result = np.logical_and(result, _COMPARE[type(op)](left, right))
                left = right
            return result
        # calls
        name = _dotted(node.func)[1]
        value = self._eval(node.args[0], columns)
        if name in _ELEMENTWISE:
            return _ELEMENTWISE[name](value)
        if not isinstance(value, (xr.DataArray, xr.Variable)) or "pixel" not in value.dims:
            return value if name == "sum" else (value != 0)
        if name == "count_nonzero":
            return (value != 0).sum("pixel")
        return value.sum("pixel")


class Criteria:
    """Compiled quality criteria: ``criteria(columns)`` gives a boolean array per criterion."""

    def __init__(self, compiled):
        self.compiled = compiled

    @property
    def columns(self):
        """Columns the criteria read."""
        return set().union(*(c.columns for c in self.compiled)) if self.compiled else set()

    def __call__(self, columns):
        return {c.name: c.evaluate(columns) for c in self.compiled}

    def all(self, columns, like):
        """True where every criterion holds; ``like`` gives dims and coords when there are none."""
        result = xr.ones_like(like, dtype=bool)
        for value in self(columns).values():
            result = result & value
        return result


def compile_criteria(criteria):
    """Check ``[(name, expression), ...]`` and return a :class:`Criteria`.

    Raises
    ------
    ValueError
        A criterion that is not a (name, text) pair, has a syntax error or uses
        something outside the allowed grammar.
    """
    compiled = []
    for item in criteria:
        if not (isinstance(item, (list, tuple)) and len(item) == 2
                and all(isinstance(v, str) for v in item)):
            raise ValueError(f"quality criterion {item!r}: expected a (name, expression) pair of strings")
        name, text = item
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as err:
            raise ValueError(f"quality criterion {name!r} ({text!r}): syntax error: {err.msg}") from None
        compiled.append(_Compiled(name, text, tree))
    return Criteria(compiled)
