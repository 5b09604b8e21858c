"""ZeroGPU (Hugging Face Spaces' shared GPUs): each method's forward runs inside ``spaces.GPU``.

On a ZeroGPU Space a GPU is attached to the process only while a function decorated with
``spaces.GPU`` runs. The decorator's ``duration`` (seconds) is booked against the visitor's GPU
quota before the call starts, and a call that outlives it is cut off, so it is computed per
request: from the same estimate the page shows before a method runs and its progress bar and time
left follow (:func:`sr_models.schedule.estimate`: the FLOPs of this input, counted from the
architecture, over the throughput this process measured), as
``clamp(SR_ARENA_GPU_DURATION_FACTOR × estimate + OVERHEAD_S, SR_ARENA_GPU_DURATION_MIN, _MAX)``.
A method with no estimate yet (its speed not measured) books the maximum.

Elsewhere nothing changes: ``spaces`` (PyPI) is imported when installed, and its ``GPU`` returns the
function itself unless the platform sets ``SPACES_ZERO_GPU`` (spaces 0.51.3); without ``spaces``
the decorator here is the identity. On ZeroGPU the decorated call runs in a worker process, so the
models must be placed on CUDA before it (at start-up, which the loader does: ``SR_ARENA_DEVICE``
defaults to CUDA when torch sees one) and nothing may be ``torch.compile``d (nothing is).
This module imports ``spaces`` before anything imports torch when ``app.py`` imports it first.
"""
from __future__ import annotations

import math
from typing import Any, Callable

try:  # first: on ZeroGPU, spaces patches torch's CUDA initialisation, so it must come before torch
    import spaces
except ImportError:  # not on a Space and not installed: run everything as it is
    spaces = None

import numpy as np

from sr_arena import settings as app_settings
from sr_arena.settings import Settings
from sr_models.inference import UpscaleResult, resolve_precision, upscale_with_info
from sr_models.loader import LoadedModel
from sr_models.progress import CancelFlag, ProgressFn
from sr_models.schedule import Profile, estimate

#: Seconds added to every booking: moving the input and the output, and the worker's start.
OVERHEAD_S = 3.0


def _identity(task: Callable | None = None, **_options: Any) -> Callable:
    """``spaces.GPU``'s stand-in without ``spaces``: ``@GPU`` and ``@GPU(duration=...)`` leave the function as is."""
    return task if callable(task) else (lambda function: function)


GPU: Callable = spaces.GPU if spaces is not None else _identity


def on_zero_gpu() -> bool:
    """Whether ``spaces.GPU`` really books a ZeroGPU device here (the platform's ``SPACES_ZERO_GPU``,
    as ``spaces`` itself parsed it)."""
    if spaces is None:
        return False
    from spaces.config import Config  # the one place spaces reads its environment

    return bool(Config.zero_gpu)


def gpu_seconds(estimate_s: float | None, config: Settings) -> int:
    """The duration to book for a run the schedule estimates at ``estimate_s`` seconds."""
    if estimate_s is None or not math.isfinite(estimate_s):
        return int(config.gpu_duration_max_s)
    wanted = config.gpu_duration_factor * max(estimate_s, 0.0) + OVERHEAD_S
    return int(math.ceil(min(max(wanted, config.gpu_duration_min_s), config.gpu_duration_max_s)))


def duration_for(loaded: LoadedModel, prof: Profile | None, lr: np.ndarray, precision: str,
                 config: Settings | None = None) -> int:
    """Seconds to book for enlarging ``lr`` with ``loaded`` in ``precision`` (the schedule's estimate)."""
    config = config or app_settings.current()
    if prof is None:
        return gpu_seconds(None, config)
    ran, _note = resolve_precision(loaded, precision)
    return gpu_seconds(estimate(loaded, prof, lr.shape[0], lr.shape[1], ran).seconds, config)


def _booked(loaded: LoadedModel, lr: np.ndarray, precision: str, progress: ProgressFn | None,
            cancel: CancelFlag, duration_s: int) -> int:
    """``spaces.GPU``'s dynamic duration: called with the decorated function's own arguments."""
    return duration_s


@GPU(duration=_booked)
def _upscale_on_gpu(loaded: LoadedModel, lr: np.ndarray, precision: str, progress: ProgressFn | None,
                    cancel: CancelFlag, duration_s: int) -> UpscaleResult:
    return upscale_with_info(loaded, lr, precision, progress=progress, cancel=cancel)


def upscale(loaded: LoadedModel, prof: Profile | None, lr: np.ndarray, precision: str, *,
            progress: ProgressFn | None = None, cancel: CancelFlag = None) -> UpscaleResult:
    """:func:`sr_models.inference.upscale_with_info` inside ``spaces.GPU``, booked for this input.

    Interpolation (no network) needs no GPU and is called directly.
    """
    if loaded.descriptor is None:
        return upscale_with_info(loaded, lr, precision, progress=progress, cancel=cancel)
    return _upscale_on_gpu(loaded, lr, precision, progress, cancel, duration_for(loaded, prof, lr, precision))
