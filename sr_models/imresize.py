"""MATLAB-exact ``imresize(..., 'bicubic')`` in numpy.

The super-resolution papers in SR Arena (SRGAN, ESRGAN, AWSRN, SAN) make their LR test
images with MATLAB ``imresize(HR, 1/4, 'bicubic')`` and report a bicubic baseline made with
``imresize(LR, 4, 'bicubic')``. This module reproduces MATLAB's behaviour:

* Keys' cubic convolution kernel with ``a = -0.5`` (Keys 1981, eq. 15), support [-2, 2];
* antialiasing when shrinking: the kernel is stretched by ``1/scale`` and scaled by ``scale``;
* MATLAB's coordinate mapping ``u = x/scale + 0.5*(1 - 1/scale)`` (1-based ``x``);
* ``ceil(width) + 2`` taps per output pixel, weights normalised to sum to one, taps with
  all-zero weight dropped;
* symmetric borders by index mirroring (``[1..n, n..1]`` repeated);
* one 1-D pass per dimension, the dimension with the smaller scale first (rows first when
  the scales are equal), as MATLAB's ``imresize`` orders its passes;
* for ``uint8`` input the result of each pass is rounded half away from zero and saturated
  to ``uint8`` before the next pass (MATLAB's ``imresizemex`` returns the input's class),
  which is what reproduces the ``LR_matlab`` files of the SAN test package pixel for pixel.

Float input stays float (no clipping), computed in float64 and returned in the input's
float dtype.
"""
from __future__ import annotations

import math

import numpy as np

KERNEL_WIDTH = 4.0  # support of the cubic kernel: [-2, 2]


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with ``a = -0.5`` (MATLAB's ``cubic``)."""
    absx = np.abs(x)
    absx2 = absx * absx
    absx3 = absx2 * absx
    near = (1.5 * absx3 - 2.5 * absx2 + 1.0) * (absx <= 1)
    far = (-0.5 * absx3 + 2.5 * absx2 - 4.0 * absx + 2.0) * ((absx > 1) & (absx <= 2))
    return near + far


def contributions(
    in_length: int, out_length: int, scale: float, antialiasing: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Weights and 0-based source indices, both ``(out_length, taps)``, for one 1-D pass.

    Follows MATLAB's ``contributions`` sub-function of ``imresize``.
    """
    stretch = scale < 1 and antialiasing
    width = KERNEL_WIDTH / scale if stretch else KERNEL_WIDTH

    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - width / 2.0)
    taps = int(math.ceil(width)) + 2
    indices = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]  # 1-based

    distance = u[:, None] - indices
    weights = scale * cubic(scale * distance) if stretch else cubic(distance)
    weights = weights / weights.sum(axis=1, keepdims=True)

    # symmetric padding by mirroring the index sequence [1..n, n..1]
    mirror = np.concatenate([np.arange(in_length), np.arange(in_length)[::-1]])
    indices = mirror[np.mod(indices.astype(np.int64) - 1, 2 * in_length)]

    keep = np.any(weights != 0, axis=0)
    return weights[:, keep], indices[:, keep]


def _resize_along(img: np.ndarray, axis: int, out_length: int, scale: float, to_uint8: bool) -> np.ndarray:
    """One 1-D pass along ``axis``: a weighted gather of the mirrored source indices."""
    weights, indices = contributions(img.shape[axis], out_length, scale)
    moved = np.moveaxis(img, axis, 0).astype(np.float64, copy=False)
    out = np.zeros((out_length,) + moved.shape[1:], dtype=np.float64)
    trailing = (slice(None),) + (None,) * (moved.ndim - 1)
    for k in range(weights.shape[1]):
        out += weights[:, k][trailing] * moved[indices[:, k]]
    if to_uint8:
        # MATLAB converts double -> uint8 by rounding half away from zero and saturating
        out = np.clip(np.floor(out + 0.5), 0, 255).astype(np.uint8)
    return np.moveaxis(out, 0, axis)


def _scales_and_shape(
    in_shape: tuple[int, int], scale: float | None, output_shape: tuple[int, int] | None
) -> tuple[tuple[float, float], tuple[int, int]]:
    """MATLAB's rule: a scale gives ``ceil(scale * size)``; a shape gives per-dimension scales."""
    if output_shape is not None:
        out = (int(output_shape[0]), int(output_shape[1]))
        if scale is not None:
            return (float(scale), float(scale)), out
        return (out[0] / in_shape[0], out[1] / in_shape[1]), out
    if scale is None:
        raise ValueError("give scale or output_shape")
    scale = float(scale)
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    return (scale, scale), (math.ceil(scale * in_shape[0]), math.ceil(scale * in_shape[1]))


def imresize(img: np.ndarray, scale: float | None = None, output_shape: tuple[int, int] | None = None) -> np.ndarray:
    """Resize an ``HxW`` or ``HxWxC`` image like MATLAB ``imresize(img, ..., 'bicubic')``.

    Args:
        img: ``uint8`` or float array, ``HxW`` or ``HxWxC``.
        scale: scale factor (``0.25`` shrinks by four); output size ``ceil(scale * size)``.
        output_shape: ``(height, width)``; when given without ``scale``, each dimension gets
            its own scale ``out / in`` (MATLAB's ``imresize(img, [h w])``).

    Returns:
        The resized image, ``uint8`` for ``uint8`` input (rounded and saturated after each
        pass, as MATLAB does), otherwise the input's float dtype.
    """
    img = np.asarray(img)
    if img.ndim not in (2, 3):
        raise ValueError(f"expected HxW or HxWxC, got shape {img.shape}")
    is_uint8 = img.dtype == np.uint8
    if not is_uint8 and not np.issubdtype(img.dtype, np.floating):
        raise TypeError(f"expected uint8 or float input, got {img.dtype}")

    scales, out_shape = _scales_and_shape(img.shape[:2], scale, output_shape)
    order = sorted(range(2), key=lambda d: scales[d])  # smaller scale first; stable: rows first on ties
    out = img
    for dim in order:
        out = _resize_along(out, dim, out_shape[dim], scales[dim], to_uint8=is_uint8)
    if is_uint8:
        return out
    return out.astype(img.dtype, copy=False)


def modcrop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom/right so height and width are multiples of ``scale`` (MATLAB ``modcrop``)."""
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale, ...]


def bicubic_downscale(hr_uint8: np.ndarray, scale: int = 4) -> np.ndarray:
    """``imresize(modcrop(hr, scale), 1/scale, 'bicubic')``: the papers' LR test image."""
    return imresize(modcrop(hr_uint8, scale), scale=1.0 / scale)


def hr_and_lr(image: np.ndarray, scale: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """``(hr, lr)``: ``image`` modcropped to a multiple of ``scale`` and its MATLAB-exact bicubic ×1/scale,
    both C-contiguous. The one way SR Arena makes a low-resolution input from an original: the
    Compare tab, the MOS study and training all call it."""
    hr = np.ascontiguousarray(modcrop(image, scale))
    return hr, np.ascontiguousarray(imresize(hr, scale=1.0 / scale))


def nearest_upscale(image: np.ndarray, scale: int = 4) -> np.ndarray:
    """Each pixel repeated ``scale``×``scale`` times: how a low-resolution input is shown beside ×scale outputs."""
    return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)


def bicubic_upscale(lr_uint8: np.ndarray, scale: int = 4) -> np.ndarray:
    """``imresize(lr, scale, 'bicubic')``: the papers' bicubic baseline."""
    return imresize(lr_uint8, scale=float(scale))
