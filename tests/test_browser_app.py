"""The app in a real browser (Debian Chromium via Playwright): both modes, panels, table, zoom strip,
difference maps, wipe slider, zip download, and bad uploads that leave the app serving.

Images are small (original 128×128 → LR 32×32) so ESRGAN runs in seconds on two CPU cores.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sr_models.loader import load_model

from browser_support import browser_page, download_zip, require_browser, screenshot, serve_app
from ui_images import write_cases

pytestmark = pytest.mark.timeout(600)
RUN_TIMEOUT_MS = 240_000


#: The method whose weights the app server cannot see, so its "unavailable" path runs.
HIDDEN = "san"


def checkpoints_without(model_id: str, directory: Path) -> Path:
    """A checkpoints directory that links every file of the real one except ``model_id``'s."""
    from sr_models.paths import CHECKPOINTS_DIR
    from sr_models.registry import get_card

    hidden = {source.filename for source in get_card(model_id).sources}
    for path in CHECKPOINTS_DIR.rglob("*"):
        relative = path.relative_to(CHECKPOINTS_DIR)
        if path.is_file() and relative.as_posix() not in hidden:
            (directory / relative).parent.mkdir(parents=True, exist_ok=True)
            (directory / relative).symlink_to(path)
    return directory


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    require_browser()
    checkpoints = checkpoints_without(HIDDEN, tmp_path_factory.mktemp("checkpoints"))
    env = {"SR_ARENA_CHECKPOINTS": str(checkpoints), "SR_ARENA_WEIGHTS_PATH": ""}
    with serve_app(env, log_name="browser-app-server") as url:
        yield url


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> dict[str, Path]:
    from skimage import data

    directory = tmp_path_factory.mktemp("browser-images")
    cases = write_cases(directory / "cases")
    original = directory / "astronaut_128.png"
    Image.fromarray(data.astronaut()[30:286, 130:386]).resize((128, 128), Image.Resampling.LANCZOS).save(original)
    lowres = directory / "coffee_24.png"
    Image.fromarray(data.coffee()[100:196, 250:346]).resize((24, 24), Image.Resampling.LANCZOS).save(lowres)
    return {"original": original, "lowres": lowres, **cases}


def fresh_page(page, url: str) -> None:
    """A new session: nothing uploaded, nothing computed."""
    page.goto(url)
    page.get_by_text("Ready:").wait_for(timeout=RUN_TIMEOUT_MS)


def upload(page, path: Path, mode_label: str) -> None:
    page.locator("#upload input[type=file]").set_input_files(str(path))
    page.locator("#upload").get_by_text(path.stem).wait_for()
    page.locator("#mode").get_by_text(mode_label).click()


def run_and_wait(page) -> None:
    page.locator("#run").click()
    page.locator("#download").wait_for(state="visible", timeout=RUN_TIMEOUT_MS)


def wait_for_panel(page, key: str) -> None:
    """Wait until panel ``key`` shows a decoded picture (not merely an <img> element).

    Gradio's image preview is ``loading="lazy"``: a panel outside the viewport is not fetched (its
    <img> stays 0×0, so neither "visible" nor decoded), hence the scroll first, as a person would.
    The picture is fetched and decoded after the run's last update, which can take a while when the
    CPU is busy (models, Chromium and other work share it), hence the run's generous timeout.
    """
    page.locator(f"#panel-{key}").scroll_into_view_if_needed(timeout=RUN_TIMEOUT_MS)
    page.wait_for_function(
        """key => { const img = document.querySelector(`#panel-${key} img`);
                    return img !== null && !!img.getAttribute("src") && img.complete && img.naturalWidth > 0; }""",
        arg=key, timeout=RUN_TIMEOUT_MS, polling=250)


def click_image_at(page, selector: str, fx: float, fy: float) -> None:
    """Click at a fraction (fx, fy) of the picture as drawn (Gradio centres it unscaled when it fits)."""
    page.locator(selector).first.scroll_into_view_if_needed()
    x, y = page.evaluate("""([sel, fx, fy]) => {
        const img = document.querySelector(sel); const r = img.getBoundingClientRect();
        const k = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight, 1);
        const w = img.naturalWidth * k, h = img.naturalHeight * k;
        return [r.left + (r.width - w) / 2 + fx * w, r.top + (r.height - h) / 2 + fy * h]; }""", [selector, fx, fy])
    page.mouse.click(x, y)


def wait_for_table(page, methods: int) -> None:
    """Wait until the metric table shows one row per ticked method (the Dataframe re-renders after
    the run's last update, possibly after the download button has appeared)."""
    page.wait_for_function(
        """n => new Set(Array.from(document.querySelectorAll('#metric-table [data-row][data-col]'))
                             .map(e => e.dataset.row)).size === n""",
        arg=methods, timeout=RUN_TIMEOUT_MS, polling=250)


def table_rows(page) -> dict[str, list[str]]:
    """The metric table as {method: [cells]} (Gradio's Dataframe marks cells with data-row/data-col)."""
    cells = page.evaluate("""() => Array.from(document.querySelectorAll('#metric-table [data-row][data-col]'))
        .map(e => [Number(e.dataset.row), Number(e.dataset.col), e.innerText.trim()])""")
    rows: dict[int, dict[int, str]] = {}
    for row, col, text in cells:
        rows.setdefault(row, {})[col] = text
    return {r[0]: [r[c] for c in sorted(r)] for r in rows.values()}


def test_original_mode_panels_table_zoom_diffs_slider_and_zip(app_url, images, tmp_path):
    with browser_page(app_url) as page:
        fresh_page(page, app_url)
        upload(page, images["original"], "I have the original")
        run_and_wait(page)
        for key in ("original", "lr", "bicubic", "srgan", "esrgan"):
            wait_for_panel(page, key)
        wait_for_panel(page, "awsrn")  # house weights: a picture, its badge and scores
        caption = page.locator("#caption-awsrn").inner_text()
        assert "PSNR" in caption and load_model("awsrn").provenance.kind in caption
        caption = page.locator(f"#caption-{HIDDEN}").inner_text()
        assert "unavailable" in caption and "How to fix" in caption and "SAN_BI4X.pt" in caption
        assert "PSNR" in page.locator("#caption-esrgan").inner_text()
        wait_for_table(page, 5)
        rows = table_rows(page)
        assert set(rows) == {"Bicubic", "SRGAN", "ESRGAN", "AWSRN", "SAN"}
        assert 20 < float(rows["Bicubic"][1]) < 40 and 0 < float(rows["ESRGAN"][2]) < 1
        assert rows["SAN"][1] == "—" and "unavailable" in rows["SAN"][-1]
        screenshot(page, "compare-original")

        # Synchronized zoom: a click on a panel moves the crop; crop PSNR changes.
        page.locator("#crop-metrics table").wait_for(timeout=RUN_TIMEOUT_MS)
        before = page.locator("#crop-metrics").inner_text()
        assert page.locator("#strip img").count() >= 5  # original, LR, every method that ran
        click_image_at(page, "#panel-esrgan img", 0.15, 0.2)
        page.wait_for_function("b => document.querySelector('#crop-metrics').innerText !== b", arg=before,
                               timeout=RUN_TIMEOUT_MS)
        after = page.locator("#crop-metrics").inner_text()
        assert "crop PSNR" in after and after != before
        screenshot(page, "compare-zoom")

        # Difference maps on and off.
        page.locator("#show-diff").get_by_text("Show difference maps").click()
        page.locator("#diff-maps img").first.wait_for(timeout=RUN_TIMEOUT_MS)
        assert page.locator("#diff-maps img").count() >= 3
        screenshot(page, "compare-diffmaps")
        page.locator("#show-diff").get_by_text("Show difference maps").click()
        page.locator("#diff-maps").wait_for(state="hidden", timeout=RUN_TIMEOUT_MS)

        # Wipe slider: ESRGAN vs original by default; dragging moves the handle.
        slider = page.locator("#slider")
        slider.scroll_into_view_if_needed()
        assert slider.locator("img").count() >= 2
        assert page.locator("#slider-left input").input_value() == "ESRGAN"
        assert page.locator("#slider-right input").input_value() == "Original"
        handle_before = slider.locator("img").last.evaluate("e => getComputedStyle(e).clipPath")
        area = slider.locator("img").first.bounding_box()
        page.mouse.move(area["x"] + area["width"] / 2, area["y"] + area["height"] / 2)
        page.mouse.down()
        page.mouse.move(area["x"] + area["width"] * 0.2, area["y"] + area["height"] / 2, steps=8)
        page.mouse.up()
        page.wait_for_function("""b => { const imgs = document.querySelectorAll('#slider img');
                                         return getComputedStyle(imgs[imgs.length - 1]).clipPath !== b; }""",
                               arg=handle_before, timeout=RUN_TIMEOUT_MS)
        handle_after = slider.locator("img").last.evaluate("e => getComputedStyle(e).clipPath")
        screenshot(page, "compare-slider")
        assert handle_after != handle_before

        # Download the zip and check its contents.
        path = tmp_path / "result.zip"
        names, metrics = download_zip(page, path)
    with zipfile.ZipFile(path) as archive:
        esrgan = np.asarray(Image.open(archive.open("esrgan.png")))
    assert {"original.png", "lr_input.png", "bicubic.png", "srgan.png", "esrgan.png", "metrics.json"} <= names
    assert esrgan.shape == (128, 128, 3)
    assert metrics["methods"]["esrgan"]["provenance"]["sha256"]
    assert "SAN_BI4X.pt" in metrics["methods"][HIDDEN]["unavailable"]["fix"] and f"{HIDDEN}.png" not in names
    assert f"{metrics['methods']['bicubic']['psnr']:.2f}" == rows["Bicubic"][1]


def test_low_resolution_mode_has_lr_consistency_and_no_reference(app_url, images):
    from playwright.sync_api import expect

    with browser_page(app_url) as page:
        fresh_page(page, app_url)
        upload(page, images["lowres"], "This is already low-resolution")
        realesrgan = page.locator("#methods").get_by_label("Real-ESRGAN", exact=True)
        expect(realesrgan).to_be_checked()  # ticked by default for a low-resolution photo
        run_and_wait(page)
        for key in ("bicubic", "srgan", "esrgan", "awsrn", "realesrgan"):  # six method panels, SAN's says unavailable
            wait_for_panel(page, key)
        screenshot(page, "compare-lowres-done")
        assert not page.locator("#panel-original").is_visible()
        assert "converted" in page.locator("#caption-realesrgan").inner_text()
        assert "trained by this project" in page.locator("#caption-esrgan").inner_text()
        assert "unavailable" in page.locator(f"#caption-{HIDDEN}").inner_text()
        wait_for_table(page, 6)
        rows = table_rows(page)
        assert set(rows) == {"Bicubic", "SRGAN", "ESRGAN", "AWSRN", "SAN", "Real-ESRGAN"}
        assert rows["SRGAN"][1] == "—" and float(rows["SRGAN"][4]) > 25  # column 3 is NIQE
        page.locator("#mode").get_by_text("I have the original").click()
        expect(realesrgan).not_to_be_checked()  # made for real-world degradations, not for bicubic ×1/4
        assert "LR-consistency" in page.locator("#caption-srgan").inner_text()
        assert "no original" in page.locator("#crop-metrics").inner_text()
        screenshot(page, "compare-lowres")


@pytest.mark.parametrize("case, message", [
    ("bomb", "decompression bomb"),
    ("too_large", "at most 512×512 for low-resolution input"),
    ("corrupt", "damaged or not a complete image"),
    ("not_image", "not an image the app can read"),
])
def test_bad_upload_shows_its_message_and_the_app_keeps_serving(app_url, images, case, message):
    with browser_page(app_url) as page:
        fresh_page(page, app_url)
        upload(page, images[case], "This is already low-resolution")
        page.locator("#run").click()
        page.get_by_text(message).first.wait_for(timeout=RUN_TIMEOUT_MS)
        screenshot(page, f"bad-upload-{case}")
        fresh_page(page, app_url)
        upload(page, images["grey"], "This is already low-resolution")
        for name in ("SRGAN", "ESRGAN"):
            page.locator("#methods").get_by_text(name, exact=True).click()
        run_and_wait(page)
        wait_for_panel(page, "bicubic")
        assert "greyscale" in page.locator("#notes").inner_text()
