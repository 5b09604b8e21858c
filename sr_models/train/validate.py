"""Validation during training (Set5 PSNR, evaluation only), the sharpness measure, and the
BatchNorm re-estimation that makes an averaged (EMA) network's score the score of what is exported.

Sharpness: the ratio of the mean gradient magnitude of the output to that of the HR image
(Sobel on the Y channel, border crop = scale). Bicubic and MSE-trained networks blur, so
their ratio is below 1; a sharper, GAN-trained output is closer to 1.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage
from torch import nn

from sr_models.evaluate import iter_pairs
from sr_models.inference import from_network_output, to_network_input
from sr_models.metrics import calculate_psnr, rgb2ycbcr_y
from sr_models.paths import SHARED_DIR

from .config import TrainConfig
from .data import PatchSampler, load_training_pairs
from .nets import build_generator

BENCHMARK_DIR = SHARED_DIR / "data" / "benchmark"


def mean_gradient_magnitude(image: np.ndarray, crop_border: int = 4) -> float:
    """Mean Sobel gradient magnitude of the BT.601 Y channel (uint8 RGB or grey in)."""
    y = rgb2ycbcr_y(image[:, :, :3]) if image.ndim == 3 else image.astype(np.float64)
    if crop_border:
        y = y[crop_border:-crop_border, crop_border:-crop_border]
    return float(np.mean(np.hypot(ndimage.sobel(y, axis=0), ndimage.sobel(y, axis=1))))


def gradient_ratio(outputs: list[np.ndarray], references: list[np.ndarray], crop_border: int = 4) -> float:
    """Mean over images of ``grad(output) / grad(HR)`` (1 = as sharp as the original)."""
    ratios = [mean_gradient_magnitude(o, crop_border) / mean_gradient_magnitude(r, crop_border)
              for o, r in zip(outputs, references)]
    return float(np.mean(ratios))


BN_RECALIBRATION_BATCHES = 64


def has_batch_norm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def recalibrate_batch_norm(weights: dict[str, torch.Tensor], config: TrainConfig,
                           batches: int = BN_RECALIBRATION_BATCHES, seed: int = 0,
                           pairs: list[tuple[np.ndarray, np.ndarray]] | None = None) -> dict[str, torch.Tensor]:
    """Averaged (EMA) weights with BatchNorm running statistics re-estimated for them.

    During training the EMA copies the live network's BN statistics, which belong to the live
    weights, not to their average. As for SWA (Izmailov et al. 2018, Sec. 3.2), the statistics are
    recomputed with one pass over training batches (``torch.optim.swa_utils.update_bn``): fixed
    seed, training patches only (``pairs``: the run's ``(hr, lr)`` training pairs, loaded when
    not given). Networks without BN (AWSRN, SAN) are returned unchanged.
    """
    model, value_range = build_generator(config.arch, config.arch_args)
    if not has_batch_norm(model):
        return weights
    model.load_state_dict(weights)
    if pairs is None:
        pairs = load_training_pairs(config.data_dirs, config.scale)
    sampler = PatchSampler(pairs, config.lr_patch, config.scale, np.random.default_rng(seed))
    inputs = [torch.from_numpy(sampler.sample(config.batch_size)[0]).permute(0, 3, 1, 2).float() * (value_range / 255)
              for _ in range(batches)]
    torch.optim.swa_utils.update_bn(inputs, model)
    return {k: v.detach().float() if v.is_floating_point() else v for k, v in model.state_dict().items()}


def load_val_pairs(set_name: str = "Set5") -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(name, hr, lr)`` of a benchmark set with its published LR (``LR_bicubic/X4``)."""
    return list(iter_pairs(BENCHMARK_DIR / set_name))


@torch.no_grad()
def run_on_image(model: nn.Module, lr: np.ndarray, value_range: float, device: torch.device) -> np.ndarray:
    """Network output for one uint8 image (grey is replicated to RGB and averaged back), uint8."""
    rgb = np.repeat(lr[:, :, None], 3, axis=2) if lr.ndim == 2 else lr[:, :, :3]
    out = from_network_output(model(to_network_input(rgb, value_range, device)), value_range)
    if lr.ndim == 2:
        out = np.clip(np.rint(out.astype(np.float32).mean(axis=2)), 0, 255).astype(np.uint8)
    return out


def validate(model: nn.Module, pairs: list[tuple[str, np.ndarray, np.ndarray]], value_range: float,
             device: torch.device, scale: int = 4) -> dict[str, float]:
    """Mean PSNR (Y, crop = scale) and gradient ratio of ``model`` on ``pairs`` (eval mode, fp32)."""
    was_training = model.training
    model.eval()
    psnrs, outputs, refs = [], [], []
    try:
        for _, hr, lr in pairs:
            sr = run_on_image(model, lr, value_range, device)[: hr.shape[0], : hr.shape[1]]
            psnrs.append(calculate_psnr(sr, hr, crop_border=scale, test_y_channel=True))
            outputs.append(sr)
            refs.append(hr)
    finally:
        model.train(was_training)
    return {"psnr": float(np.mean(psnrs)), "grad_ratio": gradient_ratio(outputs, refs, scale)}
