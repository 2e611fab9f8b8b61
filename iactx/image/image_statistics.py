"""How many images pass each criterion of the image quality query: ctapipe's image statistics.

For every run (``obs_id``) the counts of the telescope events that pass
each criterion on its own (``counts``) and all criteria up to it, in order
(``cumulative_counts``); the first entry, ``TOTAL``, counts every image. It
is the table ctapipe writes as ``/dl1/service/image_statistics``, kept per
run so that merged files keep every run's counts (the event tree's node
``/statistics/image_quality``, :data:`iactx.io.dl1.IMAGE_STATISTICS_PATH`).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["ImageStatistics"]


class ImageStatistics:
    """Counts of an :class:`~iactx.image.quality.ImageQualityQuery`, accumulated batch by batch.

    Parameters
    ----------
    query : ImageQualityQuery
        The query of the processing.

    Examples
    --------
    >>> statistics = ImageStatistics(processor.quality)      # doctest: +SKIP
    >>> for tree in batches:                                  # doctest: +SKIP
    ...     statistics.add(processor(tree))
    >>> statistics.to_dataset()                               # doctest: +SKIP
    """

    def __init__(self, query):
        self.query = query
        self._counts = {}

    def add(self, tree):
        """Count the cleaned images (``image`` and ``image_mask``) of every camera group of ``tree``."""
        from ..accessor import camera_groups

        n_criteria = len(self.query.names) + 1
        for name in camera_groups(tree):
            cam = tree[name].to_dataset(inherit=False)
            if "image_mask" not in cam or cam.sizes["tel_event"] == 0:
                continue
            # the query on the arrays, as image_quality evaluates it, without labelling the result
            passed = self.query.evaluate(cam["image"].values, cam["image_mask"].values)
            passed = np.concatenate([np.ones((passed.shape[0], 1), bool), passed], axis=1)
            in_order = np.cumprod(passed, axis=1).astype(bool)
            obs_ids = np.asarray(cam["obs_id"].values)
            for obs_id in np.unique(obs_ids):
                rows = obs_ids == obs_id
                total = self._counts.setdefault(int(obs_id), np.zeros((2, n_criteria), np.int64))
                total[0] += passed[rows].sum(axis=0)
                total[1] += in_order[rows].sum(axis=0)

    @property
    def has_counts(self):
        """Whether some image was counted."""
        return bool(self._counts)

    def to_dataset(self):
        """The counts as a Dataset ``(obs, criterion)``, runs in order of their ``obs_id``.

        Returns
        -------
        xarray.Dataset
            ``counts`` and ``cumulative_counts`` (obs, criterion) int64;
            coordinates ``obs_id`` (obs), ``criterion`` (names, ``TOTAL``
            first) and ``criterion_expression`` (criterion).
        """
        obs_ids = sorted(self._counts)
        stacked = np.stack([self._counts[o] for o in obs_ids]) if obs_ids else \
            np.zeros((0, 2, len(self.query.names) + 1), np.int64)
        names = ["TOTAL", *self.query.names]
        texts = ["True", *(c.text for c in self.query.criteria)]
        return xr.Dataset(
            {"counts": (("obs", "criterion"), stacked[:, 0], {"long_name": "images passing the criterion alone"}),
             "cumulative_counts": (("obs", "criterion"), stacked[:, 1],
                                   {"long_name": "images passing this and every earlier criterion"})},
            coords={"obs_id": ("obs", np.asarray(obs_ids, np.int64)), "criterion": names,
                    "criterion_expression": ("criterion", texts)},
            attrs={"description": "image quality query statistics per run (ctapipe's image_statistics)"})
