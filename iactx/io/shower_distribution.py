"""The simulated-shower distribution of sim_telarray runs.

sim_telarray closes every run with a block of histograms (EventIO type
100). Histogram 6 counts every simulated shower -- triggered or not -- in
bins of core distance (distance of the core to the array centre in the
shower plane, metres) and of log10(energy / TeV). Effective areas and
instrument response functions need it, which is why ctapipe stores it as
``/simulation/service/shower_distribution``; the event tree keeps it as the
node ``/simulation/shower_distribution`` with one row per run. The reader
finds the histograms at the end of the file, so among the batches of a file
the last one carries the node.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["SHOWER_DISTRIBUTION_PATH", "SHOWER_HISTOGRAM_ID", "shower_histogram", "shower_distribution_dataset"]

#: node of the event tree that holds the distribution
SHOWER_DISTRIBUTION_PATH = "/simulation/shower_distribution"
#: sim_telarray histogram of all simulated showers in (core distance, log10 energy)
SHOWER_HISTOGRAM_ID = 6


def shower_histogram(histograms, hist_id=SHOWER_HISTOGRAM_ID):
    """The histogram ``hist_id`` among a file's closing histograms, or None.

    Parameters
    ----------
    histograms : list of dict or None
        eventio's parsed Histograms block (each with ``id``, ``data`` of
        shape (n_bins_y, n_bins_x), ``lower_x``, ``upper_x``, ``lower_y``,
        ``upper_y``, ``entries``, ...); None for a file that has none.
    hist_id : int
        Histogram identifier (6: all simulated showers).
    """
    return next((h for h in histograms or () if h["id"] == hist_id), None)


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
