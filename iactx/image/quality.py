"""Which cleaned images get parameters: the image quality query.

A query is an ordered list of named criteria on the pixels of an image that
survive cleaning. Each criterion is written like ctapipe's
``ImageQualityQuery`` (``"image.sum() > 0"``, the free name ``image`` being
the selected pixel values) or as a one-argument lambda
(``"lambda im: im.sum() > 0"``). The text is checked against a small
grammar and interpreted (:mod:`iactx.config.criteria`), never executed.

Evaluation is batched: one call decides every image of a camera group.
"""

from __future__ import annotations

import numpy as np
import param

from .._apply import apply_kernel
from ..config.criteria import compile_criterion, criterion_pairs
from .parameter_kernels import gather_selected

__all__ = ["ImageQualityQuery", "DEFAULT_IMAGE_CRITERIA", "image_quality"]

#: ctapipe's default image criteria (those of its ImageProcessor)
DEFAULT_IMAGE_CRITERIA = [
    ("size_greater_0", "image.sum() > 0"),
    ("at_least_2_pixels", "image.size > 1"),
]


def _as_lambda(text):
    stripped = text.strip() if isinstance(text, str) else text
    if isinstance(stripped, str) and not stripped.startswith("lambda"):
        return f"lambda image: {stripped}"
    return stripped


class ImageQualityQuery(param.Parameterized):
    """Named criteria an image must all pass to be parameterised.

    Examples
    --------
    >>> query = ImageQualityQuery(quality_criteria=[("enough_light", "image.sum() > 50"),
    ...                                             ("enough_pixels", "image.size >= 3")])
    >>> query.names
    ['enough_light', 'enough_pixels']
    """

    quality_criteria = param.List(default=list(DEFAULT_IMAGE_CRITERIA), doc=(
        "Ordered (name, expression) pairs (or {name: expression}); an expression uses the name 'image' for the "
        "pixel values surviving cleaning, e.g. ('size_greater_0', 'image.sum() > 0'), or is a "
        "one-argument lambda. Allowed: numbers, arithmetic, comparisons, and/or/not, np.<reduction>(...) "
        "and image.<reduction>() with sum, count_nonzero, max, min, mean, std, median, any, all, and image.size."))

    def __init__(self, **params):
        super().__init__(**params)
        self._compiled = None
        self.criteria  # noqa: B018 - check the criteria now, not at the first image
        self.param.watch(self._recompile, ["quality_criteria"])

    def _recompile(self, _event):
        self._compiled = None
        self.criteria  # noqa: B018

    @property
    def criteria(self):
        """The checked criteria, compiled once."""
        if self._compiled is None:
            self._compiled = [compile_criterion(name, _as_lambda(text)) for name, text in
                              criterion_pairs(self.quality_criteria, "ImageQualityQuery.quality_criteria")]
        return self._compiled

    @property
    def names(self):
        """Names of the criteria, in order."""
        return [c.name for c in self.criteria]

    def evaluate(self, image, mask):
        """Result of every criterion for a batch.

        Parameters
        ----------
        image : (n_images, n_pixels) array
        mask : (n_images, n_pixels) bool
            Pixels of each image (surviving cleaning).

        Returns
        -------
        numpy.ndarray, shape (n_images, n_criteria), bool
        """
        image = np.ascontiguousarray(image)
        mask = np.ascontiguousarray(mask, dtype=bool)
        # every allowed reduction ignores the order of the pixels: pack the selected ones to the left
        width = max(int(mask.sum(axis=1).max(initial=0)), 1)
        selected = np.empty((image.shape[0], width))
        gather_selected(image, mask, selected)
        results = np.ones((image.shape[0], len(self.criteria)), bool)
        for k, criterion in enumerate(self.criteria):
            results[:, k] = criterion(selected)
        return results

    def passes(self, image, mask):
        """Whether each image passes every criterion, shape (n_images,)."""
        return self.evaluate(image, mask).all(axis=1)


def image_quality(cam, query=None, *, image="image", mask="image_mask"):
    """Evaluate an image quality query on every image of a camera group.

    Parameters
    ----------
    cam : xarray.Dataset
        Camera group with ``image`` and ``image_mask``.
    query : ImageQualityQuery, optional
        Default: ctapipe's default criteria (positive size, at least two pixels).
    image, mask : str
        Names of the image and mask variables.

    Returns
    -------
    xarray.DataArray
        ``image_quality`` (tel_event, criterion) bool, the criterion names as coordinate.
    """
    query = ImageQualityQuery() if query is None else query
    names = query.names
    result = apply_kernel(
        query.evaluate, cam[image], cam[mask],
        input_core_dims=[["pixel"], ["pixel"]], output_core_dims=[["criterion"]],
        output_dtypes=[bool], output_sizes={"criterion": len(names)},
    )
    return result.assign_coords(criterion=names).rename("image_quality")
