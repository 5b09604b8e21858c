"""What a loaded network tells its caller (in the spirit of spandrel's ``ModelDescriptor``).

Models know nothing of images or of the UI; the inference code reads a descriptor to
learn how to feed a network (value range, scale, size limits) and what it may do with
it (reduced precision, tiling).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from torch import nn


@dataclass(frozen=True)
class ModelDescriptor:
    """A network plus the facts needed to run it.

    Attributes:
        arch: architecture id: ``"srgan"``, ``"esrgan"``, ``"awsrn"`` or ``"san"``.
        model: the ``nn.Module`` (eval mode, weights loaded).
        scale: upscaling factor (4 for every method in SR Arena).
        input_range: nominal range of the network's RGB input and output: ``1.0`` for
            tensors in [0, 1] (ESRGAN, SRGAN), ``255.0`` for [0, 255] (AWSRN, SAN).
        config: constructor arguments recognised from the checkpoint.
        supports_half: whether fp16/bf16 inference is meaningful for this network.
        tileable: ``False`` when the network has global operations (SAN's second-order
            channel attention and non-local blocks), so tiling changes its output.
        min_size: smallest LR height/width the network accepts.
    """

    arch: str
    model: nn.Module
    scale: int
    input_range: float
    config: Mapping[str, Any] = field(default_factory=dict)
    supports_half: bool = True
    tileable: bool = True
    min_size: int = 1
