"""Checks on input paths that every reader shares."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["check_input_file", "first_bytes"]


def first_bytes(path, n=16):
    """The first ``n`` bytes of a file as a hex string with a text preview."""
    with open(path, "rb") as f:
        head = f.read(n)
    text = "".join(chr(b) if 32 <= b < 127 else "." for b in head)
    return f"{head.hex(' ')} ({text!r})"


def check_input_file(path):
    """Return ``path`` as a :class:`Path` after checking that it can be read.

    Raises
    ------
    FileNotFoundError
        The path does not exist.
    IsADirectoryError
        It is a directory.
    ValueError
        The file is empty.
    """
    path = Path(os.fspath(path)).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"input file not found: {path}")
    if path.is_dir():
        raise IsADirectoryError(f"input is a directory, not a file: {path}")
    if path.stat().st_size == 0:
        raise ValueError(f"input file is empty: {path}")
    return path
