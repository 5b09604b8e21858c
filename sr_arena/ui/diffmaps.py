"""Difference maps: |output − reference| per pixel, amplified, as a heat map."""
from __future__ import annotations

import numpy as np

#: A perceptually ordered dark→bright ramp (black, purple, red, orange, pale yellow), like "inferno".
_ANCHORS = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
_COLOURS = np.array([[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]], dtype=np.float64)


def heat(values: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] to RGB uint8 with the ramp above."""
    v = np.clip(values, 0.0, 1.0)
    rgb = np.stack([np.interp(v, _ANCHORS, _COLOURS[:, c]) for c in range(3)], axis=-1)
    return np.rint(rgb).astype(np.uint8)


def difference_map(output: np.ndarray, reference: np.ndarray, amplification: float = 4.0) -> np.ndarray:
    """Heat map of the mean absolute RGB difference × ``amplification`` (255 = brightest)."""
    if output.shape != reference.shape:
        raise ValueError(f"shapes differ: {output.shape} vs {reference.shape}")
    diff = np.abs(output.astype(np.float32) - reference.astype(np.float32))
    if diff.ndim == 3:
        diff = diff.mean(axis=2)
    return heat(diff * float(amplification) / 255.0)


def legend(width: int = 256, height: int = 12) -> np.ndarray:
    """A horizontal colour bar from 0 (left) to the largest shown difference (right)."""
    return np.repeat(heat(np.linspace(0, 1, width))[None], height, axis=0)
