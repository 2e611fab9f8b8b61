"""Event trees as flat tables: one row per telescope event.

Machine learning (energy regression, gamma/hadron separation) and
instrument-response tools take one table of telescope events with the
image parameters, the telescope type and the event's simulated truth.
:func:`telescope_events` builds it from an event tree -- a pandas DataFrame
for a tree in memory, a dask DataFrame for one opened lazily over many
files (``iactx.open_dl1("dl1/*.dl1.nc", chunks={})``).
"""

from __future__ import annotations

import pandas as pd

__all__ = ["telescope_events", "KEY_COLUMNS"]

#: the key columns of the table, from the ``tel_event`` index levels (obs_id, event, tel)
KEY_COLUMNS = ("obs_id", "event_id", "tel_id")
_LEVEL_NAMES = {"event": "event_id", "tel": "tel_id"}


def _is_lazy(ds):
    return any(var.chunks is not None for var in ds.data_vars.values())


def _one_dimensional(ds, dim):
    return [name for name, var in ds.data_vars.items() if var.dims == (dim,)]


def _camera_table(ds, camera, names):
    """The telescope events of one camera group: keys, camera, tel_type and ``names``."""
    table = ds[names].reset_index("tel_event").reset_coords()
    table = table.drop_vars([n for n in table.variables if n not in (*names, "obs_id", "event", "tel")])
    table = table.rename(_LEVEL_NAMES)
    frame = table.to_dask_dataframe() if _is_lazy(table) else table.to_dataframe().reset_index(drop=True)
    frame = frame[[*KEY_COLUMNS, *names]]
    types = dict(zip(ds["readout_tel"].values.tolist(), ds["tel_type"].values.tolist()))
    frame = frame.assign(camera=camera)
    if hasattr(frame, "compute"):
        return frame.assign(tel_type=frame["tel_id"].map(types, meta=("tel_type", object)))
    return frame.assign(tel_type=frame["tel_id"].map(types))


def telescope_events(tree, columns=None):
    """One row per telescope event: parameters, camera, telescope type and the event's truth.

    Parameters
    ----------
    tree : xarray.DataTree
        Event tree (e.g. from :func:`~iactx.io.dl1.open_dl1` of DL1 files).
    columns : list of str, optional
        Columns to keep besides ``obs_id``, ``event_id``, ``tel_id``,
        ``camera`` and ``tel_type``: one-dimensional variables of the
        camera groups (``hillas_intensity``, ...) or of the root
        (``true_energy``, ``event_type``, ...). Default: all of them.

    Returns
    -------
    pandas.DataFrame or dask.dataframe.DataFrame
        A dask DataFrame (nothing computed) when the tree is dask-backed.
        Rows of the camera groups in order, each joined with its event's
        root columns; units stay in the tree's attributes.

    Raises
    ------
    ValueError
        A tree without camera groups, or ``columns`` that none of its
        nodes has (the message lists the available ones).

    Examples
    --------
    >>> tree = iactx.open_dl1("dl1/*.dl1.nc", chunks={})                   # doctest: +SKIP
    >>> table = iactx.telescope_events(tree, ["hillas_intensity", "true_energy"])  # doctest: +SKIP
    >>> table.groupby("tel_type").hillas_intensity.median().compute()     # doctest: +SKIP
    """
    from ..accessor import camera_groups

    cameras = camera_groups(tree)
    if not cameras:
        raise ValueError("the tree has no camera groups (nodes with tel_event): no telescope events")
    root = tree.to_dataset(inherit=False)
    per_camera = {name: _one_dimensional(tree[name].to_dataset(inherit=False), "tel_event") for name in cameras}
    event_columns = [n for n in _one_dimensional(root, "event") if n not in KEY_COLUMNS]
    if columns is not None:
        available = set(event_columns).union(*per_camera.values())
        unknown = [c for c in columns if c not in available]
        if unknown:
            raise ValueError(f"no column {', '.join(map(repr, unknown))} in the tree; available: "
                             f"{', '.join(sorted(available))}")
        per_camera = {name: [n for n in names if n in columns] for name, names in per_camera.items()}
        event_columns = [n for n in event_columns if n in columns]
    frames = [_camera_table(tree[name].to_dataset(inherit=False), name, names) for name, names in per_camera.items()]
    lazy = hasattr(frames[0], "compute")
    if lazy:
        import dask.dataframe as dd

        table = dd.concat(frames, ignore_unknown_divisions=True)
    else:
        table = pd.concat(frames, ignore_index=True)
    if not event_columns:
        return table
    events = root[["obs_id", "event_id", *event_columns]].reset_coords()
    events = events.drop_vars([n for n in events.variables if n not in ("obs_id", "event_id", *event_columns)])
    if lazy:
        import dask.dataframe as dd

        events = events.to_dask_dataframe()[["obs_id", "event_id", *event_columns]]
        return dd.merge(table, events, on=["obs_id", "event_id"], how="left")
    events = events.to_dataframe().reset_index(drop=True)
    return table.merge(events, on=["obs_id", "event_id"], how="left", validate="many_to_one")
