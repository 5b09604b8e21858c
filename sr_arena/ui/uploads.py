"""The Compare tab's input modes and their limits; reading goes through the engine's one validator.

:func:`sr_models.image_io.read_checked` checks the size in bytes and the header (width × height)
before any pixel is decoded, so a decompression bomb is refused unread, then reports what it
changed (EXIF rotation, first frame, 16-bit, palette, CMYK, alpha, grey) as notes for the page.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sr_arena import settings
from sr_models.image_io import ImageLimits, ImageReadError, read_checked

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


#: An upload the app refuses; the message is shown to the person as is (the engine's validator raises it).
UploadError = ImageReadError


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


def limits_for(mode: str) -> ImageLimits:
    """What an upload for ``mode`` may be (bytes, smallest and largest side)."""
    low, high = side_limits(mode)
    what = "an original" if mode == ORIGINAL else "low-resolution input"
    return ImageLimits(max_bytes=MAX_UPLOAD_BYTES, min_side=low, max_side=high, what=what)


def load_upload(path: str | Path, mode: str) -> Upload:
    """Read an uploaded file for ``mode`` (``"original"`` or ``"low-res"``) through the engine's validator
    (:func:`sr_models.image_io.read_checked`): whatever the transport (file, paste, webcam, example, API).

    Raises:
        UploadError: the message says what is wrong and what is allowed.
    """
    path = Path(path)
    image, notes = read_checked(path, limits_for(mode))
    return Upload(image=image, name=path.stem, notes=notes)


def image_size(path: str | Path | None) -> tuple[int, int] | None:
    """(width, height) from the file's header (no pixels decoded), or ``None`` when it cannot be read."""
    if not path:
        return None
    try:
        from PIL import Image

        with Image.open(path) as image:
            return image.size
    except Exception:  # noqa: BLE001 - a file the header reader refuses; the run says why
        return None


def input_summary(path: str | Path | None, mode: str, where: str = "") -> str:
    """The line that always says what the current input is: its name, size, where it is and what the mode
    will do with it (a ×1/4 shrink for an original)."""
    if not path:
        return ('<div class="sr-input-info" data-state="empty">No input yet: upload a file, paste or take a '
                'photo, or click an example.</div>')
    import html

    name = Path(path).name
    size = image_size(path)
    if size is None:
        what = "size unreadable (the run will say why)"
    elif mode == ORIGINAL:
        what = f"{size[0]}×{size[1]} px, an original: shrunk to {size[0] // SCALE}×{size[1] // SCALE} and enlarged ×4"
    else:
        what = f"{size[0]}×{size[1]} px, low-resolution: enlarged ×4 to {size[0] * SCALE}×{size[1] * SCALE}"
    place = f" ({html.escape(where)})" if where else ""
    dims = f' data-width="{size[0]}" data-height="{size[1]}"' if size else ""
    return (f'<div class="sr-input-info" data-state="ready"{dims}><b>Current input</b>{place}: '
            f'{html.escape(name)} · {what}</div>')


def input_summary_of(file_path: str | None, picture_path: str | None, mode: str) -> str:
    """:func:`input_summary` of whichever input the run will use (a file wins, as in the run)."""
    if file_path:
        return input_summary(file_path, mode, "Upload a file tab")
    return input_summary(picture_path, mode, "Paste, webcam or example tab" if picture_path else "")
