"""What a tool run did, for the output's attributes and a JSON log."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
import sys
import threading
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

__all__ = ["Provenance", "file_record"]

#: packages whose versions are recorded
_PACKAGES = ("iactx", "numpy", "numba", "xarray", "astropy", "scipy", "param", "netCDF4", "h5py", "eventio", "dask",
             "distributed")


def _sha256(path, block=2**20):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(block), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_record(path):
    """Name, size [bytes] and sha256 of a file."""
    path = Path(path)
    return {"path": str(path.resolve()), "size": path.stat().st_size, "sha256": _sha256(path)}


class _InBackground:
    """``function()`` run in a daemon thread (which does not delay the exit of a stopped tool)."""

    def __init__(self, function):
        self._function = function
        self._value = self._error = None
        self._thread = threading.Thread(target=self._run, name="iactx input sha256", daemon=True)
        self._thread.start()

    def _run(self):
        try:
            self._value = self._function()
        except Exception as err:  # noqa: BLE001 - raised by result(), in the caller's thread
            self._error = err

    def result(self):
        """The function's value (its exception raised here)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


def _versions():
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


class Provenance:
    """Record of one tool run.

    Parameters
    ----------
    tool : str
        Tool name, e.g. ``"iactx process"``.
    config : dict
        The resolved configuration.
    inputs : list of path
        Input files, recorded with size and sha256. The sums are computed
        in a thread while the tool works (hashlib releases the interpreter
        lock, so on a second core this costs the run no time);
        :meth:`finish` waits for them.
    output : path, optional
        Output file.
    """

    def __init__(self, tool, config, inputs=(), output=None):
        self.start = datetime.now(timezone.utc)
        self._input_records = _InBackground(lambda: [file_record(p) for p in inputs])
        self.record = {
            "tool": tool,
            "command_line": " ".join(sys.argv),
            "configuration": config,
            "inputs": [],
            "output": str(Path(output).resolve()) if output else None,
            "start": self.start.isoformat(),
            "versions": _versions(),
            "host": socket.gethostname(),
            "platform": platform.platform(),
            "user": os.environ.get("USER", ""),
        }

    def finish(self, **summary):
        """Close the record: stop time, duration [s] and a summary (e.g. event counts)."""
        self.record["inputs"] = self._input_records.result()
        stop = datetime.now(timezone.utc)
        self.record.update(stop=stop.isoformat(), duration=(stop - self.start).total_seconds(), **summary)
        return self.record

    def as_attrs(self):
        """The record as NetCDF attributes (one JSON string plus a few plain values)."""
        return {
            "provenance": json.dumps(self.record, default=str),
            "iactx_version": self.record["versions"].get("iactx", ""),
            "created_by": self.record["tool"],
        }

    def as_json(self):
        """The record as indented JSON text (the provenance log)."""
        return json.dumps(self.record, indent=2, default=str) + "\n"
