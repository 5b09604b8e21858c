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

from sr_models.descriptor import ModelDescriptor

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
