"""Example images: small crops of scikit-image's public-domain sample images (``skimage.data``).

Regenerate them with ``python -m sr_arena.ui.examples`` (writes ``examples/*.png``).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .uploads import LOW_RES, ORIGINAL

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"


@dataclass(frozen=True)
class Example:
    """One example: where it comes from and which mode it is meant for."""

    filename: str
    sample: str  # skimage.data function name
    rows: slice
    cols: slice
    mode: str
    label: str
    shrink: int = 1  # area-average by this factor after cropping (makes a genuinely small LR image)


EXAMPLES: tuple[Example, ...] = (
    Example("astronaut_face.png", "astronaut", slice(20, 276), slice(120, 376), ORIGINAL,
            "Astronaut portrait (original, 256×256)"),
    Example("chelsea_cat.png", "chelsea", slice(30, 286), slice(110, 366), ORIGINAL, "Cat (original, 256×256)"),
    Example("coffee_cup.png", "coffee", slice(60, 316), slice(160, 416), ORIGINAL, "Coffee cup (original, 256×256)"),
    Example("camera_lowres.png", "camera", slice(40, 296), slice(160, 416), LOW_RES,
            "Cameraman, greyscale (already low-res, 64×64)", shrink=4),
    Example("rocket_lowres.png", "rocket", slice(0, 384), slice(200, 456), LOW_RES,
            "Rocket launch (already low-res, 64×96)", shrink=4),
)


def render(example: Example) -> np.ndarray:
    """The example's pixels from ``skimage.data``."""
    from skimage import data
    from skimage.transform import downscale_local_mean

    image = getattr(data, example.sample)()[example.rows, example.cols]
    if example.shrink > 1:
        factors = (example.shrink, example.shrink) + ((1,) if image.ndim == 3 else ())
        image = np.clip(np.rint(downscale_local_mean(image, factors)), 0, 255).astype(np.uint8)
    return image


def make_examples(directory: Path = EXAMPLES_DIR) -> list[Path]:
    """Write every example as PNG into ``directory``; returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for example in EXAMPLES:
        path = directory / example.filename
        Image.fromarray(render(example)).save(path, format="PNG")
        paths.append(path)
    return paths


def available(directory: Path = EXAMPLES_DIR) -> list[tuple[Example, Path]]:
    """Examples whose PNG exists in ``directory``."""
    return [(e, directory / e.filename) for e in EXAMPLES if (directory / e.filename).is_file()]


if __name__ == "__main__":
    for written in make_examples(Path(sys.argv[1]) if len(sys.argv) > 1 else EXAMPLES_DIR):
        print(written)
