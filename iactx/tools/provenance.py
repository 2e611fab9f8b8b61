"""What a tool run did, for the output's attributes and a JSON log."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
import sys
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
        Input files (recorded with size and sha256).
    output : path, optional
        Output file.
    """

    def __init__(self, tool, config, inputs=(), output=None):
        self.start = datetime.now(timezone.utc)
        self.record = {
            "tool": tool,
            "command_line": " ".join(sys.argv),
            "configuration": config,
            "inputs": [file_record(p) for p in inputs],
            "output": str(Path(output).resolve()) if output else None,
            "start": self.start.isoformat(),
            "versions": _versions(),
            "host": socket.gethostname(),
            "platform": platform.platform(),
            "user": os.environ.get("USER", ""),
        }

    def finish(self, **summary):
        """Close the record: stop time, duration [s] and a summary (e.g. event counts)."""
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

    def write_log(self, path):
        """Write the record as JSON."""
        Path(path).write_text(json.dumps(self.record, indent=2, default=str) + "\n")
