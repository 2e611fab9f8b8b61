"""Lists of input files from paths, glob patterns and directories."""

from __future__ import annotations

import glob
import os
from pathlib import Path

from .errors import check_input_file

__all__ = ["resolve_paths", "EVENT_TREE_SUFFIXES", "EVENT_FILE_SUFFIXES"]

#: files of event trees (``iactx process`` output)
EVENT_TREE_SUFFIXES = (".nc", ".h5")
#: files ``iactx process`` reads: sim_telarray (plain or compressed) and event trees
EVENT_FILE_SUFFIXES = (".simtel", ".simtel.gz", ".simtel.zst", ".gz", ".zst", *EVENT_TREE_SUFFIXES)
_GLOB_CHARS = set("*?[")


def resolve_paths(spec, *, suffixes=EVENT_TREE_SUFFIXES):
    """Files named by a path, a glob pattern, a directory, or a list of them.

    Parameters
    ----------
    spec : str, Path or sequence of them
        A directory stands for its files ending in one of ``suffixes``; a
        pattern (``DIR/*.dl1.nc``, ``**`` for subdirectories) for the files
        it matches. Order: as given, each pattern or directory sorted.
    suffixes : tuple of str
        Endings of the files a directory stands for.

    Returns
    -------
    list of Path

    Raises
    ------
    FileNotFoundError
        A path that does not exist, or a pattern or directory without files.
    """
    items = [spec] if isinstance(spec, (str, os.PathLike)) else list(spec)
    paths = []
    for item in items:
        text = os.fspath(item)
        path = Path(text).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.name.endswith(suffixes) and p.is_file())
            if not found:
                raise FileNotFoundError(f"no {', '.join(suffixes)} files in directory {path}")
            paths.extend(found)
        elif _GLOB_CHARS & set(text) and not path.exists():
            found = sorted(Path(p) for p in glob.glob(os.path.expanduser(text), recursive=True))
            if not found:
                raise FileNotFoundError(f"no files match {text}")
            paths.extend(found)
        else:
            paths.append(check_input_file(path))
    return paths
