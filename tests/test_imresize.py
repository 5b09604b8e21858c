"""MATLAB imresize(..., 'bicubic') semantics, proven against MATLAB's own output (LR_matlab)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sr_models.imresize import bicubic_downscale, bicubic_upscale, contributions, cubic, imresize, modcrop


def _load(path) -> np.ndarray:
    return np.asarray(Image.open(path))


def _matlab_pairs(benchmark_dir, set_name: str):
    root = benchmark_dir(set_name)
    hr_paths = sorted((root / "HR").glob("*.png"))
    assert hr_paths, f"no HR images in {root}"
    for hr_path in hr_paths:
        hr = _load(hr_path)
        lr = _load(root / "LR_matlab" / "X4" / hr_path.name)
        if hr.ndim == 2:
            # the SAN package replicated grey images to 3 channels before imresize
            assert lr.ndim == 3 and (lr == lr[..., :1]).all()
            lr = lr[..., 0]
        yield hr_path.name, hr, lr


@pytest.mark.parametrize("set_name", ["Set5", "Set14"])
def test_downscale_reproduces_matlab_lr(benchmark_dir, set_name):
    """Every pixel of imresize(HR, 1/4, 'bicubic') equals MATLAB's file (measured: 100 %, max |Δ| 0)."""
    total = equal = 0
    worst = 0
    for name, hr, expected in _matlab_pairs(benchmark_dir, set_name):
        got = bicubic_downscale(hr, 4)
        assert got.dtype == np.uint8 and got.shape == expected.shape, name
        diff = np.abs(got.astype(np.int16) - expected.astype(np.int16))
        total += diff.size
        equal += int((diff == 0).sum())
        worst = max(worst, int(diff.max()))
        assert diff.max() <= 1, f"{set_name}/{name}: max |Δ| {diff.max()}"
    # the brief's bar is >= 99.9 % exact; we measure and require bit-exactness
    assert worst == 0 and equal == total, f"{set_name}: {equal}/{total} pixels equal, max |Δ| {worst}"


def test_uint8_rounding_between_passes_matters(benchmark_dir):
    """Keeping the intermediate in float (no uint8 saturation after pass 1) does not reproduce MATLAB.

    ppt3.png has saturated text whose row-pass overshoot MATLAB clips to 255 before the
    column pass; a float pipeline misses that by up to 12 grey levels.
    """
    root = benchmark_dir("Set14")
    hr = _load(root / "HR" / "ppt3.png")
    expected = _load(root / "LR_matlab" / "X4" / "ppt3.png").astype(np.int16)
    float_path = np.clip(np.floor(imresize(hr.astype(np.float64), 0.25) + 0.5), 0, 255).astype(np.int16)
    assert np.abs(float_path - expected).max() > 1
    assert np.array_equal(imresize(hr, 0.25), expected.astype(np.uint8))


def test_cubic_kernel_values():
    """Keys' kernel with a = -0.5 at hand-computed points."""
    x = np.array([0.0, 0.25, 0.75, 1.0, 1.25, 1.75, 2.0, 2.5, -0.75])
    expected = np.array([1.0, 0.8671875, 0.2265625, 0.0, -0.0703125, -0.0234375, 0.0, 0.0, 0.2265625])
    np.testing.assert_allclose(cubic(x), expected, atol=1e-15)


def test_contributions_upscale_by_two_hand_computed():
    """x2 upscaling: u = x/2 + 1/4, so output pixel 1 sits at u = 0.75 (MATLAB's 1-based mapping)."""
    weights, indices = contributions(8, 16, 2.0)
    assert weights.shape == (16, 4)  # ceil(4) + 2 = 6 taps, the all-zero first and last dropped
    np.testing.assert_allclose(weights[0], [-0.0234375, 0.2265625, 0.8671875, -0.0703125], atol=1e-15)
    assert indices[0].tolist() == [1, 0, 0, 1]  # 1-based -1, 0 mirrored to 2, 1
    assert indices[-1].tolist() == [6, 7, 7, 6]
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-12)


def test_contributions_antialiased_shrink():
    """x1/4: the kernel is stretched to width 16 (ceil(16) + 2 = 18 taps) and centred on u = 4x - 1.5."""
    weights, indices = contributions(64, 16, 0.25)
    assert weights.shape[1] <= 18
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-12)
    x = 8  # 1-based output pixel away from the borders
    centroid = np.dot(weights[x - 1], indices[x - 1])  # 0-based
    assert centroid == pytest.approx(4 * x - 1.5 - 1, abs=1e-12)
    # the stretched kernel is scale * cubic(scale * d): its first tap d = 7.5 .. weight cubic(1.875)/4 / sum
    assert (weights[x - 1] < 0).sum() > 0  # negative lobes survive antialiasing


def test_one_dimensional_upscale_matches_hand_computation():
    """A 1xN image upscaled x2 along columns equals the hand-applied weights (rows have scale 2 too)."""
    signal = np.array([[10.0, 50.0, 20.0, 80.0]])
    out = imresize(signal, output_shape=(1, 8))
    # first output pixel: u = 0.75 -> samples x(-1)=x(2), x(0)=x(1), x(1), x(2) (1-based, mirrored)
    w = [-0.0234375, 0.2265625, 0.8671875, -0.0703125]
    expected0 = w[0] * 50 + w[1] * 10 + w[2] * 10 + w[3] * 50
    assert out.shape == (1, 8)
    assert out[0, 0] == pytest.approx(expected0, abs=1e-12)


@pytest.mark.parametrize(
    ("shape", "scale", "out_shape"),
    [((10, 13), 0.25, (3, 4)), ((7, 5, 3), 4, (28, 20, 3)), ((12, 16, 1), 0.5, (6, 8, 1)), ((9, 9), 1 / 3, (3, 3))],
)
def test_output_shapes(shape, scale, out_shape):
    """MATLAB's output size is ceil(scale * size), channels kept."""
    img = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    out = imresize(img, scale)
    assert out.shape == out_shape and out.dtype == np.uint8


def test_output_shape_argument():
    img = np.random.default_rng(1).random((20, 30, 3)).astype(np.float32)
    out = imresize(img, output_shape=(7, 45))
    assert out.shape == (7, 45, 3) and out.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_constant_image_stays_constant(dtype):
    img = np.full((17, 23, 3), 137, dtype=dtype)
    for out in (imresize(img, 4), imresize(img, 0.25), bicubic_upscale(img.astype(np.uint8), 4)):
        assert np.allclose(out, 137, atol=1e-9)


def test_float_input_matches_uint8_within_one_level():
    """Away from saturation the uint8 path is the float path rounded (after each pass)."""
    yy, xx = np.mgrid[0:40, 0:36]
    smooth = 128 + 90 * np.sin(yy / 5.0) * np.cos(xx / 7.0)
    img = np.stack([smooth, smooth[::-1], smooth[:, ::-1]], axis=2).round().astype(np.uint8)
    for scale in (4, 0.25):
        out_uint8 = imresize(img, scale).astype(np.float64)
        out_float = imresize(img.astype(np.float64), scale)
        assert out_float.dtype == np.float64
        # one rounding of the intermediate (<= 0.5, amplified by sum|w| <= 1.24) plus the final one
        assert np.abs(out_uint8 - out_float).max() <= 0.5 * 1.24 + 0.5
        assert np.abs(out_uint8 - np.floor(out_float + 0.5)).max() <= 1


def test_float_output_is_not_clipped():
    """Float input keeps the cubic kernel's overshoot at a 0 -> 1 step (MATLAB clips only integer types)."""
    step = np.zeros((8, 8), dtype=np.float32)
    step[:, 4:] = 1.0
    out = imresize(step, 4)
    assert out.dtype == np.float32
    assert out.min() < 0 and out.max() > 1


def test_grayscale_equals_each_channel_of_rgb():
    grey = np.asarray(np.random.default_rng(3).integers(0, 256, size=(32, 28)), dtype=np.uint8)
    rgb = np.stack([grey, grey, grey], axis=2)
    for scale in (4, 0.25):
        out_grey = imresize(grey, scale)
        assert out_grey.ndim == 2
        assert np.array_equal(imresize(rgb, scale), np.stack([out_grey] * 3, axis=2))


def test_modcrop():
    img = np.zeros((11, 14, 3), dtype=np.uint8)
    assert modcrop(img, 4).shape == (8, 12, 3)
    assert modcrop(img[..., 0], 4).shape == (8, 12)


def test_upscale_then_matlab_size(benchmark_dir):
    """bicubic_upscale of a Set5 LR gives exactly the HR size."""
    root = benchmark_dir("Set5")
    lr = _load(root / "LR_bicubic" / "X4" / "baby.png")
    assert bicubic_upscale(lr).shape == _load(root / "HR" / "baby.png").shape


def test_rejects_bad_input():
    with pytest.raises(ValueError):
        imresize(np.zeros((4, 4, 3, 2)), 2)
    with pytest.raises(TypeError):
        imresize(np.zeros((4, 4), dtype=np.int32), 2)
    with pytest.raises(ValueError):
        imresize(np.zeros((4, 4)))
