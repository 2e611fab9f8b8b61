"""Copies of a sim_telarray file as other runs: a small simulated production from one file.

A production is many runs of one simulation, each with its own run number
(``obs_id``). :func:`write_run` writes such a run from an existing file: the
run header gets the new run number and the file's showers are repeated
``repeats`` times, each repetition with new shower and event numbers
(sim_telarray's ``event_id = 100 * shower + reuse`` is kept). Tutorials,
tests and benchmarks use it to make productions of any size from the
sample files. The closing histograms are copied as they are.

EventIO framing: every top-level object starts with the sync marker, a
type/version word, an identifier and a length word (bit 31: a further
length word follows; bits 0-29: the length).
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

__all__ = ["write_run"]

_SYNC = b"\x37\x8a\x1f\xd4"
_RUN_HEADER, _MC_SHOWER, _MC_EVENT, _ARRAY_EVENT, _CENTRAL_EVENT, _HISTOGRAMS = 2000, 2020, 2021, 2010, 2009, 100
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def _uncompressed(path):
    data = Path(path).read_bytes()
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if data[:4] == _ZSTD_MAGIC:
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(data).read()
    return data


def _objects(data, path):
    """(type, start, payload start, end) of every top-level object; its identifier is at ``start + 8``."""
    objects, pos = [], 0
    while pos < len(data):
        if data[pos:pos + 4] != _SYNC:
            raise ValueError(f"{path}: no EventIO sync marker at byte {pos}")
        type_word, _, length_word = struct.unpack_from("<IiI", data, pos + 4)
        header = 20 if length_word & 0x8000_0000 else 16
        length = length_word & 0x3FFF_FFFF
        if header == 20:
            length |= (struct.unpack_from("<I", data, pos + 16)[0] & 0xFFF) << 30
        objects.append((type_word & 0xFFFF, pos, pos + header, pos + header + length))
        pos += header + length
    return objects


def _add_to_id(record, offset, step):
    (old,) = struct.unpack_from("<i", record, offset)
    struct.pack_into("<i", record, offset, old + step)


def write_run(source, target, run, *, repeats=1):
    """Write ``source`` as run number ``run``, its showers repeated ``repeats`` times.

    Parameters
    ----------
    source : str or Path
        sim_telarray file (plain, gzip or zstd).
    target : str or Path
        File to write; zstd-compressed if it ends in ``.zst``.
    run : int
        Run number (``obs_id``) of the copy.
    repeats : int
        Times the showers (with their events) follow each other.

    Returns
    -------
    Path
        ``target``.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    data = bytearray(_uncompressed(source))
    objects = _objects(data, source)
    kinds = [kind for kind, *_ in objects]
    if _RUN_HEADER not in kinds or _MC_SHOWER not in kinds:
        raise ValueError(f"{source} has no run header or no simulated showers")
    struct.pack_into("<i", data, objects[kinds.index(_RUN_HEADER)][2], run)  # the payload starts with it
    first = kinds.index(_MC_SHOWER)
    last = max(i for i, kind in enumerate(kinds) if kind != _HISTOGRAMS) + 1
    shower_step = max(struct.unpack_from("<i", data, start + 8)[0] for kind, start, _, _ in objects
                      if kind == _MC_SHOWER) + 1
    parts = [bytes(data[:objects[first][1]])]
    for k in range(repeats):
        for kind, start, payload, end in objects[first:last]:
            record = bytearray(data[start:end])
            if k and kind in (_MC_SHOWER, _MC_EVENT, _ARRAY_EVENT):
                step = k * (shower_step if kind == _MC_SHOWER else 100 * shower_step)
                _add_to_id(record, 8, step)
                # an array event's first object, the central trigger, carries the event id too
                first_type = struct.unpack_from("<I", record, payload - start)[0] & 0xFFFF
                if kind == _ARRAY_EVENT and first_type == _CENTRAL_EVENT:
                    _add_to_id(record, payload - start + 4, step)
            parts.append(bytes(record))
    parts.append(bytes(data[objects[last - 1][3]:]))
    blob = b"".join(parts)
    target = Path(target)
    if target.name.endswith(".zst"):
        import zstandard

        blob = zstandard.ZstdCompressor(level=3).compress(blob)
    target.write_bytes(blob)
    return target

