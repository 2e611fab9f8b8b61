"""Decoding of sim_telarray ADC sample and true photo-electron blocks, on plain byte arrays.

sim_telarray stores the samples of each pixel and gain channel as
differences from the previous sample (the first from zero), each difference
a signed variable-length integer: the number of leading one bits of the
first byte gives the number of bytes that follow, the remaining bits,
most significant first, hold ``2 * |d|`` for ``d >= 0`` and
``2 * |d| - 1`` for ``d < 0`` (the sign in the lowest bit). Photo-electron
blocks (version 3) give pixel ids in the same form.
"""

import numpy as np

from .._numba import kernel

__all__ = ["decode_differential_samples", "end_of_differential_samples", "photoelectron_counts", "TRUNCATED",
           "TOO_LONG", "BAD_CONTENT"]

#: return value of :func:`decode_differential_samples` when the bytes end inside the block
TRUNCATED = -1
#: return value when a difference is longer than the format's five bytes
TOO_LONG = -2
#: return value of :func:`photoelectron_counts` for a pixel id outside the camera or a negative count
BAD_CONTENT = -3


@kernel
def decode_differential_samples(data, start, out):
    """Decode differential variable-length samples into ``out``.

    Parameters
    ----------
    data : ndarray of uint8
        The bytes of the block.
    start : int
        Offset of the first difference in ``data``.
    out : ndarray of uint16, shape (n_gains, n_pixels, n_samples)
        Filled with the samples [ADC counts], in the order they are stored
        (every pixel of gain 0, then of gain 1). Sums are kept modulo
        2**16, as the 16-bit samples were written.

    Returns
    -------
    int
        The offset just past the last byte read, or :data:`TRUNCATED` when
        ``data`` ends first, or :data:`TOO_LONG` when a difference takes
        more than five bytes (the longest form of a 32-bit difference).
    """
    # unsigned positions and one flat index: no negative-index handling in the loop (a quarter faster)
    flat = out.reshape(-1)
    n_samples = np.uint64(out.shape[2])
    end = np.uint64(data.shape[0])
    pos = np.uint64(start)
    one = np.uint64(1)
    k = np.uint64(0)
    for _ in range(out.shape[0] * out.shape[1]):  # the channels of every pixel, in storage order
        value = np.int64(0)
        stop = k + n_samples
        while k < stop:
            if pos >= end:
                return TRUNCATED
            first = np.int64(data[pos])
            if first < 0x80:
                coded = first
                pos += one
            elif first < 0xC0:
                if pos + np.uint64(2) > end:
                    return TRUNCATED
                coded = ((first & 0x3F) << 8) | np.int64(data[pos + one])
                pos += np.uint64(2)
            elif first < 0xE0:
                if pos + np.uint64(3) > end:
                    return TRUNCATED
                coded = ((first & 0x1F) << 16) | (np.int64(data[pos + one]) << 8) | np.int64(data[pos + np.uint64(2)])
                pos += np.uint64(3)
            elif first < 0xF0:
                if pos + np.uint64(4) > end:
                    return TRUNCATED
                coded = (((first & 0x0F) << 24) | (np.int64(data[pos + one]) << 16)
                         | (np.int64(data[pos + np.uint64(2)]) << 8) | np.int64(data[pos + np.uint64(3)]))
                pos += np.uint64(4)
            elif first < 0xF8:
                if pos + np.uint64(5) > end:
                    return TRUNCATED
                coded = (((first & 0x07) << 32) | (np.int64(data[pos + one]) << 24)
                         | (np.int64(data[pos + np.uint64(2)]) << 16) | (np.int64(data[pos + np.uint64(3)]) << 8)
                         | np.int64(data[pos + np.uint64(4)]))
                pos += np.uint64(5)
            else:
                return TOO_LONG
            # the sign sits in the lowest bit: d = c >> 1, or -(c >> 1) - 1 = ~(c >> 1)
            value += (coded >> 1) ^ -(coded & 1)
            flat[k] = np.uint16(value & 0xFFFF)
            k += one
    return np.int64(pos)


@kernel
def end_of_differential_samples(data, start, n_values):
    """The offset just past ``n_values`` differences starting at ``start``, without decoding them.

    Finds where the channels left undecoded end, so that a block can be
    checked to hold exactly its samples; reads one byte per difference.

    Parameters
    ----------
    data : ndarray of uint8
        The bytes of the block.
    start : int
        Offset of the first difference in ``data``.
    n_values : int
        Number of differences to step over.

    Returns
    -------
    int
        The offset just past the last difference, or :data:`TRUNCATED` or
        :data:`TOO_LONG` as :func:`decode_differential_samples` returns them.
    """
    end = data.shape[0]
    pos = start
    for _ in range(n_values):
        if pos >= end:
            return TRUNCATED
        first = data[pos]
        if first < 0x80:
            pos += 1
        elif first < 0xC0:
            pos += 2
        elif first < 0xE0:
            pos += 3
        elif first < 0xF0:
            pos += 4
        elif first < 0xF8:
            pos += 5
        else:
            return TOO_LONG
    return pos if pos <= end else TRUNCATED


@kernel
def _signed_varint(data, pos, end):
    """The signed variable-length integer at ``pos``: (value, bytes taken), bytes 0 if ``data`` ends first.

    Bytes taken are -1 for a form longer than five bytes. For the pixel ids
    of photo-electron blocks; :func:`decode_differential_samples` keeps its
    own unrolled form of this step on unsigned positions, because calling
    this from its inner loop made it 1.6x slower (this loop form) or 3.5x
    (an unrolled one returning a tuple), ns per sample in a micro-benchmark.
    """
    if pos >= end:
        return 0, 0
    first = np.int64(data[pos])
    length = 1
    while length <= 5 and first & (0x80 >> (length - 1)):
        length += 1
    if length > 5:
        return 0, -1
    if pos + length > end:
        return 0, 0
    coded = first & (0xFF >> length)
    for k in range(1, length):
        coded = (coded << 8) | np.int64(data[pos + k])
    return (coded >> 1) ^ -(coded & 1), length


@kernel
def _int_le(data, pos, n_bytes):
    """The signed little-endian integer of ``n_bytes`` bytes at ``pos`` (the caller checks the bounds)."""
    value = np.int64(0)
    for k in range(n_bytes):
        value |= np.int64(data[pos + k]) << (8 * k)
    sign = np.int64(1) << (8 * n_bytes - 1)
    return (value ^ sign) - sign


@kernel
def photoelectron_counts(data, start, n_nonempty, varint_ids, has_amplitudes, has_photons, out):
    """Photo-electrons per pixel of a PhotoElectrons block (type 1208), stepping over their times.

    Each non-empty pixel is stored as its id (int16, a signed
    variable-length integer from version 3), the number ``n`` of its
    photo-electrons (int32), their ``n`` arrival times (float32) and, with
    ``has_amplitudes``, their ``n`` amplitudes (float32); with
    ``has_photons`` a list of photon counts follows (int32 length, then
    int16 pixel id and int32 count each), stepped over too. Little-endian.

    Parameters
    ----------
    data : ndarray of uint8
        The bytes of the block.
    start : int
        Offset of the first pixel entry.
    n_nonempty : int
        Number of pixel entries.
    varint_ids, has_amplitudes, has_photons : bool
        The block's layout (version 3, flags 1 and 4).
    out : ndarray of int32, shape (n_pixels,)
        Set to the count of each pixel listed; the others are left as they are.

    Returns
    -------
    int
        The offset just past the block's content, or :data:`TRUNCATED`,
        :data:`TOO_LONG` (a pixel id) or :data:`BAD_CONTENT`.
    """
    end = data.shape[0]
    pos = start
    per_photoelectron = 8 if has_amplitudes else 4
    for _ in range(n_nonempty):
        if varint_ids:
            pixel, length = _signed_varint(data, pos, end)
            if length <= 0:
                return TRUNCATED if length == 0 else TOO_LONG
            pos += length
        else:
            if pos + 2 > end:
                return TRUNCATED
            pixel = _int_le(data, pos, 2)
            pos += 2
        if pos + 4 > end:
            return TRUNCATED
        n = _int_le(data, pos, 4)
        pos += 4
        if pixel < 0 or pixel >= out.shape[0] or n < 0:
            return BAD_CONTENT
        out[pixel] = n
        pos += n * per_photoelectron
        if pos > end:
            return TRUNCATED
    if has_photons:
        if pos + 4 > end:
            return TRUNCATED
        n_listed = _int_le(data, pos, 4)
        if n_listed < 0:
            return BAD_CONTENT
        pos += 4 + 6 * n_listed
        if pos > end:
            return TRUNCATED
    return pos
