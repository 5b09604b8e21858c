"""Upload checks: every unusual file is either handled (with a note) or refused with a clear message."""
from __future__ import annotations

import numpy as np
import pytest

from sr_arena.ui.uploads import LOW_RES, ORIGINAL, UploadError, load_upload
from ui_images import write_cases


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return write_cases(tmp_path_factory.mktemp("uploads"))


@pytest.mark.parametrize("name, message", [
    ("too_large", "at most 512×512 for low-resolution input"),
    ("bomb", "decompression bomb"),
    ("corrupt", "damaged or not a complete image"),
    ("not_image", "not an image the app can read"),
    ("float", "floating-point"),  # before: "damaged" (decoded, then refused)
    ("huge_header_only", "8000×8000 pixels; at most 512×512 .*nothing was decoded"),  # header checked first
])
def test_bad_uploads_are_refused_with_a_clear_message(cases, name, message):
    with pytest.raises(UploadError, match=message):
        load_upload(cases[name], LOW_RES)


def test_pixel_limit_is_larger_for_originals_and_minimum_is_enforced(cases):
    assert load_upload(cases["too_large"], ORIGINAL).image.shape == (600, 520, 3)
    with pytest.raises(UploadError, match="at least 64×64 for an original"):
        load_upload(cases["rgb"], ORIGINAL)


@pytest.mark.parametrize("name, note", [
    ("grey", "greyscale"),
    ("sixteen_bit", "16-bit"),
    ("rgb16", "16-bit"),  # before: Pillow opens it as 8-bit RGB and no note was given
    ("palette", "palette"),
    ("cmyk", "CMYK"),
    ("alpha", "transparency flattened onto white"),
    ("animated", "first frame"),
    ("exif_rotated", "EXIF orientation 6"),
])
def test_unusual_images_become_rgb_with_a_note(cases, name, note):
    upload = load_upload(cases[name], LOW_RES)
    assert upload.image.dtype == np.uint8 and upload.image.ndim == 3 and upload.image.shape[2] == 3
    assert any(note in n for n in upload.notes), upload.notes


def test_conversions_are_the_right_pixels(cases):
    grey = load_upload(cases["grey"], LOW_RES).image
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()
    assert load_upload(cases["animated"], LOW_RES).image.mean() > 150  # frame 0 is the bright one
    assert load_upload(cases["exif_rotated"], LOW_RES).image.shape[:2] == (40, 32)  # 40 wide, shown rotated
    flat = load_upload(cases["alpha"], LOW_RES).image.astype(int)
    assert flat.min() >= 127  # half-transparent over white can only get brighter


def test_conversions_keep_the_pixels_where_they_belong(cases):
    """Pixels, not only shapes: rotation direction, palette lookup, CMYK not inverted, 16-bit scaling."""
    from PIL import Image

    from ui_images import pattern

    rgb = pattern(32, 32)
    raw = np.asarray(Image.open(cases["exif_rotated"]).convert("RGB"))  # the stored (unrotated) pixels
    rotated = load_upload(cases["exif_rotated"], LOW_RES).image
    np.testing.assert_array_equal(rotated, np.rot90(raw, k=-1))  # orientation 6: 90° clockwise
    with Image.open(cases["palette"]) as palette_image:
        lut = np.array(palette_image.getpalette()[:768], np.uint8).reshape(-1, 3)
        np.testing.assert_array_equal(load_upload(cases["palette"], LOW_RES).image, lut[np.asarray(palette_image)])
    cmyk = load_upload(cases["cmyk"], LOW_RES).image.astype(int)
    assert np.abs(cmyk - rgb).mean() < 8  # an inverted CMYK reading would be ~100 levels off
    np.testing.assert_array_equal(load_upload(cases["sixteen_bit"], LOW_RES).image[..., 0], rgb[:, :, 1])
    deep = load_upload(cases["rgb16"], LOW_RES).image.astype(int)
    assert np.abs(deep - (rgb.astype(int) * 257 + 100) / 257).max() <= 1


def test_pasted_pictures_reach_the_validator_undecoded(cases, tmp_path):
    """Paste/webcam/example go through the same validator as file uploads: a data: URL whose header
    claims 8000×8000 is refused from its header (gr.Image decoded it first: 5 s, +370 MB), and a
    damaged file gets the app's message, not Pillow's error naming the server's temporary path."""
    import base64

    from gradio.data_classes import ImageData

    from sr_arena.ui.inputs import PictureInput

    picture = PictureInput(type="filepath", format="png")
    picture.GRADIO_CACHE = str(tmp_path)
    url = "data:image/png;base64," + base64.b64encode(cases["huge_header_only"].read_bytes()).decode()
    pasted = picture.preprocess(ImageData(url=url))
    assert open(pasted, "rb").read() == cases["huge_header_only"].read_bytes()  # the bytes as sent
    with pytest.raises(UploadError, match="8000×8000 pixels; at most 512×512 .*nothing was decoded"):
        load_upload(pasted, LOW_RES)
    damaged = picture.preprocess(ImageData(path=str(cases["corrupt"])))
    with pytest.raises(UploadError, match="damaged or not a complete image") as info:
        load_upload(damaged, LOW_RES)
    assert str(tmp_path) not in str(info.value) and "corrupt" not in str(info.value)
    with pytest.raises(UploadError, match="not valid base64"):
        picture.preprocess(ImageData(url="data:image/png;base64,@@@"))
