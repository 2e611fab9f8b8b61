"""Which events and telescope events go into the analysis: software trigger and event types.

ctapipe-process applies two selections before the DL1 chain, and so does
``iactx process``:

- :class:`EventTypeFilter` keeps the array events of the allowed types
  (``event_type`` at the root; all by default);
- :class:`SoftwareTrigger` is the stereo trigger of a subarray chosen from
  a larger simulated array: telescope events of a type with fewer than
  ``min_telescopes_of_type`` telescopes in the event are removed (the LST
  hardware stereo trigger asks for two LSTs), then events with fewer than
  ``min_telescopes`` telescopes left are dropped. With the defaults it keeps
  everything. Telescopes are grouped by their type string (``tel_type`` of
  ``/instrument``), as ctapipe does.

Both work on whole event trees: every camera group and the root are
selected together, the instrument is kept.

Examples
--------
>>> trigger = SoftwareTrigger(min_telescopes=2, min_telescopes_of_type=[("type", "*", 0), ("type", "LST*", 2)])
>>> selected = trigger(tree)                                    # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import param
import xarray as xr

from .config.telescope_parameter import TelescopeParameter, normalize_rules, resolve
from .io.event_tree import EVENT_TYPES, TEL_EVENT_LEVELS, tel_types_of

__all__ = ["SoftwareTrigger", "EventTypeFilter", "select_events", "COMPONENTS"]

_EVENT_TYPE_CODES = {name.upper(): code for code, name in EVENT_TYPES.items()}


def select_events(tree, keep_event, keep_tel_event=None):
    """The tree with only the kept events and telescope events.

    Parameters
    ----------
    tree : xarray.DataTree
        Event tree.
    keep_event : numpy.ndarray of bool, shape (n_events,)
        Events to keep (along the root's ``event``); the telescope events of
        a dropped event are dropped too.
    keep_tel_event : dict[str, numpy.ndarray of bool], optional
        Telescope events to keep, by camera group (along ``tel_event``).

    Returns
    -------
    xarray.DataTree
    """
    root = tree.to_dataset(inherit=False)
    kept = {(int(o), int(e)) for o, e, k in zip(root["obs_id"].values, root["event_id"].values, keep_event) if k}
    nodes = {}
    for node in tree.subtree:
        ds = node.to_dataset(inherit=False)
        if node.is_root:
            ds = ds.isel(event=np.flatnonzero(keep_event))
        elif "tel_event" in ds.dims:
            index = ds.indexes["tel_event"]
            mask = np.fromiter(((o, e) in kept for o, e, _ in index), bool, len(index))
            if keep_tel_event is not None and node.name in keep_tel_event:
                mask &= keep_tel_event[node.name]
            ds = ds.isel(tel_event=np.flatnonzero(mask))
        nodes[node.path] = ds
    return xr.DataTree.from_dict(nodes)


class EventTypeFilter(param.Parameterized):
    """Keep the array events of the allowed types (ctapipe's EventTypeFilter)."""

    allowed_types = param.List(default=None, allow_None=True, doc=(
        "Event types to keep, by name (SUBARRAY, FLATFIELD, SKY_PEDESTAL, MUON, ...; any case) or code; "
        "None keeps every event."))

    @param.depends("allowed_types", watch=True, on_init=True)
    def _check_types(self):
        self._codes = None if self.allowed_types is None else self._checked_codes()

    def _checked_codes(self):
        codes = set()
        for item in self.allowed_types:
            code = _EVENT_TYPE_CODES.get(str(item).upper(), item)
            if code not in EVENT_TYPES or isinstance(code, bool):
                raise ValueError(f"EventTypeFilter.allowed_types: unknown event type {item!r}; known: "
                                 f"{', '.join(sorted(_EVENT_TYPE_CODES))}")
            codes.add(int(code))
        return codes

    def __call__(self, tree):
        """``tree`` with the events of the allowed types only."""
        if self._codes is None:
            return tree
        keep = np.isin(tree["event_type"].values, list(self._codes))
        return tree if keep.all() else select_events(tree, keep)


class SoftwareTrigger(param.Parameterized):
    """The stereo trigger of a selected subarray (ctapipe's SoftwareTrigger)."""

    min_telescopes = param.Integer(default=1, bounds=(0, None), doc=(
        "Fewest telescopes an event must keep; events with fewer are dropped."))
    min_telescopes_of_type = TelescopeParameter(default=0, item_type=int, bounds=(0, None), doc=(
        "Fewest telescopes of a type in an event (type rules such as [['type', '*', 0], ['type', 'LST*', 2]]); "
        "in events with fewer, the telescope events of that type are removed."))

    @param.depends("min_telescopes_of_type", watch=True, on_init=True)
    def _check_rules(self):
        if any(command == "id" for command, _, _ in normalize_rules(self.min_telescopes_of_type)):
            raise ValueError("SoftwareTrigger.min_telescopes_of_type: rules go by telescope type, not by id")

    def __call__(self, tree):
        """``tree`` without the telescope events and events the trigger rejects."""
        if self.min_telescopes <= 1 and self.min_telescopes_of_type == 0:
            return tree
        types = tel_types_of(tree) or {}
        root = tree.to_dataset(inherit=False)
        event_row = {(int(o), int(e)): i for i, (o, e) in enumerate(zip(root["obs_id"].values,
                                                                         root["event_id"].values))}
        cameras = [name for name, node in tree.children.items() if "tel_event" in node.dims]
        rows, tel_types, groups = [], [], []
        for name in cameras:
            index = tree[name].to_dataset(inherit=False).indexes["tel_event"]
            levels = [index.get_level_values(level).to_numpy() for level in TEL_EVENT_LEVELS]
            rows.append(np.array([event_row[(int(o), int(e))] for o, e in zip(levels[0], levels[1])], np.int64))
            tel_types.append(np.array([types.get(int(t), "") for t in levels[2]], object))
            groups.append(np.full(len(index), len(groups)))
        rows, tel_types, groups = (np.concatenate(a) if a else np.empty(0) for a in (rows, tel_types, groups))
        keep = np.ones(len(rows), bool)
        for tel_type in np.unique(tel_types):
            minimum = resolve(self.min_telescopes_of_type, -1, tel_type)
            of_type = tel_types == tel_type
            counts = np.bincount(rows[of_type], minlength=len(event_row))
            keep[of_type] &= counts[rows[of_type]] >= minimum
        per_event = np.bincount(rows[keep], minlength=len(event_row))
        keep_event = per_event >= self.min_telescopes
        return select_events(tree, keep_event, {name: keep[groups == i] for i, name in enumerate(cameras)})


COMPONENTS = {"SoftwareTrigger": SoftwareTrigger, "EventTypeFilter": EventTypeFilter}
