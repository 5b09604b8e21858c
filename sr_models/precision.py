"""The fast path: channels_last, reduced-precision autocast, and the per-model quality guard.

``exact`` is what the authors' test scripts do: float32, NCHW, whole image. ``fast`` runs a
channels_last copy of the network under autocast:

* CPU with native bf16 (AVX512-BF16/AMX; ``torch.ops.mkldnn._is_mkldnn_bf16_supported``):
  bf16 convolutions (``cpu-bf16``); otherwise float32 channels_last (``cpu-fp32``).
* CUDA: bf16 where the GPU supports it, else fp16 (``cuda-bf16``/``cuda-fp16``), with
  ``cudnn.benchmark`` on and a warm-up forward before the first timed call.

Autocast keeps reductions such as softmax in float32, and SAN's covariance pooling and
Newton–Schulz iteration disable autocast themselves (``archs/san_arch.py``).

Reduced precision is only used for a checkpoint whose guard record passes: on Set5 the
fast path's mean PSNR must be within :data:`GUARD_THRESHOLD_DB` of float32. Records are
keyed by checkpoint sha256 and fast mode, kept in ``precision_guard.json`` next to this
file (``SR_ARENA_GUARD_FILE`` overrides), and written by ``python -m sr_models guard`` (:func:`sr_models.guard.run_guard`).
A checkpoint without a passing record runs exact, and the result says why.
"""
from __future__ import annotations

import contextlib
import copy
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch
from torch import nn

from . import settings
from .descriptor import ModelDescriptor

GUARD_THRESHOLD_DB = 0.05
DEFAULT_GUARD_FILE = Path(__file__).with_name("precision_guard.json")


@dataclass(frozen=True)
class FastMode:
    """How the fast path runs on one device: ``dtype`` ``None`` means float32 (no guard needed)."""

    name: str
    device_type: str
    dtype: torch.dtype | None

    @property
    def reduced(self) -> bool:
        """Whether this mode lowers precision (and so needs a passing guard record)."""
        return self.dtype is not None


def cpu_bf16_native() -> bool:
    """Whether oneDNN has native bf16 kernels on this CPU (AVX512-BF16 or AMX) and may use them.

    ``ONEDNN_MAX_CPU_ISA`` below ``AVX512_CORE_BF16`` (e.g. ``AVX2`` on an AVX-512 machine)
    makes oneDNN run its AVX2 kernels, where bf16 is emulated, so that counts as no support.
    """
    if not settings.current().isa_allows_native_bf16:
        return False
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def cpu_bf16_supported() -> bool:
    """Whether the CPU fast mode is bf16: ``SR_ARENA_CPU_BF16`` (1/0) when set, else :func:`cpu_bf16_native`.

    Forcing it on runs the same reduced-precision code on a CPU without native bf16
    (emulated, slowly): the tests use it so that this path is checked on every machine.
    """
    forced = settings.current().cpu_bf16
    return cpu_bf16_native() if forced is None else forced


def fast_mode_for(device: torch.device) -> FastMode:
    """The fast mode this device supports."""
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return FastMode("cuda-bf16", "cuda", torch.bfloat16)
        return FastMode("cuda-fp16", "cuda", torch.float16)
    if device.type == "cpu" and cpu_bf16_supported():
        return FastMode("cpu-bf16", "cpu", torch.bfloat16)
    return FastMode(f"{device.type}-fp32", device.type, None)


@contextlib.contextmanager
def fast_context(mode: FastMode) -> Iterator[None]:
    """Autocast to ``mode.dtype`` (nothing for float32 modes)."""
    if mode.dtype is None:
        yield
        return
    with torch.autocast(device_type=mode.device_type, dtype=mode.dtype):
        yield


class Float32Island(nn.Module):
    """Runs the wrapped layer in float32 with autocast off (image-facing convolutions)."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=x.device.type, enabled=False):
            return self.layer(x.float())


def _kernel_shape(module: nn.Module) -> tuple[int, ...] | None:
    """(out, in, kh, kw) of a 2-D convolution (plain or weight-normalised), else ``None``."""
    weight = getattr(module, "weight_v", None) if not isinstance(module, nn.Conv2d) else module.weight
    if isinstance(weight, torch.Tensor) and weight.dim() == 4:
        return tuple(weight.shape)
    return None


def is_image_facing(module: nn.Module, image_channels: int = 3) -> bool:
    """Convolutions that read the image or write it (directly or through PixelShuffle).

    They cost little, and in bf16 their outputs would be quantised to ~1/256 of their range,
    about one uint8 step; they stay float32.
    """
    shape = _kernel_shape(module)
    if shape is None:
        return False
    out_channels, in_channels = shape[:2]
    writes_image = out_channels in {image_channels * r * r for r in (1, 2, 3, 4)}
    return in_channels == image_channels or writes_image


def keep_image_layers_fp32(model: nn.Module) -> int:
    """Wrap every image-facing convolution of ``model`` in a :class:`Float32Island`; return how many."""
    targets = [(name, module) for name, module in model.named_modules() if name and is_image_facing(module)]
    for name, module in targets:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, Float32Island(module))
    return len(targets)


_FAST_MODELS: dict[tuple[int, str], nn.Module] = {}
_FAST_LOCK = threading.Lock()


def fast_model(descriptor: ModelDescriptor, device: torch.device) -> nn.Module:
    """A channels_last copy of ``descriptor.model`` (made once; the exact model stays NCHW).

    In reduced-precision modes its image-facing convolutions stay float32
    (:func:`keep_image_layers_fp32`). On CUDA this also turns on ``cudnn.benchmark`` and runs one warm-up forward.
    """
    mode = fast_mode_for(device)
    key = (id(descriptor.model), mode.name)  # the copy differs by mode (float32 islands)
    with _FAST_LOCK:
        if key not in _FAST_MODELS:
            model = copy.deepcopy(descriptor.model).eval().to(device, memory_format=torch.channels_last)
            if mode.reduced:
                keep_image_layers_fp32(model)
            if device.type == "cuda":
                torch.backends.cudnn.benchmark = True
                warm_up(model, descriptor, device)
            _FAST_MODELS[key] = model
        return _FAST_MODELS[key]


def warm_up(model: nn.Module, descriptor: ModelDescriptor, device: torch.device, size: int = 64) -> float:
    """One forward on a ``size``² input in the fast mode (autotuning, lazy init); returns seconds."""
    start = time.perf_counter()
    x = torch.rand(1, 3, size, size, device=device).mul_(descriptor.input_range)
    with torch.inference_mode(), fast_context(fast_mode_for(device)):
        model(x.contiguous(memory_format=torch.channels_last))
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


# ----------------------------------------------------------------------------------------------
# Quality guard
# ----------------------------------------------------------------------------------------------


def guard_file() -> Path:
    """Where guard records live (``SR_ARENA_GUARD_FILE`` overrides the packaged file)."""
    return settings.current().guard_file


def guard_key(checkpoint_sha256: str, mode: FastMode) -> str:
    """Records are per checkpoint and per fast mode."""
    return f"{checkpoint_sha256}:{mode.name}"


def load_guard_records(path: Path | None = None) -> dict[str, dict]:
    """All guard records (an empty dict when the file is absent)."""
    path = path or guard_file()
    if not path.is_file():
        return {}
    return json.loads(path.read_text())


def save_guard_record(record: dict, path: Path | None = None) -> None:
    """Add or replace one record, atomically."""
    path = path or guard_file()
    records = load_guard_records(path)
    records[record["key"]] = record
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(dict(sorted(records.items())), indent=1) + "\n")
    tmp.replace(path)


def guard_verdict(checkpoint_sha256: str | None, mode: FastMode, path: Path | None = None) -> tuple[bool, str]:
    """``(fast allowed, reason)`` for one checkpoint in ``mode``."""
    if not mode.reduced:
        return True, f"{mode.name}: float32 channels_last, same precision as exact"
    if checkpoint_sha256 is None:
        return True, f"{mode.name}: no network weights"
    record = load_guard_records(path).get(guard_key(checkpoint_sha256, mode))
    if record is None:
        return False, (f"no quality-guard record for checkpoint {checkpoint_sha256[:12]} in {mode.name}; "
                       f"ran float32 (run `python -m sr_models guard` to test the fast path)")
    if not record["passed"]:
        return False, (f"{mode.name} failed the quality guard on {record['dataset']} "
                       f"(ΔPSNR {record['delta_db']:.3f} dB > {record['threshold_db']} dB); ran float32")
    return True, f"{mode.name}: guard passed on {record['dataset']} (ΔPSNR {record['delta_db']:.3f} dB)"
