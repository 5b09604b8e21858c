"""The house ESRGAN trainer's pieces: the cached front plus the trained back is the whole RRDBNet; RaGAN's
losses (ESRGAN Eq. 1-2); the VGG-style discriminator sees 128² HR-size outputs only."""
from __future__ import annotations

import pytest
import torch

from sr_models.archs.rrdbnet_arch import RRDBNet
from sr_models.train.rrdb_finetune import VGG128Discriminator, back, front, is_trainable, ragan_losses


def test_front_then_back_is_the_whole_network():
    torch.manual_seed(0)
    net = RRDBNet(nf=8, nb=5, gc=4).eval()
    x = torch.rand(2, 3, 12, 10)
    with torch.no_grad():
        f0, fk = front(net, x, 2)
        assert torch.allclose(back(net, f0, fk, 2), net(x), atol=1e-6)
    trained = [n for n, _ in net.named_parameters() if is_trainable(n, 2, blocks=5)]
    assert {n.split(".")[1] for n in trained if n.startswith("RRDB_trunk")} == {"3", "4"}
    assert "conv_first.weight" not in trained and "trunk_conv.weight" in trained and "conv_last.bias" in trained


def test_ragan_losses_reward_the_side_that_is_more_realistic_on_average():
    real, fake = torch.full((4,), 3.0), torch.full((4,), -3.0)
    d_loss, g_loss = ragan_losses(real, fake)
    assert d_loss < 0.01 < 5 < g_loss  # D separates them; G is far from fooling it
    d_swapped, g_swapped = ragan_losses(fake, real)
    assert torch.isclose(d_swapped, g_loss) and torch.isclose(g_swapped, d_loss)


def test_discriminator_takes_128_pixel_patches_only():
    disc = VGG128Discriminator(nf=8)
    assert disc(torch.rand(2, 3, 128, 128)).shape == (2,)
    with pytest.raises(ValueError, match="128"):
        disc(torch.rand(2, 3, 96, 96))
