"""Paper-exact PSNR/SSIM: hand-computed values, Wang et al.'s 'valid' SSIM, and the published bicubic rows."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy.signal import correlate2d

from sr_models.imresize import bicubic_upscale
from sr_models.metrics import calculate_psnr, calculate_ssim, rgb2ycbcr_y

# Published bicubic x4 rows (Y channel, crop 4), e.g. the VDSR/EDSR/RCAN/SAN tables.
PUBLISHED = {"Set5": (28.42, 0.8104), "Set14": (26.00, 0.7027), "B100": (25.96, 0.6675)}
PSNR_TOL = 0.015
SSIM_TOL = 0.001


def _fspecial_gaussian(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    """MATLAB ``fspecial('gaussian', size, sigma)``."""
    r = (size - 1) / 2
    y, x = np.mgrid[-r : r + 1, -r : r + 1]
    window = np.exp(-(x**2 + y**2) / (2 * sigma**2))
    return window / window.sum()


def _ssim_index_reference(img1: np.ndarray, img2: np.ndarray) -> float:
    """Wang et al.'s ssim_index.m written out with explicit 'valid' filtering (independent of skimage)."""
    window = _fspecial_gaussian()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def filt(a):
        return correlate2d(a, window, mode="valid")

    mu1, mu2 = filt(img1), filt(img2)
    s11 = filt(img1 * img1) - mu1 * mu1
    s22 = filt(img2 * img2) - mu2 * mu2
    s12 = filt(img1 * img2) - mu1 * mu2
    ssim_map = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1**2 + mu2**2 + c1) * (s11 + s22 + c2))
    return float(ssim_map.mean())


def _bicubic_rows(benchmark_dir, set_name: str, round_y: bool) -> tuple[float, float]:
    """Mean PSNR/SSIM of imresize(LR_bicubic, 4, 'bicubic') against HR."""
    root = benchmark_dir(set_name)
    psnrs, ssims = [], []
    for hr_path in sorted((root / "HR").glob("*.png")):
        hr = np.asarray(Image.open(hr_path))
        lr = np.asarray(Image.open(root / "LR_bicubic" / "X4" / hr_path.name))
        assert lr.ndim == hr.ndim, hr_path.name  # bridge.png is grey in both
        sr = bicubic_upscale(lr, 4)
        psnrs.append(calculate_psnr(sr, hr, crop_border=4, round_y=round_y))
        ssims.append(calculate_ssim(sr, hr, crop_border=4, round_y=round_y))
    return float(np.mean(psnrs)), float(np.mean(ssims))


# Measured on this data: float Y  Set5 28.4302/0.81114, Set14 25.9970/0.70292, B100 25.9620/0.66807
#                        rounded Y Set5 28.4177/0.81008, Set14 25.9933/0.70226, B100 25.9565/0.66723
MEASURED = {
    ("Set5", False): (28.4302, 0.81114),
    ("Set14", False): (25.9970, 0.70292),
    ("B100", False): (25.9620, 0.66807),
    ("Set5", True): (28.4177, 0.81008),
    ("Set14", True): (25.9933, 0.70226),
    ("B100", True): (25.9565, 0.66723),
}


@pytest.mark.parametrize("round_y", [False, True], ids=["float_y", "rounded_y"])
@pytest.mark.parametrize("set_name", ["Set5", "Set14", "B100"])
def test_bicubic_reproduces_published_rows(benchmark_dir, set_name, round_y):
    psnr, ssim = _bicubic_rows(benchmark_dir, set_name, round_y)
    published_psnr, published_ssim = PUBLISHED[set_name]
    assert abs(psnr - published_psnr) <= PSNR_TOL, f"{set_name}: PSNR {psnr:.4f} vs published {published_psnr}"
    assert abs(ssim - published_ssim) <= SSIM_TOL, f"{set_name}: SSIM {ssim:.5f} vs published {published_ssim}"
    # and the exact values stay what was measured when this was written
    assert (psnr, ssim) == pytest.approx(MEASURED[(set_name, round_y)], abs=1e-4)


def test_rgb2ycbcr_y_hand_values():
    rgb = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]]], dtype=np.uint8)
    expected = [16.0, 235.0, 16 + 65.481, 16 + 128.553, 16 + 24.966, 16 + (654.81 + 2571.06 + 748.98) / 255]
    np.testing.assert_allclose(rgb2ycbcr_y(rgb)[0], expected, atol=1e-9)
    np.testing.assert_allclose(rgb2ycbcr_y(rgb, round_y=True)[0], [16, 235, 81, 145, 41, 32], atol=0)


def test_psnr_hand_computed():
    a = np.full((6, 6), 100, dtype=np.uint8)
    b = a.copy()
    b[2, 3] = 110  # one pixel off by 10 inside the 4x4 centre
    assert calculate_psnr(a, b, crop_border=1) == pytest.approx(10 * np.log10(255**2 / (100 / 16)), abs=1e-12)
    assert calculate_psnr(a, b, crop_border=0) == pytest.approx(10 * np.log10(255**2 / (100 / 36)), abs=1e-12)


def test_psnr_rgb_option_hand_computed():
    a = np.zeros((4, 4, 3), dtype=np.uint8)
    b = a.copy()
    b[..., 0] = 3  # only red differs: RGB MSE = 9/3, Y MSE = (3 * 65.481/255)^2
    assert calculate_psnr(a, b, 0, test_y_channel=False) == pytest.approx(10 * np.log10(255**2 / 3), abs=1e-12)
    y_mse = (3 * 65.481 / 255) ** 2
    assert calculate_psnr(a, b, 0) == pytest.approx(10 * np.log10(255**2 / y_mse), abs=1e-12)


def test_identical_images():
    img = np.asarray(np.random.default_rng(0).integers(0, 256, size=(32, 32, 3)), dtype=np.uint8)
    assert calculate_psnr(img, img, 4) == float("inf")
    assert calculate_ssim(img, img, 4) == pytest.approx(1.0, abs=1e-12)
    assert calculate_ssim(img, img, 4, test_y_channel=False) == pytest.approx(1.0, abs=1e-12)


def test_crop_border_removes_border_differences():
    a = np.asarray(np.random.default_rng(1).integers(0, 256, size=(30, 30, 3)), dtype=np.uint8)
    b = a.copy()
    b[:4] = 0
    b[:, -4:] = 255
    assert calculate_psnr(a, b, crop_border=4) == float("inf")
    assert calculate_psnr(a, b, crop_border=3) < 40
    assert calculate_ssim(a, b, crop_border=4) == pytest.approx(1.0, abs=1e-12)
    assert calculate_ssim(a, b, crop_border=3) < 1


def test_ssim_of_constant_images_hand_computed():
    """No variance: SSIM = (2ab + C1) / (a^2 + b^2 + C1) everywhere."""
    a = np.full((20, 20), 100.0)
    b = np.full((20, 20), 120.0)
    c1 = (0.01 * 255) ** 2
    assert calculate_ssim(a, b, 0) == pytest.approx((2 * 100 * 120 + c1) / (100**2 + 120**2 + c1), abs=1e-12)


def test_ssim_equals_valid_filter_reference(benchmark_dir):
    """skimage's Gaussian SSIM with its border cropped is Wang et al.'s 'valid' ssim_index, on real images."""
    root = benchmark_dir("Set5")
    for name in ("butterfly.png", "woman.png"):
        hr = np.asarray(Image.open(root / "HR" / name))
        sr = bicubic_upscale(np.asarray(Image.open(root / "LR_bicubic" / "X4" / name)))
        y_hr, y_sr = rgb2ycbcr_y(hr)[4:-4, 4:-4], rgb2ycbcr_y(sr)[4:-4, 4:-4]
        assert calculate_ssim(sr, hr, 4) == pytest.approx(_ssim_index_reference(y_sr, y_hr), abs=1e-10)


def test_ssim_reference_on_small_random_arrays():
    rng = np.random.default_rng(2)
    a = rng.integers(0, 256, size=(16, 13)).astype(np.float64)
    b = np.clip(a + rng.normal(0, 20, size=a.shape), 0, 255)
    assert calculate_ssim(a, b, 0) == pytest.approx(_ssim_index_reference(a, b), abs=1e-10)


def test_grayscale_path(benchmark_dir):
    """Grey images are measured on their grey values; HxW and HxWx1 agree; a grey RGB copy uses Y instead."""
    root = benchmark_dir("Set14")
    hr = np.asarray(Image.open(root / "HR" / "bridge.png"))
    assert hr.ndim == 2
    sr = bicubic_upscale(np.asarray(Image.open(root / "LR_bicubic" / "X4" / "bridge.png")))
    psnr = calculate_psnr(sr, hr, 4)
    ssim = calculate_ssim(sr, hr, 4)
    diff = sr[4:-4, 4:-4].astype(np.float64) - hr[4:-4, 4:-4]
    assert psnr == pytest.approx(10 * np.log10(255**2 / np.mean(diff**2)), abs=1e-12)
    assert calculate_psnr(sr[..., None], hr[..., None], 4) == psnr
    assert calculate_ssim(sr[..., None], hr[..., None], 4) == ssim
    as_rgb = calculate_psnr(np.stack([sr] * 3, 2), np.stack([hr] * 3, 2), 4)
    assert as_rgb > psnr + 1  # Y compresses the range to [16, 235]: a different, higher number


def test_rejects_mismatched_shapes():
    with pytest.raises(ValueError):
        calculate_psnr(np.zeros((8, 8)), np.zeros((8, 9)), 0)
    with pytest.raises(ValueError):
        calculate_ssim(np.zeros((8, 8)), np.zeros((8, 8)), 0)  # smaller than the 11x11 window
