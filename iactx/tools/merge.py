"""``iactx merge``: the DL1 files of many runs concatenated into one.

The inputs are checked before anything is written -- same layout and
instrument, no (obs_id, event_id) in two files -- from their keys and
layout fingerprints alone. Then each input is read (with h5py, one file at
a time, so memory stays bounded by the largest input) and appended to the
output, which appears only once complete. The provenance of every input
goes into the output's.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

from ..io.dl1 import EventTreeWriter
from ..io.paths import resolve_paths
from .interrupts import raise_if_signalled, signals_deferred
from .provenance import Provenance

__all__ = ["merge_files"]


def merge_files(inputs, output, *, overwrite=False, progress=False):
    """Concatenate event-tree files into one, checking them first.

    Parameters
    ----------
    inputs : str, Path or list of them
        DL1 files of ``iactx process``: paths, glob patterns or directories.
    output : str or Path
        The merged file (written atomically).
    overwrite : bool
        Replace an existing output.
    progress : bool
        Progress bar over the inputs on stderr.

    Returns
    -------
    Path
        The merged file; ``open_dl1(output)`` equals ``open_dl1(inputs)``.

    Raises
    ------
    FileNotFoundError, FileExistsError, ValueError
        Missing or foreign inputs, an output that is one of them, inputs
        that differ in layout or instrument or share keys (the message
        names the files); nothing is written.
    """
    from tqdm import tqdm

    from ..io.dl1_collection import file_trees

    paths = resolve_paths(inputs)
    output = Path(output).expanduser()
    for path in paths:
        if output.exists() and output.resolve() == path.resolve():
            raise ValueError(f"the output {output} is one of the inputs")
    trees = file_trees(paths)
    first = next(trees)  # every input checked before the output is created
    provenance = Provenance("iactx merge", {}, output=output)
    inputs = []
    with EventTreeWriter(output, overwrite=overwrite) as writer, \
            tqdm(total=len(paths), unit="file", disable=not progress, file=sys.stderr, desc="iactx merge") as bar:
        for scan, tree in itertools.chain([first], trees):
            raise_if_signalled()
            # Ctrl-C waits for the end of this input's write: raised inside xarray's file lock it would leave
            # the lock taken, and the removal of the partial output would wait for it forever
            with signals_deferred():
                writer.append(tree)
            inputs.append({"path": str(scan.path), "provenance": _parsed(scan.root_attrs.get("provenance"))})
            bar.update(1)
        raise_if_signalled()
        provenance.finish(n_events=writer.n_events, inputs=inputs)
        writer.update_attrs(**provenance.as_attrs())
    return writer.path


def _parsed(text):
    """An input's provenance record (its JSON attribute), or None."""
    try:
        return json.loads(text) if text else None
    except (TypeError, ValueError):
        return None
