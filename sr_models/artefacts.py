"""Periodic upsampler artefacts: how much of an output's texture on flat regions sits at the periods of the
×4 upsampler.

A ×4 network builds its output on a 4×4 sub-pixel grid (pixel shuffle in SRGAN, nearest ×2 twice in
ESRGAN), so a GAN stage that has learnt to fake texture tends to paint patterns of period 2 or 4 (the
"checkerboard" of Odena et al., Distill 2016). On regions that are flat in the input there is nothing
else to paint, so the score is measured there:

1. flat blocks: ``BLOCK``×``BLOCK`` blocks, aligned to the ×4 grid, whose bicubic ×4 enlargement of the
   same LR input has a Y standard deviation of at most ``FLAT_STD`` grey levels (the input says "flat");
2. in each block of the output's Y channel (BT.601), remove the best-fitting plane (mean and ramp), take
   the 2-D DFT power, and sum it at the 15 frequencies of period 2 or 4 along either axis
   ((u, v) ∈ {0, N/4, N/2, 3N/4}², less DC);
3. score = that energy over all the (mean-removed) energy of the flat blocks, pooled over every block
   of every image, in percent. White noise scores 15/(N²−1) ≈ 1.47 % at N = 32; an upsampler stripe
   pattern scores far above.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .imresize import imresize
from .metrics import rgb2ycbcr_y

BLOCK = 32
FLAT_STD = 2.5
SCALE = 4


def luma(image: np.ndarray) -> np.ndarray:
    """BT.601 Y (16–235) of a uint8 RGB image; grey images as they are (float64)."""
    return rgb2ycbcr_y(image[:, :, :3]) if image.ndim == 3 else image.astype(np.float64)


def periodic_mask(n: int = BLOCK, scale: int = SCALE) -> np.ndarray:
    """Boolean (n, n) mask of the DFT bins with period 2 or 4 (the ×4 sub-pixel grid) along either axis."""
    if n % scale:
        raise ValueError(f"block {n} is not a multiple of the scale {scale}")
    bins = np.arange(0, n, n // scale)
    mask = np.zeros((n, n), bool)
    mask[np.ix_(bins, bins)] = True
    mask[0, 0] = False
    return mask


def flat_blocks(reference_y: np.ndarray, n: int = BLOCK, max_std: float = FLAT_STD) -> list[tuple[int, int]]:
    """Top-left corners (multiples of ``n``) of the blocks whose reference Y std is at most ``max_std``."""
    h, w = reference_y.shape
    return [(y, x) for y in range(0, h - n + 1, n) for x in range(0, w - n + 1, n)
            if reference_y[y:y + n, x:x + n].std() <= max_std]


def _detrended(block: np.ndarray) -> np.ndarray:
    n = block.shape[0]
    yy, xx = np.mgrid[0:n, 0:n]
    design = np.stack([np.ones(n * n), yy.ravel(), xx.ravel()], axis=1)
    coef, *_ = np.linalg.lstsq(design, block.ravel(), rcond=None)
    return block - (design @ coef).reshape(n, n)


def periodic_energy(output_y: np.ndarray, corners: list[tuple[int, int]], n: int = BLOCK) -> tuple[float, float]:
    """``(energy at the upsampler's periods, total energy)`` of the detrended output on the given blocks."""
    mask = periodic_mask(n)
    at, total = 0.0, 0.0
    for y, x in corners:
        power = np.abs(np.fft.fft2(_detrended(output_y[y:y + n, x:x + n]))) ** 2
        at += float(power[mask].sum())
        total += float(power.sum())
    return at, total


@dataclass(frozen=True)
class ArtefactScore:
    """Pooled score over a set of images: percent of flat-region energy at the upsampler's periods."""

    percent: float
    blocks: int
    images: int

    def as_dict(self) -> dict[str, float | int]:
        return {"percent": round(self.percent, 4), "flat_blocks": self.blocks, "images": self.images}


def artefact_score(outputs: list[np.ndarray], inputs: list[np.ndarray]) -> ArtefactScore:
    """Score ×4 ``outputs`` against the LR ``inputs`` they were made from (flat blocks found in bicubic ×4)."""
    at = total = 0.0
    blocks = images = 0
    for out, lr in zip(outputs, inputs):
        reference = luma(imresize(lr, scale=float(SCALE)))
        out_y = luma(out)[: reference.shape[0], : reference.shape[1]]
        corners = flat_blocks(reference[: out_y.shape[0], : out_y.shape[1]])
        if not corners:
            continue
        a, t = periodic_energy(out_y, corners)
        at, total, blocks, images = at + a, total + t, blocks + len(corners), images + 1
    return ArtefactScore(100.0 * at / total if total > 0 else 0.0, blocks, images)


def measurement_inputs(set14_lr_dir, examples_dir) -> list[tuple[str, np.ndarray]]:
    """``(name, LR image)`` of the artefact measurement: Set14's published LR (``LR_bicubic/X4``) and the
    app's examples — an example whose file name ends in ``_lowres`` is already low-resolution and used
    as it is; the others are originals, shrunk as the app shrinks them (MATLAB-exact bicubic ×1/4)."""
    from pathlib import Path

    from .image_io import read_image, to_rgb
    from .imresize import hr_and_lr

    items = [(f"Set14/{p.name}", read_image(p)) for p in sorted(Path(set14_lr_dir).glob("*.png"))]
    for path in sorted(Path(examples_dir).glob("*.png")):
        image = read_image(path)
        image = to_rgb(image) if image.ndim == 3 else image
        lr = image if path.stem.endswith("_lowres") else hr_and_lr(image, SCALE)[1]
        items.append((f"examples/{path.name}", lr))
    return items
