"""SAN: Second-order Attention Network (Dai et al., CVPR 2019).

"Second-order Attention Network for Single Image Super-Resolution", T. Dai, J. Cai, Y. Zhang,
S.-T. Xia, L. Zhang. A re-implementation that is key-for-key compatible with the authors' code
(daitao/SAN @ 7c1e61f0: ``TestCode/code/model/san.py``, ``model/common.py`` and
``model/MPNCOV/python/MPNCOV.py``), so the released ``SAN_BI4X.pt`` loads with ``strict=True``,
and that reproduces its numerics (checked by ``tests/test_conformance_san.py`` against
``../shared/conformance/san``).

Network (Sec. 3, Fig. 2): ``sub_mean`` -> ``head`` conv -> region non-local (RL-NL, Sec. 3.2)
-> ``n_resgroups`` local-source residual attention groups (LSRAG) with a share-source skip
weighted by ``gamma`` (SSRG, Sec. 3.1) -> the SAME region non-local again -> long skip ->
``tail`` (pixel-shuffle upsampler + conv) -> ``add_mean``. Each LSRAG ends with second-order
channel attention (SOCA, Sec. 3.3): covariance pooling, a Newton-Schulz matrix square root and
a sigmoid gate.

Behaviour of the authors' code that this module reproduces on purpose:

* the region non-local always splits the map into 4 quadrants (``H // 2``, ``W // 2``) and
  applies one shared non-local block to each; ``g`` and ``phi`` carry a 2x2 max-pool although
  the authors pass ``sub_sample=False`` (their constructor overwrites the flag);
* SOCA centre-crops its covariance input to at most 1000 rows/columns, with the authors' exact
  branch structure (a side of exactly 1000 takes the "both" branch);
* the module holds tensors the forward never reads: ``non_local.soca.*`` and every
  ``RG.i.gamma``; they are kept so the state dict matches.

Inputs and outputs are RGB in [0, ``rgb_range``] (255 for the released model); the output is not
clamped.
"""
from __future__ import annotations

import math
import re
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sr_models.descriptor import ModelDescriptor

from .spec import Architecture

#: DIV2K RGB mean used by the authors' ``MeanShift`` layers.
DIV2K_RGB_MEAN = (0.4488, 0.4371, 0.4040)
#: SOCA computes its covariance on a centre crop of at most this many rows / columns.
SOCA_MAX_SIDE = 1000
#: Smallest LR side the plain forward accepts: every non-local quadrant must survive a 2x2 max-pool.
MIN_INPUT_SIZE = 4
#: Smallest LR side ``forward_chop`` accepts (smaller inputs give 1-pixel patches officially).
MIN_CHOP_SIZE = 19


def default_conv(in_channels: int, out_channels: int, kernel_size: int, bias: bool = True) -> nn.Conv2d:
    """A 'same'-padded convolution (the authors' ``common.default_conv``)."""
    return nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=bias)


class MeanShift(nn.Conv2d):
    """Adds or subtracts the dataset RGB mean as a 1x1 convolution (weight ``I / std``).

    The weight and bias are stored in the state dict, as in the authors' ``common.MeanShift``.
    Their ``requires_grad`` is switched off here (the authors' ``self.requires_grad = False`` was
    meant to do this but only sets a plain attribute); this changes neither the state dict nor the
    parameter count.
    """

    def __init__(
        self,
        rgb_range: float,
        rgb_mean: tuple[float, float, float] = DIV2K_RGB_MEAN,
        rgb_std: tuple[float, float, float] = (1.0, 1.0, 1.0),
        sign: int = -1,
    ) -> None:
        super().__init__(3, 3, kernel_size=1)
        std = torch.tensor(rgb_std, dtype=torch.float32)
        with torch.no_grad():
            self.weight.copy_(torch.eye(3).view(3, 3, 1, 1) / std.view(3, 1, 1, 1))
            self.bias.copy_(sign * rgb_range * torch.tensor(rgb_mean, dtype=torch.float32) / std)
        self.weight.requires_grad_(False)
        self.bias.requires_grad_(False)


# ----------------------------------------------------------------------------------------------
# Second-order statistics (MPN-COV, used by SOCA, Sec. 3.3, Eq. 4-7)
# ----------------------------------------------------------------------------------------------


def covariance_pool(x: Tensor) -> Tensor:
    """Sample covariance of the channels of ``x`` (B, C, H, W) -> (B, C, C), Eq. 4.

    The authors' ``Covpool`` computes ``X Î Xᵀ`` with ``X`` the (C, M) feature matrix, ``M = H·W``
    and ``Î = (1/M)(I - 11ᵀ/M)`` (a biased covariance, divided by ``M``). ``X Î`` is evaluated here
    without materialising the M×M matrix ``Î``: ``X Î = X/M - (X1)1ᵀ/M²``; the result is the same
    up to float32 rounding (the conformance vectors confirm it) and the memory is O(C·M) instead
    of O(M²). Computed with autocast disabled, in float32 (float64 inputs stay float64).
    """
    with torch.autocast(device_type=x.device.type, enabled=False):
        b, c, h, w = x.shape
        m = h * w
        feats = x.to(torch.promote_types(x.dtype, torch.float32)).reshape(b, c, m)
        feats_i_hat = feats / m - feats.sum(dim=2, keepdim=True) / (m * m)
        return feats_i_hat @ feats.transpose(1, 2)


def newton_schulz_sqrtm(cov: Tensor, iterations: int = 5) -> Tensor:
    """Approximate matrix square root of SPD ``cov`` (B, C, C) by coupled Newton-Schulz, Eq. 5-7.

    As the authors' ``Sqrtm``: pre-normalise by the trace (``A = cov / tr(cov)``), run
    ``iterations`` coupled steps ``Y_k = Y_{k-1} T_k``, ``Z_k = T_k Z_{k-1}`` with
    ``T_k = (3I - Z_{k-1} Y_{k-1}) / 2`` starting from ``Y_0 = A``, ``Z_0 = I`` (the last step
    only updates ``Y``), then post-compensate by ``sqrt(tr(cov))``. With few iterations this is
    an approximation, which is what the released model was trained with. Float32 (float64 stays
    float64), autocast off; plain tensor ops, so autograd differentiates it.
    """
    with torch.autocast(device_type=cov.device.type, enabled=False):
        cov = cov.to(torch.promote_types(cov.dtype, torch.float32))
        b, c, _ = cov.shape
        three_i = 3.0 * torch.eye(c, device=cov.device, dtype=cov.dtype).expand(b, c, c)
        trace = cov.diagonal(dim1=1, dim2=2).sum(dim=1).view(b, 1, 1)
        a = cov / trace
        t = 0.5 * (three_i - a)
        if iterations < 2:
            return a.bmm(t) * trace.sqrt()
        y, z = a.bmm(t), t
        for _ in range(1, iterations - 1):
            t = 0.5 * (three_i - z.bmm(y))
            y, z = y.bmm(t), t.bmm(z)
        y = 0.5 * y.bmm(three_i - z.bmm(y))
        return y * trace.sqrt()


def _soca_crop(x: Tensor, size: int = SOCA_MAX_SIDE) -> Tensor:
    """The authors' SOCA input crop: centre ``size`` rows/columns of a side longer than ``size``.

    Branches are kept exactly: both sides < size -> no crop; only the width > size -> crop
    columns; only the height > size -> crop rows; otherwise (including a side of exactly
    ``size``) crop both with start ``(side - size) // 2``. For a side shorter than ``size`` that
    start is negative and follows Python's slicing, as in the authors' code.
    """
    h, w = x.shape[-2:]
    if h < size and w < size:
        return x
    if h < size and w > size:
        left = (w - size) // 2
        return x[:, :, :, left:left + size]
    if w < size and h > size:
        top = (h - size) // 2
        return x[:, :, top:top + size, :]
    top, left = (h - size) // 2, (w - size) // 2
    return x[:, :, top:top + size, left:left + size]


class SOCA(nn.Module):
    """Second-order channel attention (Sec. 3.3, Fig. 3).

    Channel descriptor = row mean of the Newton-Schulz square root of the covariance of the
    (centre-cropped) feature map; gate = ``sigmoid(conv1x1(relu(conv1x1(descriptor))))``;
    output = ``x * gate``. ``max_pool`` exists (no parameters) but is unused, as in the authors'
    code.
    """

    def __init__(self, channel: int, reduction: int = 8) -> None:
        super().__init__()
        self.max_pool = nn.MaxPool2d(kernel_size=2)
        self.conv_du = nn.Sequential(
            nn.Conv2d(channel, channel // reduction, 1, padding=0, bias=True),
            nn.ReLU(inplace=True),
            nn.Conv2d(channel // reduction, channel, 1, padding=0, bias=True),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        b, c = x.shape[:2]
        cov_sqrt = newton_schulz_sqrtm(covariance_pool(_soca_crop(x)), iterations=5)
        descriptor = cov_sqrt.mean(dim=1).view(b, c, 1, 1).to(x.dtype)
        return self.conv_du(descriptor) * x


# ----------------------------------------------------------------------------------------------
# Region-level non-local (Sec. 3.2)
# ----------------------------------------------------------------------------------------------


class NonLocalBlock(nn.Module):
    """Embedded-Gaussian non-local block (Wang et al. 2018), as configured in SAN.

    ``z = W(softmax(θ(x)ᵀ φ(x)) g(x)) + x`` with 1x1 convs to ``inter_channels``; ``g`` and ``φ``
    are followed by a 2x2 max-pool (the authors' hidden sub-sampling), so the attention matrix is
    N × N/4. ``W`` is a plain 1x1 conv (``bn_layer=False``), zero-initialised like the authors'.
    Attribute names and registration order (``g``, ``W``, ``theta``, ``phi``) match the state dict.
    """

    def __init__(self, in_channels: int, inter_channels: int) -> None:
        super().__init__()
        self.inter_channels = inter_channels
        self.g = nn.Sequential(nn.Conv2d(in_channels, inter_channels, 1), nn.MaxPool2d(kernel_size=2))
        self.W = nn.Conv2d(inter_channels, in_channels, 1)
        nn.init.zeros_(self.W.weight)
        nn.init.zeros_(self.W.bias)
        self.theta = nn.Conv2d(in_channels, inter_channels, 1)
        self.phi = nn.Sequential(nn.Conv2d(in_channels, inter_channels, 1), nn.MaxPool2d(kernel_size=2))

    def forward(self, x: Tensor) -> Tensor:
        b, _, h, w = x.shape
        g_x = self.g(x).reshape(b, self.inter_channels, -1).transpose(1, 2)  # (B, N/4, C')
        theta_x = self.theta(x).reshape(b, self.inter_channels, -1).transpose(1, 2)  # (B, N, C')
        phi_x = self.phi(x).reshape(b, self.inter_channels, -1)  # (B, C', N/4)
        attention = F.softmax(theta_x @ phi_x, dim=-1)
        y = (attention @ g_x).transpose(1, 2).reshape(b, self.inter_channels, h, w)
        return self.W(y) + x


class RegionNonLocal(nn.Module):
    """Region-level non-local module (RL-NL, Sec. 3.2; the authors' ``Nonlocal_CA``).

    Splits the map into 4 quadrants at ``(H // 2, W // 2)`` and applies the same
    :class:`NonLocalBlock` to each independently. ``soca`` is built but never called (kept for
    the state dict). Every quadrant must be at least 2x2 (its max-pool would be empty
    otherwise; the authors' code fails there too), hence inputs of at least 4x4.
    """

    def __init__(self, in_feat: int = 64, inter_feat: int = 32, reduction: int = 8) -> None:
        super().__init__()
        self.soca = SOCA(in_feat, reduction=reduction)
        self.non_local = NonLocalBlock(in_feat, inter_feat)

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        if h < MIN_INPUT_SIZE or w < MIN_INPUT_SIZE:
            raise ValueError(f"SAN needs feature maps of at least {MIN_INPUT_SIZE}x{MIN_INPUT_SIZE}, got {h}x{w}")
        h1, w1 = h // 2, w // 2
        top = torch.cat([self.non_local(x[:, :, :h1, :w1]), self.non_local(x[:, :, :h1, w1:])], dim=3)
        bottom = torch.cat([self.non_local(x[:, :, h1:, :w1]), self.non_local(x[:, :, h1:, w1:])], dim=3)
        return torch.cat([top, bottom], dim=2)


# ----------------------------------------------------------------------------------------------
# Residual groups (Sec. 3.1)
# ----------------------------------------------------------------------------------------------


class ResidualBlock(nn.Module):
    """Simplified residual block (RB, Sec. 3.1): ``x + conv(relu(conv(x)))``, no scaling.

    The two convs live in ``conv_first`` (indices 0 and 2), the authors' name.
    """

    def __init__(self, n_feat: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.conv_first = nn.Sequential(
            default_conv(n_feat, n_feat, kernel_size),
            nn.ReLU(inplace=True),
            default_conv(n_feat, n_feat, kernel_size),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.conv_first(x) + x


class LSRAG(nn.Module):
    """Local-source residual attention group (Sec. 3.1, Fig. 2).

    ``n_resblocks`` residual blocks -> SOCA -> 3x3 conv, plus the group input (local-source
    skip). ``gamma`` is a parameter of the authors' group that its forward never reads; it is
    kept (zero-initialised) for the state dict.
    """

    def __init__(self, n_feat: int, reduction: int, n_resblocks: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1))
        self.rcab = nn.ModuleList(ResidualBlock(n_feat, kernel_size) for _ in range(n_resblocks))
        self.soca = SOCA(n_feat, reduction=reduction)
        self.conv_last = default_conv(n_feat, n_feat, kernel_size)

    def forward(self, x: Tensor) -> Tensor:
        residual = x
        for block in self.rcab:
            x = block(x)
        return self.conv_last(self.soca(x)) + residual


def make_upsampler(scale: int, n_feats: int) -> nn.Sequential:
    """Sub-pixel upsampler (the authors' ``common.Upsampler`` without BN/activation).

    Powers of two: ``log2(scale)`` x (3x3 conv to ``4·n_feats``, PixelShuffle(2)); scale 3: one
    conv to ``9·n_feats`` and PixelShuffle(3).
    """
    layers: list[nn.Module] = []
    if scale > 0 and scale & (scale - 1) == 0:
        for _ in range(int(math.log2(scale))):
            layers += [default_conv(n_feats, 4 * n_feats, 3), nn.PixelShuffle(2)]
    elif scale == 3:
        layers += [default_conv(n_feats, 9 * n_feats, 3), nn.PixelShuffle(3)]
    else:
        raise ValueError(f"unsupported scale {scale}")
    return nn.Sequential(*layers)


class SAN(nn.Module):
    """Second-order Attention Network (Sec. 3, Fig. 2).

    ``forward(x)``: ``x`` is (B, n_colors, H, W) RGB in [0, rgb_range] with H, W >= 4; returns
    (B, n_colors, scale·H, scale·W), not clamped. ``res_scale`` is accepted for the authors'
    signature but, as in their code, not used.
    """

    def __init__(
        self,
        n_resgroups: int = 20,
        n_resblocks: int = 10,
        n_feats: int = 64,
        reduction: int = 16,
        scale: int = 4,
        n_colors: int = 3,
        rgb_range: float = 255,
        res_scale: float = 1.0,
    ) -> None:
        super().__init__()
        self.scale = scale
        self.res_scale = res_scale
        # Registration order fixes the state-dict order of the authors' model.
        self.gamma = nn.Parameter(torch.zeros(1))  # share-source skip weight (SSRG, Sec. 3.1)
        self.sub_mean = MeanShift(rgb_range, sign=-1)
        self.RG = nn.ModuleList(LSRAG(n_feats, reduction, n_resblocks) for _ in range(n_resgroups))
        self.conv_last = default_conv(n_feats, n_feats, 3)
        self.add_mean = MeanShift(rgb_range, sign=1)
        self.non_local = RegionNonLocal(n_feats, n_feats // 8, reduction=8)
        self.head = nn.Sequential(default_conv(n_colors, n_feats, 3))
        self.tail = nn.Sequential(make_upsampler(scale, n_feats), default_conv(n_feats, n_colors, 3))

    def forward(self, x: Tensor) -> Tensor:
        x = self.head(self.sub_mean(x))
        xx = self.non_local(x)
        residual = xx
        for group in self.RG:
            xx = group(xx) + self.gamma * residual
        # As in the authors' forward, ``conv_last`` is not applied (its weights are unused).
        res = self.non_local(xx) + x
        return self.add_mean(self.tail(res))


# ----------------------------------------------------------------------------------------------
# The authors' test-time wrapper
# ----------------------------------------------------------------------------------------------


def forward_chop(model: nn.Module, x: Tensor, shave: int = 10, min_size: int = 160000, scale: int = 4) -> Tensor:
    """The authors' ``--chop`` test wrapper (``Model.forward_chop``, one GPU).

    Runs ``model`` on the 4 overlapping corner patches of size ``(H//2 + shave, W//2 + shave)``
    (recursing into a patch whose area is ``>= min_size``) and stitches their outputs. Because SAN's
    attention is global, this gives different numbers from ``model(x)``; it is what produced the
    paper's x4 results. Needs H, W >= 19 (the authors' code makes 1-pixel patches below that).
    """
    b, c, h, w = x.shape
    if h < MIN_CHOP_SIZE or w < MIN_CHOP_SIZE:
        raise ValueError(f"forward_chop needs inputs of at least {MIN_CHOP_SIZE}x{MIN_CHOP_SIZE}, got {h}x{w}")
    h_half, w_half = h // 2, w // 2
    h_size, w_size = h_half + shave, w_half + shave
    patches = [
        x[:, :, 0:h_size, 0:w_size],
        x[:, :, 0:h_size, w - w_size:w],
        x[:, :, h - h_size:h, 0:w_size],
        x[:, :, h - h_size:h, w - w_size:w],
    ]
    if h_size * w_size < min_size:
        outputs = [model(patch) for patch in patches]
    else:
        outputs = [forward_chop(model, patch, shave, min_size, scale) for patch in patches]

    h, w, h_half, w_half, h_size, w_size = (scale * v for v in (h, w, h_half, w_half, h_size, w_size))
    out = x.new_empty(b, outputs[0].shape[1], h, w)
    out[:, :, :h_half, :w_half] = outputs[0][:, :, :h_half, :w_half]
    out[:, :, :h_half, w_half:] = outputs[1][:, :, :h_half, w_size - w + w_half:]
    out[:, :, h_half:, :w_half] = outputs[2][:, :, h_size - h + h_half:, :w_half]
    out[:, :, h_half:, w_half:] = outputs[3][:, :, h_size - h + h_half:, w_size - w + w_half:]
    return out


# ----------------------------------------------------------------------------------------------
# Checkpoint recognition
# ----------------------------------------------------------------------------------------------

_MODEL_PREFIX = "model."
_SIGNATURE_KEYS = (
    "gamma",
    "sub_mean.weight",
    "head.0.weight",
    "RG.0.rcab.0.conv_first.0.weight",
    "RG.0.soca.conv_du.0.weight",
    "non_local.non_local.theta.weight",
    "tail.0.0.weight",
)


def _strip_model_prefix(sd: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Drop the ``model.`` prefix the authors' ``Model`` wrapper (``model/__init__.py``) adds.

    Only when every key carries it: a generic ``model.`` strip would break other layouts
    (ESRGAN's old ``model.N.sub`` keys), so this stays SAN's own step.
    """
    if all(k.startswith(_MODEL_PREFIX) for k in sd):
        return {k[len(_MODEL_PREFIX):]: v for k, v in sd.items()}
    return dict(sd)


def _infer_scale(sd: Mapping[str, Tensor], n_feats: int) -> int:
    if sd["tail.0.0.weight"].shape[0] == 9 * n_feats:
        return 3
    n_stages = sum(1 for k in sd if re.fullmatch(r"tail\.0\.\d+\.weight", k))
    return 2**n_stages


def infer_config(sd: Mapping[str, Tensor]) -> dict[str, Any]:
    """Constructor arguments of :class:`SAN` read off a state dict's keys and shapes."""
    n_feats, n_colors = sd["head.0.weight"].shape[:2]
    groups = {int(m.group(1)) for k in sd if (m := re.match(r"RG\.(\d+)\.conv_last\.weight$", k))}
    blocks = {int(m.group(1)) for k in sd if (m := re.match(r"RG\.0\.rcab\.(\d+)\.conv_first\.0\.weight$", k))}
    mean_bias = sd["sub_mean.bias"].abs().float().mean().item()
    return {
        "n_resgroups": len(groups),
        "n_resblocks": len(blocks),
        "n_feats": int(n_feats),
        "reduction": int(n_feats) // int(sd["RG.0.soca.conv_du.0.weight"].shape[0]),
        "scale": _infer_scale(sd, int(n_feats)),
        "n_colors": int(n_colors),
        "rgb_range": 255 if mean_bias > 1.0 else 1,
    }


def _detect(state_dict: Mapping[str, Tensor]) -> bool:
    return all(k in state_dict for k in _SIGNATURE_KEYS) or all(
        _MODEL_PREFIX + k in state_dict for k in _SIGNATURE_KEYS)


def build(sd: Mapping[str, Tensor]) -> ModelDescriptor:
    """The SAN whose configuration ``sd`` (canonical: no ``model.`` prefix) has, loaded strictly, in eval mode.

    Raises (``RuntimeError`` from ``load_state_dict``) when keys or shapes do not fit exactly.
    """
    if not all(k in sd for k in _SIGNATURE_KEYS):
        raise ValueError(f"not a SAN state dict: needs {', '.join(_SIGNATURE_KEYS)}")
    config = infer_config(sd)
    model = SAN(**config)
    model.load_state_dict(sd, strict=True)
    model.eval()
    return ModelDescriptor(
        arch="san",
        model=model,
        scale=config["scale"],
        input_range=float(config["rgb_range"]),
        config=config,
        supports_half=True,
        tileable=False,
        min_size=MIN_INPUT_SIZE,
    )


# ----------------------------------------------------------------------------------------------
# How SAN runs a whole image
# ----------------------------------------------------------------------------------------------

#: SAN's region non-local attention holds an (N × N/4) matrix per quadrant, N = h·w/4, i.e.
#: about (h·w)²/16 bytes in float32 (≈0.5 GB at 300×300 LR pixels). Above this many LR
#: pixels SAN runs through the authors' own test-time wrapper (``forward_chop``, four
#: overlapping halves) instead of the whole image; below it the global operations see
#: the whole image, as in the paper. SAN is never cut into blended tiles.
WHOLE_IMAGE_MAX_PIXELS = 300 * 300
#: The authors' ``forward_chop`` recursion threshold (patch area in LR pixels).
CHOP_MIN_SIZE = 160000


def attention_bytes(height: int, width: int) -> int:
    """Float32 bytes of SAN's largest non-local attention matrix for an LR ``height``×``width``."""
    return (height * width) ** 2 // 16


def whole_or_chop(forward, x: Tensor, budget_bytes: int) -> tuple[Tensor, str]:
    """SAN on the whole image when it is small, else the authors' chop with patches whose attention fits ``budget_bytes``."""
    height, width = x.shape[-2:]
    if height * width <= WHOLE_IMAGE_MAX_PIXELS or min(height, width) < MIN_CHOP_SIZE:
        return forward(x), "whole image"
    # Largest patch area whose attention matrix fits the budget: (area)²/16 <= budget.
    min_size = min(CHOP_MIN_SIZE, max(MIN_CHOP_SIZE**2, int(math.sqrt(budget_bytes * 16))))
    return forward_chop(forward, x, min_size=min_size), f"authors' forward_chop (patches < {min_size} LR pixels)"


#: SAN (Dai et al., CVPR 2019). Global operations (second-order attention, region non-local):
#: never blended-tiled; :func:`whole_or_chop` decides. Activation bytes per LR pixel: float32
#: 12.0 kB, bf16 8.6 kB, plus the attention matrix (:func:`attention_bytes`).
ARCH = Architecture(
    id="san",
    name="SAN (Dai et al., CVPR 2019)",
    detect=_detect,
    canonicalize=_strip_model_prefix,
    build=build,
    value_range=255.0,
    bytes_per_lr_pixel=13_000,
    fast_bytes_per_lr_pixel=9_000,
    tiling="internal",
    forward=whole_or_chop,
    generator=SAN,
)
