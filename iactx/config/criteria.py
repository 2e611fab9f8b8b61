"""Quality criteria written as one-argument lambdas, evaluated without ``eval``.

Configuration files (ctapipe's included) give selection criteria as text::

    {"enough_pixels": "lambda im: np.count_nonzero(im) > 2"}

Such text is parsed, checked against a small grammar and interpreted by
this module; it is never executed as Python. Allowed: the lambda's argument,
numbers, arithmetic, comparisons, ``and``/``or``/``not``, ``&``/``|``/``~``,
and a fixed set of reductions, called as ``np.<name>(...)`` or as methods
of the argument (``im.sum()``). Anything else (other names, attribute
access, builtins, subscripts, keywords, strings) is rejected with an error
that names the criterion.

Evaluation is batched: the argument is a 2-D array (one row per image) with
the pixels outside the image (e.g. not surviving cleaning) set to NaN, and
every reduction works row by row, so one call decides all images at once.

Criteria on image parameters (the stereo quality query) read fields of
the argument instead, as ctapipe's do (``parameters.hillas.intensity > 50``,
``parameters.hillas.width.value > 0``): ``<argument>.<group>.<field>``
stands for the column ``<group>_<field>`` of a telescope-event table and
``.value`` after it is ignored (iactx's columns are plain numbers in their
units); element-wise functions apply, reductions do not.
"""

from __future__ import annotations

import ast
import operator
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["Criterion", "ParameterCriterion", "UnsafeCriterionError", "compile_criterion",
           "compile_parameter_criterion", "criterion_pairs", "REDUCTIONS"]


class UnsafeCriterionError(ValueError):
    """A criterion uses something outside the allowed grammar."""


def _count_nonzero(x):
    return np.count_nonzero(np.nan_to_num(x, nan=0.0), axis=-1)


def _size(x):
    return np.count_nonzero(~np.isnan(x), axis=-1) if x.dtype.kind == "f" else np.full(x.shape[0], x.shape[-1])


def _rowwise(nan_func, bool_func=None):
    def reduce(x):
        x = np.asarray(x)
        if x.dtype == bool:
            return (bool_func or nan_func)(x, axis=-1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows give NaN, hence False
            return nan_func(x, axis=-1)
    return reduce


#: reductions a criterion may call; each maps a (n_images, n_pixels) batch to (n_images,)
REDUCTIONS: dict[str, Callable] = {
    "sum": _rowwise(np.nansum, np.sum),
    "count_nonzero": _count_nonzero,
    "max": _rowwise(np.nanmax, np.max),
    "min": _rowwise(np.nanmin, np.min),
    "mean": _rowwise(np.nanmean, np.mean),
    "std": _rowwise(np.nanstd, np.std),
    "median": _rowwise(np.nanmedian, np.median),
    "any": lambda x: np.any(np.nan_to_num(np.asarray(x, float), nan=0.0) != 0, axis=-1),
    "all": lambda x: np.all(np.nan_to_num(np.asarray(x, float), nan=1.0) != 0, axis=-1),
    "size": _size,
}
#: element-wise functions a criterion may call
ELEMENTWISE: dict[str, Callable] = {"abs": np.abs, "sqrt": np.sqrt, "log10": np.log10, "log": np.log,
                                    "isfinite": np.isfinite}

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.Pow: operator.pow, ast.Mod: operator.mod, ast.FloorDiv: operator.floordiv,
           ast.BitAnd: operator.and_, ast.BitOr: operator.or_}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: np.logical_not, ast.Invert: np.logical_not}
_COMPARE = {ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Lt: operator.lt, ast.LtE: operator.le,
            ast.Eq: operator.eq, ast.NotEq: operator.ne}
_NUMPY_NAMES = ("np", "numpy")
#: longest criterion text accepted [characters], and deepest nesting of its expression
MAX_LENGTH = 2000
MAX_DEPTH = 50


@dataclass(frozen=True)
class Criterion:
    """A checked criterion: its name, its text, and the callable that applies it."""

    name: str
    text: str
    function: Callable

    def __call__(self, images):
        """Evaluate on a batch: ``images`` (n_images, n_pixels) -> bool (n_images,)."""
        images = np.atleast_2d(np.asarray(images, dtype=np.float64))
        result = np.asarray(self.function(images))
        return np.broadcast_to(result.astype(bool), (images.shape[0],)).copy()


def criterion_pairs(items, option):
    """``(name, text)`` pairs of a configured criteria list, pairs or ctapipe's ``{name: text}`` items.

    Raises
    ------
    ValueError
        An item of another form, naming ``option``.
    """
    pairs = []
    for item in items:
        if isinstance(item, dict) and len(item) == 1:
            item = next(iter(item.items()))
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise ValueError(f"{option}: {item!r} is not a (name, expression) pair or {{name: expression}}")
        pairs.append((str(item[0]), item[1]))
    return pairs


def compile_criterion(name, text):
    """Parse and check ``text`` (``"lambda x: ..."``) into a :class:`Criterion`.

    Raises
    ------
    UnsafeCriterionError
        Naming the criterion and the construct that is not allowed.
    """
    arg, body = _parse_lambda(name, text, _Checker)
    size = REDUCTIONS["size"]
    return Criterion(name, text, lambda images: _evaluate(
        body, lambda leaf: images if isinstance(leaf, ast.Name) else size(images), images))


@dataclass(frozen=True)
class ParameterCriterion:
    """A checked criterion on image parameters: name, text and the columns it reads."""

    name: str
    text: str
    columns: tuple
    function: Callable

    def __call__(self, table):
        """Evaluate on a table (a Dataset or mapping of columns along ``tel_event``) -> bool per row."""
        return self.function(table)


def compile_parameter_criterion(name, text, argument="parameters"):
    """Parse and check a criterion on image parameters into a :class:`ParameterCriterion`.

    Parameters
    ----------
    name : str
        The criterion's name, used in messages.
    text : str
        An expression of ``argument`` (``"parameters.hillas.intensity > 50"``)
        or a one-argument lambda (``"lambda p: p.hillas.intensity > 50"``).
    argument : str
        Name of the parameters in a plain expression.

    Raises
    ------
    UnsafeCriterionError
        Naming the criterion and the construct that is not allowed.
    """
    if isinstance(text, str) and not text.strip().startswith("lambda"):
        text_as_lambda = f"lambda {argument}: {text.strip()}"
    else:
        text_as_lambda = text
    arg, body = _parse_lambda(name, text_as_lambda, _ParameterChecker)
    columns = tuple(dict.fromkeys(_column(node, arg) for node in ast.walk(body)
                                  if isinstance(node, ast.Attribute) and _column(node, arg)))
    return ParameterCriterion(name, text, columns, lambda table: _evaluate(
        body, lambda leaf: table[_column(leaf, arg)], None))


def _column(node, arg):
    """Column ``<group>_<field>`` named by ``arg.<group>.<field>[.value]``, or None."""
    chain = []
    while isinstance(node, ast.Attribute):
        chain.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id != arg:
        return None
    chain.reverse()
    if chain[-1:] == ["value"]:
        chain.pop()
    return "_".join(chain) if len(chain) == 2 else None


def _depth(node):
    """Nesting depth of an expression tree, without recursion."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _parse_lambda(name, text, checker):
    """The argument name and the checked body of the lambda ``text``."""
    def reject(why):
        shown = text if not isinstance(text, str) or len(text) <= 80 else f"{text[:60]}... ({len(text)} characters)"
        raise UnsafeCriterionError(f"quality criterion {name!r} ({shown!r}) is not allowed: {why}")

    if not isinstance(text, str):
        reject(f"expected a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        reject(f"longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        reject(f"not valid Python syntax ({err.msg})")
    except (RecursionError, MemoryError):
        reject("nested too deeply")
    if _depth(tree) > MAX_DEPTH:
        reject(f"nested more than {MAX_DEPTH} levels deep")
    lam = tree.body
    if not isinstance(lam, ast.Lambda):
        reject("it must be a lambda with one argument, e.g. 'lambda im: im.sum() > 50'")
    args = lam.args
    if args.posonlyargs or args.kwonlyargs or args.vararg or args.kwarg or args.defaults or len(args.args) != 1:
        reject("the lambda must take exactly one plain argument")
    arg = args.args[0].arg
    return arg, checker(arg, reject).check(lam.body)


class _Checker:
    """Walk the lambda body and reject anything outside the grammar."""

    def __init__(self, arg, reject):
        self.arg, self.reject = arg, reject

    def check(self, node):
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            self.reject(f"{type(node).__name__} expressions are not supported")
        method(node)
        return node

    def _Constant(self, node):
        if not isinstance(node.value, (int, float, bool)) or node.value is None:
            self.reject(f"constant {node.value!r}: only numbers and booleans")

    def _Name(self, node):
        if node.id != self.arg:
            self.reject(f"unknown name {node.id!r} (only the argument {self.arg!r} and np.<function>)")

    def _BinOp(self, node):
        if type(node.op) not in _BINARY:
            self.reject(f"operator {type(node.op).__name__}")
        self.check(node.left)
        self.check(node.right)

    def _UnaryOp(self, node):
        if type(node.op) not in _UNARY:
            self.reject(f"operator {type(node.op).__name__}")
        self.check(node.operand)

    def _BoolOp(self, node):
        for value in node.values:
            self.check(value)

    def _Compare(self, node):
        for op in node.ops:
            if type(op) not in _COMPARE:
                self.reject(f"comparison {type(op).__name__}")
        self.check(node.left)
        for comparator in node.comparators:
            self.check(comparator)

    def _Attribute(self, node):
        # only `arg.size` stands alone; everything else must be called
        if not (isinstance(node.value, ast.Name) and node.value.id == self.arg and node.attr == "size"):
            self.reject(f"attribute access '.{node.attr}'")

    def _Call(self, node):
        if node.keywords:
            self.reject("keyword arguments")
        func = node.func
        if not isinstance(func, ast.Attribute):
            self.reject("only np.<function>(...) and reductions like x.sum() can be called")
        attr = func.attr
        if isinstance(func.value, ast.Name) and func.value.id in _NUMPY_NAMES:
            if attr not in REDUCTIONS and attr not in ELEMENTWISE:
                self.reject(f"np.{attr} is not one of the allowed functions "
                            f"{sorted([*REDUCTIONS, *ELEMENTWISE])}")
            if len(node.args) != 1:
                self.reject(f"np.{attr} takes exactly one argument here")
            self.check(node.args[0])
            return
        if attr not in REDUCTIONS or attr == "size":
            self.reject(f"method .{attr}() is not one of the allowed reductions "
                        f"{sorted(set(REDUCTIONS) - {'size'})}")
        if node.args:
            self.reject(f".{attr}() takes no arguments here")
        self.check(func.value)


class _ParameterChecker(_Checker):
    """The grammar of criteria on parameters: fields of the argument, element-wise functions."""

    def _Name(self, node):
        self.reject(f"name {node.id!r}: use a parameter such as {self.arg}.hillas.intensity")

    def _Attribute(self, node):
        if _column(node, self.arg) is None:
            self.reject(f"'.{node.attr}': parameters are read as {self.arg}.<group>.<field>, "
                        f"e.g. {self.arg}.hillas.intensity or {self.arg}.leakage.intensity_width_2")

    def _Call(self, node):
        func = node.func
        if (node.keywords or len(node.args) != 1 or not isinstance(func, ast.Attribute)
                or not isinstance(func.value, ast.Name) or func.value.id not in _NUMPY_NAMES
                or func.attr not in ELEMENTWISE):
            self.reject(f"only the element-wise functions np.{{{', '.join(ELEMENTWISE)}}}(x) can be called")
        self.check(node.args[0])


def _evaluate(node, leaf, images):
    """Interpret a checked expression; ``leaf`` gives the value of the argument's names and attributes."""
    ev = lambda n: _evaluate(n, leaf, images)  # noqa: E731
    if isinstance(node, ast.Constant):
        # floats, never Python ints: 2**2**2**2**2**2 overflows to inf instead of hanging
        return node.value if isinstance(node.value, bool) else np.float64(node.value)
    if isinstance(node, (ast.Name, ast.Attribute)):
        return leaf(node)
    if isinstance(node, ast.BinOp):
        with np.errstate(all="ignore"):
            return _BINARY[type(node.op)](ev(node.left), ev(node.right))
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](ev(node.operand))
    if isinstance(node, ast.BoolOp):
        values = [ev(v) for v in node.values]
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        out = values[0]
        for value in values[1:]:
            out = combine(out, value)
        return out
    if isinstance(node, ast.Compare):
        left, out = ev(node.left), True
        for op, comparator in zip(node.ops, node.comparators):
            right = ev(comparator)
            out = np.logical_and(out, _COMPARE[type(op)](left, right))
            left = right
        return out
    # a call: np.f(x) or x.f()
    attr = node.func.attr
    operand = ev(node.args[0]) if node.args else ev(node.func.value)
    if attr in ELEMENTWISE:
        with np.errstate(all="ignore"):
            return ELEMENTWISE[attr](operand)
    operand = np.asarray(operand)
    if operand.ndim < 2:
        operand = np.broadcast_to(operand, images.shape) if operand.ndim == 0 else operand[:, np.newaxis]
    return REDUCTIONS[attr](operand)
