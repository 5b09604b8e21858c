"""The periodic-artefact score: energy of flat regions at the ×4 upsampler's period-2/period-4 frequencies."""
from __future__ import annotations

import numpy as np

from sr_models.artefacts import BLOCK, artefact_score, flat_blocks, periodic_energy, periodic_mask


def _flat_lr(h: int = 32, w: int = 32) -> np.ndarray:
    return np.full((h, w, 3), 120, np.uint8)


def test_mask_holds_the_fifteen_bins_of_periods_two_and_four():
    mask = periodic_mask(32)
    assert mask.sum() == 15 and not mask[0, 0] and mask[0, 8] and mask[16, 0] and mask[24, 24] and not mask[1, 8]


def test_stripes_of_period_four_score_high_noise_near_its_floor_and_a_ramp_near_zero():
    rng = np.random.default_rng(0)
    lr = _flat_lr()
    base = np.full((128, 128), 120.0)
    stripes = base + 3 * np.sign(np.sin(2 * np.pi * (np.arange(128)[:, None] + 0.5) / 4))
    noise = base + rng.normal(0, 3, base.shape)
    ramp = base + 20 * np.sin(2 * np.pi * np.arange(128) / 64)[None, :]  # smooth shading: not at those periods
    as_rgb = lambda y: np.repeat(np.clip(np.rint(y), 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)  # noqa: E731
    scores = {name: artefact_score([as_rgb(y)], [lr]).percent for name, y in
              (("stripes", stripes), ("noise", noise), ("ramp", ramp))}
    assert scores["stripes"] > 90
    assert 0.8 < scores["noise"] < 2.5  # 15 / (32² − 1) = 1.47 % for white noise
    assert scores["ramp"] < 0.5
    assert artefact_score([as_rgb(stripes)], [lr]).blocks == (128 // BLOCK) ** 2


def test_only_blocks_flat_in_the_input_count():
    reference = np.zeros((64, 64))
    reference[:32, 32:] = np.random.default_rng(1).normal(0, 20, (32, 32))
    assert flat_blocks(reference) == [(0, 0), (32, 0), (32, 32)]
    at, total = periodic_energy(np.zeros((64, 64)), flat_blocks(reference))
    assert at == total == 0.0
