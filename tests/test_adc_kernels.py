"""Decoding of sim_telarray's differential ADC sample blocks and photo-electron blocks."""

import numpy as np
import pytest

from iactx.io.adc_kernels import (BAD_CONTENT, TOO_LONG, TRUNCATED, decode_differential_samples,
                                  end_of_differential_samples, photoelectron_counts)


def encode(samples):
    """The differential variable-length bytes of ``samples`` (n_gains, n_pixels, n_samples), shortest forms."""
    out = bytearray()
    for trace in samples.reshape(-1, samples.shape[-1]).astype(np.int64):
        previous = 0
        for value in trace:
            diff = int(value) - previous
            previous = int(value)
            coded = 2 * diff if diff >= 0 else -2 * diff - 1
            out += encode_coded(coded)
    return bytes(out)


def encode_coded(coded, n_bytes=None):
    """One coded value in ``n_bytes`` bytes (the shortest that holds it by default)."""
    payload_bits = {1: 7, 2: 14, 3: 21, 4: 28, 5: 35}
    if n_bytes is None:
        n_bytes = next(n for n, bits in payload_bits.items() if coded < 2**bits)
    prefix = (0xFF00 >> (n_bytes - 1)) & 0xFF  # n_bytes - 1 leading ones, then a zero
    word = coded.to_bytes(n_bytes, "big")
    return bytes([prefix | word[0]]) + word[1:]


@pytest.mark.parametrize("shape", [(2, 7, 40), (1, 3, 1), (2, 5, 128)])
def test_decoding_inverts_encoding(shape):
    rng = np.random.default_rng(1)
    # pedestal-like noise, sharp pulses and full-range jumps: 1-, 2- and 3-byte differences
    samples = rng.normal(300, 5, shape)
    samples[..., shape[-1] // 2] += rng.uniform(0, 4000, shape[:-1])
    samples[0, 0, 0] = 65535
    samples = np.clip(samples, 0, 65535).astype(np.uint16)
    data = np.frombuffer(b"head" + encode(samples), np.uint8)
    out = np.zeros(shape, np.uint16)
    assert decode_differential_samples(data, 4, out) == data.size
    np.testing.assert_array_equal(out, samples)


def test_long_forms_decode_like_short_ones():
    # 4- and 5-byte forms of small differences are legal, if wasteful
    data = np.frombuffer(encode_coded(2 * 1000, 4) + encode_coded(2 * 5 - 1 + 0, 5) + encode_coded(0, 1),
                         np.uint8)
    out = np.zeros((1, 1, 3), np.uint16)
    assert decode_differential_samples(data, 0, out) == data.size
    np.testing.assert_array_equal(out[0, 0], [1000, 1000 - 5, 1000 - 5])


def test_truncated_and_overlong_blocks_are_reported():
    samples = np.full((1, 2, 10), 4000, np.uint16)
    data = np.frombuffer(encode(samples), np.uint8)
    out = np.zeros_like(samples)
    for cut in (0, 1, data.size - 1):
        assert decode_differential_samples(data[:cut], 0, out) == TRUNCATED
    assert decode_differential_samples(np.array([0xF8, 0, 0, 0, 0, 0], np.uint8), 0, out) == TOO_LONG


def test_end_of_undecoded_channels_matches_the_decoder():
    rng = np.random.default_rng(2)
    samples = np.clip(rng.normal(300, 200, (2, 9, 20)), 0, 65535).astype(np.uint16)
    samples[1, 3, 4] = 60000
    data = np.frombuffer(b"xy" + encode(samples), np.uint8)
    out = np.zeros((1, 9, 20), np.uint16)
    high_gain_end = decode_differential_samples(data, 2, out)
    assert end_of_differential_samples(data, 2, 9 * 20) == high_gain_end
    assert end_of_differential_samples(data, high_gain_end, 9 * 20) == data.size
    assert end_of_differential_samples(data[:-1], high_gain_end, 9 * 20) == TRUNCATED
    assert end_of_differential_samples(np.array([1, 0xF8, 0, 0, 0, 0, 0], np.uint8), 0, 2) == TOO_LONG
    # a long form announced by the last byte runs past the end
    assert end_of_differential_samples(np.array([1, 0xC0], np.uint8), 0, 2) == TRUNCATED


def photoelectron_entries(counts, *, varint_ids, amplitudes=False, photons=None):
    """The pixel entries of a PhotoElectrons block for ``counts`` {pixel: n}, times and amplitudes made up."""
    out = bytearray()
    for pixel, n in counts.items():
        out += encode_coded(2 * pixel) if varint_ids else np.int16(pixel).tobytes()
        out += np.int32(n).tobytes() + np.arange(n, dtype=np.float32).tobytes()
        if amplitudes:
            out += np.full(n, 0.5, np.float32).tobytes()
    if photons is not None:
        out += np.int32(len(photons)).tobytes()
        for pixel, n in photons.items():
            out += np.int16(pixel).tobytes() + np.int32(n).tobytes()
    return bytes(out)


@pytest.mark.parametrize("varint_ids, amplitudes, photons", [
    (False, False, None), (True, False, None), (True, True, None), (True, True, {3: 40, 700: 2})])
def test_photoelectron_counts_step_over_times_amplitudes_and_photons(varint_ids, amplitudes, photons):
    counts = {0: 1, 5: 3, 300: 12, 1854: 2}  # pixel 300 takes a 2-byte varint id
    data = b"HEAD" + photoelectron_entries(counts, varint_ids=varint_ids, amplitudes=amplitudes, photons=photons)
    out = np.zeros(1855, np.int32)
    end = photoelectron_counts(np.frombuffer(data, np.uint8), 4, len(counts), varint_ids, amplitudes,
                               photons is not None, out)
    assert end == len(data)
    expected = np.zeros(1855, np.int32)
    expected[list(counts)] = list(counts.values())
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("counts, cut, result", [
    ({2: 3}, 1, TRUNCATED),         # inside the last time
    ({2: 3}, 13, TRUNCATED),        # inside the count
    ({9: 1}, 0, BAD_CONTENT),       # a pixel past the camera
    ({2: -1}, 0, BAD_CONTENT),      # a negative count
])
def test_photoelectron_counts_refuse_cut_or_impossible_entries(counts, cut, result):
    data = photoelectron_entries(counts, varint_ids=False)
    data = data[:len(data) - cut]
    assert photoelectron_counts(np.frombuffer(data, np.uint8), 0, 1, False, False, False,
                                np.zeros(4, np.int32)) == result
    too_long = np.frombuffer(b"\xfc" + bytes(8), np.uint8)  # a 7-byte pixel id
    assert photoelectron_counts(too_long, 0, 1, True, False, False, np.zeros(4, np.int32)) == TOO_LONG
