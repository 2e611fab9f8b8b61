"""Standalone HTML pages of Bokeh plots, with BokehJS inlined (no network needed)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["save_html"]


def save_html(obj, path, *, title="iactx"):
    """Write a HoloViews object as a self-contained Bokeh HTML page.

    ``hv.save(obj, path)`` goes through Panel, whose pages fetch style
    sheets from a CDN. This renders with the Bokeh backend and writes the
    page with BokehJS inlined. Bokeh's ``INLINE`` resources also list the
    external scripts of every model class imported (Panel's, once
    HoloViews has imported Panel), which a page without Panel models does
    not use; only the inline code is written, so the page opens offline.

    Parameters
    ----------
    obj : holoviews object
        Anything the Bokeh backend renders (elements, overlays, layouts;
        a DynamicMap is rendered at its first key).
    path : str or Path
        Output file.
    title : str
        Page title.

    Returns
    -------
    Path
    """
    import holoviews as hv
    from html import escape

    from bokeh.embed import components
    from bokeh.embed.bundle import bundle_for_objs_and_resources
    from bokeh.resources import INLINE

    from .elements import register

    register()
    model = hv.render(obj, backend="bokeh")
    bundle = bundle_for_objs_and_resources([model], INLINE)
    scripts = "".join(f"<script type=\"text/javascript\">\n{code}\n</script>\n" for code in bundle.js_raw)
    styles = "".join(f"<style>\n{code}\n</style>\n" for code in bundle.css_raw)
    # HoloViews leaves width/height unset when frame sizes fix the layout; Bokeh's check for
    # that is a false alarm here
    from bokeh.core.validation import silence
    from bokeh.core.validation.warnings import FIXED_SIZING_MODE

    silence(FIXED_SIZING_MODE, True)
    try:
        script, div = components(model)
    finally:
        silence(FIXED_SIZING_MODE, False)
    page = (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{escape(title)}</title>\n{styles}{scripts}</head>\n<body>\n{div}\n{script}\n</body>\n</html>\n")
    path = Path(path)
    path.write_text(page, encoding="utf-8")
    return path
