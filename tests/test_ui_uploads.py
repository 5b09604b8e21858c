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
