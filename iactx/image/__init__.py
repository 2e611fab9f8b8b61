"""Image cleaning, image parameters and image-level analysis.

Cleaning (:mod:`iactx.image.cleaning`), DL1 image parameters
(:mod:`iactx.image.parameters`), the image quality query
(:mod:`iactx.image.quality`), the DL1 chain on event trees
(:mod:`iactx.image.processor`) and camera images on a square grid
(:mod:`iactx.image.square_images`); the kernels they call live in
``cleaning_kernels``, ``parameter_kernels`` and ``square_image_kernels``.
The muon ring analysis is :mod:`iactx.image.muon` (``cam.iact.muon_fit()``).
"""

from .cleaning import (
    FACTImageCleaner,
    ImageCleaner,
    MARSImageCleaner,
    TailcutsImageCleaner,
    TimeConstrainedImageCleaner,
    apply_time_delta_cleaning,
    brightest_island,
    dilate,
    fact_image_cleaning,
    largest_island,
    mars_cleaning_1st_pass,
    number_of_islands,
    tailcuts_clean,
    time_constrained_clean,
)
from .parameters import hillas_parameters, image_parameters
from .processor import ImageProcessor, dl1
from .quality import ImageQualityQuery
from .square_images import camera_square_grid, from_square_image, to_square_image

__all__ = [
    "FACTImageCleaner",
    "ImageCleaner",
    "ImageProcessor",
    "ImageQualityQuery",
    "MARSImageCleaner",
    "TailcutsImageCleaner",
    "TimeConstrainedImageCleaner",
    "apply_time_delta_cleaning",
    "brightest_island",
    "camera_square_grid",
    "dilate",
    "dl1",
    "fact_image_cleaning",
    "from_square_image",
    "hillas_parameters",
    "image_parameters",
    "largest_island",
    "mars_cleaning_1st_pass",
    "number_of_islands",
    "tailcuts_clean",
    "time_constrained_clean",
    "to_square_image",
]
