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


def test_a_stage_without_its_run_folder_starts_from_its_shipped_export(tmp_path):
    """A fresh checkout has no runs/: the GAN stage starts from the shipped PSNR stage, whose base must match."""
    from sr_models.paths import CHECKPOINTS_DIR
    from sr_models.registry import REALESRGAN_X4PLUS_SHA256
    from sr_models.train.rrdb_finetune import stage_weights

    if not (CHECKPOINTS_DIR / "house" / "esrgan_psnr_x4.safetensors").is_file():
        pytest.skip("the shipped house RRDB-PSNR stage is absent")
    weights = stage_weights("esrgan_psnr", REALESRGAN_X4PLUS_SHA256, runs_dir=tmp_path)
    assert all(is_trainable(n, 4) for n in weights) and "conv_last.weight" in weights
    assert all(t.dtype == torch.float32 for t in weights.values())
    with pytest.raises(ValueError, match="base"):
        stage_weights("esrgan_psnr", "0" * 64, runs_dir=tmp_path)


def test_network_interpolation_runs_from_the_psnr_stage_to_the_gan_stage():
    """ESRGAN Sec. 3.4: θ = (1 − α) θ_PSNR + α θ_GAN; α = 0 and 1 are the two stages themselves."""
    from sr_models.train.rrdb_finetune import interpolate

    psnr = {"w": torch.zeros(3), "b": torch.ones(2)}
    gan = {"w": torch.full((3,), 4.0), "b": torch.full((2,), 3.0)}
    assert torch.equal(interpolate(psnr, gan, 0.0)["w"], psnr["w"])
    assert torch.equal(interpolate(psnr, gan, 1.0)["b"], gan["b"])
    mix = interpolate(psnr, gan, 0.25)
    assert torch.allclose(mix["w"], torch.full((3,), 1.0)) and torch.allclose(mix["b"], torch.full((2,), 1.5))
    with pytest.raises(ValueError):
        interpolate(psnr, gan, 1.5)
    with pytest.raises(ValueError):
        interpolate(psnr, {"w": gan["w"]}, 0.5)
