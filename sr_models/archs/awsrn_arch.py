"""AWSRN: adaptive weighted super-resolution network (Wang, Li, Shi, arXiv:1904.02358, 2019).

One class, :class:`AWSRN`, covers the whole family released by the authors
(ChaofWang/AWSRN @ b7e285e, ``code/src/model/awsrn.py`` and ``awsrnd.py``):

=========  ===========  =======  ===========  ======  ==========
variant    n_resblocks  n_feats  block_feats  n_awru  parameters
=========  ===========  =======  ===========  ======  ==========
AWSRN      4            32       128          4       1,587,132
AWSRN-M    3            32       128          4       1,254,002
AWSRN-S    1            32       128          4         587,742
AWSRN-SD   1            16       128          8         443,894
=========  ===========  =======  ===========  ======  ==========

``awsrnd.py`` differs from ``awsrn.py`` only in the number of AWRUs per LFB (8 instead of 4,
both hard-coded there; the trainer's ``--n_awru`` option is never read), hence ``n_awru``.

Module and parameter names follow the official state dict exactly (``head.0``,
``body.N.bK.body.{0,2}``, ``body.N.reduction``, ``tail.tail_k{3,5,7,9}``, ``tail.scale_k*``,
``skip.0``), and every convolution is weight-normalised with the ``bias, weight_g, weight_v``
parameters of ``torch.nn.utils.weight_norm``, so released checkpoints load with ``strict=True``.
"""
from __future__ import annotations

import math
import re
from typing import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sr_models.descriptor import ModelDescriptor

from .spec import Architecture

#: DIV2K RGB mean, hard-coded in the official ``MODEL`` (not part of its state dict).
RGB_MEAN = (0.4488, 0.4371, 0.4040)

# ----------------------------------------------------------------------------------------------
# Building blocks
# ----------------------------------------------------------------------------------------------


def _channel_norm(v: Tensor) -> Tensor:
    """L2 norm of a kernel over (in, kh, kw), one value per output channel, shape (out, 1, 1, 1)."""
    return torch.linalg.vector_norm(v, dim=(1, 2, 3), keepdim=True)


class WeightNormConv2d(nn.Module):
    """A 2-D convolution with weight normalisation (Salimans & Kingma 2016), as AWSRN uses everywhere.

    The kernel is ``W = g * v / ||v||`` with the norm taken over ``(in, kh, kw)`` separately for
    each output channel, i.e. ``torch.nn.utils.weight_norm(conv, dim=0)``. The parameters are
    registered as ``bias``, ``weight_g`` (out, 1, 1, 1), ``weight_v`` (out, in, kh, kw) in that
    order, which is the key order of the official checkpoints. Written out here because the
    classic ``weight_norm`` hook is deprecated and the ``parametrizations`` version stores its
    tensors under different names.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__()
        conv = nn.Conv2d(in_channels, out_channels, kernel_size)  # PyTorch's default conv init
        self.padding = kernel_size // 2
        self.bias = nn.Parameter(conv.bias.detach().clone())
        # Official init: g = ||v||, so W == v until training moves g.
        self.weight_g = nn.Parameter(_channel_norm(conv.weight.detach()))
        self.weight_v = nn.Parameter(conv.weight.detach().clone())

    @property
    def weight(self) -> Tensor:
        """The effective kernel ``g * v / ||v||``."""
        v = self.weight_v
        return v * (self.weight_g / _channel_norm(v))

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight, self.bias, padding=self.padding)


class Scale(nn.Module):
    """A single learnable scalar multiplier: the adaptive weights λ of the paper (Sec. 3.2, 3.3)."""

    def __init__(self, init_value: float = 1.0) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor([float(init_value)]))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale


class AWRU(nn.Module):
    """Adaptive weighted residual unit (Sec. 3.2, Fig. 3c, Eq. 4).

    ``res_scale * body(x) + x_scale * x`` with ``body`` = WN-conv3x3 (n_feats -> block_feats),
    ReLU, WN-conv3x3 (block_feats -> n_feats); both λ start at 1.
    """

    def __init__(self, n_feats: int, block_feats: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.res_scale = Scale(1.0)
        self.x_scale = Scale(1.0)
        self.body = nn.Sequential(
            WeightNormConv2d(n_feats, block_feats, kernel_size),
            nn.ReLU(inplace=True),
            WeightNormConv2d(block_feats, n_feats, kernel_size),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.res_scale(self.body(x)) + self.x_scale(x)


class LFB(nn.Module):
    """Local fusion block (Sec. 3.3, Fig. 2, Eq. 5-6).

    ``n_awru`` chained AWRUs ``b0 .. b{n-1}``; their outputs are concatenated and fused by a
    WN-conv3x3 ``reduction`` (n_awru*n_feats -> n_feats), then adaptively weighted with the block
    input: ``res_scale * reduction(cat) + x_scale * x``.
    """

    def __init__(self, n_feats: int, block_feats: int, n_awru: int = 4, kernel_size: int = 3) -> None:
        super().__init__()
        self.n_awru = n_awru
        for i in range(n_awru):
            self.add_module(f"b{i}", AWRU(n_feats, block_feats, kernel_size))
        self.reduction = WeightNormConv2d(n_feats * n_awru, n_feats, 3)
        self.res_scale = Scale(1.0)
        self.x_scale = Scale(1.0)

    def forward(self, x: Tensor) -> Tensor:
        outputs = []
        feat = x
        for i in range(self.n_awru):
            feat = getattr(self, f"b{i}")(feat)
            outputs.append(feat)
        fused = self.reduction(torch.cat(outputs, dim=1))
        return self.res_scale(fused) + self.x_scale(x)


class AWMS(nn.Module):
    """Adaptive weighted multi-scale reconstruction (Sec. 3.4, Fig. 4, Eq. 7).

    Four parallel WN-convs with kernels 3, 5, 7, 9 (n_feats -> scale²·n_colors), each multiplied
    by its own λ (initialised at 0.25), pixel-shuffled and summed.
    """

    KERNELS = (3, 5, 7, 9)

    def __init__(self, n_feats: int, scale: int, n_colors: int = 3) -> None:
        super().__init__()
        out_feats = scale * scale * n_colors
        for k in self.KERNELS:
            self.add_module(f"tail_k{k}", WeightNormConv2d(n_feats, out_feats, k))
        self.pixelshuffle = nn.PixelShuffle(scale)
        for k in self.KERNELS:
            self.add_module(f"scale_k{k}", Scale(0.25))

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor | None = None
        for k in self.KERNELS:
            branch = self.pixelshuffle(getattr(self, f"scale_k{k}")(getattr(self, f"tail_k{k}")(x)))
            out = branch if out is None else out + branch
        assert out is not None
        return out


# ----------------------------------------------------------------------------------------------
# Network
# ----------------------------------------------------------------------------------------------


class AWSRN(nn.Module):
    """The AWSRN network (Sec. 3.1, Fig. 2).

    Input RGB in [0, 255]. Inside, ``x' = (x - 255·mean) / 127.5``; the output is
    ``(AWMS(LFBs(head(x'))) + PixelShuffle(skip_conv3x3(x'))) · 127.5 + 255·mean``, not clamped.
    The mean is a non-persistent buffer (the official model keeps it as a plain tensor attribute,
    so it is not in the state dict).

    Args:
        n_resblocks: number of LFBs.
        n_feats: feature channels between blocks.
        block_feats: expanded width inside each AWRU.
        scale: upscaling factor.
        n_colors: image channels.
        n_awru: AWRUs per LFB (4 in ``awsrn.py``, 8 in ``awsrnd.py``).
    """

    rgb_mean: Tensor

    def __init__(
        self,
        n_resblocks: int = 4,
        n_feats: int = 32,
        block_feats: int = 128,
        scale: int = 4,
        n_colors: int = 3,
        n_awru: int = 4,
    ) -> None:
        super().__init__()
        self.scale = scale
        self.register_buffer("rgb_mean", torch.tensor(RGB_MEAN).view(1, 3, 1, 1), persistent=False)
        self.head = nn.Sequential(WeightNormConv2d(n_colors, n_feats, 3))
        self.body = nn.Sequential(*(LFB(n_feats, block_feats, n_awru) for _ in range(n_resblocks)))
        self.tail = AWMS(n_feats, scale, n_colors)
        self.skip = nn.Sequential(
            WeightNormConv2d(n_colors, scale * scale * n_colors, 3),
            nn.PixelShuffle(scale),
        )

    def forward(self, x: Tensor) -> Tensor:
        mean = self.rgb_mean * 255
        x = (x - mean) / 127.5
        skip = self.skip(x)
        out = self.tail(self.body(self.head(x)))
        out = out + skip
        return out * 127.5 + mean


def awsrn(scale: int = 4) -> AWSRN:
    """AWSRN (the paper's full model, 1.59 M parameters at x4)."""
    return AWSRN(n_resblocks=4, n_feats=32, block_feats=128, scale=scale, n_awru=4)


def awsrn_m(scale: int = 4) -> AWSRN:
    """AWSRN-M: three LFBs (1.25 M parameters at x4)."""
    return AWSRN(n_resblocks=3, n_feats=32, block_feats=128, scale=scale, n_awru=4)


def awsrn_s(scale: int = 4) -> AWSRN:
    """AWSRN-S: one LFB (0.59 M parameters at x4)."""
    return AWSRN(n_resblocks=1, n_feats=32, block_feats=128, scale=scale, n_awru=4)


def awsrn_sd(scale: int = 4) -> AWSRN:
    """AWSRN-SD (``awsrnd.py``): one LFB of eight AWRUs, 16 features (0.44 M parameters at x4)."""
    return AWSRN(n_resblocks=1, n_feats=16, block_feats=128, scale=scale, n_awru=8)


# ----------------------------------------------------------------------------------------------
# Checkpoint recognition
# ----------------------------------------------------------------------------------------------

#: (n_resblocks, n_feats, block_feats, n_awru) -> the paper's variant name.
VARIANTS: dict[tuple[int, int, int, int], str] = {
    (4, 32, 128, 4): "AWSRN",
    (3, 32, 128, 4): "AWSRN-M",
    (1, 32, 128, 4): "AWSRN-S",
    (1, 16, 128, 8): "AWSRN-SD",
}

_REQUIRED_KEYS = (
    "head.0.weight_v",
    "body.0.b0.body.0.weight_v",
    "body.0.reduction.weight_v",
    "tail.tail_k3.weight_v",
    "tail.scale_k9.scale",
    "skip.0.weight_v",
)


def infer_config(state_dict: Mapping[str, Tensor]) -> dict[str, int] | None:
    """Constructor arguments read off an AWSRN state dict's keys and shapes, or ``None``."""
    if not all(k in state_dict for k in _REQUIRED_KEYS):
        return None
    head_v = state_dict["head.0.weight_v"]
    n_feats, n_colors = int(head_v.shape[0]), int(head_v.shape[1])
    block_feats = int(state_dict["body.0.b0.body.0.weight_v"].shape[0])
    n_resblocks = 1 + max(int(m.group(1)) for k in state_dict if (m := re.match(r"body\.(\d+)\.", k)))
    n_awru = 1 + max(int(m.group(1)) for k in state_dict if (m := re.match(r"body\.0\.b(\d+)\.", k)))
    scale = math.isqrt(int(state_dict["skip.0.weight_v"].shape[0]) // n_colors)
    return {
        "n_resblocks": n_resblocks,
        "n_feats": n_feats,
        "block_feats": block_feats,
        "scale": scale,
        "n_colors": n_colors,
        "n_awru": n_awru,
    }


def build(state_dict: Mapping[str, Tensor]) -> ModelDescriptor:
    """The AWSRN variant whose layout ``state_dict`` has, loaded strictly, in eval mode.

    Recognises all four released variants (and other depths/widths of the same design) from
    the keys and shapes. The official EDSR-style trainer saves ``model_best.pt`` as a plain
    state dict; wrapped and DataParallel-prefixed ones were opened by the loader already.
    """
    config = infer_config(state_dict)
    if config is None:
        raise ValueError(f"not an AWSRN state dict: needs {', '.join(_REQUIRED_KEYS)}")
    model = AWSRN(**config)
    model.load_state_dict(state_dict, strict=True)
    model.eval()
    variant = VARIANTS.get(
        (config["n_resblocks"], config["n_feats"], config["block_feats"], config["n_awru"]), "custom"
    )
    return ModelDescriptor(
        arch="awsrn",
        model=model,
        scale=config["scale"],
        input_range=255.0,
        config={**config, "variant": variant},
    )


#: AWSRN (Wang et al., 2019), every released variant. Activation bytes per LR pixel: float32 2.6 kB, bf16 3.1 kB.
ARCH = Architecture(
    id="awsrn",
    name="AWSRN (Wang et al., 2019)",
    detect=lambda state_dict: all(k in state_dict for k in _REQUIRED_KEYS),
    build=build,
    value_range=255.0,
    bytes_per_lr_pixel=4_000,
    fast_bytes_per_lr_pixel=4_000,
    generator=AWSRN,
)
