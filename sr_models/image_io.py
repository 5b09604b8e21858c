"""Reading images into the arrays the engine works on: uint8, HxW (grey) or HxWx3/HxWx4.

Everything that varies between files is settled here, once: EXIF orientation, the first
frame of an animation, palette, CMYK, 16-bit and alpha.
"""
from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

#: Pillow refuses to decode images above this many pixels (decompression-bomb guard).
MAX_DECODE_PIXELS = 64_000_000


class ImageReadError(ValueError):
    """The input is not an image this project can read (message says why)."""


def to_uint8(array: np.ndarray) -> np.ndarray:
    """Bring a 16-bit (or wider integer) array to 8 bits by rounding ``x / 257`` (65535 -> 255)."""
    if array.dtype == np.uint8:
        return array
    if np.issubdtype(array.dtype, np.integer):
        return np.clip(np.rint(array.astype(np.float64) / 257.0), 0, 255).astype(np.uint8)
    raise ImageReadError(f"unsupported pixel type {array.dtype}; expected an integer image")


def _first_frame_rgb_or_grey(image: Image.Image) -> Image.Image:
    image.seek(0)
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F", "L", "1"):
        return image if image.mode != "1" else image.convert("L")
    if image.mode == "LA" or (image.mode == "P" and "transparency" in image.info) or image.mode in ("RGBA", "PA"):
        return image.convert("RGBA")
    if image.mode == "La":
        return image.convert("RGBA")
    return image.convert("RGB")


def pil_to_array(image: Image.Image) -> np.ndarray:
    """Pillow image -> uint8 array (HxW grey, HxWx3 RGB or HxWx4 RGBA)."""
    image = _first_frame_rgb_or_grey(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        return to_uint8(np.asarray(image).astype(np.int64))
    if image.mode == "F":
        raise ImageReadError("floating-point images are not supported; save it as 8- or 16-bit")
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))


def read_image(source: str | Path | bytes) -> np.ndarray:
    """Read a file path or encoded bytes into a uint8 array (see :func:`pil_to_array`).

    Raises:
        ImageReadError: not an image, corrupt, or larger than ``MAX_DECODE_PIXELS``
            (checked from the header, before any pixel is decoded).
    """
    stream = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else open(source, "rb")
    try:
        with stream, Image.open(stream) as image:
            width, height = image.size  # from the header: no pixel is decoded yet
            if width * height > MAX_DECODE_PIXELS:
                raise ImageReadError(f"image is {width}×{height} pixels; at most {MAX_DECODE_PIXELS:,} pixels are decoded")
            return pil_to_array(image)
    except Image.DecompressionBombError as error:
        raise ImageReadError(f"refused to decode a decompression bomb: {error}") from None
    except (Image.UnidentifiedImageError, OSError, SyntaxError) as error:
        name = "the upload" if isinstance(source, (bytes, bytearray)) else str(source)
        raise ImageReadError(f"{name} is not a readable image ({error})") from None


def image_sha256(image: np.ndarray) -> str:
    """The one image identity of SR Arena: sha256 of an array's shape, dtype and pixels.

    Two equal images give the same digest whatever file format or metadata carried them. It keys
    the output cache (of the network's input) and, for votes, identifies the image the person
    gave, as :func:`read_image` decoded it (``votes.image_sha256`` / ``stimuli.image_sha256``).
    """
    image = np.ascontiguousarray(image)
    digest = hashlib.sha256(f"{image.shape}|{image.dtype.str}|".encode())
    digest.update(memoryview(image).cast("B"))
    return digest.hexdigest()


def write_png(path: str | Path, image: np.ndarray) -> None:
    """Save a uint8 array losslessly as PNG."""
    Image.fromarray(image).save(path, format="PNG")
