"""One path from a uint8 image to its ×4 enlargement, for every method.

``upscale(model, image)`` takes a uint8 array (HxW grey, HxWx3 RGB, HxWx4 RGBA; 16-bit
arrays are brought to 8 bits first) and returns a uint8 array of the same layout, 4×
larger. Networks see RGB only: grey images are replicated to three channels and the
result averaged back; alpha is enlarged with MATLAB-style bicubic.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from .descriptor import ModelDescriptor
from .image_io import to_uint8
from .imresize import imresize
from .archs.san_arch import MIN_CHOP_SIZE, forward_chop
from .loader import LoadedModel

#: SAN's region non-local attention holds an (N × N/4) matrix per quadrant, N = h·w/4, i.e.
#: about (h·w)²/16 bytes in float32 (≈0.5 GB at 300×300 LR pixels). Above this many LR
#: pixels SAN runs through the authors' own test-time wrapper (``forward_chop``, four
#: overlapping halves) instead of the whole image; below it the global operations see
#: the whole image, as in the paper.
SAN_WHOLE_IMAGE_MAX_PIXELS = 300 * 300


def _to_tensor(rgb: np.ndarray, input_range: float, device: torch.device) -> torch.Tensor:
    tensor = torch.from_numpy(np.array(rgb, dtype=np.uint8, order="C", copy=True)).to(device)
    return tensor.permute(2, 0, 1).unsqueeze(0).float().mul_(input_range / 255.0)


def _to_uint8(output: torch.Tensor, input_range: float) -> np.ndarray:
    scaled = output.squeeze(0).float().mul(255.0 / input_range).clamp_(0, 255).round_()
    return scaled.to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def run_network(descriptor: ModelDescriptor, rgb: np.ndarray, device: torch.device) -> np.ndarray:
    """Run a network on an HxWx3 uint8 image (float32, whole image; SAN chops large inputs)."""
    height, width = rgb.shape[:2]
    if min(height, width) < descriptor.min_size:
        raise ValueError(
            f"{descriptor.arch} needs images of at least {descriptor.min_size}×{descriptor.min_size} pixels; "
            f"got {width}×{height}"
        )
    x = _to_tensor(rgb, descriptor.input_range, device)
    with torch.inference_mode():
        if descriptor.arch == "san" and height * width > SAN_WHOLE_IMAGE_MAX_PIXELS and min(height, width) >= MIN_CHOP_SIZE:

            y = forward_chop(descriptor.model, x)
        else:
            y = descriptor.model(x)
    return _to_uint8(y, descriptor.input_range)


def _upscale_rgb(model: LoadedModel, rgb: np.ndarray) -> np.ndarray:
    if model.descriptor is None:
        return imresize(rgb, scale=model.card.scale)
    return run_network(model.descriptor, rgb, model.device)


def upscale(model: LoadedModel, image: np.ndarray) -> np.ndarray:
    """Enlarge ``image`` ×``scale`` with ``model``; the output has the input's layout."""
    image = to_uint8(np.asarray(image))
    if image.ndim == 2:
        rgb = np.repeat(image[:, :, None], 3, axis=2)
        out = _upscale_rgb(model, rgb).astype(np.float32).mean(axis=2)
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"expected an HxW, HxWx3 or HxWx4 image; got shape {image.shape}")
    rgb = _upscale_rgb(model, image[:, :, :3])
    if image.shape[2] == 4:
        alpha = imresize(image[:, :, 3], scale=model.card.scale)
        return np.dstack([rgb, alpha])
    return rgb


PRECISIONS = ("exact", "fast")


@dataclass(frozen=True)
class UpscaleResult:
    """An enlarged image and how it was made (shown next to every output)."""

    image: np.ndarray
    precision: str  # the precision that actually ran: "exact" (float32) or "fast"
    seconds: float
    cached: bool = False


def upscale_with_info(model: LoadedModel, image: np.ndarray, precision: str = "exact") -> UpscaleResult:
    """Like :func:`upscale`, and say which precision ran and how long it took.

    Only ``"exact"`` (float32) exists so far; ``"fast"`` runs float32 too and reports it.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}; got {precision!r}")
    start = time.perf_counter()
    output = upscale(model, image)
    return UpscaleResult(image=output, precision="exact", seconds=time.perf_counter() - start)
