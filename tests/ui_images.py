"""Bad and unusual image files for upload tests (used by unit and browser tests)."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(path: Path, side: int = 100_000) -> Path:
    """A tiny PNG whose header claims ``side``×``side`` pixels (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    body = zlib.compress(b"\x00" * 1024)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", body) + _chunk(b"IEND", b""))
    return path


def rgb16_png(path: Path, rgb16: np.ndarray) -> Path:
    """A 16-bit-per-channel RGB PNG (Pillow cannot write one), from an HxWx3 uint16 array."""
    height, width = rgb16.shape[:2]
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in rgb16)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows))
                     + _chunk(b"IEND", b""))
    return path


def pattern(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth colourful RGB test pattern with some texture."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    rng = np.random.default_rng(seed)
    rgb = np.stack([128 + 100 * np.sin(x / 5 + c) * np.cos(y / 7 - c) for c in range(3)], axis=-1)
    rgb += rng.normal(0, 6, rgb.shape)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def write_cases(directory: Path, side: int = 32) -> dict[str, Path]:
    """Every unusual-but-valid and invalid upload, as files in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    rgb = pattern(side, side)
    cases: dict[str, Path] = {}

    def save(name: str, image: Image.Image, **kwargs) -> None:
        cases[name.split(".")[0]] = directory / name
        image.save(directory / name, **kwargs)

    save("rgb.png", Image.fromarray(rgb))
    save("grey.png", Image.fromarray(rgb[:, :, 0]))
    save("sixteen_bit.png", Image.fromarray((rgb[:, :, 1].astype(np.uint16) * 257)))
    save("palette.png", Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE))
    save("cmyk.jpg", Image.fromarray(rgb).convert("CMYK"), quality=95)
    rgba = np.dstack([rgb, np.full((side, side), 128, np.uint8)])
    save("alpha.png", Image.fromarray(rgba))
    frames = [Image.fromarray(np.full((side, side, 3), v, np.uint8)) for v in (200, 20)]
    cases["animated"] = directory / "animated.gif"
    frames[0].save(cases["animated"], save_all=True, append_images=frames[1:], duration=100, loop=0)
    tall = Image.fromarray(pattern(side, side + 8))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    save("exif_rotated.jpg", tall, exif=exif, quality=95)
    save("too_large.png", Image.fromarray(np.zeros((600, 520, 3), np.uint8)))
    cases["bomb"] = bomb_png(directory / "bomb.png")
    good = (directory / "rgb.png").read_bytes()
    cases["corrupt"] = directory / "corrupt.png"
    cases["corrupt"].write_bytes(good[: len(good) // 2])
    cases["rgb16"] = rgb16_png(directory / "rgb16.png", rgb.astype(np.uint16) * 257 + 100)
    save("float.tiff", Image.fromarray(rgb[:, :, 0].astype(np.float32) / 255.0))
    cases["huge_header_only"] = bomb_png(directory / "huge_header_only.png", side=8000)  # no real pixel data
    cases["not_image"] = directory / "notes.txt"
    cases["not_image"].write_text("this is not an image")
    return cases
