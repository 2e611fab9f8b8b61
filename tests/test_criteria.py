"""Quality criteria from config files are interpreted, never executed."""

import numpy as np
import pytest

from iactx.config.criteria import UnsafeCriterionError, compile_criterion, compile_parameter_criterion

NAN = np.nan
#: three images; NaN marks pixels outside the image (e.g. removed by cleaning)
IMAGES = np.array([[1, 0, 5, NAN], [NAN, NAN, NAN, NAN], [10, 20, 30, 40.0]])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("lambda im: np.count_nonzero(im) > 2", [False, False, True]),
        ("lambda im: im.sum() > 50", [False, False, True]),
        ("lambda im: im.sum() > 0", [True, False, True]),
        ("lambda p: p.size >= 3", [True, False, True]),
        ("lambda x: (x > 4).sum() >= 1 and x.max() < 35", [True, False, False]),
        ("lambda x: not x.mean() > 3", [True, True, False]),
        ("lambda x: 1 < x.sum() <= 6", [True, False, False]),
        ("lambda x: np.sqrt(np.abs(x)).max() > 6", [False, False, True]),
        ("lambda x: (x.std() > 1) | (x.min() == 0)", [True, False, True]),
        ("lambda x: 2**2**2**2**2**2 > x.max()", [True, False, True]),
    ],
)
def test_criteria_are_evaluated_row_by_row(text, expected):
    np.testing.assert_array_equal(compile_criterion("c", text)(IMAGES), expected)


HOSTILE = [
    ("lambda im: __import__('os').system('rm -rf /')", "not one of the allowed reductions"),
    ("lambda im: im.__class__", "attribute access '.__class__'"),
    ("lambda im: im.__class__.__base__.__subclasses__()", "not one of the allowed reductions"),
    ("lambda im: im.sum.__globals__", "attribute access '.__globals__'"),
    ("lambda im: np.__dict__", "attribute access '.__dict__'"),
    ("lambda im: open('/etc/passwd')", "can be called"),
    ("lambda im: eval('1')", "can be called"),
    ("lambda im: exec('import os')", "can be called"),
    ("lambda im: np.load('x.npy')", "np.load is not one of the allowed functions"),
    ("lambda im: np.save('x', im)", "np.save is not one of the allowed functions"),
    ("lambda im: im.tofile('x')", "method .tofile() is not one of"),
    ("lambda im: im[0]", "Subscript expressions are not supported"),
    ("lambda im: im['__class__']", "Subscript expressions are not supported"),
    ("lambda im: [x for x in im]", "ListComp expressions"),
    ("lambda im: (lambda: 1)()", "can be called"),
    ("lambda im: np.sum(im, axis=0)", "keyword arguments"),
    ("lambda im: 'text'", "only numbers and booleans"),
    ("lambda im: other > 1", "unknown name 'other'"),
    ("lambda im, x: im", "exactly one plain argument"),
    ("lambda *im: im", "exactly one plain argument"),
    ("im.sum() > 0", "it must be a lambda"),
    ("import os", "not valid Python syntax"),
    ("lambda im: (x := 1)", "NamedExpr expressions"),
    ("lambda im: im if True else im", "IfExp expressions"),
]


@pytest.mark.parametrize(("text", "reason"), HOSTILE)
def test_hostile_criteria_are_rejected_with_their_name(text, reason):
    with pytest.raises(UnsafeCriterionError, match="quality criterion 'evil'") as err:
        compile_criterion("evil", text)
    assert reason in str(err.value)


def test_non_string_criterion_is_rejected():
    with pytest.raises(UnsafeCriterionError, match="expected a string"):
        compile_criterion("evil", 42)


@pytest.mark.parametrize("text, why", [
    ("lambda im: " + "not " * 25_000 + "im.sum() > 0", "longer than 2000 characters"),
    ("lambda im: " + "(" * 5000 + "im.sum()" + ")" * 5000 + " > 0", "longer than 2000 characters"),
    ("lambda im: " + "not " * 300 + "im.sum() > 0", "nested more than 50 levels deep"),
    ("lambda im: im.sum() > " + "1+" * 400 + "1", "nested more than 50 levels deep"),
])
def test_huge_or_deeply_nested_criteria_are_refused_quickly(text, why):
    with pytest.raises(UnsafeCriterionError, match=why):
        compile_criterion("deep", text)
    with pytest.raises(UnsafeCriterionError, match=why):
        compile_parameter_criterion("deep", text.replace("im.sum()", "parameters.hillas.intensity"))
