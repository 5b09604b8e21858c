"""``upscale`` keeps the input's layout: grey, RGB, RGBA (alpha by bicubic) and 16-bit inputs."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import shared_path
from sr_models.imresize import imresize
from sr_models.inference import upscale
from sr_models.loader import load_model

RNG = np.random.default_rng(11)


@pytest.fixture(scope="module")
def srgan():
    shared_path("weights", "srgan", "netG_epoch_4_100.pth")
    return load_model("srgan", "cpu")


def test_grey_in_grey_out(srgan):
    grey = RNG.integers(0, 256, (10, 13), dtype=np.uint8)
    out = upscale(srgan, grey)
    assert out.shape == (40, 52) and out.dtype == np.uint8
    rgb_out = upscale(srgan, np.repeat(grey[:, :, None], 3, axis=2))
    assert np.abs(out.astype(int) - rgb_out.astype(float).mean(axis=2).round()).max() <= 1


def test_rgba_alpha_is_enlarged_by_bicubic(srgan):
    rgba = RNG.integers(0, 256, (9, 8, 4), dtype=np.uint8)
    out = upscale(srgan, rgba)
    assert out.shape == (36, 32, 4)
    assert np.array_equal(out[:, :, 3], imresize(rgba[:, :, 3], scale=4))
    assert np.array_equal(out[:, :, :3], upscale(srgan, rgba[:, :, :3]))


def test_sixteen_bit_input_is_brought_to_eight_bits():
    bicubic = load_model("bicubic")
    wide = (RNG.integers(0, 256, (6, 7, 3)) * 257).astype(np.uint16)
    assert np.array_equal(upscale(bicubic, wide), upscale(bicubic, (wide // 257).astype(np.uint8)))


def test_bicubic_method_is_matlab_imresize():
    rgb = RNG.integers(0, 256, (12, 10, 3), dtype=np.uint8)
    assert np.array_equal(upscale(load_model("bicubic"), rgb), imresize(rgb, scale=4))


def test_wrong_layout_is_refused():
    with pytest.raises(ValueError, match="HxW"):
        upscale(load_model("bicubic"), np.zeros((4, 4, 2), np.uint8))
