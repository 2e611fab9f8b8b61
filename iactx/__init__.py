"""iactx: Cherenkov-telescope events as labelled xarray data.

The event tree (``xarray.DataTree``) holds array-level data at the root,
the instrument at ``/instrument`` and one group per camera type with the
telescope events stacked along ``tel_event``.
"""

from importlib.metadata import PackageNotFoundError, version

from . import accessor  # noqa: F401  (registers the .iact accessors)
from . import histograms
from .histograms import binned_statistic, histogram
from .io import iter_simtel, open_dl1, open_events, read_simtel, telescope_events, write_dl1
from .tools.merge import merge_files

try:
    __version__ = version("iactx")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

__all__ = ["__version__", "binned_statistic", "histogram", "histograms", "iter_simtel", "merge_files", "open_dl1",
           "open_events", "process_files", "read_simtel", "telescope_events", "write_dl1"]


def __getattr__(name):
    # process_files brings in dask.distributed, which takes a second to import: only when asked for
    if name == "process_files":
        from .tools.production import process_files

        return process_files
    raise AttributeError(f"module 'iactx' has no attribute {name!r}")
