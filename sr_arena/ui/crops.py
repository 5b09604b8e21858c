"""Synchronized zoom: the same crop from every image, enlarged with nearest neighbour.

Crop metrics compare cached outputs with the reference inside the crop (no network runs). On the page
(projector mode) each tile is the crop's own pixels, drawn by the browser ``magnification`` times larger
with nearest neighbour (``image-rendering: pixelated``), so the slider changes the size on screen.
"""
from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

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


def _outline(out: np.ndarray, box: Box, width: int, color: tuple[int, int, int]) -> None:
    x0, y0, x1, y1 = box.x0, box.y0, box.x1, box.y1
    out[y0:min(y0 + width, y1), x0:x1] = color
    out[max(y1 - width, y0):y1, x0:x1] = color
    out[y0:y1, x0:min(x0 + width, x1)] = color
    out[y0:y1, max(x1 - width, x0):x1] = color


def draw_box(image: np.ndarray, box: Box, color: tuple[int, int, int] | None = None, width: int = 0) -> np.ndarray:
    """A copy of ``image`` with ``box`` outlined (line width scales with the image when 0).

    With no ``color``: a double outline, black outside and white inside, visible on any content
    (a single red line vanished on red, e.g. the baboon's nose).
    """
    out = image.copy()
    width = width or max(1, round(max(image.shape[:2]) / 256))
    if color is not None:
        _outline(out, box, width, color)
        return out
    _outline(out, box, 2 * width, (0, 0, 0))
    inner = Box(box.x0 + width, box.y0 + width, box.x1 - width, box.y1 - width)
    if inner.x1 > inner.x0 and inner.y1 > inner.y0:
        _outline(out, inner, width, (255, 255, 255))
    return out


def moved(center: tuple[int, int], direction: str, size: int, shape: tuple[int, int]) -> tuple[int, int]:
    """The crop centre after an arrow key: half a crop in ``direction`` (left/right/up/down), kept inside."""
    dx, dy = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}[direction]
    step = max(1, int(size) // 2)
    box = crop_box((center[0] + dx * step, center[1] + dy * step), int(size), shape)
    return (box.x0 + box.x1) // 2, (box.y0 + box.y1) // 2


def png_data_url(image: np.ndarray) -> str:
    """A small image as a ``data:image/png`` URL (lossless)."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@dataclass(frozen=True)
class Tile:
    """One zoom tile: the crop of one image, its label and the numbers shown with it."""

    key: str
    name: str
    crop: np.ndarray
    numbers: str = ""  # e.g. "27.67 dB · 0.781 · NIQE 5.1"


def strip_html(tiles: list[Tile], magnification: int) -> str:
    """The zoom strip: every tile ``magnification`` × the crop's size on screen (capped at the page width),
    nearest neighbour, wrapping into a grid; labels wrap and are never cut."""
    if not tiles:
        return ""
    height, width = tiles[0].crop.shape[:2]
    shown_w, shown_h = width * int(magnification), height * int(magnification)
    grid = " sr-grid" if len(tiles) >= 6 else ""
    figures = "".join(
        f'<figure class="sr-tile" data-key="{html.escape(t.key)}" style="--tile-w:{shown_w}px">'
        f'<img src="{png_data_url(t.crop)}" width="{shown_w}" height="{shown_h}" alt="{html.escape(t.name)} crop" '
        f'draggable="false"><figcaption><b>{html.escape(t.name)}</b>'
        + (f' · <span class="sr-metric">{html.escape(t.numbers)}</span>' if t.numbers else "")
        + "</figcaption></figure>" for t in tiles)
    return (f'<div class="sr-zoom{grid}" tabindex="0" data-magnification="{int(magnification)}" '
            f'style="--tile-w:{shown_w}px" '
            f'aria-label="Zoom strip: arrow keys move the crop">{figures}</div>')


def crop_metrics(crop: np.ndarray, reference_crop: np.ndarray) -> tuple[float, float]:
    """(PSNR, SSIM) on the Y channel inside a crop (no border shaved: the crop is the region)."""
    return (calculate_psnr(crop, reference_crop, crop_border=0, test_y_channel=True),
            calculate_ssim(crop, reference_crop, crop_border=0, test_y_channel=True))


def overview_scale(shape: tuple[int, int], max_side: int = 768) -> int:
    """Integer shrink factor so the overview image is at most ``max_side`` pixels per side."""
    return max(1, int(np.ceil(max(shape) / max_side)))
