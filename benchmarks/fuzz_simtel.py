"""Mutation fuzzing of the sim_telarray reader.

Every case is a *recipe*: a sample file, byte edits (replace, insert or
delete bytes at an offset of the uncompressed stream), an optional cut and
a compression. Recipes come from a seeded mutation engine (byte and bit
flips, EventIO header words: length, type and id, ADC block shapes, other
telescope blocks, truncations, also at object boundaries) or from a stored
corpus (``tests/data/simtel_reproducers.json``). Each case is read with
:func:`iactx.read_simtel` (some with ``iactx info``'s batch loop or
``keep_r0``) and must end, within a time limit, with

- a result: event trees (warnings allowed), or
- a clean error: a ``ValueError`` (any subclass) whose message names the
  file;

anything else (another exception type, an error not naming the file, a
time-out) is counted as ``other`` and printed with its recipe. A crash
kills the process: the recipe of the case running is the last line of
``--progress`` output. The first ``--cases`` cases of a seed are always the
same.

Usage::

    python benchmarks/fuzz_simtel.py --cases 20000 --seed 1 [--data DIR]
    python benchmarks/fuzz_simtel.py --replay tests/data/simtel_reproducers.json

Prints the counts: cases, results, clean errors, other. Exit code 1 if any
case was ``other``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import signal
import struct
import sys
import tempfile
import time
import warnings
from pathlib import Path

import zstandard

#: sample files and how often the engine picks each (the small ones more)
SAMPLE_WEIGHTS = {
    "lst_with_photons.simtel.zst": 4,
    "gamma_with_obslevel_particles.simtel.zst": 4,
    "lst_muons_with_true_photons.simtel.zst": 3,
    "calib_events.simtel.gz": 1,
    "camsettings_v6.simtel.zst": 1,
}

#: EventIO type of ADCSamples blocks
ADC_SAMPLES_TYPE = 2013
#: telescope blocks worth targeting: camera settings/organisation, pixel settings, disabled pixels,
#: trigger, tracking, ADC sums, camera monitoring, laser calibration, true photo-electrons
TARGET_TYPES = (2002, 2003, 2004, 2005, 2009, 2012, 2013, 2014, 2022, 2023, 1205)
#: values a mutated count or length word takes besides random ones
INTERESTING = (0, 1, -1, 2, 3, 17, 127, 128, 255, 256, 1855, 1856, 32767, -32768, 65535, 2**30, 2**31 - 1, -2**31)


def uncompressed(path):
    """The uncompressed bytes of a sample file."""
    path = Path(path)
    if path.suffix == ".zst":
        with open(path, "rb") as f:
            return zstandard.ZstdDecompressor().stream_reader(f).read()
    if path.suffix == ".gz":
        return gzip.decompress(path.read_bytes())
    return path.read_bytes()


def object_index(data):
    """Every EventIO object of ``data``: dicts with ``start`` (header), ``header_size``, ``address`` (content),
    ``size``, ``type``, ``depth`` and ``top`` (whether at the top level)."""
    from eventio import EventIOFile

    objects = []

    def walk(obj, depth):
        objects.append({"start": obj.address - obj.header.header_size, "header_size": obj.header.header_size,
                        "address": obj.address, "size": obj.size, "type": obj.header.type, "depth": depth})
        if obj.header.only_subobjects and depth < 3:
            for sub in obj:
                walk(sub, depth + 1)

    with tempfile.NamedTemporaryFile(suffix=".simtel") as f:
        f.write(data)
        f.flush()
        for obj in EventIOFile(f.name):
            walk(obj, 0)
    return objects


def apply_recipe(data, recipe):
    """The bytes of a recipe: ``edits`` ([offset, hex bytes, n bytes replaced]) applied from the last offset to
    the first, then the ``cut`` (keep that many bytes)."""
    data = bytearray(data)
    for offset, new, n_replaced in sorted(recipe.get("edits", []), key=lambda e: e[0], reverse=True):
        data[offset:offset + n_replaced] = bytes.fromhex(new)
    if recipe.get("cut") is not None:
        del data[recipe["cut"]:]
    return bytes(data)


def write_case(data, recipe, folder):
    """Write the mutated file (compressed as the recipe says) into ``folder``; its path."""
    compression = recipe.get("compression", "")
    path = Path(folder) / f"case.simtel{compression}"
    if compression == ".zst":
        data = zstandard.ZstdCompressor(level=1).compress(data)
    elif compression == ".gz":
        data = gzip.compress(data, compresslevel=1)
    path.write_bytes(data)
    return path


class Mutator:
    """Seeded recipes over the sample files; ``samples`` maps names to (bytes, object index)."""

    def __init__(self, samples, seed):
        self.samples = samples
        self.rng = random.Random(seed)
        self.names = [n for n in SAMPLE_WEIGHTS if n in samples]
        self.weights = [SAMPLE_WEIGHTS[n] for n in self.names]

    def recipe(self):
        rng = self.rng
        name = rng.choices(self.names, self.weights)[0]
        data, objects = self.samples[name]
        recipe = {"file": name, "edits": [], "cut": None,
                  "compression": rng.choices(["", ".zst", ".gz"], [8, 2, 1])[0],
                  "mode": rng.choices(["read", "batches", "keep_r0"], [5, 3, 2])[0]}
        kinds = rng.choices(["byte", "bit", "header", "adc", "block", "truncate"], [2, 2, 3, 3, 3, 1],
                            k=rng.choice([1, 1, 1, 2, 3]))
        for kind in kinds:
            getattr(self, "_" + kind)(recipe, data, objects)
        recipe["kinds"] = kinds
        return recipe

    def _edit(self, recipe, offset, new, n_replaced=None):
        recipe["edits"].append([offset, new.hex(), len(new) if n_replaced is None else n_replaced])

    def _value(self, fmt):
        rng = self.rng
        bits = 8 * struct.calcsize(fmt)
        value = rng.choice(INTERESTING) if rng.random() < 0.6 else rng.getrandbits(bits)
        value &= (1 << bits) - 1
        return struct.pack("<" + fmt.upper(), value)

    def _byte(self, recipe, data, objects):
        for _ in range(self.rng.randint(1, 8)):
            self._edit(recipe, self.rng.randrange(len(data)), bytes([self.rng.getrandbits(8)]))

    def _bit(self, recipe, data, objects):
        offset = self.rng.randrange(len(data))
        self._edit(recipe, offset, bytes([data[offset] ^ (1 << self.rng.randrange(8))]))

    def _header(self, recipe, data, objects):
        """One word of an object header: type/version, id or length (with its flag bits)."""
        obj = self.rng.choice(objects)
        first_word = obj["start"] + (4 if obj["depth"] == 0 else 0)  # after the sync marker
        word = self.rng.randrange(3)
        offset = first_word + 4 * word
        old, = struct.unpack_from("<I", data, offset)
        if word == 2 and self.rng.random() < 0.7:  # length: near the true one, keeping the flag bits
            new = (old & ~0x3FFFFFFF) | max(0, (old & 0x3FFFFFFF) + self.rng.choice([-8, -4, -2, -1, 1, 2, 4, 8,
                                                                                       1000, -1000, 2**20]))
        elif word == 0 and self.rng.random() < 0.5:  # type: another known type, same version
            new = (old & ~0xFFFF) | self.rng.choice(TARGET_TYPES + (2000, 2001, 2010, 2011, 1200, 1204, 100))
        else:
            new, = struct.unpack("<I", self._value("i"))
        self._edit(recipe, offset, struct.pack("<I", new & 0xFFFFFFFF))

    def _adc(self, recipe, data, objects):
        """The shape words of an ADCSamples block: n_pixels (int32), n_gains, n_samples (int16)."""
        blocks = [o for o in objects if o["type"] == ADC_SAMPLES_TYPE]
        if not blocks:
            return self._byte(recipe, data, objects)
        block = self.rng.choice(blocks)
        field = self.rng.randrange(3)
        offset, fmt = [(0, "i"), (4, "h"), (6, "h")][field]
        old = struct.unpack_from("<" + fmt, data, block["address"] + offset)[0]
        if self.rng.random() < 0.5:
            new = struct.pack("<" + fmt, max(-(2**15), min(2**15 - 1, old + self.rng.choice([-1, 1, 2, 10, -10])))
                              if fmt == "h" else old + self.rng.choice([-1, 1, 2, old, 10 * old, -old]))
        else:
            new = self._value(fmt)
        self._edit(recipe, block["address"] + offset, new)

    def _block(self, recipe, data, objects):
        """Bytes or count words near the start of a telescope block."""
        blocks = [o for o in objects if o["type"] in TARGET_TYPES and o["size"] >= 4]
        block = self.rng.choice(blocks)
        offset = block["address"] + 4 * self.rng.randrange(min(16, block["size"] // 4))
        if self.rng.random() < 0.5:
            self._edit(recipe, offset, self._value(self.rng.choice("ih")))
        else:
            self._edit(recipe, offset + self.rng.randrange(4), bytes([self.rng.getrandbits(8)]))

    def _truncate(self, recipe, data, objects):
        """Cut the file anywhere, or exactly where a top-level object starts (between events)."""
        if self.rng.random() < 0.5:
            recipe["cut"] = self.rng.choice([o["start"] for o in objects if o["depth"] == 0])
        else:
            recipe["cut"] = self.rng.randrange(len(data))


class CaseTimeout(Exception):
    """A case ran past its time limit."""


def _alarm(signum, frame):
    raise CaseTimeout


def run_case(path, mode):
    """Read a file as ``mode`` says; ('result', size) or ('error', message) for a ValueError.

    Modes: ``read`` (:func:`iactx.read_simtel`), ``keep_r0`` (with the raw
    samples and calibration events), ``batches`` (the summary of ``iactx
    info``, batch by batch).
    """
    import iactx
    from iactx.io.simtel import SimtelSource
    from iactx.io.summary import summarize
    from iactx.tools.cli import _simtel_summary

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if mode == "batches":  # the batch loop of ``iactx info``
                return "result", _simtel_summary(path, SimtelSource, summarize).count("\n")
            tree = iactx.read_simtel(path, keep_r0=mode == "keep_r0", calibration_events=mode == "keep_r0")
            return "result", tree.sizes["event"]
    except ValueError as err:
        return "error", str(err)


def classify(path, recipe, time_limit):
    """'result', 'clean error' or 'other', and a detail."""
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, time_limit)
    try:
        outcome, detail = run_case(path, recipe.get("mode", "read"))
    except CaseTimeout:
        return "other", f"no end within {time_limit} s"
    except BaseException as err:  # noqa: BLE001 - every other outcome is a finding
        if isinstance(err, KeyboardInterrupt):
            raise
        return "other", f"{type(err).__name__}: {err}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    if outcome == "result":
        return "result", f"{detail} events"
    if str(path) not in detail:
        return "other", f"error without the file name: {detail}"
    return "clean error", detail


def load_samples(folder, names):
    samples = {}
    for name in names:
        data = uncompressed(Path(folder) / name)
        samples[name] = (data, object_index(data))
    return samples


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1000, help="mutated inputs to try")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", default=os.environ.get("IACTX_DATA_PATH"), help="folder of the sample files")
    parser.add_argument("--replay", metavar="JSON", help="run the recipes of this corpus instead of mutations")
    parser.add_argument("--time-limit", type=float, default=30.0, help="seconds per case")
    parser.add_argument("--progress", action="store_true", help="print every recipe before running it")
    parser.add_argument("--save-other", metavar="JSON", help="write the recipes of 'other' cases here")
    args = parser.parse_args(argv)
    if not args.data:
        parser.error("no sample folder: pass --data or set IACTX_DATA_PATH")
    if args.replay:
        recipes = json.loads(Path(args.replay).read_text())
        samples = {name: (uncompressed(Path(args.data) / name), None) for name in {r["file"] for r in recipes}}
        cases = iter(recipes)
    else:
        samples = load_samples(args.data, SAMPLE_WEIGHTS)
        mutator = Mutator(samples, args.seed)
        cases = (mutator.recipe() for _ in range(args.cases))
    counts = {"result": 0, "clean error": 0, "other": 0}
    others = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        for i, recipe in enumerate(cases):
            if args.progress:
                print(f"case {i}: {json.dumps(recipe)}", flush=True)
            path = write_case(apply_recipe(samples[recipe["file"]][0], recipe), recipe, folder)
            kind, detail = classify(path, recipe, args.time_limit)
            expected = recipe.get("expect")
            if expected and expected != kind:
                kind, detail = "other", f"expected {expected}, got {kind}: {detail}"
            leftovers = [p.name for p in Path(folder).iterdir() if p.name != path.name]
            if leftovers:
                kind, detail = "other", f"files left behind: {leftovers}"
            counts[kind] += 1
            if kind == "other":
                others.append(recipe)
                print(f"OTHER case {i}: {detail}\n  recipe: {json.dumps(recipe)}", flush=True)
            path.unlink()
    elapsed = time.perf_counter() - start
    n = sum(counts.values())
    print(f"cases tried: {n}, results: {counts['result']}, clean errors: {counts['clean error']}, "
          f"other: {counts['other']} ({elapsed:.0f} s, {1e3 * elapsed / max(n, 1):.0f} ms per case)")
    if args.save_other and others:
        Path(args.save_other).write_text(json.dumps(others, indent=1))
    return 1 if counts["other"] else 0


if __name__ == "__main__":
    sys.exit(main())
