"""Cleaning kernels against slow per-pixel references, and islands on hand-made masks."""

import numpy as np
import pytest
from image_toys import hex_geometry, square_geometry

from iactx.image import cleaning_kernels as K

GEOMETRIES = {"hex": hex_geometry(6), "square": square_geometry(11)}


# --------------------------------------------------------------------------- slow references
def ref_tailcuts(nb, img, pic, bnd, min_n, keep_iso):
    n = img.size
    above_pic = [img[j] >= pic[j] for j in range(n)]
    above_bnd = [img[j] >= bnd[j] for j in range(n)]
    if keep_iso or min_n == 0:
        in_pic = above_pic
    else:
        in_pic = [above_pic[j] and sum(above_pic[k] for k in nb[j]) >= min_n for j in range(n)]
    out = np.zeros(n, bool)
    for j in range(n):
        bnd_pixel = above_bnd[j] and any(in_pic[k] for k in nb[j])
        pic_pixel = in_pic[j] and (keep_iso or any(above_bnd[k] for k in nb[j]))
        out[j] = bnd_pixel or pic_pixel
    return out


def ref_mars(nb, img, pic, bnd, min_n, keep_iso):
    first = ref_tailcuts(nb, img, pic, bnd, min_n, keep_iso)
    n = img.size
    out = np.zeros(n, bool)
    for j in range(n):
        second = img[j] >= bnd[j] and any(first[k] for k in nb[j])
        kept = first[j] and (keep_iso or any(img[k] >= bnd[k] for k in nb[j]))
        out[j] = second or kept
    return out


def ref_dilate(nb, mask):
    return np.array([mask[j] or any(mask[k] for k in nb[j]) for j in range(mask.size)])


def ref_islands(nb, mask):
    labels = np.zeros(mask.size, int)
    current = 0
    for j in range(mask.size):
        if mask[j] and labels[j] == 0:
            current += 1
            todo = [j]
            while todo:
                p = todo.pop()
                if labels[p]:
                    continue
                labels[p] = current
                todo.extend(k for k in nb[p] if mask[k] and not labels[k])
    return current, labels


def ref_time_delta(nb, mask, times, min_n, limit):
    out = mask.copy()
    for j in np.flatnonzero(mask):
        close = sum(1 for k in nb[j] if mask[k] and abs(times[j] - times[k]) < limit[j])
        out[j] = close >= min_n
    return out


def ref_fact(nb, img, times, pic, bnd, min_n, limit):
    n = img.size
    keep = np.array([img[j] >= pic[j] for j in range(n)])
    keep = np.array([keep[j] and sum(keep[k] for k in nb[j]) >= min_n for j in range(n)])
    keep = ref_dilate(nb, keep) & np.array([img[j] >= bnd[j] for j in range(n)])
    if min_n <= 0:
        return keep
    keep = ref_time_delta(nb, keep, times, min_n, limit)
    keep = np.array([keep[j] and sum(keep[k] for k in nb[j]) >= min_n for j in range(n)])
    return ref_time_delta(nb, keep, times, min_n, limit)


def ref_time_constrained(nb, img, times, pic, bnd, min_n, limit_core, limit_bnd):
    n = img.size
    above = [img[j] >= pic[j] for j in range(n)]
    core = np.array([above[j] and sum(above[k] for k in nb[j]) >= min_n for j in range(n)])
    if core.any():
        n_islands, labels = ref_islands(nb, core)
        brightness = [img[labels == i].astype(float).sum() for i in range(1, n_islands + 1)]
        main = labels == 1 + int(np.argmax(brightness))
        mean_time = np.average(times[main], weights=img[main] ** 2)  # in the input dtype, like numpy
        for j in np.flatnonzero(core):
            limit = limit_core[j] if img[j] < 2 * pic[j] else 2 * limit_core[j]
            core[j] = abs(times[j] - mean_time) < limit
    out = core.copy()
    for j in range(n):
        if core[j] or not img[j] >= bnd[j] or not any(core[k] for k in nb[j]):
            continue
        close = sum(1 for k in nb[j] if core[k] and abs(times[j] - times[k]) < limit_bnd[j])
        out[j] = close >= min_n
    return out


# --------------------------------------------------------------------------- random inputs
def random_images(geom, n_images, dtype, seed):
    """Noise plus a few bright blobs, some empty rows, one NaN row."""
    rng = np.random.default_rng(seed)
    img = rng.normal(1.0, 3.0, (n_images, geom.n_pixels))
    for i in range(n_images):
        for _ in range(rng.integers(0, 4)):
            c = rng.integers(geom.n_pixels)
            d2 = (geom.pix_x - geom.pix_x[c]) ** 2 + (geom.pix_y - geom.pix_y[c]) ** 2
            img[i] += rng.uniform(5, 60) * np.exp(-d2 / (2 * (rng.uniform(0.5, 2.5) * 0.05) ** 2))
    img[0] = 0.0
    img[1] = np.nan
    times = rng.normal(20.0, 2.5, (n_images, geom.n_pixels))
    return img.astype(dtype), times.astype(dtype)


def thresholds(rng, n_images, n_pixels, dtype, per_pixel):
    pic = rng.choice([5.0, 7.0, 10.0, 12.5], n_images)
    bnd = pic / 2
    if per_pixel:
        pic = pic[:, None] * rng.uniform(0.8, 1.2, (n_images, n_pixels))
        bnd = bnd[:, None] * rng.uniform(0.8, 1.2, (n_images, n_pixels))
    else:
        pic = np.broadcast_to(pic[:, None], (n_images, n_pixels))
        bnd = np.broadcast_to(bnd[:, None], (n_images, n_pixels))
    return pic.astype(dtype), bnd.astype(dtype)


PARAMS = [(g, dt, pp) for g in GEOMETRIES for dt in (np.float32, np.float64) for pp in (False, True)]


@pytest.mark.parametrize("geom_name, dtype, per_pixel", PARAMS)
def test_tailcuts_and_mars_against_reference(geom_name, dtype, per_pixel):
    geom = GEOMETRIES[geom_name]
    nb = geom.neighbors
    rng = np.random.default_rng(1)
    n = 40
    img, _ = random_images(geom, n, dtype, seed=2)
    pic, bnd = thresholds(rng, n, geom.n_pixels, dtype, per_pixel)
    min_n = rng.integers(0, 4, n)
    keep = rng.random(n) < 0.3
    for kern, ref in ((K.tailcuts_clean_kernel, ref_tailcuts), (K.mars_cleaning_kernel, ref_mars)):
        out = np.empty(img.shape, bool)
        kern(img, pic, bnd, min_n, keep, geom.neighbor_indptr, geom.neighbor_indices, out)
        expected = np.array([ref(nb, img[i], pic[i], bnd[i], min_n[i], keep[i]) for i in range(n)])
        np.testing.assert_array_equal(out, expected)
        assert not out[0].any() and not out[1].any()  # empty and NaN rows
        assert out.any()


def test_thresholds_are_inclusive():
    geom = GEOMETRIES["hex"]
    img = np.zeros((1, geom.n_pixels), np.float32)
    centre = int(np.argmin(geom.pix_x**2 + geom.pix_y**2))
    img[0, centre] = 10.0
    img[0, geom.neighbors[centre][0]] = 5.0
    out = np.empty(img.shape, bool)
    pic = np.full(img.shape, 10.0, np.float32)
    bnd = np.full(img.shape, 5.0, np.float32)
    K.tailcuts_clean_kernel(img, pic, bnd, np.zeros(1, np.int64), np.zeros(1, bool),
                            geom.neighbor_indptr, geom.neighbor_indices, out)
    assert out[0].sum() == 2 and out[0, centre]


@pytest.mark.parametrize("geom_name", GEOMETRIES)
def test_dilate_against_reference(geom_name):
    geom = GEOMETRIES[geom_name]
    mask = np.random.default_rng(3).random((20, geom.n_pixels)) < 0.05
    out = np.empty_like(mask)
    K.dilate_kernel(mask, geom.neighbor_indptr, geom.neighbor_indices, out)
    np.testing.assert_array_equal(out, [ref_dilate(geom.neighbors, m) for m in mask])


@pytest.mark.parametrize("geom_name", GEOMETRIES)
def test_islands_against_reference(geom_name):
    geom = GEOMETRIES[geom_name]
    rng = np.random.default_rng(4)
    mask = rng.random((30, geom.n_pixels)) < rng.uniform(0, 0.5, (30, 1))
    mask[0] = False
    labels = np.empty(mask.shape, np.int32)
    n = np.empty(30, np.int32)
    K.number_of_islands_kernel(mask, geom.neighbor_indptr, geom.neighbor_indices, labels, n)
    image = rng.uniform(0, 10, mask.shape)
    largest = np.empty_like(mask)
    brightest = np.empty_like(mask)
    K.largest_island_kernel(labels, n, largest)
    K.brightest_island_kernel(labels, n, image, brightest)
    for i in range(30):
        n_ref, labels_ref = ref_islands(geom.neighbors, mask[i])
        assert n[i] == n_ref
        np.testing.assert_array_equal(labels[i], labels_ref)
        if n_ref == 0:
            assert not largest[i].any() and not brightest[i].any()
            continue
        sizes = np.bincount(labels_ref)[1:]
        np.testing.assert_array_equal(largest[i], labels_ref == 1 + np.argmax(sizes))
        sums = [image[i][labels_ref == k].sum() for k in range(1, n_ref + 1)]
        np.testing.assert_array_equal(brightest[i], labels_ref == 1 + np.argmax(sums))


def test_islands_on_hand_made_masks():
    # a 7-pixel hexagonal camera: centre 3, ring 0 1 2 4 5 6
    geom = hex_geometry(1)
    assert geom.n_pixels == 7
    centre = int(np.argmin(geom.pix_x**2 + geom.pix_y**2))
    ring = [p for p in range(7) if p != centre]
    # opposite ring pixels are not neighbours: two islands; with the centre: one
    opposite = [p for p in ring if np.isclose(geom.pix_x[p], -geom.pix_x[ring[0]])
                and np.isclose(geom.pix_y[p], -geom.pix_y[ring[0]])][0]
    masks = np.zeros((4, 7), bool)
    masks[1, [ring[0], opposite]] = True
    masks[2, [ring[0], opposite, centre]] = True
    masks[3, :] = True
    labels = np.empty(masks.shape, np.int32)
    n = np.empty(4, np.int32)
    K.number_of_islands_kernel(masks, geom.neighbor_indptr, geom.neighbor_indices, labels, n)
    assert n.tolist() == [0, 2, 1, 1]
    assert labels[0].tolist() == [0] * 7
    first, second = sorted([ring[0], opposite])
    assert labels[1, first] == 1 and labels[1, second] == 2
    assert set(labels[2][masks[2]]) == {1} and set(labels[3]) == {1}
    # square grid: diagonal pixels are not neighbours
    sq = square_geometry(3)
    diag = np.zeros((1, 9), bool)
    diag[0, [0, 4, 8]] = True
    lab = np.empty(diag.shape, np.int32)
    nn = np.empty(1, np.int32)
    K.number_of_islands_kernel(diag, sq.neighbor_indptr, sq.neighbor_indices, lab, nn)
    assert nn[0] == 3 and lab[0].tolist() == [1, 0, 0, 0, 2, 0, 0, 0, 3]
    # ties: the first island wins for largest and brightest
    largest = np.empty_like(diag)
    brightest = np.empty_like(diag)
    K.largest_island_kernel(lab, nn, largest)
    K.brightest_island_kernel(lab, nn, np.ones((1, 9)), brightest)
    assert np.flatnonzero(largest[0]).tolist() == [0] and np.flatnonzero(brightest[0]).tolist() == [0]


@pytest.mark.parametrize("geom_name, dtype", [(g, dt) for g in GEOMETRIES for dt in (np.float32, np.float64)])
def test_time_cleanings_against_reference(geom_name, dtype):
    geom = GEOMETRIES[geom_name]
    nb = geom.neighbors
    rng = np.random.default_rng(5)
    n = 40
    img, times = random_images(geom, n, dtype, seed=6)
    pic, bnd = thresholds(rng, n, geom.n_pixels, dtype, per_pixel=False)
    min_n = rng.integers(0, 3, n)
    limit = np.broadcast_to(rng.choice([1.5, 3.0, 5.0], n)[:, None], img.shape).astype(dtype)
    limit_b = (limit / 3).astype(dtype)
    indptr, indices = geom.neighbor_indptr, geom.neighbor_indices

    mask = rng.random(img.shape) < 0.3
    out = np.empty(img.shape, bool)
    K.time_delta_cleaning_kernel(mask, times, min_n, limit, indptr, indices, out)
    np.testing.assert_array_equal(out, [ref_time_delta(nb, mask[i], times[i], min_n[i], limit[i])
                                        for i in range(n)])

    K.fact_cleaning_kernel(img, times, pic, bnd, min_n, limit, indptr, indices, out)
    np.testing.assert_array_equal(out, [ref_fact(nb, img[i], times[i], pic[i], bnd[i], min_n[i], limit[i])
                                        for i in range(n)])

    K.time_constrained_clean_kernel(img, times, pic, bnd, min_n, limit, limit_b, indptr, indices, out)
    expected = [ref_time_constrained(nb, img[i], times[i], pic[i], bnd[i], min_n[i], limit[i], limit_b[i])
                for i in range(n)]
    np.testing.assert_array_equal(out, expected)
    assert np.asarray(expected).any()
