"""ContentCache reuses a result only for an array with the same bytes, dtype, shape and arguments."""

import numpy as np

from iactx._content_cache import ContentCache


def _counting(func):
    calls = []

    def counted(array, *args):
        calls.append((array.copy(), args))
        return func(array, *args)

    return counted, calls


def test_equal_content_is_computed_once_and_changed_content_again():
    func, calls = _counting(lambda a, k: a.sum() * k)
    cache = ContentCache(func)
    table = np.arange(12, dtype=np.int32).reshape(3, 4)
    assert cache(table, 2) == 132
    assert cache(table.copy(), 2) == 132  # another array with the same bytes
    assert len(calls) == 1
    table[0, 0] = 100  # changed in place: not the remembered content any more
    assert cache(table, 2) == 332
    assert cache(table, 3) == 498  # other arguments
    assert len(calls) == 3


def test_dtype_and_shape_are_part_of_the_key():
    func, calls = _counting(lambda a: (a.dtype.str, a.shape))
    cache = ContentCache(func)
    values = np.zeros(8, np.int32)
    assert cache(values) == (values.dtype.str, (8,))
    assert cache(values.reshape(2, 4)) == (values.dtype.str, (2, 4))  # same bytes, other shape
    assert cache(values.view(np.float32)) == (np.dtype(np.float32).str, (8,))
    assert len(calls) == 3


def test_non_contiguous_arrays_are_compared_by_their_values():
    func, calls = _counting(lambda a: a.flags.c_contiguous)
    cache = ContentCache(func)
    grid = np.arange(20.0).reshape(4, 5)
    assert cache(grid[:, ::2]) is True  # func sees a C-contiguous copy
    assert cache(np.ascontiguousarray(grid[:, ::2])) is True
    assert len(calls) == 1


def test_only_maxsize_results_are_kept_most_recently_used_first():
    func, calls = _counting(lambda a: int(a[0]))
    cache = ContentCache(func, maxsize=2)
    one, two, three = (np.array([v]) for v in (1, 2, 3))
    cache(one), cache(two), cache(one), cache(three)  # two is the least recently used: dropped
    assert len(calls) == 3
    cache(one)
    assert len(calls) == 3
    cache(two)
    assert len(calls) == 4
