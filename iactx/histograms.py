"""N-dimensional labelled histograms and lookup tables.

A histogram is an :class:`xarray.DataArray` with one dimension per axis.
Each axis ``a`` carries three coordinates along its dimension ``a``:

``a``
    bin centres (midpoints of the edges), ``attrs["units"]`` the axis unit;
``a_lower``, ``a_upper``
    lower and upper bin edges (CF-style cell bounds, kept as two 1-d
    coordinates because a DataArray cannot hold a coordinate along a
    dimension it does not have).

The values are counts (or sums of weights, means, densities, ...) with
their unit in ``attrs["units"]`` and what they are in ``attrs["kind"]``
(``"counts"``, ``"mean"``, ``"std"``, ``"normalised"``, ``"density"``).
Everything is plain numbers and strings, so ``hist.to_netcdf(path)`` and
``xarray.open_dataarray(path)`` give the same histogram back.

Edges must be contiguous and increasing. Like :func:`numpy.histogramdd`,
bins are half-open ``[lower, upper)`` except the last, which includes its
upper edge; values outside the edges and rows with NaN in any axis (or
weight) are not counted.

Examples
--------
>>> import numpy as np, pandas as pd
>>> table = pd.DataFrame({"x": [0.5, 1.5, 1.6], "y": [0.1, 0.2, 0.9]})
>>> h = histogram(table, {"x": [0, 1, 2], "y": [0, 0.5, 1]})
>>> h.values.tolist()
[[1.0, 0.0], [1.0, 1.0]]
>>> float(interpolate(h, {"x": 1.0, "y": 0.25}))
1.0
"""

from __future__ import annotations

from collections.abc import Mapping

import astropy.units as u
import numpy as np
import xarray as xr

__all__ = ["binned_statistic", "bin_volume", "edges", "histogram", "interpolate", "merge", "normalise"]

_STATISTICS = ("mean", "std", "sum", "count")


# ----------------------------------------------------------------------------- inputs

def _parse(unit):
    """An astropy unit, or None for a string astropy does not know (e.g. ``"pe"``)."""
    try:
        return u.Unit(unit or "")
    except (ValueError, TypeError):
        return None


def _unit_string(unit):
    if isinstance(unit, str) and _parse(unit) is None:
        return unit
    unit = u.Unit(unit)
    return "" if unit == u.dimensionless_unscaled else unit.to_string()


def _product(units):
    """Product of unit strings; spelled out when astropy does not know one of them."""
    parsed = [_parse(x) for x in units]
    if all(p is not None for p in parsed):
        total = u.dimensionless_unscaled
        for p in parsed:
            total = total * p
        return _unit_string(total)
    return " ".join(x for x in units if x)


def _inverse(unit):
    parsed = _parse(unit)
    if parsed is not None:
        return _unit_string(1 / parsed)
    return f"1 / ({unit})"


def _factor(source, target):
    """Factor converting values in ``source`` into ``target`` (1 when either is empty or unknown)."""
    a, b = _parse(source), _parse(target)
    if not source or not target or a is None or b is None or a == b:
        if source and target and (a is None or b is None) and source != target:
            raise ValueError(f"cannot convert {source!r} into {target!r}")
        return 1.0
    return a.to(b)


def _axis_edges(name, spec, data_units):
    """Edges as float64 and their unit string; Quantity edges set the axis unit."""
    if isinstance(spec, u.Quantity):
        unit = _unit_string(spec.unit)
        values = spec.value
    else:
        unit = data_units or ""
        values = spec
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or values.size < 2:
        raise ValueError(f"bins of axis {name!r}: need a 1-d sequence of at least two edges, got shape {values.shape}")
    if not np.all(np.isfinite(values)) or np.any(np.diff(values) <= 0):
        raise ValueError(f"bins of axis {name!r}: edges must be finite and strictly increasing")
    return values, unit


def _column_units(table, name, units=None):
    if units and name in units:
        return _unit_string(units[name])
    if isinstance(table, xr.Dataset) and name in table.variables:
        return table[name].attrs.get("units", "")
    return ""


def _columns(frame, names):
    """Float64 arrays of ``names`` from a pandas DataFrame or an xarray Dataset."""
    out = {}
    for name in names:
        if name not in frame:
            available = ", ".join(map(str, list(frame.columns if hasattr(frame, "columns") else frame.data_vars)))
            raise KeyError(f"no column {name!r} in the table; available: {available}")
        column = frame[name]
        if isinstance(column, xr.DataArray):
            if column.ndim != 1:
                raise ValueError(f"column {name!r} has dims {column.dims}: need one-dimensional variables "
                                 f"(e.g. along tel_event)")
            values = column.values
        else:
            values = column.to_numpy()
        out[name] = np.asarray(values, dtype=np.float64)
    return out


def _prepare(table, bins, extra, units=None):
    """Axis names, edges, axis units and the unit conversions of the data into them."""
    if not isinstance(bins, Mapping) or not bins:
        raise TypeError("bins must be a non-empty mapping {column: edges}")
    names = list(bins)
    axes = {}
    for name in names:
        data_units = _column_units(table, name, units)
        values, unit = _axis_edges(name, bins[name], data_units)
        try:
            factor = _factor(data_units, unit)
        except (ValueError, u.UnitConversionError) as err:
            raise ValueError(f"axis {name!r}: column in {data_units!r}, edges in {unit!r}: {err}") from err
        axes[name] = (values, unit, factor)
    for name in extra:
        if name is not None and name not in table:
            raise KeyError(f"no column {name!r} in the table")
    return axes


def _sums(frame, axes, weights, value):
    """Per-bin sums of w, w v and w v**2 (v only when ``value`` is given) for one in-memory table."""
    names = list(axes)
    wanted = [*names, *(c for c in (weights, value) if isinstance(c, str))]
    cols = _columns(frame, dict.fromkeys(wanted))
    sample = np.column_stack([cols[n] * axes[n][2] for n in names]) if len(frame) else np.empty((0, len(names)))
    n = sample.shape[0]
    w = np.ones(n) if weights is None else (cols[weights] if isinstance(weights, str)
                                             else np.asarray(weights, dtype=np.float64).reshape(-1))
    if w.shape[0] != n:
        raise ValueError(f"weights have {w.shape[0]} entries for a table of {n} rows")
    good = np.all(np.isfinite(sample), axis=1) & np.isfinite(w)
    v = None
    if value is not None:
        v = cols[value]
        good &= np.isfinite(v)
    edges_list = [axes[n][0] for n in names]
    out = [np.histogramdd(sample[good], bins=edges_list, weights=w[good])[0]]
    if v is not None:
        wv = w[good] * v[good]
        out.append(np.histogramdd(sample[good], bins=edges_list, weights=wv)[0])
        out.append(np.histogramdd(sample[good], bins=edges_list, weights=wv * v[good])[0])
    return out


def _accumulate(table, axes, weights, value):
    """Sums over a pandas DataFrame, an xarray Dataset or the partitions of a dask DataFrame."""
    if hasattr(table, "to_delayed") and hasattr(table, "npartitions"):  # dask DataFrame
        if weights is not None and not isinstance(weights, str):
            raise TypeError("with a dask DataFrame, weights must be a column name")
        import dask

        parts = [dask.delayed(_sums)(part, axes, weights, value) for part in table.to_delayed()]
        results = dask.compute(*parts)
        return [np.sum([r[k] for r in results], axis=0) for k in range(len(results[0]))]
    if isinstance(table, xr.Dataset):
        names = [*axes, *(c for c in (weights, value) if isinstance(c, str))]
        dims = {table[n].dims for n in names if n in table.variables}
        if len(dims) > 1:
            raise ValueError(f"columns {names} lie along different dims {sorted(dims)}: need one common dim")
        table = table[[n for n in names if n in table.variables]].reset_coords(drop=True).compute()
        return _sums(_DatasetTable(table), axes, weights, value)
    return _sums(table, axes, weights, value)


class _DatasetTable:
    """The minimal table interface (``len``, ``in``, ``[]``) over a Dataset of 1-d variables."""

    def __init__(self, ds):
        self._ds = ds
        self.data_vars = ds.data_vars

    def __len__(self):
        return int(next(iter(self._ds.sizes.values()), 0))

    def __contains__(self, name):
        return name in self._ds.variables

    def __getitem__(self, name):
        return self._ds[name]


def _build(values, axes, *, name, units, kind, attrs=None):
    coords = {}
    for axis, (edge, unit, _) in axes.items():
        a = {"units": unit} if unit else {}
        coords[axis] = (axis, 0.5 * (edge[:-1] + edge[1:]), {**a, "long_name": f"{axis} bin centre"})
        coords[f"{axis}_lower"] = (axis, edge[:-1].copy(), {**a, "long_name": f"{axis} lower bin edge"})
        coords[f"{axis}_upper"] = (axis, edge[1:].copy(), {**a, "long_name": f"{axis} upper bin edge"})
    out_attrs = {"kind": kind, "units": units}
    out_attrs.update(attrs or {})
    return xr.DataArray(values, dims=list(axes), coords=coords, name=name, attrs=out_attrs)


# ----------------------------------------------------------------------------- filling

def histogram(table, bins, weights=None, *, units=None, name="counts"):
    """Fill an N-dimensional histogram from a table of (telescope) events.

    Parameters
    ----------
    table : pandas.DataFrame, xarray.Dataset or dask.dataframe.DataFrame
        One row per entry, e.g. from :func:`iactx.telescope_events`, or a
        camera group (variables along ``tel_event``). A dask DataFrame is
        filled partition by partition and the counts summed.
    bins : dict of str to array_like or astropy.units.Quantity, shape (n_a + 1,)
        Bin edges of each axis, keyed by column name; the order of the keys
        is the order of the dims. Quantity edges set the axis unit; a
        Dataset column with another compatible ``units`` attribute is
        converted into it. Plain edges take the column's unit (a
        DataFrame has none).
    weights : str or array_like, shape (n_rows,), optional
        Column name or array of weights; default 1 per row.
    units : dict of str to str or astropy.units.Unit, optional
        Units of columns, for tables without them (a DataFrame from
        :func:`iactx.telescope_events`): ``{"hillas_width": "deg"}``.
        They override a Dataset's ``units`` attributes.
    name : str
        Name of the DataArray.

    Returns
    -------
    xarray.DataArray, dims (axis_1, ..., axis_N), float64
        Counts (sums of weights); ``attrs["units"]`` the unit of a weight
        column (``""`` for counts). Coordinates: bin centres ``axis`` and
        edges ``axis_lower``, ``axis_upper`` (see the module docstring).

    Raises
    ------
    KeyError
        A column is missing (the message lists the available ones).
    ValueError
        Edges not strictly increasing, or weights of the wrong length.

    Notes
    -----
    Same bins as :func:`numpy.histogramdd`: half-open except the last bin,
    which includes its upper edge. Rows with NaN in an axis or weight and
    rows outside the edges are dropped.

    Examples
    --------
    >>> table = iactx.telescope_events(tree)                               # doctest: +SKIP
    >>> h = histogram(table, {"hillas_intensity": np.geomspace(10, 1e4, 13),
    ...                       "true_energy": np.geomspace(0.01, 100, 17) * u.TeV})  # doctest: +SKIP
    """
    axes = _prepare(table, bins, [weights if isinstance(weights, str) else None], units)
    (counts,) = _accumulate(table, axes, weights, None)
    out_units = _column_units(table, weights, units) if isinstance(weights, str) else ""
    return _build(counts, axes, name=name, units=out_units, kind="counts")


def binned_statistic(table, values, bins, statistic="mean", weights=None, *, units=None, name=None):
    """A statistic of one column in the bins of others (a lookup table).

    Parameters
    ----------
    table : pandas.DataFrame, xarray.Dataset or dask.dataframe.DataFrame
        As for :func:`histogram`.
    values : str
        Column whose statistic is taken, e.g. ``"hillas_width"``.
    bins : dict of str to array_like or astropy.units.Quantity
        Bin edges per axis, as for :func:`histogram`.
    statistic : {"mean", "std", "sum", "count"}
        Weighted mean, weighted standard deviation (population, ``ddof=0``),
        weighted sum, or the sum of weights of the entries with a finite value.
    weights : str or array_like, optional
        Weights of the rows; default 1.
    units : dict of str to str or astropy.units.Unit, optional
        Units of columns, as for :func:`histogram`.
    name : str, optional
        Default ``f"{statistic}_{values}"``.

    Returns
    -------
    xarray.DataArray, dims (axis_1, ..., axis_N), float64
        NaN in bins without entries (for ``"mean"`` and ``"std"``);
        ``attrs["units"]`` the unit of ``values`` (for ``"mean"``, ``"std"``,
        ``"sum"`` without weights); coordinate ``n_entries`` (same dims):
        the sum of weights in each bin.

    Notes
    -----
    Built from per-bin sums of ``w``, ``w v`` and ``w v**2``, so a dask
    DataFrame is reduced partition by partition. Rows with a NaN value are
    ignored.

    Examples
    --------
    >>> lut = binned_statistic(table, "hillas_width", {"log10_intensity": np.linspace(1, 4, 13),
    ...                        "true_impact_distance": np.linspace(0, 500, 11) * u.m})  # doctest: +SKIP
    """
    if statistic not in _STATISTICS:
        raise ValueError(f"unknown statistic {statistic!r}; choose one of {', '.join(_STATISTICS)}")
    if not isinstance(values, str):
        raise TypeError("values must be a column name")
    axes = _prepare(table, bins, [values, weights if isinstance(weights, str) else None], units)
    sw, swv, swv2 = _accumulate(table, axes, weights, values)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = swv / sw
        result = {"mean": mean, "sum": swv, "count": sw,
                  "std": np.sqrt(np.maximum(swv2 / sw - mean ** 2, 0.0))}[statistic]
    if statistic in ("mean", "std"):
        result = np.where(sw > 0, result, np.nan)
    value_units = _column_units(table, values, units)
    out_units = "" if statistic == "count" or (statistic == "sum" and weights is not None) else value_units
    out = _build(result, axes, name=name or f"{statistic}_{values}", units=out_units, kind=statistic,
                 attrs={"statistic_of": values})
    return out.assign_coords(n_entries=(list(axes), sw))


# ----------------------------------------------------------------------------- inspecting

def _axes_of(hist):
    missing = [d for d in hist.dims if f"{d}_lower" not in hist.coords or f"{d}_upper" not in hist.coords]
    if missing:
        raise ValueError(f"not an iactx histogram: dims {missing} have no {missing[0]}_lower/_upper edge coordinates")
    return list(hist.dims)


def edges(hist, axis):
    """Bin edges of one axis.

    Parameters
    ----------
    hist : xarray.DataArray
        A histogram of this module.
    axis : str
        Dimension name.

    Returns
    -------
    numpy.ndarray, shape (n_bins + 1,), float64
        In the unit ``hist[axis].attrs["units"]``.
    """
    _axes_of(hist)
    if axis not in hist.dims:
        raise KeyError(f"no axis {axis!r}; axes: {', '.join(map(str, hist.dims))}")
    lower = hist[f"{axis}_lower"].values
    upper = hist[f"{axis}_upper"].values
    return np.append(lower, upper[-1])


def bin_volume(hist, axes=None):
    """Product of the bin widths along ``axes`` (default all).

    Returns
    -------
    xarray.DataArray, dims ``axes``
        ``attrs["units"]`` the product of the axis units.
    """
    axes = _axes_of(hist) if axes is None else ([axes] if isinstance(axes, str) else list(axes))
    volume = xr.DataArray(1.0)
    for axis in axes:
        if axis not in hist.dims:
            raise KeyError(f"no axis {axis!r}; axes: {', '.join(map(str, hist.dims))}")
        volume = volume * (hist[f"{axis}_upper"] - hist[f"{axis}_lower"]).reset_coords(drop=True)
    volume.attrs["units"] = _product([hist[axis].attrs.get("units", "") for axis in axes])
    return volume


# ----------------------------------------------------------------------------- combining

def merge(*hists):
    """Add histograms with identical axes and edges (e.g. filled from different files).

    Parameters
    ----------
    *hists : xarray.DataArray
        Histograms of counts (a single list or tuple is also accepted).

    Returns
    -------
    xarray.DataArray
        The bin-by-bin sum, with the coordinates and attributes of the first.

    Raises
    ------
    ValueError
        Different axes, different edges (the message names the axis), a
        different unit, or histograms that are not counts (means cannot be
        added; merge the inputs before :func:`binned_statistic`).
    """
    if len(hists) == 1 and isinstance(hists[0], (list, tuple)):
        hists = tuple(hists[0])
    if not hists:
        raise ValueError("merge needs at least one histogram")
    first = hists[0]
    axes = _axes_of(first)
    total = first.values.copy()
    for k, other in enumerate(hists[1:], start=1):
        other_axes = _axes_of(other)
        if other_axes != axes:
            raise ValueError(f"histogram {k} has axes {other_axes}, histogram 0 has {axes}")
        for axis in axes:
            a, b = edges(first, axis), edges(other, axis)
            if a.shape != b.shape or not np.array_equal(a, b):
                raise ValueError(f"histogram {k} has other bin edges on axis {axis!r} "
                                 f"({b.size - 1} bins in [{b[0]:g}, {b[-1]:g}] vs {a.size - 1} in "
                                 f"[{a[0]:g}, {a[-1]:g}]): rebin before merging")
            ua, ub = first[axis].attrs.get("units", ""), other[axis].attrs.get("units", "")
            if ua != ub:
                raise ValueError(f"histogram {k} has unit {ub!r} on axis {axis!r}, histogram 0 has {ua!r}")
        for h in (first, other):
            if h.attrs.get("kind", "counts") != "counts":
                raise ValueError(f"cannot merge histograms of kind {h.attrs['kind']!r}: only counts add up")
        if other.attrs.get("units", "") != first.attrs.get("units", ""):
            raise ValueError(f"histogram {k} has units {other.attrs.get('units', '')!r}, "
                             f"histogram 0 has {first.attrs.get('units', '')!r}")
        total = total + other.values
    return first.copy(data=total)


def normalise(hist, axis=None, *, density=False):
    """Normalise a histogram to unit sum, per axis, or to a probability density.

    Parameters
    ----------
    hist : xarray.DataArray
        Histogram of counts.
    axis : str or list of str, optional
        Axes to normalise over. Default all: the whole histogram sums to 1.
        With ``axis="x"`` every slice along ``x`` (for each bin of the
        other axes) sums to 1: the distribution of ``x`` given the others.
    density : bool
        Divide also by the bin widths along ``axis``, so that the integral
        over those axes is 1; the unit is then the inverse of their units.

    Returns
    -------
    xarray.DataArray
        ``attrs["kind"]`` ``"normalised"`` or ``"density"``. Slices with a
        sum of zero give NaN. The input is not changed.
    """
    axes = _axes_of(hist)
    over = axes if axis is None else ([axis] if isinstance(axis, str) else list(axis))
    unknown = [a for a in over if a not in axes]
    if unknown:
        raise KeyError(f"no axis {unknown[0]!r}; axes: {', '.join(axes)}")
    total = hist.sum(over)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = hist / total.where(total != 0)
    unit = ""
    if density:
        volume = bin_volume(hist, over)
        out = out / volume
        unit = _inverse(volume.attrs["units"]) if volume.attrs["units"] else ""
    out = out.transpose(*axes)
    out.attrs = {**hist.attrs, "kind": "density" if density else "normalised", "units": unit,
                 "normalised_over": " ".join(over)}
    out.name = hist.name
    return out


# ----------------------------------------------------------------------------- interpolating

_OUT_OF_RANGE = ("nan", "clamp", "extrapolate")


def interpolate(hist, points, *, method="linear", out_of_range="nan"):
    """Values of a histogram or lookup table at arbitrary points, between bin centres.

    Parameters
    ----------
    hist : xarray.DataArray
        Histogram, normalised histogram or :func:`binned_statistic` table.
    points : mapping of str to array_like, pandas.DataFrame or xarray.Dataset
        Coordinates of the points, one entry per axis of ``hist``
        (others are ignored); broadcast against each other. Quantities are
        converted into the axis units.
    method : {"linear", "nearest", "slinear", "cubic", ...}
        Passed to :class:`scipy.interpolate.RegularGridInterpolator`; the
        grid is the bin centres.
    out_of_range : {"nan", "clamp", "extrapolate"}
        Points beyond the outermost bin centres on any axis: NaN; the value
        at the nearest point of the grid (constant continuation); or linear
        extrapolation.

    Returns
    -------
    numpy.ndarray or xarray.DataArray
        Shape of the broadcast points; a DataArray (with their dims) when
        the points are xarray objects. Units in ``attrs["units"]`` for a
        DataArray, those of ``hist``.

    Notes
    -----
    Exact at bin centres, linear in between. A NaN bin (an empty bin of a
    mean) makes the result NaN wherever it enters the interpolation, i.e.
    in the cells of the grid that touch it; NaN in a point gives NaN. Axes
    with a single bin are constant inside their edges (NaN outside unless
    ``out_of_range`` is not ``"nan"``). For a logarithmic axis, histogram
    the logarithm (e.g. a ``log10_intensity`` column) to interpolate in it.
    """
    from scipy.interpolate import RegularGridInterpolator

    if out_of_range not in _OUT_OF_RANGE:
        raise ValueError(f"out_of_range must be one of {', '.join(_OUT_OF_RANGE)}, got {out_of_range!r}")
    axes = _axes_of(hist)
    missing = [a for a in axes if a not in points]
    if missing:
        raise KeyError(f"points lack the axis {missing[0]!r}; the histogram has axes {', '.join(axes)}")
    raw = {}
    for axis in axes:
        value = points[axis]
        unit = hist[axis].attrs.get("units", "")
        if isinstance(value, u.Quantity):
            value = value.to_value(unit or u.dimensionless_unscaled)
        elif isinstance(value, xr.DataArray) and value.attrs.get("units"):
            value = value * _factor(value.attrs["units"], unit)
        raw[axis] = value
    labelled = any(isinstance(v, xr.DataArray) for v in raw.values()) or isinstance(points, xr.Dataset)
    if labelled:
        arrays = xr.broadcast(*[v if isinstance(v, xr.DataArray) else xr.DataArray(np.asarray(v, dtype=np.float64))
                                for v in raw.values()])
        template = arrays[0]
        values = [np.asarray(a.values, dtype=np.float64) for a in arrays]
    else:
        values = np.broadcast_arrays(*[np.asarray(getattr(v, "values", v), dtype=np.float64) for v in raw.values()])
    shape = values[0].shape
    flat = [v.reshape(-1) for v in values]

    grid_axes, grid_points, table = [], [], hist.transpose(*axes).values.astype(np.float64)
    inside = np.ones(flat[0].shape, dtype=bool)
    for k, axis in enumerate(axes):
        centres = hist[axis].values.astype(np.float64)
        if centres.size == 1:
            if out_of_range == "nan":
                inside &= (flat[k] >= hist[f"{axis}_lower"].values[0]) & (flat[k] <= hist[f"{axis}_upper"].values[0])
            continue
        grid_axes.append(k)
        grid_points.append(centres)
    table = table.reshape([table.shape[k] for k in grid_axes]) if len(grid_axes) < len(axes) else table
    finite = np.all(np.isfinite(np.column_stack(flat)), axis=1) if flat else np.ones(0, bool)
    result = np.full(flat[0].shape, np.nan)
    if grid_axes:
        xi = np.column_stack([flat[k] for k in grid_axes])
        if out_of_range == "clamp":
            xi = np.column_stack([np.clip(xi[:, j], g[0], g[-1]) for j, g in enumerate(grid_points)])
        fill = None if out_of_range == "extrapolate" else np.nan
        interpolator = RegularGridInterpolator(grid_points, table, method=method, bounds_error=False,
                                               fill_value=fill)
        ok = finite & inside
        result[ok] = interpolator(xi[ok])
    else:
        ok = finite & inside
        result[ok] = table.reshape(-1)[0]
    result = result.reshape(shape)
    if labelled:
        out = template.copy(data=result).rename(hist.name)
        out.attrs = {"units": hist.attrs.get("units", ""),
                     "kind": f"interpolated {hist.attrs.get('kind', '')}".strip()}
        return out
    return result
