"""Pick the right reader for a file by its content.

Built-in sources: sim_telarray files, iactx event-tree files, ctapipe
DL1/DL2 HDF5 files and the toy simulation (addresses ``"toy"``,
``"toy:gamma"``, ``"toy:muon"`` instead of a file). Other packages add
readers through the entry-point group ``iactx.sources``; an entry point
names an object with ``is_compatible(path) -> bool`` and
``read(path, **options) -> DataTree``.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from .ctapipe_reader import is_ctapipe_file, read_ctapipe_dl1
from .dl1 import is_dl1_file, open_dl1
from .errors import check_input_file, first_bytes
from .simtel import SimtelSource, read_simtel

__all__ = ["open_events", "available_sources", "Source"]


class Source:
    """A named reader: a content test and a read function; ``needs_file`` False for generators."""

    def __init__(self, name, is_compatible, read, needs_file=True):
        self.name, self.is_compatible, self.read, self.needs_file = name, is_compatible, read, needs_file

    def __repr__(self):
        return f"Source({self.name!r})"


def _builtin_sources():
    from .toy import ToySource

    return [
        Source("dl1", is_dl1_file, lambda path, **kw: open_dl1(path, **kw)),
        Source("ctapipe", is_ctapipe_file, read_ctapipe_dl1),
        Source("simtel", SimtelSource.is_compatible, read_simtel),
        Source("toy", ToySource.is_compatible, ToySource.read, needs_file=False),
    ]


def available_sources():
    """All readers, built-in first, then those registered under ``iactx.sources``."""
    sources = _builtin_sources()
    builtin = {s.name for s in sources}
    for ep in entry_points(group="iactx.sources"):
        if ep.name in builtin:
            continue
        obj = ep.load()
        sources.append(Source(ep.name, obj.is_compatible, obj.read))
    return sources


def open_events(path, **options):
    """Read a file with the first reader that recognises its content.

    Parameters
    ----------
    path : str or Path
        Any supported file; the extension does not matter. Or a toy
        address, ``"toy:gamma"`` or ``"toy:muon"``.
    **options
        Passed to the reader (e.g. ``max_events`` for sim_telarray files,
        ``n_events`` and ``seed`` for toys).

    Raises
    ------
    ValueError
        No reader recognises the file; the message names it and its first bytes.
    """
    for source in available_sources():
        if not source.needs_file and source.is_compatible(path):
            return source.read(path, **options)
    path = check_input_file(path)
    for source in available_sources():
        if source.is_compatible(path):
            return source.read(path, **options)
    names = ", ".join(s.name for s in available_sources())
    raise ValueError(f"no reader recognises {path} (tried {names}); it starts with {first_bytes(path)}")
