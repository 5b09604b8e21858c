"""SRGAN's generator, SRResNet (Ledig et al., "Photo-Realistic Single Image Super-Resolution Using a
Generative Adversarial Network", CVPR 2017, Sec. 2.2 and Fig. 4).

No official SRGAN weights were released. SR Arena uses the public re-implementation
leftthomas/SRGAN @ b0323c6 (``model.py``, class ``Generator``) and its checkpoint
``netG_epoch_4_100.pth``; this module reproduces that network's parameter names exactly.

Key layout for ``B`` residual blocks (leftthomas hard-codes ``B = 5``; the numbering below is the
natural generalisation, and for ``B = 5`` it is exactly leftthomas's)::

    block1.0             9x9 head conv            block1.1             its PReLU
    block2 ... block{B+1}                         residual blocks: conv1, bn1, prelu, conv2, bn2
    block{B+2}.0         3x3 conv after the blocks block{B+2}.1         its PReLU
    block{B+3}.0 ... .{S-1}                       x2 sub-pixel stages: conv, (PixelShuffle), prelu
    block{B+3}.{S}       9x9 tail conv

where ``S = log2(scale)``. Note: at commit b0323c6 the post-residual layer is conv + PReLU (the
paper and leftthomas's later ``model.py`` use conv + BN); the released checkpoint matches b0323c6.
"""
from __future__ import annotations

import math
import re
from typing import Mapping

import torch
from torch import Tensor, nn

from sr_models.descriptor import ModelDescriptor

from .spec import Architecture


class ResidualBlock(nn.Module):
    """One SRResNet residual block (Fig. 4): conv3x3-BN-PReLU-conv3x3-BN plus the identity skip."""

    def __init__(self, num_feat: int = 64) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_feat, kernel_size=3, padding=1)
        self.bn1 = nn.BatchNorm2d(num_feat)
        self.prelu = nn.PReLU()
        self.conv2 = nn.Conv2d(num_feat, num_feat, kernel_size=3, padding=1)
        self.bn2 = nn.BatchNorm2d(num_feat)

    def forward(self, x: Tensor) -> Tensor:
        residual = self.prelu(self.bn1(self.conv1(x)))
        return x + self.bn2(self.conv2(residual))


class UpsampleBlock(nn.Module):
    """A x``factor`` sub-pixel stage (Fig. 4, Shi et al. 2016): conv3x3 -> PixelShuffle -> PReLU."""

    def __init__(self, num_feat: int = 64, factor: int = 2) -> None:
        super().__init__()
        self.conv = nn.Conv2d(num_feat, num_feat * factor**2, kernel_size=3, padding=1)
        self.pixel_shuffle = nn.PixelShuffle(factor)
        self.prelu = nn.PReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.prelu(self.pixel_shuffle(self.conv(x)))


class SRGANGenerator(nn.Module):
    """SRResNet generator with leftthomas/SRGAN's parameter names (see the module docstring).

    Input RGB in [0, 1]; output ``(tanh(z) + 1) / 2`` in (0, 1), as in leftthomas's ``forward``.

    Args:
        num_blocks: residual blocks ``B`` (5 in leftthomas's checkpoint, 16 in the paper).
        num_feat: feature channels (64).
        scale: upscaling factor, a power of two (one x2 sub-pixel stage per factor of 2).
    """

    def __init__(self, num_blocks: int = 5, num_feat: int = 64, scale: int = 4) -> None:
        super().__init__()
        num_upsample = int(math.log2(scale))
        if num_blocks < 1 or 2**num_upsample != scale:
            raise ValueError(f"need num_blocks >= 1 and a power-of-two scale, got {num_blocks=}, {scale=}")
        self.num_blocks = num_blocks
        self.block1 = nn.Sequential(nn.Conv2d(3, num_feat, kernel_size=9, padding=4), nn.PReLU())
        for i in range(num_blocks):
            self.add_module(f"block{i + 2}", ResidualBlock(num_feat))
        self.add_module(
            f"block{num_blocks + 2}",
            nn.Sequential(nn.Conv2d(num_feat, num_feat, kernel_size=3, padding=1), nn.PReLU()),
        )
        tail = [UpsampleBlock(num_feat, 2) for _ in range(num_upsample)]
        tail.append(nn.Conv2d(num_feat, 3, kernel_size=9, padding=4))
        self.add_module(f"block{num_blocks + 3}", nn.Sequential(*tail))

    def residual_blocks(self) -> list[nn.Module]:
        return [getattr(self, f"block{i + 2}") for i in range(self.num_blocks)]

    def forward(self, x: Tensor) -> Tensor:
        head = self.block1(x)
        fea = head
        for block in self.residual_blocks():
            fea = block(fea)
        fea = getattr(self, f"block{self.num_blocks + 2}")(fea)
        out = getattr(self, f"block{self.num_blocks + 3}")(head + fea)  # long skip (Fig. 4)
        return (torch.tanh(out) + 1) / 2


# ----------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------

_RESIDUAL_KEY = re.compile(r"^block(\d+)\.conv1\.weight$")


def detect_config(state_dict: Mapping[str, Tensor]) -> dict[str, int] | None:
    """``{"num_blocks", "num_feat", "scale"}`` for a leftthomas-layout state dict, else ``None``."""
    head = state_dict.get("block1.0.weight")
    if not isinstance(head, Tensor) or head.dim() != 4 or tuple(head.shape[1:]) != (3, 9, 9):
        return None
    indices = sorted(int(m.group(1)) for k in state_dict if (m := _RESIDUAL_KEY.match(k)))
    num_blocks = len(indices)
    if num_blocks == 0 or indices != list(range(2, num_blocks + 2)):
        return None
    tail = f"block{num_blocks + 3}"
    num_upsample = 0
    while f"{tail}.{num_upsample}.conv.weight" in state_dict:
        num_upsample += 1
    if f"block{num_blocks + 2}.0.weight" not in state_dict or f"{tail}.{num_upsample}.weight" not in state_dict:
        return None
    return {"num_blocks": num_blocks, "num_feat": int(head.shape[0]), "scale": 2**num_upsample}


def _with_bn_counters(state_dict: Mapping[str, Tensor], model: nn.Module) -> dict[str, Tensor]:
    """Add the ``num_batches_tracked`` buffers that checkpoints saved before torch 0.4.1 lack.

    They only matter for training with ``momentum=None``; eval mode ignores them, so a zero counter
    lets ``load_state_dict(strict=True)`` check every other key.
    """
    filled = dict(state_dict)
    for key in model.state_dict():
        if key.endswith(".num_batches_tracked") and key not in filled:
            filled[key] = torch.tensor(0, dtype=torch.long)
    return filled


def build(state_dict: Mapping[str, Tensor]) -> ModelDescriptor:
    """An eval-mode :class:`SRGANGenerator` from a leftthomas-layout state dict (strict).

    The number of residual blocks, the width and the scale are read from the keys and shapes.
    """
    config = detect_config(state_dict)
    if config is None:
        raise ValueError("not a leftthomas-layout SRGAN generator (block1.0 9x9 head, blockN residual blocks)")
    model = SRGANGenerator(**config)
    model.load_state_dict(_with_bn_counters(state_dict, model), strict=True)
    model.eval()
    return ModelDescriptor(arch="srgan", model=model, scale=config["scale"], input_range=1.0, config=config)


#: The SRGAN generator family (SRResNet with or without adversarial training). Peak activation
#: bytes per LR pixel measured as in :mod:`sr_models.tiling` (float32 10.5 kB, bf16 7.3 kB).
ARCH = Architecture(
    id="srgan",
    name="SRResNet / SRGAN generator (Ledig et al., CVPR 2017)",
    detect=lambda state_dict: detect_config(state_dict) is not None,
    build=build,
    value_range=1.0,
    bytes_per_lr_pixel=12_000,
    fast_bytes_per_lr_pixel=8_000,
    generator=SRGANGenerator,
)
