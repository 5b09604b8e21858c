"""Reading every kind of image a person may upload into the engine's uint8 arrays."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from sr_models.image_io import ImageReadError, read_image, to_uint8


def _encode(image: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def test_rgb_png_roundtrip():
    rgb = np.random.default_rng(0).integers(0, 256, (7, 9, 3), dtype=np.uint8)
    assert np.array_equal(read_image(_encode(Image.fromarray(rgb))), rgb)


def test_grey_stays_single_channel():
    grey = np.arange(48, dtype=np.uint8).reshape(6, 8)
    out = read_image(_encode(Image.fromarray(grey)))
    assert out.shape == (6, 8) and np.array_equal(out, grey)


def test_sixteen_bit_is_scaled_to_eight():
    values = np.array([[0, 257, 65535, 32896]], dtype=np.uint16)
    out = read_image(_encode(Image.fromarray(values)))
    assert out.dtype == np.uint8 and out.tolist() == [[0, 1, 255, 128]]
    assert to_uint8(np.array([514], dtype=np.uint16)).tolist() == [2]


def test_palette_with_transparency_becomes_rgba():
    image = Image.new("P", (4, 3))
    image.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    image.info["transparency"] = 1
    out = read_image(_encode(image, transparency=1))
    assert out.shape == (3, 4, 4)


def test_cmyk_becomes_rgb():
    out = read_image(_encode(Image.new("CMYK", (5, 5), (0, 255, 255, 0)), "JPEG"))
    assert out.shape == (5, 5, 3) and out[..., 0].mean() > 200 and out[..., 1].mean() < 60


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (6, 2), (10, 20, 30))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    out = read_image(_encode(image, "JPEG", exif=exif.tobytes()))
    assert out.shape[:2] == (6, 2)


def test_animation_takes_first_frame():
    frames = [Image.new("RGB", (4, 4), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    data = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    out = read_image(data)
    assert out[..., 0].mean() > 200 and out[..., 2].mean() < 50


def test_not_an_image_is_refused_clearly():
    with pytest.raises(ImageReadError, match="not a readable image"):
        read_image(b"this is text, not a picture")


def test_decompression_bomb_refused_before_decoding(monkeypatch):
    import sr_models.image_io as image_io

    monkeypatch.setattr(image_io, "MAX_DECODE_PIXELS", 100)
    with pytest.raises(ImageReadError, match="pixels"):
        read_image(_encode(Image.new("L", (20, 20))))
