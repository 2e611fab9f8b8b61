"""The stereo step of ``iactx process --reconstruct``: ctapipe's ``ShowerProcessor``.

:class:`ShowerProcessor` names the geometry reconstructors to run
(``reconstructor_types``); :func:`reconstruct_chain` runs them one after
the other on a batch, each with its own stereo quality query, configured as
in ctapipe: a top-level ``StereoQualityQuery`` section applies to every
reconstructor, one nested in a reconstructor's section
(``ShowerProcessor: {HillasIntersection: {StereoQualityQuery: {...}}}``)
to that one only.
"""

from __future__ import annotations

import param

from ..config.registry import section_config
from .hillas_intersection import HillasIntersection
from .hillas_reconstructor import HillasReconstructor
from .stereo import StereoQualityQuery

__all__ = ["METHODS", "ShowerProcessor", "reconstruct_chain"]

#: stereo geometry reconstructors by name (the prefix of their outputs)
METHODS = {"HillasReconstructor": HillasReconstructor, "HillasIntersection": HillasIntersection}


class ShowerProcessor(param.Parameterized):
    """Which stereo reconstructors run, in order."""

    reconstructor_types = param.ListSelector(default=["HillasReconstructor"], objects=list(METHODS), doc=(
        "Geometry reconstructors (ctapipe class names); each writes its own <name>_* outputs."))


def reconstruct_chain(tree, config=None):
    """Run the configured reconstructors on a batch of events.

    Parameters
    ----------
    tree : xarray.DataTree
        A batch of events with DL1 parameters.
    config : dict, optional
        Normalised configuration (``ComponentRegistry.normalize``): the
        sections ``ShowerProcessor``, the reconstructors' and
        ``StereoQualityQuery`` (top-level or nested); other sections are ignored.

    Returns
    -------
    xarray.DataTree
        With the ``<name>_*`` outputs of every reconstructor.
    """
    config = config or {}
    processor = ShowerProcessor(**config.get("ShowerProcessor", {}))
    for name in processor.reconstructor_types:
        query = StereoQualityQuery(**section_config(config, "ShowerProcessor", name, "StereoQualityQuery"))
        tree = METHODS[name](quality_query=query, **section_config(config, "ShowerProcessor", name))(tree)
    return tree
