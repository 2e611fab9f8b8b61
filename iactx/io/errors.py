"""Checks on input paths that every reader shares."""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["HDF5_SIGNATURE", "check_input_file", "first_bytes"]

#: the first bytes of an HDF5 file (NetCDF-4, ctapipe's files)
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


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
        The file is empty, or it is an HDF5 file (NetCDF-4, ctapipe) that
        is truncated or so corrupt that the HDF5 library cannot open it.
    """
    path = Path(os.fspath(path)).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"input file not found: {path}")
    if path.is_dir():
        raise IsADirectoryError(f"input is a directory, not a file: {path}")
    if path.stat().st_size == 0:
        raise ValueError(f"input file is empty: {path}")
    _check_hdf5_opens(path)
    return path


def _check_hdf5_opens(path):
    """Raise ``ValueError`` naming ``path`` if it starts as HDF5 but cannot be opened; other files pass."""
    with open(path, "rb") as f:
        if f.read(len(HDF5_SIGNATURE)) != HDF5_SIGNATURE:
            return
    import h5py

    try:
        h5py.File(path, "r").close()
    except OSError as err:
        sizes = re.search(r"truncated file: eof = (\d+).*stored_eof = (\d+)", str(err))
        if sizes:
            have, want = map(int, sizes.groups())
            raise ValueError(f"{path} is a truncated HDF5 file: it has {have} of its {want} bytes "
                             "(an interrupted copy or write?)") from None
        raise ValueError(f"{path} is a corrupt HDF5 file: the HDF5 library cannot open it ({err})") from None
