"""NIQE, the "completely blind" image quality score, computed as MATLAB's ``niqe`` computes it.

Mittal, Soundararajan and Bovik, *Making a "Completely Blind" Image Quality Analyzer*, IEEE
Signal Processing Letters 20(3), 2013. No reference image is needed; lower is more natural.

What is computed (section numbers of the paper):

* the image is turned into integer luma (BT.601 Y of MATLAB ``rgb2ycbcr``, rounded) and cut to
  whole 96×96 patches from its top-left corner (no overlap: MATLAB's defaults);
* at two scales (full size, then MATLAB ``imresize(·, 0.5, 'bicubic')`` — the project's
  MATLAB-exact :mod:`sr_models.imresize`), mean-subtracted contrast-normalised (MSCN)
  coefficients with a 7×7 Gaussian window, replicated borders and ``+1`` in the divisor
  (section II-A, eq. 1);
* per patch and scale, 18 features (section II-C): the generalised-Gaussian shape and spread of
  the MSCN values (fitted as an asymmetric GGD, as MATLAB's release fits it) and, for the
  products of each coefficient with its circular-shift neighbour along four orientations
  (horizontal, vertical, two diagonals), the AGGD shape, mean and left/right spreads (eqs. 7–8);
  the shape is looked up on MATLAB's grid 0.2:0.001:10 by moment matching;
* a multivariate Gaussian fitted to the 36-dimensional patch features (mean ignoring NaNs,
  covariance of the NaN-free patches) and its distance to the pristine model (eq. 10):
  ``sqrt((ν1 − ν2)ᵀ ((Σ1 + Σ2)/2)⁺ (ν1 − ν2))`` with the pseudo-inverse.

The pristine model (mean, covariance, Gaussian window) is the authors' MATLAB release's, as
BasicSR 1.4.2 redistributes it (``basicsr/metrics/niqe_pris_params.npz``, Apache-2.0). It is
not kept in this repository: ``python -m sr_models fetch-niqe`` puts it in
``<checkpoints>/niqe/`` (:mod:`sr_models.niqe_fetch`), and without it :func:`calculate_niqe`
raises :class:`NiqeUnavailableError` saying so. Agreement with BasicSR's ``calculate_niqe``
(itself checked against MATLAB R2021a) is tested on Set5 in ``tests/test_niqe.py``.

Precision: the image and its MSCN coefficients are single precision, as in BasicSR, whose
single-precision port matches MATLAB: on Set14 ``baboon.png`` (no crop) this module gives 5.72956,
BasicSR 5.72956, MATLAB R2021a 5.72957 (quoted in BasicSR's docstring); the same steps in double
precision give 5.72996. The AGGD shape is a grid lookup, so last-bit differences in a patch can
move a score by ~1e-4: the half-scale image here is MATLAB-exact bicubic computed in float64 and
rounded to float32 (BasicSR resizes in float32 with torch), which is the largest difference left
(3.4e-4 on Set5 ``woman.png``).

Inputs are RGB (this project's order), unlike BasicSR's BGR.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.ndimage import convolve
from scipy.special import gamma

from . import settings as settings_module
from .imresize import imresize
from .metrics import BT601_Y_WEIGHTS

#: The pristine-model file and its sha256 (as shipped in BasicSR 1.4.2's sdist).
PARAMS_NAME = "niqe_pris_params.npz"
PARAMS_SHA256 = "2a7c182a68c9e7f1b2e2e5ec723279d6f65d912b6fcaf37eb2bf03d7367c4296"
#: Patch side of the pristine model (MATLAB ``niqe``'s default ``BlockSize``).
BLOCK = 96
#: Fewest whole patches a covariance can be fitted to.
MIN_BLOCKS = 2
#: MATLAB release's AGGD shape grid and the moment ratio ``Γ(2/a)² / (Γ(1/a) Γ(3/a))`` on it.
SHAPE_GRID = np.arange(0.2, 10.001, 0.001)
_RATIO_GRID = gamma(2 / SHAPE_GRID) ** 2 / (gamma(1 / SHAPE_GRID) * gamma(3 / SHAPE_GRID))
#: Neighbour offsets of the paired products (section II-C): horizontal, vertical, two diagonals.
SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))
#: BT.601 luma weights (``convert_to="gray"``), as OpenCV's and BasicSR's grey conversion.
GRAY_WEIGHTS = np.array([0.299, 0.587, 0.114])


class NiqeUnavailableError(RuntimeError):
    """The pristine-model parameters are missing or not the expected file."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.fix = "run `python -m sr_models fetch-niqe` (downloads BasicSR 1.4.2's sdist from PyPI, keeps its .npz)"
        super().__init__(f"NIQE unavailable: {reason}; fix: {self.fix}")


@dataclass(frozen=True)
class PristineModel:
    """The multivariate Gaussian of pristine-image features and the MSCN window."""

    mean: np.ndarray  # (36,)
    cov: np.ndarray  # (36, 36)
    window: np.ndarray  # (7, 7)


def params_dir(settings: settings_module.Settings | None = None) -> Path:
    """Where ``fetch-niqe`` writes and NIQE first looks: ``<checkpoints>/niqe``."""
    return (settings or settings_module.current()).checkpoints_dir / "niqe"


def params_candidates(settings: settings_module.Settings | None = None) -> list[Path]:
    """Every place the parameters are looked for, first match wins (checkpoints, then weights path)."""
    s = settings or settings_module.current()
    return [params_dir(s) / PARAMS_NAME] + [d / "niqe" / PARAMS_NAME for d in s.weights_path]


def find_params(settings: settings_module.Settings | None = None) -> Path | None:
    """The first parameters file present, or ``None``."""
    return next((p for p in params_candidates(settings) if p.is_file()), None)


@lru_cache(maxsize=4)
def _load(path: Path) -> PristineModel:
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != PARAMS_SHA256:
        raise NiqeUnavailableError(f"{path.name} is not BasicSR 1.4.2's file (sha256 differs)")
    with np.load(path) as npz:
        return PristineModel(mean=npz["mu_pris_param"].reshape(-1).astype(np.float64),
                             cov=npz["cov_pris_param"].astype(np.float64),
                             window=npz["gaussian_window"].astype(np.float64))


def pristine_model(settings: settings_module.Settings | None = None) -> PristineModel:
    """The pristine model, read once and sha256-checked; :class:`NiqeUnavailableError` when absent."""
    path = find_params(settings)
    if path is None:
        raise NiqeUnavailableError(f"{PARAMS_NAME} not found in {params_dir(settings).name}/ of the checkpoints "
                                   "directory or the weights path")
    return _load(path.resolve())


def available(settings: settings_module.Settings | None = None) -> bool:
    """Whether NIQE can be computed here (the parameters are present and verified)."""
    try:
        pristine_model(settings)
    except NiqeUnavailableError:
        return False
    return True


def _luma(img: np.ndarray, input_order: str, convert_to: str) -> np.ndarray:
    """Rounded single-precision luma in [0, 255], computed the way BasicSR computes it.

    BT.601 Y of MATLAB ``rgb2ycbcr`` from RGB scaled to [0, 1] in float32, rounded to integers
    (half to even). Single precision moves a pixel whose Y lies within ~1e-5 of a half to the
    other integer (2 pixels of Set5's bicubic butterfly) — and NIQE's shape lookup on a grid
    turns that into a 1e-3 change — so this follows BasicSR bit for bit rather than a float64 Y.
    """
    img = np.asarray(img)
    if input_order not in ("HW", "HWC", "CHW"):
        raise ValueError(f"input_order must be 'HW', 'HWC' or 'CHW', got {input_order!r}")
    if input_order == "CHW" and img.ndim == 3:
        img = img.transpose(1, 2, 0)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.ndim == 2:
        return np.round(img.astype(np.float32))
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected HxW, HxWx1 or HxWx3, got shape {img.shape}")
    unit = img.astype(np.float32) / np.float32(255)
    if convert_to == "y":  # summed B, G, R as BasicSR's bgr2ycbcr sums them
        y = ((np.dot(unit[..., ::-1], list(BT601_Y_WEIGHTS[::-1])) + 16.0) / 255.0).astype(np.float32)
    elif convert_to == "gray":
        y = (unit @ GRAY_WEIGHTS.astype(np.float32)).astype(np.float32)
    else:
        raise ValueError(f"convert_to must be 'y' or 'gray', got {convert_to!r}")
    return np.round(y * np.float32(255))


def _mscn(y: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Mean-subtracted contrast-normalised coefficients (eq. 1), replicated borders."""
    mu = convolve(y, window, mode="nearest")
    sigma = np.sqrt(np.abs(convolve(y * y, window, mode="nearest") - mu * mu))
    return (y - mu) / (sigma + np.float32(1))


def _patches(image: np.ndarray, side: int) -> np.ndarray:
    """``(n, side, side)``: the whole non-overlapping patches of ``image``, row by row."""
    rows, cols = image.shape[0] // side, image.shape[1] // side
    tiles = image[: rows * side, : cols * side].reshape(rows, side, cols, side)
    return tiles.transpose(0, 2, 1, 3).reshape(rows * cols, side, side)


def _aggd(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Asymmetric GGD fit per row of ``samples`` (n, m): shape, left and right spreads (eq. 7).

    Moment matching as the MATLAB release: the squared-mean/mean-square ratio, corrected for
    the left/right asymmetry, is looked up on :data:`SHAPE_GRID`. Rows with no negative or no
    positive value give NaN spreads (ignored later, as ``nanmean``/``nancov`` do).
    """
    neg, pos = samples < 0, samples > 0
    square = samples * samples
    with np.errstate(invalid="ignore", divide="ignore"):
        left = np.sqrt((square * neg).sum(axis=1) / neg.sum(axis=1))
        right = np.sqrt((square * pos).sum(axis=1) / pos.sum(axis=1))
        ratio = left / right
        rhat = np.abs(samples).mean(axis=1) ** 2 / square.mean(axis=1)
        rhat_norm = rhat * (ratio**3 + 1) * (ratio + 1) / (ratio**2 + 1) ** 2
        shape = SHAPE_GRID[np.argmin((_RATIO_GRID[None, :] - rhat_norm[:, None]) ** 2, axis=1)]
        spread = np.sqrt(gamma(1 / shape) / gamma(3 / shape))
    return shape, left * spread, right * spread


def _patch_features(patches: np.ndarray) -> np.ndarray:
    """``(n, 18)`` natural-scene-statistics features of MSCN patches (section II-C)."""
    n = patches.shape[0]
    shape, left, right = _aggd(patches.reshape(n, -1))
    columns = [shape, (left + right) / 2]
    for shift in SHIFTS:
        product = patches * np.roll(patches, shift, axis=(1, 2))
        shape, left, right = _aggd(product.reshape(n, -1))
        mean = (right - left) * gamma(2 / shape) / gamma(1 / shape)
        columns += [shape, mean, left, right]
    return np.stack(columns, axis=1)


def niqe_features(y: np.ndarray, window: np.ndarray) -> np.ndarray:
    """``(patches, 36)``: the features of every whole 96×96 patch of luma ``y`` at two scales."""
    rows, cols = y.shape[0] // BLOCK, y.shape[1] // BLOCK
    y = y[: rows * BLOCK, : cols * BLOCK]
    y = y.astype(np.float32)
    full = _patch_features(_patches(_mscn(y, window), BLOCK))
    half = imresize(y / np.float32(255), scale=0.5) * np.float32(255)
    return np.concatenate([full, _patch_features(_patches(_mscn(half, window), BLOCK // 2))], axis=1)


def niqe_distance(features: np.ndarray, model: PristineModel) -> float:
    """Eq. 10: distance between the patches' Gaussian and the pristine one (NaN if < 2 clean patches)."""
    clean = features[~np.isnan(features).any(axis=1)]
    if clean.shape[0] < MIN_BLOCKS:
        return float("nan")
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(features, axis=0)
    cov = np.cov(clean, rowvar=False)
    diff = model.mean - mean
    return float(np.sqrt(diff @ np.linalg.pinv((model.cov + cov) / 2) @ diff))


def fits(shape: tuple[int, ...], crop_border: int = 0) -> bool:
    """Whether an image of ``shape`` (height, width, ...) holds :data:`MIN_BLOCKS` whole patches after the crop."""
    height, width = shape[0] - 2 * crop_border, shape[1] - 2 * crop_border
    return height >= 0 and width >= 0 and (height // BLOCK) * (width // BLOCK) >= MIN_BLOCKS


def calculate_niqe(img: np.ndarray, crop_border: int, input_order: str = "HWC", convert_to: str = "y") -> float:
    """NIQE of one image; lower is more natural. Matches MATLAB ``niqe`` and BasicSR's ``calculate_niqe``.

    Same arguments as BasicSR 1.4.2's ``basicsr.metrics.calculate_niqe`` (within 1e-3 of it on
    Set5 HR and bicubic ×4, ``tests/test_niqe.py``), except that colour images are **RGB**.

    Args:
        img: ``HxWx3`` RGB / ``HxW`` grey (``CHW`` with ``input_order="CHW"``), values in [0, 255].
        crop_border: pixels shaved from every border first (4 for ×4 outputs, as BasicSR's evaluations).
        input_order: ``"HWC"``, ``"CHW"`` or ``"HW"``.
        convert_to: ``"y"`` (BT.601 Y of MATLAB ``rgb2ycbcr``) or ``"gray"``.

    Returns:
        The score; NaN when fewer than two 96×96 patches have finite features (e.g. a flat image).

    Raises:
        NiqeUnavailableError: the pristine-model parameters are not installed (``fetch-niqe``).
        ValueError: after cropping the image holds fewer than two whole 96×96 patches.
    """
    model = pristine_model()
    y = _luma(img, input_order, convert_to)
    if crop_border:
        y = y[crop_border:-crop_border, crop_border:-crop_border]
    if not fits(y.shape):
        raise ValueError(f"NIQE needs at least {MIN_BLOCKS} whole {BLOCK}×{BLOCK} patches; "
                         f"got {y.shape[1]}×{y.shape[0]} px after a {crop_border}-px border crop")
    return niqe_distance(niqe_features(y, model.window), model)
