"""Synchronized zoom: the same crop from every image, enlarged with nearest neighbour.

Crop metrics compare cached outputs with the reference inside the crop (no network runs).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sr_models.imresize import nearest_upscale
from sr_models.metrics import calculate_psnr, calculate_ssim

#: Smallest crop side: SSIM's 11×11 window needs room.
MIN_CROP = 16


@dataclass(frozen=True)
class Box:
    """A crop rectangle in full-size (HR) pixel coordinates, ``[y0, y1) × [x0, x1)``."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def size(self) -> tuple[int, int]:
        return self.x1 - self.x0, self.y1 - self.y0


def crop_box(center: tuple[int, int], size: int, shape: tuple[int, int]) -> Box:
    """A ``size``×``size`` box centred on ``center = (x, y)``, shifted to stay inside ``shape = (h, w)``."""
    height, width = shape
    side_x, side_y = min(max(size, MIN_CROP), width), min(max(size, MIN_CROP), height)
    x0 = int(np.clip(round(center[0] - side_x / 2), 0, width - side_x))
    y0 = int(np.clip(round(center[1] - side_y / 2), 0, height - side_y))
    return Box(x0, y0, x0 + side_x, y0 + side_y)


def cut(image: np.ndarray, box: Box) -> np.ndarray:
    """The pixels of ``image`` inside ``box``."""
    return image[box.y0:box.y1, box.x0:box.x1]


def enlarge_nearest(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement by an integer ``factor`` (every pixel becomes a block)."""
    return nearest_upscale(image, factor)


def draw_box(image: np.ndarray, box: Box, color: tuple[int, int, int] = (255, 40, 40), width: int = 0) -> np.ndarray:
    """A copy of ``image`` with ``box`` outlined (line width scales with the image when 0)."""
    out = image.copy()
    width = width or max(1, round(max(image.shape[:2]) / 256))
    x0, y0, x1, y1 = box.x0, box.y0, box.x1, box.y1
    out[y0:min(y0 + width, y1), x0:x1] = color
    out[max(y1 - width, y0):y1, x0:x1] = color
    out[y0:y1, x0:min(x0 + width, x1)] = color
    out[y0:y1, max(x1 - width, x0):x1] = color
    return out


def crop_metrics(crop: np.ndarray, reference_crop: np.ndarray) -> tuple[float, float]:
    """(PSNR, SSIM) on the Y channel inside a crop (no border shaved: the crop is the region)."""
    return (calculate_psnr(crop, reference_crop, crop_border=0, test_y_channel=True),
            calculate_ssim(crop, reference_crop, crop_border=0, test_y_channel=True))


def overview_scale(shape: tuple[int, int], max_side: int = 768) -> int:
    """Integer shrink factor so the overview image is at most ``max_side`` pixels per side."""
    return max(1, int(np.ceil(max(shape) / max_side)))
