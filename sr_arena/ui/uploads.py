"""Checking an upload before any pixel is decoded, then reading it into an RGB uint8 array.

Every limit is checked from the file's header first (size in bytes, width × height), so a
decompression bomb is refused before decoding. What the reader changed (EXIF rotation, first
frame of an animation, 16-bit, palette, CMYK, alpha, grey) is reported as notes for the page.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from sr_arena import settings
from sr_models.image_io import MAX_DECODE_PIXELS, ImageReadError, read_image

ORIGINAL = "original"
LOW_RES = "low-res"
MODES = (ORIGINAL, LOW_RES)

#: Largest upload in bytes (also given to Gradio's ``max_file_size``).
MAX_UPLOAD_BYTES = settings.current().max_upload_bytes
#: Largest low-resolution side: networks run on at most this many pixels per side.
MAX_LR_SIDE = settings.current().max_lr_side
#: Smallest low-resolution side (the networks' and SSIM's minimum).
MIN_LR_SIDE = 16
SCALE = 4


class UploadError(ValueError):
    """An upload the app refuses; the message is shown to the person as is."""


@dataclass
class Upload:
    """An accepted upload: HxWx3 uint8 RGB plus what was done to it."""

    image: np.ndarray
    name: str
    notes: list[str] = field(default_factory=list)


def side_limits(mode: str) -> tuple[int, int]:
    """(smallest, largest) allowed side in pixels for ``mode``."""
    if mode == ORIGINAL:
        return MIN_LR_SIDE * SCALE, MAX_LR_SIDE * SCALE
    if mode == LOW_RES:
        return MIN_LR_SIDE, MAX_LR_SIDE
    raise ValueError(f"mode must be one of {MODES}; got {mode!r}")


def _what(mode: str) -> str:
    return "an original" if mode == ORIGINAL else "low-resolution input"


def _orientation(image: Image.Image) -> int:
    """EXIF orientation tag (1 when absent or unreadable: a damaged file fails later, when decoded)."""
    try:
        return int(image.getexif().get(0x0112, 1) or 1)
    except (OSError, SyntaxError, ValueError, struct.error):
        return 1


def check_header(path: Path, mode: str) -> list[str]:
    """Refuse files that are too big, not images, or too large/small in pixels, from the header only.

    Returns notes on what reading will change (animation, EXIF rotation, bit depth, colour model).
    """
    size = path.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        raise UploadError(f"The file is {size / 2**20:.1f} MB; at most {MAX_UPLOAD_BYTES // 2**20} MB can be uploaded.")
    low, high = side_limits(mode)
    try:
        with Image.open(path) as image:
            width, height = image.size
            mode_name, frames = image.mode, getattr(image, "n_frames", 1)
            orientation = _orientation(image)
    except Image.DecompressionBombError:
        raise UploadError("Refused: this file declares so many pixels that it looks like a decompression bomb; "
                          "nothing was decoded.") from None
    except (Image.UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise UploadError("This file is not an image the app can read (PNG, JPEG, WebP, BMP, TIFF or GIF).") from None
    if width * height > MAX_DECODE_PIXELS or max(width, height) > high:
        raise UploadError(f"The image is {width}×{height} pixels; at most {high}×{high} for {_what(mode)}. "
                          "Crop or shrink it first (nothing was decoded).")
    if min(width, height) < low:
        raise UploadError(f"The image is {width}×{height} pixels; at least {low}×{low} for {_what(mode)}.")
    notes = []
    if frames > 1:
        notes.append(f"animated image with {frames} frames: the first frame is used")
    if orientation not in (1, None):
        notes.append(f"EXIF orientation {orientation} applied")
    if mode_name.startswith("I;16") or mode_name == "I":
        notes.append("16-bit image reduced to 8 bits")
    elif mode_name == "P":
        notes.append("palette image converted to RGB")
    elif mode_name == "CMYK":
        notes.append("CMYK image converted to RGB")
    return notes


def to_rgb(image: np.ndarray, notes: list[str]) -> np.ndarray:
    """Grey → three equal channels; RGBA → flattened onto white (both noted)."""
    if image.ndim == 2:
        notes.append("greyscale image: enlarged as RGB with equal channels")
        return np.repeat(image[:, :, None], 3, axis=2)
    if image.shape[2] == 4:
        alpha = image[:, :, 3:].astype(np.float32) / 255.0
        if (alpha < 1).any():
            notes.append("transparency flattened onto white")
        flat = image[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        return np.clip(np.rint(flat), 0, 255).astype(np.uint8)
    return image


def load_upload(path: str | Path, mode: str) -> Upload:
    """Read an uploaded file for ``mode`` (``"original"`` or ``"low-res"``).

    Raises:
        UploadError: the message says what is wrong and what is allowed.
    """
    path = Path(path)
    notes = check_header(path, mode)
    try:
        image = read_image(path)
    except ImageReadError:
        raise UploadError("This file is damaged or not a complete image; the app could not decode it.") from None
    return Upload(image=to_rgb(image, notes), name=path.stem, notes=notes)
