"""ArrayPool hands memory out again only once no array refers to it."""

import gc

import numpy as np
import xarray as xr

from iactx._array_pool import ArrayPool


def test_memory_is_reused_only_after_every_view_is_gone():
    pool = ArrayPool()
    first = pool.empty((4, 100), np.float32)
    first[:] = 1.0
    address = first.ctypes.data
    view = first[1:3].reshape(-1)
    del first
    second = pool.empty((4, 100), np.float32)
    assert second.ctypes.data != address  # the view still uses the first block
    second[:] = 2.0
    np.testing.assert_array_equal(view, 1.0)
    del view
    third = pool.empty((2, 100), np.float32)  # smaller requests fit a freed block
    assert third.ctypes.data == address
    assert third.shape == (2, 100) and third.dtype == np.float32 and third.flags.c_contiguous
    assert third.flags.writeable


def test_a_small_array_leaves_a_much_larger_free_block_to_the_large_arrays():
    pool = ArrayPool(max_oversize=4)
    waveforms = pool.empty((100, 1855, 40), np.float32)
    address = waveforms.ctypes.data
    del waveforms
    gains = pool.empty((100, 1855), np.int8)  # 1/40 of the free block: new memory
    assert gains.ctypes.data != address
    quarter = pool.empty((25, 1855, 40), np.float32)  # a quarter of it: reused
    assert quarter.ctypes.data == address


def test_arrays_inside_xarray_objects_keep_their_memory():
    pool = ArrayPool()
    data = pool.empty((3, 5), np.int8)
    data[:] = 7
    tree = xr.DataTree(xr.Dataset({"x": (("a", "b"), data)}))
    del data
    taken = [pool.empty((3, 5), np.int8) for _ in range(3)]
    for other in taken:
        other[:] = 0
    np.testing.assert_array_equal(tree["x"].values, 7)
    del tree, taken, other
    gc.collect()  # a DataTree is a reference cycle
    assert len(pool._free) == 4


def test_the_free_list_is_bounded():
    pool = ArrayPool(max_free=2)
    arrays = [pool.empty((10,), np.float64) for _ in range(5)]
    del arrays
    kept = pool.empty((10,), np.float64)
    assert len(pool._free) == 1  # 5 freed, trimmed to 2, one handed out
    del kept
    assert len(pool._free) == 2


def test_threads_sharing_a_pool_never_share_live_memory():
    from concurrent.futures import ThreadPoolExecutor

    pool = ArrayPool(max_free=4)

    def fill(value):
        arrays = []
        for _ in range(200):
            a = pool.empty((64,), np.int64)
            a[:] = value
            arrays.append(a)
            if len(arrays) > 3:
                old = arrays.pop(0)
                assert (old == value).all()  # nobody else wrote into it
        return all((a == value).all() for a in arrays)

    with ThreadPoolExecutor(4) as threads:
        assert all(threads.map(fill, range(8)))


def test_arrays_below_min_bytes_come_from_numpy():
    pool = ArrayPool(min_bytes=1024)
    small = pool.empty((10,), np.float64)
    assert small.base is None and small.flags.owndata  # numpy's own memory, not a pool block
    del small
    assert len(pool._free) == 0
    large = pool.empty((256,), np.float64)
    assert not large.flags.owndata
    del large
    assert len(pool._free) == 1
