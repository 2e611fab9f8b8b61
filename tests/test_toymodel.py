"""Toy images and waveforms reproduce their declared parameters."""

import math

import numba
import numpy as np
import pytest

from conftest import data_file
from iactx.image import toymodel
from iactx.image import toymodel_kernels as K
from iactx.instrument.builtin import hexagonal_camera, mini_camera, square_camera, toy_telescope

CAMERAS = {"hexagon": hexagonal_camera(), "square": square_camera()}


def moments(image, geometry):
    """Intensity-weighted centroid, length, width, psi [deg] and skewness, the obvious numpy way."""
    image = np.atleast_2d(image)
    x, y = geometry.pix_x, geometry.pix_y
    size = image.sum(axis=1)
    mx, my = image @ x / size, image @ y / size
    dx, dy = x - mx[:, None], y - my[:, None]
    cxx = (image * dx * dx).sum(1) / size
    cyy = (image * dy * dy).sum(1) / size
    cxy = (image * dx * dy).sum(1) / size
    out = []
    for i in range(image.shape[0]):
        values, vectors = np.linalg.eigh([[cxx[i], cxy[i]], [cxy[i], cyy[i]]])
        psi = math.atan2(vectors[1, 1], vectors[0, 1])
        psi = psi - math.pi if psi > math.pi / 2 else psi + math.pi if psi <= -math.pi / 2 else psi
        along = dx[i] * math.cos(psi) + dy[i] * math.sin(psi)
        skewness = (image[i] * along**3).sum() / size[i] / values[1] ** 1.5
        out.append((size[i], mx[i], my[i], math.sqrt(values[1]), math.sqrt(values[0]), math.degrees(psi), skewness))
    return np.array(out).T


def angle_difference(a, b):
    """Difference of axis angles [deg], modulo 180."""
    return (np.asarray(a) - b + 90.0) % 180.0 - 90.0


def shower_parameters(geometry, n, rng):
    """Random showers well inside the camera, widths above 0.6 pixel pitches."""
    pitch = np.median(toymodel.subpixel_sampling(geometry).pitch)
    width = rng.uniform(0.6, 1.0, n) * pitch
    return dict(x=rng.uniform(-0.25, 0.25, n), y=rng.uniform(-0.25, 0.25, n), length=width * rng.uniform(1.5, 4, n),
                width=width, psi=rng.uniform(-90, 90, n), skewness=rng.uniform(-0.5, 0.5, n))


# ----------------------------------------------------------------------------- pixel integration


@pytest.mark.parametrize("pix_type", ["hexagon", "square"])
@pytest.mark.parametrize("oversampling", [1, 3, 4, 5])
def test_subpixel_sampling_tiles_the_pixel(pix_type, oversampling):
    geometry = CAMERAS[pix_type]
    sampling = toymodel.subpixel_sampling(geometry, oversampling)
    points, w = sampling.offsets, sampling.weights
    assert w.sum() == pytest.approx(1.0) and np.all(w > 0)
    # isotropic second moment, zero mean
    np.testing.assert_allclose(w @ points, 0, atol=1e-12)
    assert w @ points[:, 0] ** 2 == pytest.approx(w @ points[:, 1] ** 2)
    assert w @ (points[:, 0] * points[:, 1]) == pytest.approx(0, abs=1e-12)
    assert sampling.variance == pytest.approx(w @ points[:, 0] ** 2 * 0.05**2)
    # points inside the cell (borders shared)
    if pix_type == "square":
        assert np.abs(points).max() < 0.5
        assert len(w) == oversampling**2
    else:
        normals = np.array([[np.cos(a), np.sin(a)] for a in np.deg2rad([0, 60, 120])])
        assert np.abs(points @ normals.T).max() <= 0.5 + 1e-9
    np.testing.assert_allclose(sampling.pitch, 0.05)


@pytest.mark.parametrize("pix_type, continuous", [("hexagon", 5 / 72), ("square", 1 / 12)])
def test_pixel_variance_tends_to_that_of_the_pixel(pix_type, continuous):
    geometry = CAMERAS[pix_type]
    assert toymodel.pixel_variance(geometry, 1) == 0.0
    assert toymodel.pixel_variance(geometry, 25) == pytest.approx(continuous * 0.05**2, rel=0.01)


def test_subpixel_sampling_rejects_bad_oversampling():
    with pytest.raises(ValueError, match="oversampling"):
        toymodel.subpixel_sampling(CAMERAS["square"], 0)


@pytest.mark.parametrize("pix_type", ["hexagon", "square"])
def test_noise_free_images_reproduce_declared_moments(pix_type):
    geometry = CAMERAS[pix_type]
    rng = np.random.default_rng(1)
    p = shower_parameters(geometry, 300, rng)
    image = toymodel.skewed_gaussian_image(geometry, **p, intensity=1000.0)
    assert image.shape == (300, geometry.n_pixels)
    size, x, y, length, width, psi, skewness = moments(image, geometry)
    np.testing.assert_allclose(size, 1000.0, rtol=1e-3)
    np.testing.assert_allclose(x, p["x"], atol=1e-3 * 0.05)
    np.testing.assert_allclose(y, p["y"], atol=1e-3 * 0.05)
    np.testing.assert_allclose(length, p["length"], rtol=0.01)
    np.testing.assert_allclose(width, p["width"], rtol=0.01)
    np.testing.assert_allclose(angle_difference(psi, p["psi"]), 0, atol=0.5)
    np.testing.assert_allclose(skewness, p["skewness"], atol=0.02)


def test_gaussian_image_is_symmetric_and_matches_scalar_call():
    geometry = CAMERAS["hexagon"]
    image = toymodel.gaussian_image(geometry, 0.1, -0.05, 0.12, 0.04, 30.0, 500.0)
    assert image.shape == (geometry.n_pixels,)
    *_, skewness = moments(image, geometry)
    assert skewness[0] == pytest.approx(0, abs=1e-6)
    batch = toymodel.gaussian_image(geometry, [0.1, 0.0], [-0.05, 0.0], 0.12, 0.04, 30.0, 500.0)
    np.testing.assert_array_equal(batch[0], image)


def test_images_accept_quantities():
    import astropy.units as u

    geometry = CAMERAS["square"]
    plain = toymodel.gaussian_image(geometry, 0.1, 0.0, 0.1, 0.04, 20.0, 100.0)
    quantity = toymodel.gaussian_image(geometry, 10 * u.cm, 0 * u.m, 10 * u.cm, 4 * u.cm, "20 deg", 100.0)
    np.testing.assert_allclose(quantity, plain)


def test_oversampling_one_samples_pixel_centres():
    geometry = CAMERAS["square"]
    image = toymodel.gaussian_image(geometry, 0.0, 0.0, 0.1, 0.05, 0.0, 1.0, oversampling=1)
    dx, dy = geometry.pix_x, geometry.pix_y
    expected = np.exp(-0.5 * (dx**2 / 0.1**2 + dy**2 / 0.05**2)) / (2 * np.pi * 0.1 * 0.05) * geometry.pix_area
    # light beyond 7 sigma is dropped
    np.testing.assert_allclose(image, expected, rtol=1e-12, atol=1e-10 * expected.max())


def test_kernel_matches_point_by_point_sum():
    """Factorised and direct sums of the kernel agree with a plain numpy sum over sample points."""
    geometry = CAMERAS["hexagon"]
    sampling = toymodel.subpixel_sampling(geometry, 3)
    points = sampling.offsets * 0.05
    # a wide image (factorised sum) and one much narrower than a pixel (direct sum)
    narrow = math.sqrt(sampling.variance + (sampling.reach.max() / 15) ** 2)
    for width, skew in ((0.04, 0.3), (narrow, -0.2)):
        image = toymodel.skewed_gaussian_image(geometry, 0.03, 0.01, 0.09, width, 25.0, skew, 1.0)
        light_l2 = 0.09**2 - sampling.variance
        light_w = math.sqrt(width**2 - sampling.variance)
        loc, scale, shape = toymodel._skew_normal_parameters(math.sqrt(light_l2), skew * (0.09**2 / light_l2) ** 1.5)
        psi = math.radians(25.0)
        px = geometry.pix_x[:, None] + points[:, 0] - 0.03
        py = geometry.pix_y[:, None] + points[:, 1] - 0.01
        along = px * math.cos(psi) + py * math.sin(psi) - loc
        across = -px * math.sin(psi) + py * math.cos(psi)
        zl = along / scale
        density = (2 / scale * np.exp(-0.5 * zl**2) / math.sqrt(2 * math.pi)
                   * 0.5 * np.vectorize(math.erfc)(-shape * zl / math.sqrt(2))
                   * np.exp(-0.5 * (across / light_w) ** 2) / (light_w * math.sqrt(2 * math.pi)))
        expected = density @ sampling.weights * geometry.pix_area
        # the normal cdf is interpolated to 1e-9, light beyond 7 sigma dropped
        np.testing.assert_allclose(image, expected, rtol=1e-6, atol=1e-10 * expected.max())


def test_normal_cdf_table_interpolation():
    table = K.normal_cdf_table(10.0)
    x = np.linspace(-12, 12, 2001)
    got = np.array([K._normal_cdf(v, table, 10.0) for v in x])
    expected = np.array([0.5 * math.erfc(-v / math.sqrt(2)) for v in x])
    np.testing.assert_allclose(got, expected, atol=1e-9)


def test_ring_images_reproduce_radius_and_width():
    rng = np.random.default_rng(2)
    for geometry in CAMERAS.values():
        n = 200
        radius, width = rng.uniform(0.3, 0.5, n), rng.uniform(0.03, 0.05, n)
        cx, cy = rng.uniform(-0.2, 0.2, (2, n))
        image = toymodel.ring_image(geometry, cx, cy, radius, width, 1000.0)
        size, x, y, *_ = moments(image, geometry)
        np.testing.assert_allclose(size, 1000.0, rtol=1e-6)
        np.testing.assert_allclose(x, cx, atol=1e-3 * 0.05)
        np.testing.assert_allclose(y, cy, atol=1e-3 * 0.05)
        r = np.hypot(geometry.pix_x - cx[:, None], geometry.pix_y - cy[:, None])
        mean_r = (image * r).sum(1) / size
        rms_r = np.sqrt((image * (r - mean_r[:, None]) ** 2).sum(1) / size)
        np.testing.assert_allclose(mean_r, radius, rtol=0.005)
        np.testing.assert_allclose(rms_r, width, rtol=0.01)


def test_too_narrow_or_inconsistent_images_are_refused():
    geometry = CAMERAS["hexagon"]
    with pytest.raises(ValueError, match="width .* ToyHexCam"):
        toymodel.gaussian_image(geometry, 0, 0, 0.1, 0.01, 0, 1.0)
    with pytest.raises(ValueError, match="length must not be smaller"):
        toymodel.gaussian_image(geometry, 0, 0, 0.03, 0.05, 0, 1.0)
    with pytest.raises(ValueError, match="skewness"):
        toymodel.skewed_gaussian_image(geometry, 0, 0, 0.05, 0.04, 0, 0.98, 1.0)
    with pytest.raises(ValueError, match="ring width"):
        toymodel.ring_image(geometry, 0, 0, 0.4, 0.005, 1.0)
    with pytest.raises(ValueError, match="radius"):
        toymodel.ring_image(geometry, 0, 0, 0.0, 0.05, 1.0)
    with pytest.raises(ValueError, match="one-dimensional"):
        toymodel.gaussian_image(geometry, np.zeros((2, 2)), 0, 0.1, 0.05, 0, 1.0)


def test_time_image_is_linear_along_the_axis():
    geometry = CAMERAS["square"]
    times = toymodel.time_image(geometry, 0.1, 0.2, 30.0, 50.0, 12.0)
    along = (geometry.pix_x - 0.1) * np.cos(np.radians(30)) + (geometry.pix_y - 0.2) * np.sin(np.radians(30))
    np.testing.assert_allclose(times, 12.0 + 50.0 * along)


# ----------------------------------------------------------------------------- random numbers


@pytest.mark.parametrize("mean", [0.3, 4.0, 9.9, 10.0, 55.0, 2000.0])
def test_poisson_kernel_mean_and_variance(mean):
    n = 200_000
    counts = np.empty((4, n // 4), np.int64)
    K.poisson_images(np.full(counts.shape, mean), toymodel.row_seeds(3, 4), counts)
    assert counts.min() >= 0
    assert counts.mean() == pytest.approx(mean, abs=5 * math.sqrt(mean / n))
    assert counts.var() == pytest.approx(mean, rel=0.03)


def test_poisson_kernel_zero_and_negative_means():
    counts = np.empty((1, 3), np.int32)
    K.poisson_images(np.array([[0.0, -1.0, 0.0]]), toymodel.row_seeds(1, 1), counts)
    np.testing.assert_array_equal(counts, 0)


def test_sample_image_noise_is_unbiased():
    geometry = mini_camera()
    expected = toymodel.gaussian_image(geometry, 0.0, 0.0, 0.2, 0.1, 10.0, 300.0)
    image, signal = toymodel.sample_image(np.tile(expected, (4000, 1)), nsb_level=3.0, seed=5)
    assert signal.dtype == np.int32 and image.dtype == np.float64
    np.testing.assert_allclose(signal.mean(axis=0), expected, atol=5 * np.sqrt(expected.max() / 4000) + 1e-3)
    noise = image - signal
    assert noise.mean() == pytest.approx(0.0, abs=0.01)
    assert noise.var() == pytest.approx(3.0, rel=0.02)
    with pytest.raises(ValueError, match="nsb_level"):
        toymodel.sample_image(expected, nsb_level=-1)


def test_noisy_images_recover_the_truth_on_average():
    geometry = CAMERAS["hexagon"]
    rng = np.random.default_rng(4)
    p = shower_parameters(geometry, 400, rng)
    expected = toymodel.skewed_gaussian_image(geometry, **p, intensity=400.0)
    _, signal = toymodel.sample_image(expected, seed=6)
    size, x, y, length, width, psi, skewness = moments(signal.astype(float), geometry)
    assert np.mean(size / 400.0) == pytest.approx(1.0, abs=0.005)
    assert np.mean(length / p["length"]) == pytest.approx(1.0, abs=0.01)
    assert np.mean(width / p["width"]) == pytest.approx(1.0, abs=0.01)
    assert np.mean(angle_difference(psi, p["psi"])) == pytest.approx(0.0, abs=0.5)
    assert np.mean(skewness - p["skewness"]) == pytest.approx(0.0, abs=0.03)
    for found, true in ((x, p["x"]), (y, p["y"])):
        error = found - true
        assert abs(error.mean()) < 4 * error.std() / np.sqrt(error.size)


@pytest.mark.parametrize("threads", [1, 2])
def test_same_seed_same_images_whatever_the_threads(threads):
    geometry = mini_camera()
    expected = np.tile(toymodel.gaussian_image(geometry, 0, 0, 0.2, 0.1, 0.0, 200.0), (64, 1))
    reference = toymodel.sample_image(expected, 1.0, seed=11)
    previous = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        again = toymodel.sample_image(expected, 1.0, seed=11)
    finally:
        numba.set_num_threads(previous)
    np.testing.assert_array_equal(again[0], reference[0])
    other = toymodel.sample_image(expected, 1.0, seed=12)
    assert not np.array_equal(other[1], reference[1])


# ----------------------------------------------------------------------------- waveforms


READOUTS = {kind: toy_telescope(kind).camera.readout for kind in ("LST", "MST", "MINI")}


def _times_inside(model, n, rng):
    """Peak times whose whole pulse lies in the readout window."""
    before = -model.first + 1
    after = model.table.shape[1] + model.first
    return rng.uniform(before, model.n_samples - after, n) * model.sample_width


@pytest.mark.parametrize("kind", sorted(READOUTS))
def test_waveforms_integrate_to_the_charge(kind):
    model = toymodel.WaveformModel(READOUTS[kind])
    rng = np.random.default_rng(7)
    charge = rng.uniform(0.5, 3000, (50, 40))
    waveforms = model.waveforms(charge, _times_inside(model, 2000, rng).reshape(50, 40))
    assert waveforms.dtype == np.float32 and waveforms.shape == (50, 40, model.n_samples)
    np.testing.assert_allclose(waveforms.sum(axis=-1), charge, rtol=1e-5)
    np.testing.assert_allclose(model.table.sum(axis=1), 1.0)


@pytest.mark.parametrize("kind", sorted(READOUTS))
def test_waveforms_peak_at_the_given_time(kind):
    model = toymodel.WaveformModel(READOUTS[kind])
    rng = np.random.default_rng(8)
    dt = model.sample_width
    on_samples = np.round(_times_inside(model, 500, rng) / dt) * dt
    waveforms = model.waveforms(np.full(500, 10.0), on_samples)
    np.testing.assert_array_equal(waveforms.argmax(axis=-1), np.round(on_samples / dt))
    # between samples: the parabola through the three highest samples finds the peak
    times = _times_inside(model, 500, rng)
    w = model.waveforms(np.full(500, 10.0), times).astype(float)
    i = w.argmax(axis=-1)
    left, mid, right = (w[np.arange(500), i + k] for k in (-1, 0, 1))
    peak = (i + 0.5 * (left - right) / (left - 2 * mid + right)) * dt
    np.testing.assert_allclose(peak, times, atol=0.2 * dt)
    assert np.all(np.abs(i * dt - times) < dt)


def test_single_pulse_is_the_reference_pulse_resampled():
    readout = READOUTS["LST"]
    model = toymodel.WaveformModel(readout)
    pulse = model.pulse(10.0)
    reference = readout.reference_pulse_shape[0]
    t = np.arange(reference.size) * readout.reference_pulse_sample_width
    t_peak = t[np.argmax(reference)]
    expected = np.interp(np.arange(readout.n_samples) - 10.0 + t_peak, t, reference, left=0, right=0)
    # same up to the resolution of the peak position (the pulse step, 0.05 ns)
    np.testing.assert_allclose(pulse, expected / expected.sum(), atol=0.01)


def test_waveform_model_from_a_simtel_readout():
    from iactx.io import read_simtel

    tree = read_simtel(data_file("lst_with_photons.simtel.zst"))
    readout = tree.iact.subarray().tel[1].camera.readout
    model = toymodel.WaveformModel(readout)
    times = np.array([8.0, 10.0, 12.0])  # the pulse and its long tail inside the 30 ns window
    waveforms = model.waveforms([100.0, 50.0, 7.0], times)
    np.testing.assert_allclose(waveforms.sum(axis=-1), [100.0, 50.0, 7.0], rtol=1e-3)
    np.testing.assert_array_equal(waveforms.argmax(axis=-1), np.round(times * readout.sampling_rate))


def test_background_and_noise_statistics():
    readout = READOUTS["LST"]
    model = toymodel.WaveformModel(readout)
    n = 20000
    zeros = np.zeros(n)
    noise_only = model.waveforms(zeros, zeros, noise=0.3, seed=1)
    assert noise_only.mean() == pytest.approx(0.0, abs=0.002)
    assert noise_only.std() == pytest.approx(0.3, rel=0.01)
    rate = 0.2
    background = model.waveforms(zeros, zeros, nsb_rate=rate, seed=2).astype(float)
    # pedestal-subtracted: zero mean in every sample
    np.testing.assert_allclose(background.mean(axis=0), 0.0, atol=0.02)
    # the window sum counts the photo-electrons of the window: Poisson variance
    window = readout.n_samples * model.sample_width
    assert background.sum(axis=-1).var() == pytest.approx(rate * window, rel=0.1)
    both = model.waveforms(zeros, zeros, nsb_rate=rate, noise=0.3, seed=2).astype(float)
    assert both.sum(axis=-1).var() == pytest.approx(rate * window + 0.09 * readout.n_samples, rel=0.1)


def test_waveforms_same_seed_same_noise():
    model = toymodel.WaveformModel(READOUTS["MINI"])
    args = (np.full((5, 127), 3.0), np.full((5, 127), 8.0))
    a = model.waveforms(*args, nsb_rate=0.3, noise=0.2, seed=3)
    np.testing.assert_array_equal(a, model.waveforms(*args, nsb_rate=0.3, noise=0.2, seed=3))
    assert not np.array_equal(a, model.waveforms(*args, nsb_rate=0.3, noise=0.2, seed=4))


def test_waveform_model_checks_its_arguments():
    readout = READOUTS["MST"]
    with pytest.raises(ValueError, match="gain 1"):
        toymodel.WaveformModel(readout, gain=1)
    model = toymodel.WaveformModel(readout)
    with pytest.raises(ValueError, match="nsb_rate"):
        model.waveforms(np.ones(3), np.ones(3), nsb_rate=-0.1)
    with pytest.raises(ValueError, match="out must be"):
        model.waveforms(np.ones(3), np.ones(3), out=np.empty((3, 5), np.float32))
    with pytest.raises(ValueError, match="positive maximum"):
        toymodel.pulse_table(-np.ones(10), 0.1, 1.0)
