"""Training pairs: HR crops of the training images and their MATLAB-bicubic LR.

Each whole training image is modcropped to a multiple of the scale and downscaled once
with :func:`sr_models.imresize.imresize` (the degradation of the benchmarks); the pairs are
cached under ``runs/cache/``. Patches are cut at aligned positions (LR ``(y, x)`` ↔ HR
``(s·y, s·x)``) and the same flip/rot90 is applied to both, so the LR patch is exactly the
bicubic LR of its HR patch away from image borders. Benchmark folders are refused.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sr_models.image_io import read_image, to_rgb
from sr_models.imresize import hr_and_lr
from sr_models.paths import REPO_ROOT, SHARED_DIR

TRAIN_ROOT = SHARED_DIR / "data" / "train"
BENCHMARK_ROOT = SHARED_DIR / "data" / "benchmark"
CACHE_DIR = REPO_ROOT / "runs" / "cache"
IMAGE_SUFFIXES = {".png", ".bmp", ".jpg", ".jpeg"}


class BenchmarkDataError(ValueError):
    """A training source points into a benchmark (evaluation-only) folder."""


def _is_benchmark(path: Path) -> bool:
    resolved = path.resolve()
    bench = BENCHMARK_ROOT.resolve()
    return resolved == bench or bench in resolved.parents or "benchmark" in resolved.parts


def training_files(dirs: list[str], root: Path = TRAIN_ROOT) -> list[Path]:
    """Image files of the training folders (names relative to ``root`` or absolute).

    Raises:
        BenchmarkDataError: a folder is (inside) a benchmark folder.
        FileNotFoundError: a folder does not exist.
    """
    files: list[Path] = []
    for name in dirs:
        folder = Path(name) if Path(name).is_absolute() else root / name
        if _is_benchmark(folder):
            raise BenchmarkDataError(f"{folder} is a benchmark folder: benchmark images are for evaluation only")
        if not folder.is_dir():
            raise FileNotFoundError(f"training folder {folder} not found")
        files += sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    return files


def make_pair(hr: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """``(hr, lr)``: HR modcropped to a multiple of ``scale``, LR by MATLAB-exact bicubic; both
    C-contiguous, as they are when read back from the cache (``np.stack`` keeps a strided layout,
    and convolutions sum in a different order on it)."""
    return hr_and_lr(to_rgb(hr), scale)


def _cache_path(path: Path, scale: int) -> Path:
    digest = hashlib.sha256(f"{path.resolve()}|{path.stat().st_size}|x{scale}".encode()).hexdigest()[:16]
    return CACHE_DIR / f"{path.stem}_{digest}_x{scale}.npz"


def load_pair(path: Path, scale: int, cache: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The (HR, LR) pair of one training image, from the cache when present."""
    cached = _cache_path(path, scale)
    if cache and cached.is_file():
        with np.load(cached) as data:
            return data["hr"], data["lr"]
    hr, lr = make_pair(read_image(path), scale)
    if cache:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(".tmp.npz")
        np.savez(tmp, hr=hr, lr=lr)
        tmp.replace(cached)
    return hr, lr


def dihedral(x: np.ndarray, k: int) -> np.ndarray:
    """One of the 8 flips/rotations (``k`` in 0..7) of an HxWxC array."""
    if k >= 4:
        x = x[:, ::-1]
    return np.rot90(x, k % 4, axes=(0, 1))


@dataclass
class PatchSampler:
    """Random aligned (LR, HR) patches with flips/rot90 from precomputed whole-image pairs.

    Images are drawn with probability proportional to their number of valid patch positions,
    so every LR pixel is about equally likely.
    """

    pairs: list[tuple[np.ndarray, np.ndarray]]
    lr_patch: int
    scale: int
    rng: np.random.Generator

    def __post_init__(self) -> None:
        self.pairs = [p for p in self.pairs if min(p[1].shape[:2]) >= self.lr_patch]
        if not self.pairs:
            raise ValueError(f"no training image is at least {self.lr_patch} LR pixels on each side")
        weights = np.array([(lr.shape[0] - self.lr_patch + 1) * (lr.shape[1] - self.lr_patch + 1)
                            for _, lr in self.pairs], dtype=np.float64)
        self.weights = weights / weights.sum()

    def sample(self, batch: int) -> tuple[np.ndarray, np.ndarray]:
        """``(lr, hr)`` uint8 batches, shapes (B, p, p, 3) and (B, s·p, s·p, 3)."""
        p, s = self.lr_patch, self.scale
        lrs, hrs = [], []
        for index in self.rng.choice(len(self.pairs), size=batch, p=self.weights):
            hr, lr = self.pairs[index]
            y = int(self.rng.integers(0, lr.shape[0] - p + 1))
            x = int(self.rng.integers(0, lr.shape[1] - p + 1))
            k = int(self.rng.integers(0, 8))
            lrs.append(dihedral(lr[y:y + p, x:x + p], k))
            hrs.append(dihedral(hr[s * y:s * (y + p), s * x:s * (x + p)], k))
        return np.stack(lrs), np.stack(hrs)


def load_training_pairs(dirs: list[str], scale: int, root: Path = TRAIN_ROOT, cache: bool = True,
                        progress: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
    """All (HR, LR) pairs of the training folders."""
    files = training_files(dirs, root)
    if progress:
        from tqdm import tqdm

        files = tqdm(files, desc="bicubic LR", unit="img")
    return [load_pair(path, scale, cache) for path in files]
