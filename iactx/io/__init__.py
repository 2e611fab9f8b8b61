"""Reading and writing event trees."""

from .dl1 import EventTreeWriter, open_dl1, write_dl1
from .registry import available_sources, open_events
from .simtel import SimtelSource, TruncatedFileWarning, iter_simtel, read_simtel
from .simtel_instrument import FocalLengthFallbackWarning
from .tables import telescope_events
from .toy import toy_events

__all__ = [
    "EventTreeWriter",
    "FocalLengthFallbackWarning",
    "SimtelSource",
    "TruncatedFileWarning",
    "available_sources",
    "iter_simtel",
    "open_dl1",
    "open_events",
    "read_simtel",
    "telescope_events",
    "toy_events",
    "write_dl1",
]
