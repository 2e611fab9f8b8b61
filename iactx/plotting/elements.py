"""The ``CameraPixels`` HoloViews element and its Bokeh and matplotlib plots.

HoloViews' ``Polygons`` stores one sub-dataset per polygon and handles
them one by one, which takes tens of seconds for a camera with 11 328
pixels. A camera is simpler than a general set of polygons: every pixel is
the same regular polygon (hexagon, square or many-cornered "circle") with
the same orientation, only centre and size differ. ``CameraPixels`` is
therefore a plain table, one row per pixel (centre ``x``, ``y``, the
coloured value, the pixel id and the corner radius), plus two element
parameters, ``n_corners`` and ``orientation``. Its plot classes build all
corners at once with numpy and hand them to one Bokeh ``patches`` glyph or
one matplotlib ``PolyCollection``.

Colour scaling is a plot option ``scale`` with values

``"linear"``
    the default;
``"log"``
    a logarithmic colour scale (Bokeh ``LogColorMapper``, matplotlib
    ``LogNorm``); values at or below the lower limit (by default the
    smallest positive value) get the lowest colour;
``"symlog"``
    ``sign(v) * log10(1 + |v| / linthresh)`` with ``linthresh`` a plot
    option (default 1): linear near zero, logarithmic for large values of
    either sign. Both backends map colours with exactly this function and
    label the colour bar with the untransformed values.

The hover tool (Bokeh) shows pixel id and value of every pixel.
Importing this module imports HoloViews and registers the plots for the
Bokeh backend and, when matplotlib is installed, the matplotlib backend.
"""

from __future__ import annotations

import numpy as np
import param
from holoviews.core import Dimension
from holoviews.core.util import dimension_sanitizer
from holoviews.element.geom import Geometry

from .geometry import regular_polygons

__all__ = ["CameraPixels", "symlog", "symlog_inverse", "symlog_ticks"]


def symlog(values, linthresh=1.0):
    """``sign(v) * log10(1 + |v| / linthresh)``, the symlog colour transform."""
    values = np.asarray(values, np.float64)
    return np.sign(values) * np.log10(1.0 + np.abs(values) / linthresh)


def symlog_inverse(values, linthresh=1.0):
    """Inverse of :func:`symlog`."""
    values = np.asarray(values, np.float64)
    return np.sign(values) * linthresh * (10.0 ** np.abs(values) - 1.0)


def symlog_ticks(low, high, linthresh=1.0):
    """Round tick values between ``low`` and ``high`` for a symlog colour bar.

    Zero (when inside), and ``±k * 10**n`` with k in 1, 2, 5 or just 1
    when there are many decades, in untransformed units.
    """
    low, high = float(low), float(high)
    if not (np.isfinite(low) and np.isfinite(high)) or low >= high:
        return np.array([low]) if np.isfinite(low) else np.zeros(0)
    top = max(abs(low), abs(high), linthresh)
    decades = np.arange(np.floor(np.log10(linthresh)), np.ceil(np.log10(top)) + 1)
    mantissas = (1.0,) if decades.size > 3 else (1.0, 2.0, 5.0)
    positive = np.array(sorted(m * 10.0 ** d for d in decades for m in mantissas))
    ticks = np.concatenate([-positive[::-1], [0.0], positive])
    return ticks[(ticks >= low) & (ticks <= high)]


def _tick_label(value):
    return f"{value:g}"


class CameraPixels(Geometry):
    """Camera pixels drawn as regular polygons, one row per pixel.

    Key dimensions ``x``, ``y`` (pixel centres); value dimensions: the
    coloured quantity first, then ``pixel`` (pixel id) and ``radius`` (the
    distance of the corners from the centre), then any others. All pixels
    share ``n_corners`` and ``orientation``, the angle of the first corner
    from the +x axis [deg].
    """

    group = param.String(default="CameraPixels", constant=True)

    vdims = param.List(
        default=[Dimension("value"), Dimension("pixel"), Dimension("radius")],
        bounds=(3, None),
        constant=True,
        doc="The coloured value, the pixel id and the corner radius, then any others.",
    )

    n_corners = param.Integer(default=6, bounds=(3, None), doc="Corners of every pixel polygon.")

    orientation = param.Number(default=90.0, doc="Angle of the first corner from the +x axis [deg].")

    def corners(self):
        """Pixel corners, each of shape ``(n_pixels, n_corners)``."""
        x = self.dimension_values(0)
        y = self.dimension_values(1)
        radius = self.dimension_values(self.vdims[2])
        return regular_polygons(x, y, radius, self.n_corners, self.orientation)

    def range(self, dim, data_range=True, dimension_range=True):
        """Range of a dimension; for ``x`` and ``y`` the extent of the polygons."""
        low, high = super().range(dim, data_range, dimension_range)
        dimension = self.get_dimension(dim)
        if (data_range and dimension in self.kdims and len(self)
                and np.isfinite(low) and np.isfinite(high)):
            reach = float(np.nanmax(self.dimension_values(self.vdims[2])))
            if dimension.range == (None, None):
                low, high = low - reach, high + reach
        return low, high


def _color_values(values, low, high, scale, linthresh):
    """Values to colour by and their limits after the scale transform."""
    values = np.asarray(values, np.float64)
    if scale == "log":
        return np.clip(values, low, None), low, high
    if scale == "symlog":
        return symlog(values, linthresh), float(symlog(low, linthresh)), float(symlog(high, linthresh))
    return values, low, high


def _color_limits(values, clim, scale):
    """Colour limits from ``clim`` (NaN for "from the data") and the data."""
    values = np.asarray(values, np.float64)
    finite = values[np.isfinite(values)]
    if scale == "log":
        finite = finite[finite > 0]
    low = clim[0] if np.isfinite(clim[0]) else (finite.min() if finite.size else (1.0 if scale == "log" else 0.0))
    high = clim[1] if np.isfinite(clim[1]) else (finite.max() if finite.size else low + 1.0)
    if scale == "log" and low <= 0:
        raise ValueError(f"a log colour scale needs a positive lower limit, got clim={clim}")
    if low == high:
        low, high = (low / 2, low * 2) if scale == "log" else (low - 0.5, high + 0.5)
    return float(low), float(high)


def _bokeh_plot_class():
    from bokeh.models import FixedTicker, LinearColorMapper, LogColorMapper
    from holoviews.plotting.bokeh.element import ColorbarPlot
    from holoviews.plotting.bokeh.styles import base_properties, fill_properties, line_properties
    from holoviews.plotting.util import process_cmap

    class CameraPixelsPlot(ColorbarPlot):
        """Bokeh plot of :class:`CameraPixels`: one ``patches`` glyph."""

        scale = param.Selector(default="linear", objects=["linear", "log", "symlog"],
                               doc="Colour scale of the pixel values.")
        linthresh = param.Number(default=1.0, bounds=(0, None), inclusive_bounds=(False, True),
                                 doc="Linear range of the symlog colour scale.")
        colorbar = param.Boolean(default=True)
        data_aspect = param.Number(default=1.0)
        frame_width = param.Integer(default=400, allow_None=True)
        tools = param.List(default=["hover", "tap"])
        show_grid = param.Boolean(default=False)

        style_opts = [*base_properties, *line_properties, *fill_properties, "cmap"]
        _plot_methods = dict(single="patches")
        _nonvectorized_styles = [*base_properties, "cmap"]

        def _hover_opts(self, element):
            return [element.vdims[1], element.vdims[0], *element.vdims[3:]], {}

        def get_data(self, element, ranges, style):
            xs, ys = element.corners()
            if self.invert_axes:
                xs, ys = ys, xs
            # plain lists serialise ~30x faster than lists of small arrays; 0.1 um is plenty
            data = {"xs": np.round(xs, 7).tolist(), "ys": np.round(ys, 7).tolist()}
            for d in [element.vdims[0], element.vdims[1], *element.vdims[3:]]:
                data[dimension_sanitizer(d.name)] = element.dimension_values(d)
            cdim = element.vdims[0]
            values = data[dimension_sanitizer(cdim.name)]
            low, high = _color_limits(values, self.clim, self.scale)
            colors, low, high = _color_values(values, low, high, self.scale, self.linthresh)
            data["_color"] = colors
            mapper = self._camera_color_mapper(cdim, low, high, style)
            mapping = {"xs": "xs", "ys": "ys", "fill_color": {"field": "_color", "transform": mapper}}
            if not any(key in style for key in ("line_alpha", "line_color", "color", "alpha")):
                style = {**style, "line_alpha": 0.0}  # outlines would hide small pixels
            self._symlog_limits = (low, high)
            if "colorbar" in self.handles:
                self._set_symlog_ticks(self.handles["colorbar"])
            return data, mapping, style

        def _camera_color_mapper(self, cdim, low, high, style):
            palette = process_cmap(style.get("cmap", "viridis"), None)
            nan_color = self.clipping_colors.get("NaN", "#d3d3d3")
            kind = LogColorMapper if self.scale == "log" else LinearColorMapper
            mapper = self.handles.get("color_mapper")
            if mapper is None or not isinstance(mapper, kind):
                mapper = kind(palette=palette, low=low, high=high, nan_color=nan_color)
                self.handles["color_mapper"] = mapper
                self.handles["color_dim"] = cdim
            else:
                mapper.update(palette=palette, low=low, high=high)
            return mapper

        def _set_symlog_ticks(self, colorbar):
            if self.scale != "symlog":
                return
            low, high = self._symlog_limits
            ticks = symlog_ticks(symlog_inverse(low, self.linthresh), symlog_inverse(high, self.linthresh),
                                 self.linthresh)
            positions = [float(v) for v in symlog(ticks, self.linthresh)]
            colorbar.ticker = FixedTicker(ticks=positions)
            colorbar.major_label_overrides = {p: _tick_label(t) for p, t in zip(positions, ticks)}

        def _draw_colorbar(self, plot, color_mapper, prefix=""):
            super()._draw_colorbar(plot, color_mapper, prefix)
            if prefix + "colorbar" in self.handles:
                self._set_symlog_ticks(self.handles[prefix + "colorbar"])

    return CameraPixelsPlot


def _mpl_plot_class():
    from matplotlib import colors as mcolors
    from matplotlib.collections import PolyCollection
    from holoviews.plotting.mpl.element import ColorbarPlot

    class CameraPixelsPlot(ColorbarPlot):
        """matplotlib plot of :class:`CameraPixels`: one ``PolyCollection``."""

        scale = param.Selector(default="linear", objects=["linear", "log", "symlog"],
                               doc="Colour scale of the pixel values.")
        linthresh = param.Number(default=1.0, bounds=(0, None), inclusive_bounds=(False, True),
                                 doc="Linear range of the symlog colour scale.")
        colorbar = param.Boolean(default=True)
        aspect = param.Parameter(default="equal")
        data_aspect = param.Number(default=1.0)
        show_grid = param.Boolean(default=False)

        style_opts = ["alpha", "cmap", "edgecolor", "linewidth", "linestyle", "visible"]

        def get_data(self, element, ranges, style):
            xs, ys = element.corners()
            if self.invert_axes:
                xs, ys = ys, xs
            verts = np.stack([xs, ys], axis=-1)
            cdim = element.vdims[0]
            values = element.dimension_values(cdim).astype(np.float64)
            low, high = _color_limits(values, self.clim, self.scale)
            self.handles["color_dim"] = cdim
            if self.scale == "log":
                norm = mcolors.LogNorm(vmin=low, vmax=high)
                colors = np.clip(values, low, None)
            elif self.scale == "symlog":
                linthresh = self.linthresh
                norm = mcolors.FuncNorm((lambda v: symlog(v, linthresh), lambda v: symlog_inverse(v, linthresh)),
                                        vmin=low, vmax=high)
                colors = values
            else:
                norm = mcolors.Normalize(vmin=low, vmax=high)
                colors = values
            self._symlog_limits = (low, high)
            style = {k: v for k, v in style.items() if k not in ("color", "vmin", "vmax", "clim")}
            style["array"] = np.ma.masked_invalid(colors)
            style["norm"] = norm
            style.setdefault("linewidth", 0)
            return (verts,), style, {}

        def init_artists(self, ax, plot_args, plot_kwargs):
            cmap = plot_kwargs.pop("cmap", "viridis")
            from holoviews.plotting.util import process_cmap
            from matplotlib.colors import ListedColormap

            if not hasattr(cmap, "N"):
                cmap = ListedColormap(process_cmap(cmap, None))
            cmap = cmap.with_extremes(bad=self.clipping_colors.get("NaN", "#d3d3d3"))
            collection = PolyCollection(plot_args[0], cmap=cmap, **plot_kwargs)
            ax.add_collection(collection)
            return {"artist": collection}

        def update_handles(self, key, axis, element, ranges, style):
            artist = self.handles["artist"]
            (verts,), style, axis_kwargs = self.get_data(element, ranges, style)
            artist.set_verts(verts)
            artist.set_array(style["array"])
            artist.set_norm(style["norm"])
            artist.set_visible(style.get("visible", True))
            if "cbar" in self.handles:
                self._adjust_symlog_ticks(self.handles["cbar"])
            return axis_kwargs

        def _adjust_cbar(self, cbar, label, dim):
            super()._adjust_cbar(cbar, label, dim)
            self._adjust_symlog_ticks(cbar)

        def _adjust_symlog_ticks(self, cbar):
            if self.scale != "symlog":
                return
            ticks = symlog_ticks(*self._symlog_limits, self.linthresh)
            cbar.set_ticks(ticks, labels=[_tick_label(t) for t in ticks])

    return CameraPixelsPlot


_REGISTERED = set()


def register():
    """Register the plots of :class:`CameraPixels` with the available backends.

    Bokeh always (it is a dependency), matplotlib when it is installed.
    Safe to call again; returns the backends registered.
    """
    from holoviews import Store

    if "bokeh" not in _REGISTERED:
        import holoviews.plotting.bokeh  # noqa: F401

        Store.register({CameraPixels: _bokeh_plot_class()}, "bokeh")
        _REGISTERED.add("bokeh")
    if "matplotlib" not in _REGISTERED:
        try:
            import holoviews.plotting.mpl  # noqa: F401
        except ImportError:
            pass
        else:
            Store.register({CameraPixels: _mpl_plot_class()}, "matplotlib")
            _REGISTERED.add("matplotlib")
    return set(_REGISTERED)


register()
