"""Networks for training: the generators from ``sr_models.archs`` and SRGAN's discriminator."""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from sr_models.archs import ARCHITECTURES


def build_generator(arch: str, args: dict[str, Any]) -> tuple[nn.Module, float]:
    """``(network, input_range)`` for ``arch`` built with ``args`` (fresh initialisation), from its spec."""
    spec = ARCHITECTURES.get(arch)
    if spec is None or spec.generator is None:
        trainable = [a for a, s in ARCHITECTURES.items() if s.generator is not None]
        raise ValueError(f"unknown arch {arch!r}; known: {', '.join(trainable)}")
    return spec.generator(**args), spec.value_range


class Discriminator(nn.Module):
    """SRGAN's discriminator (Ledig et al. 2017, Fig. 4).

    Eight 3x3 convolutions (64, 64, 128, 128, 256, 256, 512, 512 channels; stride 2 on the
    even ones; BN after all but the first; LeakyReLU 0.2), then dense 1024, LeakyReLU, dense 1
    (a logit; the sigmoid is inside the BCE loss). An adaptive 6x6 average pool before the dense
    layers makes it accept any patch size (for the paper's 96x96 patches it is the identity).
    """

    def __init__(self, num_feat: int = 64) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, num_feat, 3, 1, 1), nn.LeakyReLU(0.2, inplace=True)]
        channels = [num_feat, num_feat, 2 * num_feat, 2 * num_feat, 4 * num_feat, 4 * num_feat,
                    8 * num_feat, 8 * num_feat]
        for i in range(1, len(channels)):
            stride = 2 if i % 2 == 1 else 1
            layers += [nn.Conv2d(channels[i - 1], channels[i], 3, stride, 1, bias=False),
                       nn.BatchNorm2d(channels[i]), nn.LeakyReLU(0.2, inplace=True)]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(6)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(channels[-1] * 36, 1024), nn.LeakyReLU(0.2, inplace=True), nn.Linear(1024, 1)
        )

    def forward(self, x: Tensor) -> Tensor:
        """Logits (B,) for images in [0, 1]; they are mapped to [-1, 1] first."""
        return self.classifier(self.pool(self.features(x * 2 - 1))).squeeze(1)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def to_image_range(output: Tensor, value_range: float) -> Tensor:
    """Network output -> [0, 1] scale (no clamp)."""
    return output / value_range
