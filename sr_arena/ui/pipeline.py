"""The compare pipeline, free of Gradio: make the LR input, run each method, score it.

``prepare`` turns an accepted upload into a :class:`Comparison`; ``run_method`` enlarges the LR
image with one method and adds a :class:`MethodRun` (output, seconds, provenance, metrics).
Outputs stay in the comparison, so crops, difference maps and the zip reuse them.

``enlarge_method`` and ``score_run`` are ``run_method``'s two halves, so a page can show an
output before its scores are computed. :class:`Job` (in :mod:`sr_arena.ui.jobs`) runs the ticked
methods cheapest first in a worker thread, with estimates, progress and Stop.
Outputs found in a :class:`~sr_models.disk_cache.DiskCache` (the shipped examples) are read
from it instead of computed.
"""
from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field

import numpy as np

from sr_models.disk_cache import DiskCache
from sr_models.image_io import image_sha256
from sr_models.imresize import bicubic_downscale, hr_and_lr, nearest_upscale
from sr_models.inference import UpscaleResult, cache_key, resolve_precision
from sr_models.loader import LoadedModel
from sr_models.metrics import calculate_psnr, calculate_ssim
from sr_models.progress import CancelFlag, ProgressFn
from sr_models.registry import CARDS

from . import zerogpu
from .models import ModelPool, Unavailable
from .uploads import LOW_RES, ORIGINAL, SCALE

ORIGINAL_KEY = "original"
LR_KEY = "lr"


@dataclass
class MethodRun:
    """One method's result (or why there is none)."""

    model_id: str
    name: str
    image: np.ndarray | None = None
    seconds: float | None = None
    precision: str | None = None  # the precision that ran ("exact" or "fast")
    requested: str | None = None  # the precision the person asked for
    note: str = ""  # why this precision ran (from sr_models.inference), e.g. no guard record
    provenance: dict | None = None
    parameters: int | None = None
    psnr: float | None = None
    ssim: float | None = None
    lr_consistency: float | None = None
    unavailable: Unavailable | None = None
    error: str | None = None
    stopped: bool = False  # Stop was pressed before this method finished
    cached: bool = False  # the output came from a cache (``seconds`` is the time it took when computed)
    png: str | None = None  # a PNG file of ``image``, when one exists (disk cache)

    @property
    def ok(self) -> bool:
        return self.image is not None


@dataclass
class Comparison:
    """Everything one request produced: inputs, per-method runs, notes."""

    mode: str
    lr: np.ndarray
    original: np.ndarray | None
    name: str = "image"
    notes: list[str] = field(default_factory=list)
    runs: dict[str, MethodRun] = field(default_factory=dict)
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    created: float = field(default_factory=time.perf_counter)  # when the inputs were ready (perf_counter)
    source_sha256: str = ""  # image_io.image_sha256 of the image the person gave (what votes store)

    @property
    def hr_shape(self) -> tuple[int, int]:
        return self.lr.shape[0] * SCALE, self.lr.shape[1] * SCALE

    def lr_enlarged(self) -> np.ndarray:
        """The LR input enlarged ×4 with nearest neighbour (how it is shown)."""
        return nearest_upscale(self.lr, SCALE)

    def images(self) -> dict[str, np.ndarray]:
        """Every full-size image by key: ``original`` (when given), ``lr`` (NN ×4), then methods."""
        images: dict[str, np.ndarray] = {}
        if self.original is not None:
            images[ORIGINAL_KEY] = self.original
        images[LR_KEY] = self.lr_enlarged()
        ordered = sorted(self.runs, key=lambda m: list(CARDS).index(m) if m in CARDS else len(CARDS))
        images.update({m: self.runs[m].image for m in ordered if self.runs[m].image is not None})
        return images


def label(key: str) -> str:
    """Human name of an image key."""
    if key == ORIGINAL_KEY:
        return "Original"
    if key == LR_KEY:
        return "Low-res input (nearest ×4)"
    return CARDS[key].display_name if key in CARDS else key


def prepare(image: np.ndarray, mode: str, name: str = "image", notes: list[str] | None = None) -> Comparison:
    """Build the comparison's inputs from an RGB uint8 upload.

    ``original``: modcrop to a multiple of 4, LR = MATLAB-exact bicubic ×1/4; ``low-res``: as is.
    """
    notes = list(notes or [])
    if mode == ORIGINAL:
        original, lr = hr_and_lr(image, SCALE)  # the same LR maker as the MOS study and training
        if original.shape != image.shape:
            notes.append(f"cropped to {original.shape[1]}×{original.shape[0]} (a multiple of 4)")
        return Comparison(mode, lr, original, name, notes, source_sha256=image_sha256(image))
    if mode == LOW_RES:
        return Comparison(mode, image, None, name, notes, source_sha256=image_sha256(image))
    raise ValueError(f"unknown mode {mode!r}")


def full_reference(output: np.ndarray, reference: np.ndarray, crop_border: int = SCALE) -> tuple[float, float]:
    """(PSNR, SSIM) as the papers compute them: Y channel, ``crop_border`` pixels shaved."""
    return (calculate_psnr(output, reference, crop_border=crop_border, test_y_channel=True),
            calculate_ssim(output, reference, crop_border=crop_border, test_y_channel=True))


def lr_consistency(output: np.ndarray, lr: np.ndarray) -> float:
    """PSNR (Y) between the output shrunk ×1/4 with MATLAB bicubic and the LR input."""
    return calculate_psnr(bicubic_downscale(output, SCALE), lr, crop_border=0, test_y_channel=True)


def provenance_of(model: LoadedModel) -> dict:
    """What weights a run used, as plain data (bicubic: none)."""
    if model.provenance is None:
        return {"kind": "no weights", "description": "MATLAB-exact bicubic interpolation", "file": "", "sha256": "",
                "licence": "", "origin": ""}
    data = model.provenance.as_dict()
    data["file_name"] = os.path.basename(str(data["file"]))
    return data


def precision_note(model: LoadedModel, requested: str, ran: str, note: str) -> str:
    """The engine's note on why ``ran`` ran, kept where it tells the person something.

    Interpolation asked for "exact" has nothing to explain (the engine's note speaks of
    network weights), so it gets no note; every other note is shown as the engine wrote it.
    """
    if model.descriptor is None and requested == ran == "exact":
        return ""
    return note.strip()


#: The precision a request gets unless it asks otherwise (exact stays one click away).
DEFAULT_PRECISION = "fast"


def run_method(comparison: Comparison, model_id: str, pool: ModelPool, precision: str = DEFAULT_PRECISION,
               disk: DiskCache | None = None) -> MethodRun:
    """Enlarge the comparison's LR image with one method and score it; the run is stored and returned.

    Never raises for a method's own failure: the run carries ``unavailable`` or ``error`` instead.
    """
    return score_run(comparison, enlarge_method(comparison, model_id, pool, precision, disk=disk))


def cached_result(disk: DiskCache | None, loaded: LoadedModel, lr: np.ndarray, precision: str,
                  ) -> tuple[UpscaleResult, str] | None:
    """``(result, png path)`` from ``disk`` for this input, model, checkpoint and precision, or ``None``."""
    if disk is None:
        return None
    ran, note = resolve_precision(loaded, precision)
    hit = disk.get(cache_key(loaded, lr, ran))
    if hit is None:
        return None
    return UpscaleResult(hit.image(), ran, float(hit.meta.get("seconds") or 0.0), cached=True, note=note), str(hit.png)


def store_result(disk: DiskCache, loaded: LoadedModel, lr: np.ndarray, result: UpscaleResult) -> str:
    """Put ``result`` into ``disk``; returns the PNG's path."""
    stored = disk.put(cache_key(loaded, lr, result.precision), result.image, seconds=result.seconds,
                      model_name=loaded.card.display_name)
    return str(stored.png)


def enlarge_method(comparison: Comparison, model_id: str, pool: ModelPool, precision: str = DEFAULT_PRECISION,
                   *, progress: ProgressFn | None = None, cancel: CancelFlag = None,
                   disk: DiskCache | None = None, persist: bool = False) -> MethodRun:
    """Enlarge with one method (no scores yet: :func:`score_run`); the run is stored and returned.

    Reads ``disk`` first; ``persist`` writes a computed output there. A computed output runs
    inside ``spaces.GPU`` with a duration from this input's estimate (:mod:`.zerogpu`; the
    identity off ZeroGPU). ``progress``/``cancel``:
    see :func:`sr_models.inference.run_network`; a stopped run raises
    :class:`sr_models.progress.Cancelled` and stores nothing.
    """
    run = MethodRun(model_id, CARDS[model_id].display_name, requested=precision)
    loaded = pool.get(model_id)
    if isinstance(loaded, Unavailable):
        run.unavailable = loaded
    else:
        try:
            found = cached_result(disk, loaded, comparison.lr, precision)
            result = found[0] if found else zerogpu.upscale(loaded, pool.profile(model_id), comparison.lr, precision,
                                                            progress=progress, cancel=cancel)
        except (RuntimeError, ValueError, MemoryError) as error:
            run.error = f"{type(error).__name__}: {error}"
        else:
            run.image, run.seconds, run.precision = result.image, result.seconds, result.precision
            run.cached, run.png = result.cached, found[1] if found else None
            if disk is not None and persist and not found:
                run.png = store_result(disk, loaded, comparison.lr, result)
            run.note = precision_note(loaded, precision, result.precision, result.note)
            run.provenance, run.parameters = provenance_of(loaded), loaded.num_parameters
    comparison.runs[model_id] = run
    return run


def score_run(comparison: Comparison, run: MethodRun) -> MethodRun:
    """Add PSNR/SSIM (against the original) and LR-consistency to a finished run; returns it."""
    if run.ok and run.lr_consistency is None:
        run.lr_consistency = lr_consistency(run.image, comparison.lr)
        if comparison.original is not None:
            run.psnr, run.ssim = full_reference(run.image, comparison.original)
    return run


def in_registry_order(runs: dict[str, MethodRun]) -> list[MethodRun]:
    """The runs in the registry's order (however they were scheduled)."""
    rank = {m: i for i, m in enumerate(CARDS)}
    return sorted(runs.values(), key=lambda run: rank.get(run.model_id, len(rank)))
