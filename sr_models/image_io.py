"""Reading images into the arrays the engine works on: uint8, HxW (grey) or HxWx3/HxWx4.

Everything that varies between files is settled here, once: EXIF orientation, the first
frame of an animation, palette, CMYK, 16-bit and alpha. :func:`read_checked` is the one
validator every input goes through (file upload, paste, webcam, example, API, study folder):
it checks the byte size and the header against :class:`ImageLimits` before any pixel is
decoded, then decodes and brings the image to RGB, with notes on what it changed.
"""
from __future__ import annotations

import hashlib
import io
import struct
from dataclasses import dataclass
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


# ----------------------------------------------------------------------------------------------
# The validator: header first, then pixels
# ----------------------------------------------------------------------------------------------

NOT_AN_IMAGE = "This file is not an image the app can read (PNG, JPEG, WebP, BMP, TIFF or GIF)."
DAMAGED = "This file is damaged or not a complete image; the app could not decode it."


@dataclass(frozen=True)
class ImageLimits:
    """What an input may be: bytes and sides (``what`` names it in messages, e.g. "an original")."""

    max_bytes: int | None = None
    min_side: int = 1
    max_side: int | None = None
    what: str = "an image"


@dataclass(frozen=True)
class ImageHeader:
    """What a file's header says, read without decoding a pixel."""

    width: int
    height: int
    mode: str
    frames: int = 1
    orientation: int = 1
    bits_per_sample: int = 8

    def notes(self) -> list[str]:
        """What reading will change, in words."""
        notes = []
        if self.frames > 1:
            notes.append(f"animated image with {self.frames} frames: the first frame is used")
        if self.orientation not in (1, 0):
            notes.append(f"EXIF orientation {self.orientation} applied")
        if self.bits_per_sample > 8:
            notes.append(f"{self.bits_per_sample}-bit image reduced to 8 bits")
        elif self.mode == "P":
            notes.append("palette image converted to RGB")
        elif self.mode == "CMYK":
            notes.append("CMYK image converted to RGB")
        return notes


def _orientation(image: Image.Image) -> int:
    """EXIF orientation tag (1 when absent or unreadable: a damaged file fails later, when decoded)."""
    try:
        return int(image.getexif().get(0x0112, 1) or 1)
    except (OSError, SyntaxError, ValueError, struct.error):
        return 1


def _bits_per_sample(image: Image.Image, head: bytes) -> int:
    """16 for 16-bit files (Pillow opens 16-bit RGB PNGs as 8-bit RGB, so PNG's IHDR is read too)."""
    if image.mode.startswith("I;16") or image.mode == "I":
        return 16
    if image.format == "PNG" and len(head) > 24 and head[12:16] == b"IHDR":
        return int(head[24])
    bits = getattr(image, "tag_v2", {}).get(258) if image.format == "TIFF" else None
    if isinstance(bits, tuple) and bits:
        return int(max(bits))
    return 8


def _open(source: str | Path | bytes) -> io.BufferedIOBase:
    return io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else open(source, "rb")


def inspect(source: str | Path | bytes) -> ImageHeader:
    """The header of a file or encoded bytes; no pixel is decoded.

    Raises:
        ImageReadError: not an image, or one declaring a decompression bomb.
    """
    try:
        with _open(source) as stream:
            head = stream.read(32)
            stream.seek(0)
            with Image.open(stream) as image:
                width, height = image.size
                return ImageHeader(width, height, image.mode, getattr(image, "n_frames", 1), _orientation(image),
                                   _bits_per_sample(image, head))
    except Image.DecompressionBombError:
        raise ImageReadError("Refused: this file declares so many pixels that it looks like a decompression bomb; "
                             "nothing was decoded.") from None
    except (Image.UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error):
        raise ImageReadError(NOT_AN_IMAGE) from None


def check(header: ImageHeader, size_bytes: int, limits: ImageLimits) -> None:
    """Refuse, with the reason and what is allowed, an input outside ``limits`` (header only)."""
    if limits.max_bytes is not None and size_bytes > limits.max_bytes:
        raise ImageReadError(f"The file is {size_bytes / 2**20:.1f} MB; at most {limits.max_bytes // 2**20} MB "
                             "can be uploaded.")
    if header.mode == "F":
        raise ImageReadError("This is a floating-point (32-bit float) image; the app reads 8- and 16-bit images. "
                             "Save it as an 8- or 16-bit PNG or TIFF.")
    width, height, high, low = header.width, header.height, limits.max_side, limits.min_side
    if width * height > MAX_DECODE_PIXELS or (high is not None and max(width, height) > high):
        bound = f"at most {high}×{high}" if high is not None else f"at most {MAX_DECODE_PIXELS:,} pixels"
        raise ImageReadError(f"The image is {width}×{height} pixels; {bound} for {limits.what}. "
                             "Crop or shrink it first (nothing was decoded).")
    if min(width, height) < low:
        raise ImageReadError(f"The image is {width}×{height} pixels; at least {low}×{low} for {limits.what}.")


def to_rgb(image: np.ndarray, notes: list[str] | None = None) -> np.ndarray:
    """HxWx3 uint8: grey → three equal channels; RGBA → flattened onto white (what a viewer shows).

    ``notes`` (when given) receives a line for each change a person should know of.
    """
    say = notes.append if notes is not None else (lambda line: None)
    if image.ndim == 2:
        say("greyscale image: enlarged as RGB with equal channels")
        return np.repeat(image[:, :, None], 3, axis=2)
    if image.shape[2] == 4:
        alpha = image[:, :, 3:].astype(np.float32) / 255.0
        if (alpha < 1).any():
            say("transparency flattened onto white")
        flat = image[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        return np.clip(np.rint(flat), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(image)


def read_checked(source: str | Path | bytes, limits: ImageLimits = ImageLimits()) -> tuple[np.ndarray, list[str]]:
    """The one way an input becomes pixels: size and header checked, then decoded to HxWx3 RGB.

    Returns the image and notes on what was done to it.

    Raises:
        ImageReadError: the message says what is wrong and what is allowed; nothing was
            decoded when the bytes or the header are the problem.
    """
    size = len(source) if isinstance(source, (bytes, bytearray)) else Path(source).stat().st_size
    header = inspect(source)
    check(header, size, limits)
    try:
        image = read_image(source)
    except ImageReadError:
        raise ImageReadError(DAMAGED) from None
    notes = header.notes()
    return to_rgb(image, notes), notes


def write_png(path: str | Path, image: np.ndarray) -> None:
    """Save a uint8 array losslessly as PNG."""
    Image.fromarray(image).save(path, format="PNG")
