"""One path from a uint8 image to its ×4 enlargement, for every method.

``upscale(model, image)`` takes a uint8 array (HxW grey, HxWx3 RGB, HxWx4 RGBA; 16-bit
arrays are brought to 8 bits first) and returns a uint8 array of the same layout, 4×
larger. Networks see RGB only: grey images are replicated to three channels and the
result averaged back; alpha is enlarged with MATLAB-style bicubic.

Precision: ``"exact"`` is float32, NCHW, as the authors' test scripts run; ``"fast"`` is
the channels_last / reduced-precision path of :mod:`sr_models.precision`, used only for a
checkpoint whose quality-guard record passes (otherwise exact runs, and
:class:`UpscaleResult` says why). Large inputs go through overlapping tiles
(:mod:`sr_models.tiling`), except architectures whose spec tiles internally (SAN: the whole
image, or the authors' chop for large ones; :func:`sr_models.archs.san_arch.whole_or_chop`). :func:`upscale_with_info` caches outputs in a bounded
LRU (:mod:`sr_models.output_cache`).
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .descriptor import ModelDescriptor
from .image_io import to_uint8
from .imresize import imresize
from . import openvino_backend, settings
from .archs import get_architecture
from .loader import LoadedModel
from .output_cache import OutputCache, image_sha256
from .precision import fast_context, fast_mode_for, fast_model, guard_verdict
from .progress import CancelFlag, ConvMeter, ProgressFn, check_cancel
from .tiling import memory_budget, plan_tiles, tiled_forward

log = logging.getLogger(__name__)

PRECISIONS = ("exact", "fast")

#: Where ``benchmarks/bench_inference.py --threads`` writes its measured thread choice.
TUNING_FILE = Path(__file__).with_name("runtime_tuning.json")


def to_network_input(rgb: np.ndarray, input_range: float, device: torch.device) -> torch.Tensor:
    """HxWx3 uint8 -> (1, 3, H, W) float32 on ``device``, scaled to the network's range."""
    tensor = torch.from_numpy(np.array(rgb, dtype=np.uint8, order="C", copy=True)).to(device)
    return tensor.permute(2, 0, 1).unsqueeze(0).float().mul_(input_range / 255.0)


def from_network_output(output: torch.Tensor, input_range: float) -> np.ndarray:
    """(1, 3, H, W) network output -> HxWx3 uint8 (clamped and rounded, as the papers' test scripts)."""
    scaled = output.squeeze(0).float().mul(255.0 / input_range).clamp_(0, 255).round_()
    return scaled.to(torch.uint8).permute(1, 2, 0).contiguous().cpu().numpy()


def run_network(descriptor: ModelDescriptor, rgb: np.ndarray, device: torch.device,
                precision: str = "exact", tile: int | None = None, *,
                progress: ProgressFn | None = None, cancel: CancelFlag = None) -> np.ndarray:
    """Run a network on an HxWx3 uint8 image.

    ``precision`` ``"exact"``: float32 NCHW; ``"fast"``: the device's fast mode, with no
    guard check (callers check it: :func:`upscale_with_info`). ``tile``: ``None`` chooses
    from free memory, ``0`` forces the whole image, a number forces that tile side (never
    for SAN). ``progress`` gets a :class:`sr_models.progress.Step` after every convolution
    and tile; ``cancel`` is checked there and raises :class:`sr_models.progress.Cancelled`.
    """
    height, width = rgb.shape[:2]
    if min(height, width) < descriptor.min_size:
        raise ValueError(
            f"{descriptor.arch} needs images of at least {descriptor.min_size}×{descriptor.min_size} pixels; "
            f"got {width}×{height}"
        )
    x = to_network_input(rgb, descriptor.input_range, device)
    if precision == "fast":
        model = fast_model(descriptor, device)
        mode = fast_mode_for(device)
        x = x.contiguous(memory_format=torch.channels_last)
    else:
        model, mode = descriptor.model, None
    openvino = mode is not None and uses_openvino(descriptor, device)

    def forward(piece: torch.Tensor) -> torch.Tensor:
        if mode is None:
            return model(piece)
        if openvino:  # float32 on OpenVINO's CPU plugin (progress then counts tiles, not layers)
            return openvino_backend.run(descriptor, piece.contiguous())
        with fast_context(mode):
            return model(piece.contiguous(memory_format=torch.channels_last))

    check_cancel(cancel)
    with torch.inference_mode(), ConvMeter(model, progress, cancel) as meter:
        spec = get_architecture(descriptor.arch)
        if spec.tiling == "internal":  # the architecture runs the whole image its own way (SAN: whole or chop)
            y, how = spec.forward(forward, x, memory_budget(device)[0])
            log.info("%s %d×%d LR: %s", descriptor.arch, width, height, how)
        else:
            plan = plan_tiles(descriptor.arch, height, width, device, tile=tile,
                              reduced=mode is not None and mode.reduced)
            log.info("%s: %s", descriptor.arch, plan.describe(width, height))
            meter.tiles_total = plan.count
            y = forward(x) if plan.tile is None else tiled_forward(
                forward, x, plan.tile, plan.overlap, descriptor.scale, on_tile=meter.tile_done, cancel=cancel)
    return from_network_output(y, descriptor.input_range)


def uses_openvino(descriptor: ModelDescriptor, device: torch.device) -> bool:
    """Whether the fast path of this network runs on OpenVINO: opted in (``SR_ARENA_CPU_BACKEND=openvino``),
    a float32 CPU fast mode (same precision as exact, so no guard involved) and a network the backend supports."""
    return (settings.current().cpu_backend == "openvino" and device.type == "cpu"
            and not fast_mode_for(device).reduced and openvino_backend.supports(descriptor)[0])


def _upscale_rgb(model: LoadedModel, rgb: np.ndarray, precision: str, tile: int | None,
                 progress: ProgressFn | None = None, cancel: CancelFlag = None) -> np.ndarray:
    if model.descriptor is None:
        check_cancel(cancel)
        return imresize(rgb, scale=model.card.scale)
    return run_network(model.descriptor, rgb, model.device, precision=precision, tile=tile,
                       progress=progress, cancel=cancel)


def upscale(model: LoadedModel, image: np.ndarray, precision: str = "exact", *,
            force_fast: bool = False, tile: int | None = None,
            progress: ProgressFn | None = None, cancel: CancelFlag = None) -> np.ndarray:
    """Enlarge ``image`` ×``scale`` with ``model``; the output has the input's layout.

    ``precision="fast"`` runs the fast path only when the checkpoint's guard passes,
    unless ``force_fast`` (benchmarks and the guard itself). ``tile``, ``progress``,
    ``cancel``: see :func:`run_network`.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}; got {precision!r}")
    if precision == "fast" and not force_fast:
        precision = resolve_precision(model, precision)[0]
    configure_threads()
    image = to_uint8(np.asarray(image))
    if image.ndim == 2:
        rgb = np.repeat(image[:, :, None], 3, axis=2)
        out = _upscale_rgb(model, rgb, precision, tile, progress, cancel).astype(np.float32).mean(axis=2)
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"expected an HxW, HxWx3 or HxWx4 image; got shape {image.shape}")
    rgb = _upscale_rgb(model, image[:, :, :3], precision, tile, progress, cancel)
    if image.shape[2] == 4:
        alpha = imresize(image[:, :, 3], scale=model.card.scale)
        return np.dstack([rgb, alpha])
    return rgb


def resolve_precision(model: LoadedModel, precision: str) -> tuple[str, str]:
    """``(precision that will run, why)``: fast only with a passing guard record for this checkpoint."""
    if precision == "exact":
        return "exact", "float32, as the authors' test scripts"
    if model.descriptor is None:
        return "exact", "interpolation has no reduced-precision path"
    allowed, reason = guard_verdict(model.provenance.sha256 if model.provenance else None, fast_mode_for(model.device))
    return ("fast" if allowed else "exact"), reason


@dataclass(frozen=True)
class UpscaleResult:
    """An enlarged image and how it was made (shown next to every output).

    ``seconds`` is the time the computation took (also for a cache hit, which returns the
    stored result with ``cached=True``); ``note`` says why this precision ran.
    """

    image: np.ndarray
    precision: str  # the precision that actually ran: "exact" (float32) or "fast"
    seconds: float
    cached: bool = False
    note: str = ""


#: Outputs of :func:`upscale_with_info`, keyed by (image sha256, model, checkpoint sha256, precision that ran).
OUTPUT_CACHE: OutputCache[UpscaleResult] = OutputCache()


def cache_key(model: LoadedModel, image: np.ndarray, precision: str) -> tuple[str, str, str, str]:
    """The output cache key; ``precision`` is the one that runs (after the guard)."""
    checkpoint = model.provenance.sha256 if model.provenance else "none"
    return image_sha256(np.asarray(image)), model.id, checkpoint, precision


def upscale_with_info(model: LoadedModel, image: np.ndarray, precision: str = "exact",
                      cache: OutputCache | None = OUTPUT_CACHE, *,
                      progress: ProgressFn | None = None, cancel: CancelFlag = None) -> UpscaleResult:
    """Like :func:`upscale`, and say which precision ran, why, and how long it took.

    Results come from (and go to) ``cache`` (pass ``None`` to bypass it); the returned
    array of a cached result is read-only. ``progress``/``cancel``: see :func:`run_network`
    (a stopped run raises :class:`sr_models.progress.Cancelled` and caches nothing).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}; got {precision!r}")
    ran, note = resolve_precision(model, precision)
    key = cache_key(model, image, ran) if cache is not None else None
    if cache is not None:
        hit = cache.get(key)
        if hit is not None:
            # the note answers *this* request (e.g. "asked fast, ran exact"), not the one that filled the cache
            return UpscaleResult(hit.image, hit.precision, hit.seconds, cached=True, note=note)
    start = time.perf_counter()
    output = upscale(model, image, precision=ran, force_fast=True, progress=progress, cancel=cancel)
    result = UpscaleResult(image=output, precision=ran, seconds=time.perf_counter() - start, note=note)
    if cache is not None:
        cache.put(key, result, output)
    return result


# ----------------------------------------------------------------------------------------------
# Threads and scheduling (measured by benchmarks/bench_inference.py --threads)
# ----------------------------------------------------------------------------------------------

_THREADS_LOCK = threading.Lock()
_THREADS_DONE = False


def runtime_tuning() -> dict:
    """The measured choice: ``{"threads": n or None, "concurrent": bool, ...}`` (defaults when unmeasured)."""
    if TUNING_FILE.is_file():
        return json.loads(TUNING_FILE.read_text())
    return {"threads": None, "concurrent": False, "source": "default (not measured)"}


def measured_threads() -> int | None:
    """The tuning file's thread choice, only when it was measured on a machine with as many CPUs as this one."""
    tuning = runtime_tuning()
    measured_on = tuning.get("measured", {}).get("cpu_count")
    return tuning.get("threads") if measured_on == os.cpu_count() else None


def configure_threads() -> int:
    """Set torch's intra-op threads once: ``SR_ARENA_THREADS``, else the measured choice for this CPU
    count (:func:`measured_threads`), else torch's default (one per core)."""
    global _THREADS_DONE
    with _THREADS_LOCK:
        if not _THREADS_DONE:
            wanted = settings.current().threads or measured_threads()
            if wanted:
                torch.set_num_threads(int(wanted))
            _THREADS_DONE = True
    return torch.get_num_threads()


def prepare(model: LoadedModel, precision: str = "fast") -> str:
    """Make ``model``'s fast copy now (on CUDA: cudnn.benchmark and a warm-up forward) so the
    first request does not pay for it; returns the precision requests will run."""
    ran, _ = resolve_precision(model, precision)
    configure_threads()
    if ran == "fast" and model.descriptor is not None:
        fast_model(model.descriptor, model.device)
        if uses_openvino(model.descriptor, model.device):
            openvino_backend.compiled_model(model.descriptor, 64, 64)  # convert once, now
    return ran


def upscale_all(models: list[LoadedModel], image: np.ndarray, precision: str = "fast") -> dict[str, UpscaleResult]:
    """Every model on one image, one after another or concurrently as the measurement chose."""
    if runtime_tuning().get("concurrent"):
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=len(models) or 1) as pool:
            futures = {m.id: pool.submit(upscale_with_info, m, image, precision) for m in models}
            return {model_id: future.result() for model_id, future in futures.items()}
    return {m.id: upscale_with_info(m, image, precision) for m in models}
