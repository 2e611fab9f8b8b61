"""The threads of the reading pipeline: read-ahead decompression, batch prefetching, background hashing."""

import gzip
import hashlib
import threading
import time

import numpy as np
import pytest
import zstandard

from conftest import data_file
from iactx._prefetch import prefetched
from iactx.io.read_ahead import ReadAheadStream
from iactx.tools.provenance import Provenance
from iactx.tools.stage_clock import StageClock

PAYLOAD = np.random.default_rng(5).integers(0, 7, 3 * 2**20 + 12345, dtype=np.uint8).tobytes()


@pytest.fixture(params=["plain", "gzip", "zstd", "zstd_frames"])
def compressed(request, tmp_path):
    """PAYLOAD written plain, gzip- and zstd-compressed (one frame, or two frames one after the other)."""
    path = tmp_path / f"payload.{request.param}"
    if request.param == "plain":
        path.write_bytes(PAYLOAD)
    elif request.param == "gzip":
        path.write_bytes(gzip.compress(PAYLOAD))
    elif request.param == "zstd":
        path.write_bytes(zstandard.ZstdCompressor().compress(PAYLOAD))
    else:
        half = len(PAYLOAD) // 2
        compressor = zstandard.ZstdCompressor()
        path.write_bytes(compressor.compress(PAYLOAD[:half]) + compressor.compress(PAYLOAD[half:]))
    return path


def _read_all(stream, sizes):
    parts, k = [], 0
    while True:
        size = sizes[k % len(sizes)]
        k += 1
        if k % 3 == 0:
            start = stream.tell()
            skipped = stream.skip(size)
            parts.append(PAYLOAD[start:start + skipped])  # what was passed over, for the comparison
            if skipped < size:
                break
            continue
        part = stream.read(size)
        parts.append(part)
        if len(part) < size:
            break
    return b"".join(parts)


def test_read_ahead_delivers_every_byte_in_order(compressed):
    stream = ReadAheadStream(compressed, chunk_bytes=100_000, ahead=2)
    try:
        assert _read_all(stream, [1, 7, 12, 65_536, 250_001, 4]) == PAYLOAD
        assert stream.tell() == len(PAYLOAD)
        assert stream.read(10) == b"" and stream.skip(10) == 0
    finally:
        stream.close()


def test_read_ahead_reports_a_corrupt_stream_after_the_good_bytes(tmp_path):
    frame = zstandard.ZstdCompressor(level=1).compress(PAYLOAD)
    path = tmp_path / "corrupt.zst"
    path.write_bytes(frame + b"not a zstd frame, but more bytes")  # what follows the first frame is no frame
    stream = ReadAheadStream(path, chunk_bytes=65_536)
    good = b""
    with pytest.raises(zstandard.ZstdError):
        while part := stream.read(65_536):
            good += part
    stream.close()
    # every byte before the fault arrives first (all but the last read of the decompressor, at most)
    assert good == PAYLOAD[:len(good)] and len(good) >= len(PAYLOAD) - 2**20


def test_read_ahead_close_stops_its_thread(compressed):
    before = threading.active_count()
    stream = ReadAheadStream(compressed, chunk_bytes=10_000, ahead=1)
    stream.read(5)  # the thread now waits for room in its queue
    stream.close()
    assert threading.active_count() == before


def test_prefetched_yields_in_order_and_raises_where_the_error_came():
    def items():
        yield from range(5)
        raise KeyError("sixth")

    seen = []
    with pytest.raises(KeyError, match="sixth"):
        for item in prefetched(items()):
            seen.append(item)
    assert seen == list(range(5))


def test_prefetched_makes_at_most_ahead_items_beyond_the_callers():
    made, taken, most_ahead = [0], [0], [0]

    def items():
        for i in range(20):
            made[0] += 1
            most_ahead[0] = max(most_ahead[0], made[0] - taken[0])
            yield i

    for _ in prefetched(items(), ahead=2):
        taken[0] += 1
        time.sleep(0.002)  # let the thread run ahead as far as it may
    assert most_ahead[0] <= 3  # the caller's item and two more


def test_prefetched_closes_the_iteration_in_its_thread_when_the_caller_stops():
    closed_in = []

    def items():
        try:
            yield from range(100)
        finally:
            closed_in.append(threading.current_thread().name)

    for item in prefetched(items(), name="prefetch under test"):
        if item == 3:
            break
    assert closed_in == ["prefetch under test"]


def test_provenance_hashes_the_inputs_in_the_background(tmp_path):
    path = tmp_path / "input.bin"
    path.write_bytes(PAYLOAD)
    provenance = Provenance("iactx test", {}, inputs=[path])
    record = provenance.finish(n_events=0)
    assert record["inputs"] == [{"path": str(path.resolve()), "size": len(PAYLOAD),
                                 "sha256": hashlib.sha256(PAYLOAD).hexdigest()}]


def test_provenance_of_a_vanished_input_fails_at_finish(tmp_path):
    provenance = Provenance("iactx test", {}, inputs=[tmp_path / "gone.simtel.zst"])
    with pytest.raises(FileNotFoundError):
        provenance.finish()


def test_stage_clock_counts_wall_and_thread_cpu_time():
    clock = StageClock()
    with clock("sleeping"):
        time.sleep(0.05)
    assert list(clock.timed_iteration(iter([1, 2]), "iterating")) == [1, 2]
    assert clock.wall["sleeping"] >= 0.05 and clock.cpu["sleeping"] < 0.04
    summary = clock.summary()
    assert summary.startswith("sleeping 0.05 s (CPU 0.0") and "iterating" in summary


def test_simtel_events_read_through_the_threads_equal_a_plain_read(tmp_path):
    """The stream over a zstd sample gives the same events as the same bytes uncompressed."""
    import iactx
    import xarray as xr

    path = data_file("camsettings_v6.simtel.zst")
    plain = tmp_path / "camsettings_v6.simtel"
    plain.write_bytes(zstandard.ZstdDecompressor().stream_reader(path.read_bytes()).read())
    a, b = iactx.read_simtel(path), iactx.read_simtel(plain)
    for name in a.iact.cameras:
        xr.testing.assert_equal(a[name].to_dataset(), b[name].to_dataset())
