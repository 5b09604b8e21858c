"""ESRGAN's generator, RRDBNet (Wang et al., "ESRGAN", ECCV Workshops 2018, Sec. 3.1, Fig. 4).

The module and parameter names are the authors' own (xinntao/ESRGAN ``RRDBNet_arch.py`` @ 73e9b63):
``conv_first``, ``RRDB_trunk.N.RDB{1,2,3}.conv{1..5}``, ``trunk_conv``, ``upconv1``, ``upconv2``,
``HRconv``, ``conv_last``. :func:`to_authors_layout` converts the other public layouts of the
same network (BasicSR's, and the old ``model.N.sub`` one) to these names.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sr_models.checkpoint_io import unwrap_state_dict
from sr_models.descriptor import ModelDescriptor

from .spec import Architecture

# ----------------------------------------------------------------------------------------------
# Network
# ----------------------------------------------------------------------------------------------


class ResidualDenseBlock_5C(nn.Module):
    """Residual dense block (Sec. 3.1, Fig. 4 right): five densely connected 3x3 convs.

    Conv ``k`` sees the block input concatenated with the outputs of convs ``1..k-1``; convs 1-4
    grow the features by ``gc`` channels and are followed by LeakyReLU(0.2); conv 5 maps back to
    ``nf`` channels without activation. The block output is ``x + 0.2 * conv5(...)``
    (residual scaling, Sec. 3.1).
    """

    def __init__(self, nf: int = 64, gc: int = 32, bias: bool = True) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(nf, gc, 3, 1, 1, bias=bias)
        self.conv2 = nn.Conv2d(nf + gc, gc, 3, 1, 1, bias=bias)
        self.conv3 = nn.Conv2d(nf + 2 * gc, gc, 3, 1, 1, bias=bias)
        self.conv4 = nn.Conv2d(nf + 3 * gc, gc, 3, 1, 1, bias=bias)
        self.conv5 = nn.Conv2d(nf + 4 * gc, nf, 3, 1, 1, bias=bias)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        features = [x]
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            features.append(self.lrelu(conv(torch.cat(features, 1))))
        return x + 0.2 * self.conv5(torch.cat(features, 1))


class RRDB(nn.Module):
    """Residual-in-Residual Dense Block (Fig. 4 left): three RDBs, outer residual scaled by 0.2."""

    def __init__(self, nf: int, gc: int = 32) -> None:
        super().__init__()
        self.RDB1 = ResidualDenseBlock_5C(nf, gc)
        self.RDB2 = ResidualDenseBlock_5C(nf, gc)
        self.RDB3 = ResidualDenseBlock_5C(nf, gc)

    def forward(self, x: Tensor) -> Tensor:
        return x + 0.2 * self.RDB3(self.RDB2(self.RDB1(x)))


class RRDBNet(nn.Module):
    """The x4 ESRGAN generator (Fig. 3/4): SRResNet's skeleton with RRDBs and no BN.

    ``conv_first`` -> ``nb`` RRDBs -> ``trunk_conv`` with a long skip -> two (nearest x2 upsample,
    3x3 conv, LeakyReLU 0.2) stages -> ``HRconv`` + LeakyReLU -> ``conv_last``. Input RGB in [0, 1];
    the output is not clamped.
    """

    def __init__(self, in_nc: int = 3, out_nc: int = 3, nf: int = 64, nb: int = 23, gc: int = 32) -> None:
        super().__init__()
        self.conv_first = nn.Conv2d(in_nc, nf, 3, 1, 1, bias=True)
        self.RRDB_trunk = nn.Sequential(*(RRDB(nf, gc) for _ in range(nb)))
        self.trunk_conv = nn.Conv2d(nf, nf, 3, 1, 1, bias=True)
        self.upconv1 = nn.Conv2d(nf, nf, 3, 1, 1, bias=True)
        self.upconv2 = nn.Conv2d(nf, nf, 3, 1, 1, bias=True)
        self.HRconv = nn.Conv2d(nf, nf, 3, 1, 1, bias=True)
        self.conv_last = nn.Conv2d(nf, out_nc, 3, 1, 1, bias=True)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        fea = self.conv_first(x)
        fea = fea + self.trunk_conv(self.RRDB_trunk(fea))
        fea = self.lrelu(self.upconv1(F.interpolate(fea, scale_factor=2, mode="nearest")))
        fea = self.lrelu(self.upconv2(F.interpolate(fea, scale_factor=2, mode="nearest")))
        return self.conv_last(self.lrelu(self.HRconv(fea)))


# ----------------------------------------------------------------------------------------------
# Public key layouts of the same network
# ----------------------------------------------------------------------------------------------
#
# (a) authors' (xinntao/ESRGAN RRDBNet_arch.py):  conv_first, RRDB_trunk.N.RDBk.convj, trunk_conv,
#     upconv1, upconv2, HRconv, conv_last.
# (b) BasicSR's (basicsr/archs/rrdbnet_arch.py):    conv_first, body.N.rdbk.convj, conv_body,
#     conv_up1, conv_up2, conv_hr, conv_last; checkpoints wrap it under "params" / "params_ema".
#     BasicSR's x2 / x1 variants feed pixel-unshuffled input (conv_first in = 4x / 16x channels).
# (c) the old ESRGAN arch (xinntao/ESRGAN architecture.py / block.py, one flat nn.Sequential
#     "model"):  model.0 = conv_first; model.1 is a shortcut block whose ".sub" holds the RRDBs
#     (each conv wrapped in its own Sequential, hence "convj.0.weight") and, at index nb, the trunk
#     conv; then per x2 stage (upsample, conv, LeakyReLU), so x4 has convs at model.3 and model.6;
#     HRconv (+ LeakyReLU) at model.8, conv_last at model.10 (the mapping of the authors'
#     transer_RRDB_models.py).

LAYOUTS = ("authors", "basicsr", "old")

_BASICSR_NAMES = {
    "conv_first": "conv_first",
    "conv_body": "trunk_conv",
    "conv_up1": "upconv1",
    "conv_up2": "upconv2",
    "conv_hr": "HRconv",
    "conv_last": "conv_last",
}
_BASICSR_BODY = re.compile(r"^body\.(\d+)\.rdb([123])\.(conv[1-5])\.(weight|bias)$")
_OLD_BODY = re.compile(r"^model\.1\.sub\.(\d+)\.RDB([123])\.(conv[1-5])\.0\.(weight|bias)$")
_OLD_TOP = re.compile(r"^model\.(\d+)\.(weight|bias)$")
_OLD_TRUNK = re.compile(r"^model\.1\.sub\.(\d+)\.(weight|bias)$")
_AUTHORS_BODY = re.compile(r"^RRDB_trunk\.(\d+)\.RDB1\.conv1\.weight$")


def detect_layout(state_dict: Mapping[str, Any]) -> str | None:
    """``"authors"``, ``"basicsr"`` or ``"old"`` for an (unwrapped) RRDBNet state dict, else ``None``."""
    if "conv_first.weight" in state_dict and "RRDB_trunk.0.RDB1.conv1.weight" in state_dict:
        return "authors"
    if "conv_first.weight" in state_dict and "body.0.rdb1.conv1.weight" in state_dict:
        return "basicsr"
    if "model.0.weight" in state_dict and "model.1.sub.0.RDB1.conv1.0.weight" in state_dict:
        return "old"
    return None


def _rename_basicsr(key: str) -> str | None:
    if m := _BASICSR_BODY.match(key):
        block, rdb, conv, kind = m.groups()
        return f"RRDB_trunk.{block}.RDB{rdb}.{conv}.{kind}"
    module, _, kind = key.rpartition(".")
    if module in _BASICSR_NAMES and kind in ("weight", "bias"):
        return f"{_BASICSR_NAMES[module]}.{kind}"
    return None


def _old_tail_names(state_dict: Mapping[str, Any]) -> dict[int, str]:
    """Index in the old flat ``model`` Sequential -> authors' module name, for the layers after the trunk.

    The convs after ``model.1`` are, in order, one per x2 upsampling stage, HRconv, conv_last.
    """
    indices = sorted({int(m.group(1)) for k in state_dict if (m := _OLD_TOP.match(k))} - {0})
    upconvs = indices[:-2]
    if len(indices) < 2 or len(upconvs) != 2:
        raise ValueError(
            f"old-arch ESRGAN (model.N.sub) checkpoint with {max(len(upconvs), 0)} upsampling conv(s): "
            f"scale x{2 ** max(len(upconvs), 0)}, but SR Arena's RRDBNet is the x4 network (exactly 2)"
        )
    return {upconvs[0]: "upconv1", upconvs[1]: "upconv2", indices[-2]: "HRconv", indices[-1]: "conv_last"}


def _rename_old(key: str, nb: int, tail: dict[int, str]) -> str | None:
    if m := _OLD_BODY.match(key):
        block, rdb, conv, kind = m.groups()
        return f"RRDB_trunk.{block}.RDB{rdb}.{conv}.{kind}"
    if (m := _OLD_TRUNK.match(key)) and int(m.group(1)) == nb:
        return f"trunk_conv.{m.group(2)}"
    if m := _OLD_TOP.match(key):
        index, kind = int(m.group(1)), m.group(2)
        if index == 0:
            return f"conv_first.{kind}"
        if index in tail:
            return f"{tail[index]}.{kind}"
    return None


def _authors_key_order(nb: int) -> list[str]:
    """The authors' ``state_dict()`` key order for ``nb`` RRDBs (module registration order)."""
    names = ["conv_first"]
    names += [f"RRDB_trunk.{i}.RDB{r}.conv{c}" for i in range(nb) for r in (1, 2, 3) for c in range(1, 6)]
    names += ["trunk_conv", "upconv1", "upconv2", "HRconv", "conv_last"]
    return [f"{name}.{kind}" for name in names for kind in ("weight", "bias")]


def _count_blocks(keys: Any, pattern: re.Pattern) -> int:
    return len({int(m.group(1)) for k in keys if (m := pattern.match(k))})


def to_authors_layout(checkpoint: Mapping[str, Any]) -> dict[str, Tensor]:
    """Rename any public RRDBNet layout (authors', BasicSR's, old ``model.N.sub``) to the authors' keys.

    The checkpoint is first unwrapped by :func:`sr_models.checkpoint_io.unwrap_state_dict`
    (``params_ema`` preferred over ``params``, DataParallel ``module.`` removed). Returns a new dict
    in the authors' ``state_dict()`` order with the same tensor objects. Raises ``ValueError`` when
    the dict is not an RRDBNet, when it is the old arch at a scale other than x4, or when keys are
    left over / missing after the renaming (``CorruptCheckpointError`` when it is not a dict of tensors).
    """
    state_dict = unwrap_state_dict(checkpoint)
    layout = detect_layout(state_dict)
    if layout is None:
        raise ValueError("not an RRDBNet (ESRGAN) state dict: no authors', BasicSR or old model.N.sub keys")
    if layout == "authors":
        renamed = dict(state_dict)
        nb = _count_blocks(renamed, _AUTHORS_BODY)
    elif layout == "basicsr":
        renamed = {_rename_basicsr(k) or k: v for k, v in state_dict.items()}
        nb = _count_blocks(state_dict, re.compile(r"^body\.(\d+)\.rdb1\.conv1\.weight$"))
    else:
        nb = _count_blocks(state_dict, re.compile(r"^model\.1\.sub\.(\d+)\.RDB1\.conv1\.0\.weight$"))
        tail = _old_tail_names(state_dict)
        renamed = {_rename_old(k, nb, tail) or k: v for k, v in state_dict.items()}
    order = _authors_key_order(nb)
    missing = [k for k in order if k not in renamed]
    extra = sorted(set(renamed) - set(order))
    if extra and layout == "basicsr" and any(k.startswith("conv_up3.") for k in extra):
        raise ValueError("BasicSR RRDBNet with conv_up3 is an x8 network; SR Arena's RRDBNet is x4")
    if missing or extra:
        raise ValueError(
            f"{layout} RRDBNet layout with nb={nb} does not map onto the authors' keys: "
            f"missing {missing[:4]}, unexpected {extra[:4]}"
        )
    return {k: renamed[k] for k in order}


def detect_config(state_dict: Mapping[str, Tensor]) -> dict[str, int]:
    """``RRDBNet`` constructor arguments (in_nc, out_nc, nf, nb, gc) of an authors'-layout state dict.

    Raises ``ValueError`` for the pixel-unshuffle variants (BasicSR / Real-ESRGAN x2 and x1), which
    feed ``conv_first`` with 4x / 16x the image channels and are not x4 networks.
    """
    first = state_dict["conv_first.weight"]
    config = {
        "in_nc": int(first.shape[1]),
        "out_nc": int(state_dict["conv_last.weight"].shape[0]),
        "nf": int(first.shape[0]),
        "nb": _count_blocks(state_dict, _AUTHORS_BODY),
        "gc": int(state_dict["RRDB_trunk.0.RDB1.conv1.weight"].shape[0]),
    }
    ratio = config["in_nc"] / config["out_nc"]
    if ratio in (4, 16):
        scale = 2 if ratio == 4 else 1
        raise ValueError(
            f"RRDBNet with in_nc={config['in_nc']} for out_nc={config['out_nc']}: this is the x{scale} "
            f"pixel-unshuffle variant (BasicSR / Real-ESRGAN x{scale}, e.g. RealESRGAN_x2plus has in_nc=12), "
            "not the x4 ESRGAN network SR Arena compares"
        )
    return config


def build(state_dict: Mapping[str, Tensor]) -> ModelDescriptor:
    """An eval-mode x4 :class:`RRDBNet` from an authors'-layout state dict (strict).

    Raises ``ValueError`` when the network is not x4 (see :func:`detect_config`).
    """
    config = detect_config(state_dict)
    model = RRDBNet(**config)
    model.load_state_dict(state_dict, strict=True)
    model.eval()
    return ModelDescriptor(arch="esrgan", model=model, scale=4, input_range=1.0, config=config)


#: RRDBNet, the ESRGAN generator; any public layout (authors', BasicSR, old ``model.N.sub``) is
#: renamed to the authors' keys once. Activation bytes per LR pixel: float32 19.3 kB, bf16 9.3 kB.
ARCH = Architecture(
    id="esrgan",
    name="RRDBNet (ESRGAN, Wang et al., ECCVW 2018)",
    detect=lambda state_dict: detect_layout(state_dict) is not None,
    canonicalize=to_authors_layout,
    build=build,
    value_range=1.0,
    bytes_per_lr_pixel=20_000,
    fast_bytes_per_lr_pixel=10_000,
    generator=RRDBNet,
)
