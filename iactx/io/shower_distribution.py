"""The simulated-shower distribution of sim_telarray runs.

sim_telarray closes every run with a block of histograms (EventIO type
100). Histogram 6 counts every simulated shower -- triggered or not -- in
bins of core distance (distance of the core to the array centre in the
shower plane, metres) and of log10(energy / TeV). Effective areas and
instrument response functions need it, which is why ctapipe stores it as
``/simulation/service/shower_distribution``; the event tree keeps it as the
node ``/simulation/shower_distribution`` with one row per run.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .errors import check_input_file

__all__ = ["SHOWER_DISTRIBUTION_PATH", "SHOWER_HISTOGRAM_ID", "read_shower_histogram",
           "shower_distribution_dataset", "read_shower_distribution", "concat_shower_distributions",
           "with_shower_distribution"]

#: node of the event tree that holds the distribution
SHOWER_DISTRIBUTION_PATH = "/simulation/shower_distribution"
#: sim_telarray histogram of all simulated showers in (core distance, log10 energy)
SHOWER_HISTOGRAM_ID = 6


def read_shower_histogram(path, hist_id=SHOWER_HISTOGRAM_ID):
    """The histogram ``hist_id`` of the closing histogram block of a sim_telarray file.

    Parameters
    ----------
    path : str or Path
        sim_telarray file (plain, gzip or zstd).
    hist_id : int
        Histogram identifier (6: all simulated showers).

    Returns
    -------
    dict or None
        eventio's parsed histogram (``data`` of shape (n_bins_y, n_bins_x),
        ``lower_x``, ``upper_x``, ``lower_y``, ``upper_y``, ``entries``,
        ...), or None when the file has no such histogram (a run that did
        not finish).
    """
    import eventio

    path = check_input_file(path)
    with eventio.EventIOFile(str(path)) as f:
        for obj in f:
            if isinstance(obj, eventio.Histograms):
                return next((h for h in obj.parse() if h["id"] == hist_id), None)
    return None


def shower_distribution_dataset(obs_id, histogram):
    """One run's distribution as a Dataset with one row along ``obs``.

    Parameters
    ----------
    obs_id : int
        Run number.
    histogram : dict
        eventio histogram 6 (:func:`read_shower_histogram`): x core distance
        [m], y log10(energy / TeV).

    Returns
    -------
    xarray.Dataset
        ``histogram`` (obs, energy_bin, core_dist_bin) float32 counts,
        ``bins_energy`` (obs, energy_edge) [TeV] and ``bins_core_dist``
        (obs, core_dist_edge) [m] bin edges, ``n_entries`` and ``hist_id``
        (obs) int64; ``obs_id`` (obs) int64 coordinate.
    """
    bins_core = np.linspace(histogram["lower_x"], histogram["upper_x"], histogram["n_bins_x"] + 1)
    bins_energy = 10.0 ** np.linspace(histogram["lower_y"], histogram["upper_y"], histogram["n_bins_y"] + 1)
    counts = np.asarray(histogram["data"], np.float32).reshape(histogram["n_bins_y"], histogram["n_bins_x"])
    return xr.Dataset(
        {
            "histogram": (("obs", "energy_bin", "core_dist_bin"), counts[np.newaxis],
                          {"long_name": "simulated showers per bin of energy and core distance"}),
            "bins_energy": (("obs", "energy_edge"), bins_energy[np.newaxis],
                            {"units": "TeV", "long_name": "energy bin edges"}),
            "bins_core_dist": (("obs", "core_dist_edge"), bins_core[np.newaxis],
                               {"units": "m", "long_name": "core distance bin edges (shower plane)"}),
            "n_entries": ("obs", np.array([histogram["entries"]], np.int64), {"long_name": "showers filled in"}),
            "hist_id": ("obs", np.array([histogram["id"]], np.int64), {"long_name": "sim_telarray histogram id"}),
        },
        coords={"obs_id": ("obs", np.array([obs_id], np.int64))},
    )


def read_shower_distribution(path, obs_id):
    """:func:`shower_distribution_dataset` of a sim_telarray file, or None without histograms."""
    histogram = read_shower_histogram(path)
    return None if histogram is None else shower_distribution_dataset(obs_id, histogram)


def concat_shower_distributions(datasets):
    """Rows of several runs in one Dataset along ``obs`` (None if there are none).

    Raises
    ------
    ValueError
        Runs whose histograms differ in binning.
    """
    datasets = [ds for ds in datasets if ds is not None]
    if not datasets:
        return None
    shapes = {ds.histogram.shape[1:] for ds in datasets}
    if len(shapes) > 1:
        raise ValueError(f"simulated-shower histograms of the runs differ in binning: {sorted(shapes)}")
    return xr.concat(datasets, dim="obs")


def with_shower_distribution(tree, distribution):
    """``tree`` with ``distribution`` as the node :data:`SHOWER_DISTRIBUTION_PATH` (unchanged if None)."""
    if distribution is None:
        return tree
    nodes = {node.path: node.to_dataset(inherit=False) for node in tree.subtree}
    nodes[SHOWER_DISTRIBUTION_PATH] = distribution
    return xr.DataTree.from_dict(nodes)
