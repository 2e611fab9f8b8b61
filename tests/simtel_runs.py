"""Sample files as other runs: the same events under another run number (obs_id).

A production is many runs of one simulation. Rewriting the run number in
the RunHeader (EventIO type 2000, whose payload starts with it as an int32)
of a sample file gives such a run with the same events, instrument and
shower distribution, in a few milliseconds.
"""

import struct

import zstandard

SYNC = b"\x37\x8a\x1f\xd4"
RUN_HEADER = 2000


def uncompressed(path):
    data = path.read_bytes()
    if data[:4] == b"\x28\xb5\x2f\xfd":
        return zstandard.ZstdDecompressor().stream_reader(data).read()
    return data


def as_run(source, target, run):
    """Write ``source`` (plain or zstd) to ``target`` (zstd) with run number ``run``; return ``target``."""
    data = bytearray(uncompressed(source))
    pos = 0
    while pos < len(data):
        if data[pos:pos + 4] != SYNC:
            raise ValueError(f"{source}: no sync marker at byte {pos}")
        type_word, _, length_word = struct.unpack_from("<IiI", data, pos + 4)
        header = 20 if length_word & 0x80000000 else 16
        if type_word & 0xFFFF == RUN_HEADER:
            struct.pack_into("<i", data, pos + header, run)
            target.write_bytes(zstandard.ZstdCompressor().compress(bytes(data)))
            return target
        pos += header + (length_word & 0x3FFFFFFF)
    raise ValueError(f"{source} has no run header")
