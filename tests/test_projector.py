"""Projector mode (issue 13, item 3) without a browser: tiles sized by the magnification, labels that carry
the whole numbers, a crop box visible on any content, arrow moves that stay inside, NIQE cells that say why
they are empty. The browser side (sizes on screen, keys, fullscreen) is tests/test_browser_projector.py."""
from __future__ import annotations

import re

import numpy as np

from sr_arena.ui import crops, no_reference, presentation
from sr_arena.ui.compare_tab import zoom_views
from sr_arena.ui.pipeline import MethodRun, prepare


def _comparison(methods: int = 0, shape: tuple[int, int] = (128, 160)):
    rng = np.random.default_rng(0)
    comparison = prepare(rng.integers(0, 256, (*shape, 3), dtype=np.uint8), "original")
    for i, model_id in enumerate(["bicubic", "srresnet", "srgan", "esrgan_psnr", "esrgan", "awsrn"][:methods]):
        comparison.runs[model_id] = MethodRun(model_id, model_id, image=np.clip(comparison.original.astype(int) + i + 1, 0,
                                                                                 255).astype(np.uint8))
    return comparison


def test_tiles_are_magnification_times_the_crop_and_wrap_into_a_grid():
    for magnification in (1, 4, 8):
        strip, _html, _overview = zoom_views(_comparison(2), (60, 60), 48, magnification)
        sizes = set(re.findall(r'<img[^>]* width="(\d+)" height="(\d+)"', strip))
        assert sizes == {(str(48 * magnification), str(48 * magnification))}
    assert "sr-grid" not in zoom_views(_comparison(3), None, 48, 8)[0]  # 5 tiles: one row if it fits
    assert "sr-grid" in zoom_views(_comparison(6), None, 48, 8)[0]  # 8 tiles: a grid


def test_labels_carry_the_whole_numbers():
    strip, html, _ = zoom_views(_comparison(3), (40, 40), 32, 2)
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", strip)
    assert len(captions) == 5 and all(re.search(r"\d+\.\d\d dB · \d\.\d{3}", c) for c in captions[1:])
    assert "NIQE" in html and ("title=" in html or no_reference.status().available)


def test_crop_box_is_visible_on_dark_bright_and_red_content():
    box = crops.Box(10, 10, 40, 40)
    for colour in ((0, 0, 0), (255, 255, 255), (255, 40, 40), (128, 128, 128)):
        image = np.full((64, 64, 3), colour, np.uint8)
        drawn = crops.draw_box(image, box, width=2)
        edge = drawn[10:14, 25].astype(int)  # across the top edge: outer black, inner white
        assert max(np.abs(edge - np.array(colour)).sum(axis=1)) >= 255, colour


def test_arrow_moves_half_a_crop_and_stays_inside():
    shape = (128, 160)
    assert crops.moved((80, 64), "right", 48, shape) == (104, 64)
    assert crops.moved((80, 64), "up", 48, shape) == (80, 40)
    assert crops.moved((150, 120), "right", 48, shape) == (136, 104)  # pinned to the edge
    assert crops.moved((5, 5), "left", 48, shape) == (24, 24)


def test_niqe_column_is_a_number_or_a_dash_with_the_reason():
    comparison = _comparison(1, (256, 256))  # two whole 96×96 patches after the 4-px border
    comparison.runs["bicubic"].psnr, comparison.runs["bicubic"].ssim = 30.0, 0.9
    table = presentation.metric_table(comparison, niqe=True)
    cell = table.iloc[0][presentation.TABLE_COLUMNS[3]]
    state = no_reference.status()
    assert (re.fullmatch(r"\d+\.\d\d", cell) is not None) if state.available else cell == "—"
    assert "NIQE" in presentation.niqe_help() and (state.available or "Not available here" in presentation.niqe_help())
