"""Tiling: overlapping tiles blend without seams; tile plans follow memory; SAN never tiles when it fits."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from sr_models import inference
from sr_models.archs import san_arch
from sr_models.archs.san_arch import SAN
from sr_models.descriptor import ModelDescriptor
from sr_models.image_io import read_image
from sr_models.loader import load_model
from sr_models.metrics import calculate_psnr
from sr_models.tiling import bytes_per_pixel, plan_tiles, tile_starts, tiled_forward

from conftest import shared_path


def test_tile_starts_cover_with_overlap():
    for length, tile, overlap in [(100, 64, 16), (300, 64, 16), (64, 64, 16), (65, 64, 8), (1024, 200, 16)]:
        starts = tile_starts(length, tile, overlap)
        assert starts[0] == 0 and starts[-1] + min(tile, length) == length
        assert all(b - a <= tile - overlap for a, b in zip(starts, starts[1:]))


def test_blending_of_a_pointwise_network_is_exact():
    """For a network without spatial context, tiled output equals the whole-image output."""
    x = torch.rand(1, 3, 150, 97)

    def forward(t: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.interpolate(t * 2 + 1, scale_factor=4, mode="nearest")

    out = tiled_forward(forward, x, tile=40, overlap=8, scale=4)
    assert out.shape == (1, 3, 600, 388)
    torch.testing.assert_close(out, forward(x), rtol=0, atol=1e-5)


def test_plan_uses_memory_budget(env):
    env("SR_ARENA_TILE_BUDGET_MB", "128")
    plan = plan_tiles("esrgan", 1024, 1024, torch.device("cpu"))
    assert plan.tile is not None and 64 < plan.tile and plan.tile**2 * bytes_per_pixel("esrgan") <= 128 * 2**20
    assert plan.count == len(tile_starts(1024, plan.tile, plan.overlap)) ** 2
    assert "tiles of" in plan.describe(1024, 1024)
    env("SR_ARENA_TILE_BUDGET_MB", "4096")
    assert plan_tiles("esrgan", 256, 256, torch.device("cpu")).tile is None


def _lr(size: int) -> np.ndarray:
    return read_image(shared_path("data", "benchmark", "Set5", "LR_bicubic", "X4", "baby.png"))[:size, :size]


def test_srgan_tiled_matches_whole():
    """SRGAN's receptive field is small: 40-px tiles (overlap 16) reproduce the whole image closely."""
    srgan = load_model("srgan", "cpu")
    lr = _lr(96)
    whole = inference.upscale(srgan, lr, "exact", tile=0)
    tiled = inference.upscale(srgan, lr, "exact", tile=40)
    assert tiled.shape == whole.shape == (384, 384, 3)
    assert calculate_psnr(tiled, whole, 0) > 50


@pytest.fixture(scope="module")
def esrgan_outputs():
    """ESRGAN (fast path) on a 64² crop: whole, blended 40-px tiles, and two halves pasted naively."""
    esrgan = load_model("esrgan", "cpu")
    lr = _lr(64)
    run = lambda image, tile: inference.upscale(esrgan, np.ascontiguousarray(image), "fast", force_fast=True, tile=tile)
    whole, tiled = run(lr, 0), run(lr, 40)
    naive = np.concatenate([run(lr[:, :32], 0), run(lr[:, 32:], 0)], axis=1)
    return whole, tiled, naive


def _column_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(np.float32) - b.astype(np.float32)).mean(axis=(0, 2))


def test_esrgan_tiles_have_no_seam(esrgan_outputs):
    """Real-ESRGAN's output depends on far context (a 64² crop alone differs from the same region of
    a 96² run by ~30 dB), so tiles differ from the whole image everywhere a little; what must not
    happen is a seam: the error in the band where tiles meet is no worse than in the tile interiors,
    and the output has no step there."""
    whole, tiled, _ = esrgan_outputs
    assert tiled.shape == whole.shape == (256, 256, 3)
    assert calculate_psnr(tiled, whole, 0) > 30
    # Tiles start at LR 0 and 24 (overlap 16): the blend band is HR columns 96..160.
    error = _column_error(tiled, whole)
    band, interior = error[100:156].mean(), np.concatenate([error[:96], error[160:]]).mean()
    assert band < 2.0 * interior + 1.0
    steps = np.abs(np.diff(tiled.astype(np.float32), axis=1)).mean(axis=(0, 2))
    reference = np.abs(np.diff(whole.astype(np.float32), axis=1)).mean(axis=(0, 2))
    assert steps[100:156].max() < reference[100:156].max() * 1.25 + 1.0


def test_naive_pasting_shows_the_seam(esrgan_outputs):
    """The seam test can fail: halves pasted without overlap have a visible seam at column 128."""
    whole, tiled, naive = esrgan_outputs
    seam = slice(124, 132)
    naive_error = _column_error(naive, whole)[seam].mean()
    blended_error = _column_error(tiled, whole)[seam].mean()
    assert naive_error > 2 * blended_error


def _small_san() -> ModelDescriptor:
    torch.manual_seed(0)
    model = SAN(n_resgroups=1, n_resblocks=1, n_feats=16, reduction=4).eval()
    return ModelDescriptor(arch="san", model=model, scale=4, input_range=255.0, tileable=False, min_size=4)


def test_san_does_not_tile_below_its_threshold(env):
    """Below san_arch.WHOLE_IMAGE_MAX_PIXELS SAN sees the whole image, even with a tiny memory budget."""
    env("SR_ARENA_TILE_BUDGET_MB", "1")
    descriptor = _small_san()
    calls: list[tuple[int, int]] = []
    hook = descriptor.model.register_forward_pre_hook(lambda m, a: calls.append(tuple(a[0].shape[-2:])))
    rgb = np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    out = inference.run_network(descriptor, rgb, torch.device("cpu"), tile=16)
    hook.remove()
    assert calls == [(40, 56)] and out.shape == (160, 224, 3)


def test_san_chops_above_threshold(monkeypatch):
    monkeypatch.setattr(san_arch, "WHOLE_IMAGE_MAX_PIXELS", 30 * 30)
    descriptor = _small_san()
    calls: list[tuple[int, int]] = []
    hook = descriptor.model.register_forward_pre_hook(lambda m, a: calls.append(tuple(a[0].shape[-2:])))
    rgb = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    inference.run_network(descriptor, rgb, torch.device("cpu"))
    hook.remove()
    assert calls == [(30, 30)] * 4  # the authors' forward_chop: four overlapping halves + shave 10


def test_fast_path_plans_with_its_own_activation_cost_and_even_tiles(env):
    """bf16 activations are half as large: a 256² ESRGAN input runs whole on the fast path; when
    tiling is needed, tiles are shrunk to the fewest that cover the image (little overlap waste)."""
    env("SR_ARENA_TILE_BUDGET_MB", "1024")
    cpu = torch.device("cpu")
    assert plan_tiles("esrgan", 256, 256, cpu, reduced=True).tile is None
    exact = plan_tiles("esrgan", 256, 256, cpu)
    assert exact.tile is not None and exact.count == 4 and exact.tile < 150
