"""PSNR and SSIM exactly as the super-resolution papers compute them.

The papers' evaluation scripts (SAN's MATLAB ``TestCode/Evaluate_PSNR_SSIM.m``; BasicSR's
``calculate_psnr``/``calculate_ssim`` follow the same protocol) do this:

1. colour images are converted with MATLAB ``rgb2ycbcr(im2double(img))`` and only the
   luma Y of ITU-R BT.601 is kept, as a *double* (not rounded back to uint8), on the
   [0, 255] scale: ``Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255`` (SAN's script stores
   it in single precision; we keep float64, a difference far below the printed digits);
   a single-channel image (Set14 ``bridge.png``) is evaluated on its grey values;
2. ``crop_border`` (= the scale) pixels are shaved from every border;
3. PSNR is ``10 log10(255^2 / MSE)`` on the result;
4. SSIM is Wang et al.'s ``ssim_index.m``: 11x11 Gaussian window with sigma 1.5,
   ``K1 = 0.01``, ``K2 = 0.03``, ``L = 255``, statistics filtered with ``'valid'`` borders
   (no padding) and the mean of the SSIM map.

Per-image values are averaged over a test set by the caller (mean of PSNRs, mean of SSIMs).

Older scripts (SelfExSR's ``quant_eval/compute_difference.m``, a likely origin of the bicubic
rows copied through the VDSR/EDSR/RCAN/SAN tables) call ``rgb2ycbcr`` on the uint8 image,
which returns Y *rounded* to uint8. ``round_y=True`` reproduces that variant. On SR Arena's data, bicubic
x4 of ``LR_bicubic`` gives (Y crop 4, published 28.42/0.8104, 26.00/0.7027, 25.96/0.6675):

==========  ==================  ==================  ==================
protocol    Set5                Set14               B100
==========  ==================  ==================  ==================
float Y     28.4302 / 0.81114   25.9970 / 0.70292   25.9620 / 0.66807
rounded Y   28.4177 / 0.81008   25.9933 / 0.70226   25.9565 / 0.66723
==========  ==================  ==================  ==================

Both are within 0.011 dB and 0.0008 of the published rows (neither matches every printed
digit); float Y, the default, is what SAN's script and BasicSR compute for the networks' rows.
"""
from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity

BT601_Y_WEIGHTS = np.array([65.481, 128.553, 24.966])  # MATLAB rgb2ycbcr, per unit of RGB in [0, 1]


def rgb2ycbcr_y(img: np.ndarray, round_y: bool = False) -> np.ndarray:
    """Luma Y of MATLAB ``rgb2ycbcr`` for RGB in [0, 255], as float64 in [16, 235].

    ``Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255``. By default not rounded, as in
    the papers' scripts that call ``rgb2ycbcr`` on ``im2double`` input; ``round_y=True``
    rounds half away from zero like ``rgb2ycbcr`` on uint8 input.
    """
    rgb = np.asarray(img, dtype=np.float64)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected HxWx3 RGB, got shape {rgb.shape}")
    y = 16.0 + rgb @ BT601_Y_WEIGHTS / 255.0
    return np.floor(y + 0.5) if round_y else y


def _prepare(
    img: np.ndarray, img2: np.ndarray, crop_border: int, test_y_channel: bool, round_y: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Check shapes, shave ``crop_border`` pixels per border, keep Y (or grey, or RGB) as float64."""
    img = np.asarray(img)
    img2 = np.asarray(img2)
    if img.shape != img2.shape:
        raise ValueError(f"image shapes differ: {img.shape} vs {img2.shape}")
    if img.ndim not in (2, 3):
        raise ValueError(f"expected HxW or HxWxC, got shape {img.shape}")
    if crop_border < 0:
        raise ValueError(f"crop_border must be >= 0, got {crop_border}")
    if crop_border:
        img = img[crop_border:-crop_border, crop_border:-crop_border, ...]
        img2 = img2[crop_border:-crop_border, crop_border:-crop_border, ...]
    if img.ndim == 3 and img.shape[2] == 1:
        img, img2 = img[..., 0], img2[..., 0]
    if test_y_channel and img.ndim == 3:
        return rgb2ycbcr_y(img, round_y), rgb2ycbcr_y(img2, round_y)
    return img.astype(np.float64), img2.astype(np.float64)


def calculate_psnr(
    img: np.ndarray, img2: np.ndarray, crop_border: int, test_y_channel: bool = True, round_y: bool = False
) -> float:
    """PSNR in dB between two uint8-range images (``HxW`` or ``HxWxC``), peak 255.

    Args:
        img, img2: images with values in [0, 255] (uint8 or float), same shape.
        crop_border: pixels shaved from each border before measuring (the scale, 4).
        test_y_channel: measure the BT.601 Y of RGB images (the papers' protocol);
            ``False`` measures over all RGB channels. Grey images use their grey values.
        round_y: round Y to integers first (``rgb2ycbcr`` on uint8, SelfExSR's script).

    Returns:
        ``10 log10(255^2 / MSE)``; ``inf`` for identical images.
    """
    a, b = _prepare(img, img2, crop_border, test_y_channel, round_y)
    mse = np.mean((a - b) ** 2)
    if mse == 0:
        return float("inf")
    return float(10.0 * np.log10(255.0**2 / mse))


def _ssim_2d(a: np.ndarray, b: np.ndarray) -> float:
    """Wang et al.'s ``ssim_index`` on one channel in [0, 255].

    scikit-image with a Gaussian window of sigma 1.5 truncated at 3.5 sigma (11 taps),
    population covariances and ``data_range=255`` computes the same map as MATLAB's
    ``filter2(fspecial('gaussian', 11, 1.5), ., 'valid')`` in the centre, and averages only
    the part of the map 5 pixels away from the border, i.e. exactly the ``'valid'`` map.
    """
    if min(a.shape) < 11:
        raise ValueError(f"SSIM needs at least 11x11 pixels after cropping, got {a.shape}")
    return float(
        structural_similarity(
            a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255.0, K1=0.01, K2=0.03
        )
    )


def calculate_ssim(
    img: np.ndarray, img2: np.ndarray, crop_border: int, test_y_channel: bool = True, round_y: bool = False
) -> float:
    """SSIM (Wang et al. 2004, MATLAB ``ssim_index.m``) between two uint8-range images.

    Same arguments as :func:`calculate_psnr`. With ``test_y_channel=False`` on RGB input,
    the mean of the per-channel SSIMs (BasicSR's convention).
    """
    a, b = _prepare(img, img2, crop_border, test_y_channel, round_y)
    if a.ndim == 2:
        return _ssim_2d(a, b)
    return float(np.mean([_ssim_2d(a[..., c], b[..., c]) for c in range(a.shape[2])]))
