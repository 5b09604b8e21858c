"""The compare pipeline, zoom crops, difference maps, table and zip, without a browser (bicubic only)."""
from __future__ import annotations


import io
import re
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from sr_arena.ui import crops, diffmaps, presentation
from sr_arena.ui.compare_tab import difference_views, zoom_views
from sr_arena.ui.export import build_zip
from sr_arena.ui.models import ModelPool, Unavailable
from sr_arena.ui.pipeline import Comparison, MethodRun, prepare, run_method
from sr_models.imresize import bicubic_downscale, imresize
from sr_models.metrics import calculate_psnr
from browser_support import has_weights
from ui_images import pattern

#: The method whose weights the tests hide (an empty checkpoints directory hides its house weights).
MISSING = "san"


@pytest.fixture
def comparison(env, tmp_path) -> Comparison:
    env("SR_ARENA_CHECKPOINTS", str(tmp_path / "no-checkpoints"))
    env("SR_ARENA_WEIGHTS_PATH", "")
    assert not has_weights(MISSING)
    methods = ["bicubic", MISSING]
    pool = ModelPool(methods).start()
    comparison = prepare(pattern(130, 97), "original", name="pattern")
    for model_id in methods:
        run_method(comparison, model_id, pool)
    return comparison


def test_original_mode_modcrops_and_makes_matlab_lr(comparison):
    assert comparison.original.shape == (128, 96, 3)
    assert np.array_equal(comparison.lr, bicubic_downscale(comparison.original, 4))
    assert any("multiple of 4" in note for note in comparison.notes)


def test_bicubic_run_is_scored_like_the_papers(comparison):
    run = comparison.runs["bicubic"]
    expected = imresize(comparison.lr, scale=4)
    assert np.array_equal(run.image, expected)
    assert run.psnr == pytest.approx(calculate_psnr(expected, comparison.original, 4, test_y_channel=True))
    assert 0 < run.ssim < 1 and run.lr_consistency > run.psnr
    assert run.provenance["kind"] == "no weights"


def test_method_without_weights_is_unavailable_with_reason_and_fix(comparison):
    run = comparison.runs[MISSING]
    assert isinstance(run.unavailable, Unavailable) and not run.ok
    caption = presentation.caption(run, run.name)
    assert "unavailable" in caption and "SAN_BI4X.pt" in caption
    table = presentation.metric_table(comparison)
    assert list(table["Method"]) == ["Bicubic", run.name]
    assert table.iloc[1]["PSNR (dB)"] == "—" and "unavailable" in table.iloc[1]["Checkpoint"]


def test_unavailable_caption_and_table_row_without_a_pool():
    run = MethodRun("san", "SAN", unavailable=Unavailable("san", "no checkpoint file found", "put SAN_BI4X.pt in checkpoints/"))
    caption = presentation.caption(run, run.name)
    assert "unavailable" in caption and "How to fix: put SAN_BI4X.pt" in caption
    assert presentation.checkpoint_text(run) == "unavailable: no checkpoint file found"


def test_pool_warms_up_in_the_background_and_notes_reach_caption_and_json():
    pool = ModelPool(["bicubic", "srgan"]) if has_weights("srgan") else ModelPool(["bicubic"])
    pool.start()
    assert pool.wait(240) and pool.status_markdown().startswith("Ready: Bicubic")
    assert pool.prepared["bicubic"] == "exact"  # interpolation: nothing to warm up
    comparison = prepare(pattern(24, 20), "low-res")
    bicubic = run_method(comparison, "bicubic", pool, precision="fast")
    assert bicubic.precision == "exact" and "no reduced-precision path" in bicubic.note
    caption = presentation.caption(bicubic, bicubic.name)
    assert "asked fast, ran exact: interpolation has no reduced-precision path" in caption
    from sr_arena.ui.export import metrics_json

    entry = metrics_json(comparison)["methods"]["bicubic"]
    assert entry["precision_requested"] == "fast" and entry["precision_note"] == bicubic.note
    exact = run_method(prepare(pattern(24, 20), "low-res"), "bicubic", pool, precision="exact")
    assert exact.note == "" and "sr-note" not in presentation.caption(exact, exact.name)
    if "srgan" in pool.prepared:
        assert pool.prepared["srgan"] in ("fast", "exact")
        srgan = run_method(comparison, "srgan", pool, precision="fast")
        assert srgan.note and srgan.note in presentation.caption(srgan, srgan.name).replace("&#x27;", "'")


def test_low_res_mode_has_no_reference_metrics():
    pool = ModelPool(["bicubic"])
    comparison = prepare(pattern(20, 24), "low-res")
    run = run_method(comparison, "bicubic", pool)
    assert comparison.original is None and run.psnr is None and run.lr_consistency > 30
    assert run.image.shape == (80, 96, 3)


def test_crop_box_stays_inside_and_metrics_follow_the_crop(comparison):
    box = crops.crop_box((0, 0), 48, comparison.hr_shape)
    assert (box.x0, box.y0, box.size) == (0, 0, (48, 48))
    box = crops.crop_box((95, 127), 48, comparison.hr_shape)
    assert (box.x1, box.y1) == (96, 128)
    _, html_a, overview = zoom_views(comparison, (10, 10), 32, 4)
    strip, html_b, _ = zoom_views(comparison, (80, 110), 32, 4)
    assert html_a != html_b and "crop PSNR" in html_b and "crop NIQE" in html_b
    assert re.findall(r'data-key="([^"]+)"', strip) == ["original", "lr", "bicubic"]
    assert re.findall(r'<b>([^<]+)</b>', strip)[:2] == ["Original", "Low-res input (nearest ×4)"]
    assert set(re.findall(r'<img[^>]* width="(\d+)" height="(\d+)"', strip)) == {("128", "128")}  # 32 px × 4 on screen
    assert re.search(r'Bicubic</b> · <span class="sr-metric">\d+\.\d\d dB · 0\.\d{3}', strip)  # the numbers, whole
    assert overview.max() == 255 and overview.min() == 0  # the box: a black and a white outline


def test_nearest_enlargement_and_box_drawing():
    tile = np.arange(4, dtype=np.uint8).reshape(2, 2)
    assert np.array_equal(crops.enlarge_nearest(tile, 2), [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]])
    drawn = crops.draw_box(np.zeros((10, 10, 3), np.uint8), crops.Box(2, 2, 8, 8), color=(255, 40, 40), width=1)
    assert drawn[2, 5].tolist() == [255, 40, 40] and drawn[5, 5].tolist() == [0, 0, 0]


def test_difference_maps_are_dark_where_equal_and_bright_where_not(comparison):
    same = diffmaps.difference_map(comparison.original, comparison.original)
    assert same.max() <= 4
    other = diffmaps.difference_map(comparison.original, 255 - comparison.original, amplification=4)
    assert other.mean() > 150
    update = difference_views(comparison, True, 8)
    assert update["visible"] and len(update["value"]) == 1 and "×8" in update["value"][0][1]
    assert difference_views(comparison, False, 8)["visible"] is False


def test_zip_holds_lossless_pngs_and_metrics(comparison, tmp_path):
    path = build_zip(comparison, tmp_path)
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        assert {n for n in names if n.endswith(".png") and "/" not in n} == {"original.png", "lr_input.png", "bicubic.png"} and "metrics.json" in names  # nothing for MISSING (tests/test_export.py: the rest)
        restored = np.asarray(Image.open(io.BytesIO(archive.read("bicubic.png"))))
        metrics = json.loads(archive.read("metrics.json"))
    assert np.array_equal(restored, comparison.runs["bicubic"].image)
    assert metrics["methods"]["bicubic"]["psnr"] == pytest.approx(comparison.runs["bicubic"].psnr)
    assert metrics["methods"][MISSING]["unavailable"]["fix"]


def test_fast_is_the_default_precision_and_exact_is_recorded_as_asked():
    import inspect

    from sr_arena.ui.export import metrics_json
    from sr_arena.ui.pipeline import DEFAULT_PRECISION

    assert DEFAULT_PRECISION == "fast" and inspect.signature(run_method).parameters["precision"].default == "fast"
    pool = ModelPool(["bicubic"])
    comparison = prepare(pattern(24, 20), "low-res")
    assert run_method(comparison, "bicubic", pool).requested == "fast"
    exact = prepare(pattern(24, 20), "low-res")
    run_method(exact, "bicubic", pool, precision="exact")
    entry = metrics_json(exact)["methods"]["bicubic"]
    assert (entry["precision_requested"], entry["precision"]) == ("exact", "exact")
