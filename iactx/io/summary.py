"""Human-readable summaries of event trees and files."""

from __future__ import annotations

from collections import Counter

from .event_tree import EVENT_TYPES

__all__ = ["data_levels", "summarize"]

#: variable (or prefix) in a camera group -> data level it belongs to
_LEVEL_MARKERS = (
    ("r0", "R0"),
    ("waveform", "R1"),
    ("image", "DL1a (images)"),
    ("hillas_", "DL1b (parameters)"),
)


def data_levels(tree):
    """Data levels present in an event tree, lowest first."""
    names = set()
    for node in tree.children.values():
        names.update(node.to_dataset(inherit=False).data_vars)
    levels = [level for marker, level in _LEVEL_MARKERS
              if any(n == marker or (marker.endswith("_") and n.startswith(marker)) for n in names)]
    if any(n.endswith("_alt") and n.startswith("HillasReconstructor") for n in tree.to_dataset(inherit=False)):
        levels.append("DL2 (stereo geometry)")
    return levels


def summarize(tree, *, title="", n_events=None, tel_event_counts=None, event_type_counts=None):
    """Text summary: subarray by type, camera groups, event counts, data levels.

    Parameters
    ----------
    tree : xarray.DataTree
        Event tree (only ``/instrument`` and the group layout are used when
        the counts are given).
    title : str
        First line, e.g. the file name.
    n_events : int, optional
        Number of events; default from the tree.
    tel_event_counts : dict[str, int], optional
        Telescope events per camera group; default from the tree.
    event_type_counts : dict[int, int], optional
        Events per event type code; default from the tree.
    """
    inst = tree["instrument"].to_dataset()
    root = tree.to_dataset(inherit=False)
    n_events = root.sizes.get("event", 0) if n_events is None else n_events
    if tel_event_counts is None:
        tel_event_counts = {name: node.sizes["tel_event"] for name, node in tree.children.items()
                            if "tel_event" in node.dims}
    lines = [title] if title else []
    lines.append(f"subarray {inst.attrs.get('subarray_name', '?')!r}: {inst.sizes['tel']} telescopes")
    types = Counter(inst["tel_type"].values.tolist())
    for tel_type, count in sorted(types.items()):
        ids = inst["tel"].values[inst["tel_type"].values == tel_type].tolist()
        lines.append(f"  {count:4d} x {tel_type:<24s} ids {_ranges(ids)}")
    lines.append(f"events: {n_events}")
    if event_type_counts is None and "event_type" in root:
        event_type_counts = Counter(root["event_type"].values.tolist())
    if event_type_counts:
        kinds = event_type_counts
        lines.append("  by type: " + ", ".join(f"{EVENT_TYPES.get(k, k)}: {v}" for k, v in sorted(kinds.items())))
    lines.append("camera groups (telescope events, pixels, samples):")
    for name, count in sorted(tel_event_counts.items()):
        node = tree[name].to_dataset(inherit=False)
        lines.append(f"  {name:<12s} {count:8d} {node.sizes['pixel']:7d} {node.sizes.get('sample', 0):5d}")
    lines.append("data levels: " + (", ".join(data_levels(tree)) or "none"))
    return "\n".join(lines)


def _ranges(ids):
    """``[1, 2, 3, 5]`` -> ``"1-3, 5"``."""
    parts, start, prev = [], None, None
    for i in ids:
        if start is None:
            start = prev = i
        elif i == prev + 1:
            prev = i
        else:
            parts.append(f"{start}-{prev}" if prev > start else f"{start}")
            start = prev = i
    if start is not None:
        parts.append(f"{start}-{prev}" if prev > start else f"{start}")
    return ", ".join(parts)
