"""The TelescopeParameter rule: scalar or ordered (type|id, pattern, value) rules, later wins."""

import numpy as np
import param
import pytest

from iactx.config.telescope_parameter import (
    TelescopeParameter,
    is_per_telescope,
    normalize_rules,
    resolve,
    resolve_per_tel_event,
)

TYPES = {1: "LST_LST_LSTCam", 2: "LST_LST_LSTCam", 5: "MST_MST_NectarCam", 6: "MST_MST_FlashCam",
         30: "SST_ASTRI_CHEC"}


def test_scalar_applies_to_every_telescope():
    assert resolve(7, tel_id=1, tel_type="LST_LST_LSTCam") == 7
    assert resolve(7, tel_id=99) == 7
    assert normalize_rules(7.5) == [("type", "*", 7.5)]
    assert not is_per_telescope(7.5)


def test_later_matches_win_in_list_order():
    rules = [("type", "*", 6.0), ("type", "LST*", 6.5), ("type", "MST*", 8.0), ("id", 5, 9.0)]
    assert [resolve(rules, t, TYPES[t]) for t in (1, 2, 5, 6, 30)] == [6.5, 6.5, 9.0, 8.0, 6.0]
    # an id rule placed before a type rule is overridden by it
    rules = [("id", 5, 9.0), ("type", "MST*", 8.0)]
    assert resolve(rules, 5, TYPES[5]) == 8.0


def test_type_patterns_are_case_sensitive_shell_patterns():
    rules = [("type", "*", 1), ("type", "*NectarCam", 2), ("type", "mst*", 3), ("type", "MST_MST_?lashCam", 4)]
    assert resolve(rules, 5, TYPES[5]) == 2
    assert resolve(rules, 6, TYPES[6]) == 4


def test_dict_entries_and_single_rule():
    rules = [{"type": "*", "value": 1}, {"type": "LST*", "value": 2}, {"id": "6", "value": 3}]
    assert normalize_rules(rules) == [("type", "*", 1), ("type", "LST*", 2), ("id", 6, 3)]
    assert [resolve(rules, t, TYPES[t]) for t in (1, 5, 6)] == [2, 1, 3]
    assert normalize_rules(("id", 3, 8.0)) == [("id", 3, 8.0)]
    assert is_per_telescope(("id", 3, 8.0)) and is_per_telescope(rules)


def test_no_match_and_unknown_type_raise():
    with pytest.raises(ValueError, match="no value for telescope 5"):
        resolve([("type", "LST*", 6.0)], 5, TYPES[5])
    with pytest.raises(ValueError, match="needs the telescope type"):
        resolve([("type", "*", 1.0), ("type", "LST*", 6.0)], 1)
    # without a type, '*' and id rules still work
    assert resolve([("type", "*", 1.0), ("id", 4, 2.0)], 4) == 2.0


@pytest.mark.parametrize("bad", [[("tel", "*", 1)], [("id", "x", 1)], [("type", 3, 1)], [("type", "*", 1), 5]])
def test_malformed_rules_raise(bad):
    with pytest.raises(ValueError):
        normalize_rules(bad)


def test_resolve_per_tel_event():
    rules = [("type", "*", 7), ("type", "MST*", 5), ("id", 2, 9)]
    out = resolve_per_tel_event(rules, [1, 5, 2, 1, 6], TYPES, dtype=np.int64)
    np.testing.assert_array_equal(out, [7, 5, 9, 7, 5])
    assert out.dtype == np.int64
    assert resolve_per_tel_event(3.0, np.zeros(0, int)).shape == (0,)


def test_param_parameter_validates_type_and_bounds():
    class Component(param.Parameterized):
        width = TelescopeParameter(7, item_type=int, bounds=(1, None), doc="window width")
        flag = TelescopeParameter(True, item_type=bool)

    c = Component()
    c.width = [("type", "*", 5), ("id", 3, 8)]
    assert resolve(c.width, 3) == 8
    with pytest.raises(ValueError, match="bounds"):
        c.width = [("type", "*", 0)]
    with pytest.raises(ValueError, match="not a int"):
        c.width = 2.5
    with pytest.raises(ValueError, match="not a bool"):
        c.flag = [("type", "*", 1)]
    assert c.width == [("type", "*", 5), ("id", 3, 8)]
