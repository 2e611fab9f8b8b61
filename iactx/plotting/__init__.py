"""Plots of events with HoloViews: camera images, waveforms, the array, an event browser.

Nothing here imports HoloViews until a plot is made, so ``import iactx``
stays light. Bokeh gives interactive output, matplotlib static PNG/SVG
(``hv.save(plot, "x.png", backend="matplotlib")``); the backend is chosen
as usual with ``hv.extension(...)`` or ``hv.render(..., backend=...)``.

- :func:`camera` — one camera image, pixels with their true shapes, with
  optional cleaning-mask outline, Hillas ellipse and axis, muon ring.
- :func:`waveforms` — waveforms of some pixels with the integration window.
- :func:`array` — telescope positions, triggered telescopes, image axes on the ground.
- :func:`browser` — camera image and the waveform of a clicked pixel, with
  widgets over event and telescope (a HoloViews DynamicMap layout).
- :func:`save_html` — a standalone HTML page with Bokeh inlined (no network).
- :func:`theta2` — theta-square histogram of ON and normalised OFF events with the cut.
"""

from .array import array
from .browser import browser
from .camera import camera
from .waveforms import waveforms
from .html import save_html
from .theta2 import theta2

__all__ = ["camera", "waveforms", "array", "browser", "save_html", "theta2"]
