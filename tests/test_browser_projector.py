"""Teaching-ready comparisons in a real browser (issue 13): the "paper comparison" preset on a Set14 image
(twins beside their GANs, PSNR and NIQE of each pair), projector mode at 1920×1080 with 8× magnification
(tile sizes on screen, whole labels, arrow keys, the crop box), and
inputs that say where they are (an example shows in the visible tab with its mode; an upload after it
goes back to the default mode), also on a 390×844 phone.

The pair numbers go to ``test-artifacts/paper-comparison.json`` and are printed: whether the house and
public weights show the papers' lesson (GAN: lower PSNR, lower NIQE) is measured, not assumed.
"""
from __future__ import annotations

import json
import re

import pytest

from sr_models.niqe import available as niqe_available
from sr_models.paths import SHARED_DIR

from browser_support import ARTIFACTS_DIR, browser_page, require_browser, screenshot, serve_app

pytestmark = [pytest.mark.timeout(900)]
RUN_MS = 400_000
UI_MS = 30_000
SET14_IMAGE = SHARED_DIR / "data" / "benchmark" / "Set14" / "HR" / "comic.png"
PAPER = ("bicubic", "srresnet", "srgan", "esrgan_psnr", "esrgan")
PAIRS = (("srresnet", "srgan"), ("esrgan_psnr", "esrgan"))


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    require_browser()
    data = tmp_path_factory.mktemp("projector-data")
    # The papers' pair is one network trained two ways: hide ../shared's public SRGAN (leftthomas's 5-block
    # generator, which the loader prefers), so SRGAN runs the house one, fine-tuned from the house SRResNet.
    shared = tmp_path_factory.mktemp("no-public-weights")
    with serve_app(extra_env={"SR_ARENA_DATA_DIR": str(data), "SR_ARENA_MOS_DB": str(data / "mos.sqlite3"),
                              "SR_ARENA_SHARED": str(shared)},
                   log_name="browser-projector-server") as url:
        yield url


def ready(page, url: str) -> None:
    page.goto(url)
    page.get_by_text("Ready:").wait_for(timeout=RUN_MS)


def wait_for_panel(page, key: str) -> None:
    page.locator(f"#panel-{key}").scroll_into_view_if_needed(timeout=RUN_MS)
    page.wait_for_function(
        """key => { const img = document.querySelector(`#panel-${key} img`);
                    return img !== null && !!img.getAttribute("src") && img.complete && img.naturalWidth > 0; }""",
        arg=key, timeout=RUN_MS, polling=250)


def table(page) -> dict[str, dict[str, str]]:
    """The metric table as {method: {column: text}}."""
    page.wait_for_function("""() => Array.from(document.querySelectorAll('#metric-table [data-row][data-col]'))
                                   .some(e => /^\\d+\\.\\d\\d$|^—$/.test(e.innerText.trim()) && e.dataset.col === '3')""",
                           timeout=RUN_MS, polling=250)
    heads = page.evaluate("""() => Array.from(document.querySelectorAll('#metric-table thead th'))
                                  .map(e => e.innerText.trim())""")
    cells = page.evaluate("""() => Array.from(document.querySelectorAll('#metric-table [data-row][data-col]'))
        .map(e => [Number(e.dataset.row), Number(e.dataset.col), e.innerText.trim()])""")
    rows: dict[int, dict[int, str]] = {}
    for row, col, text in cells:
        rows.setdefault(row, {})[col] = text
    names = [h for h in heads if h] or list(range(8))
    return {r[0]: {str(names[c]) if c < len(names) else str(c): r[c] for c in sorted(r)} for r in rows.values()}


def number(text: str) -> float | None:
    return float(text) if re.fullmatch(r"-?\d+(\.\d+)?", text or "") else None


def drag_slider_to_end(page, elem_id: str) -> None:
    """Drag a Gradio slider's handle to its maximum with the mouse, as a person would (fires its release)."""
    track = page.locator(f"#{elem_id} input[type=range]").first
    track.scroll_into_view_if_needed()
    box = track.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] - 1, box["y"] + box["height"] / 2, steps=6)
    page.mouse.up()


def strip_geometry(page) -> list[dict]:
    return page.evaluate("""() => Array.from(document.querySelectorAll('#strip figure')).map(f => {
        const img = f.querySelector('img'), cap = f.querySelector('figcaption'); const r = img.getBoundingClientRect();
        return {key: f.dataset.key, width: r.width, height: r.height, natural: img.naturalWidth, caption: cap.innerText,
                cut: cap.scrollWidth > cap.clientWidth + 1 || cap.scrollHeight > cap.clientHeight + 1,
                rendering: getComputedStyle(img).imageRendering}; })""")


@pytest.mark.skipif(not SET14_IMAGE.is_file(), reason=f"Set14 is not here ({SET14_IMAGE}); see ../shared/README.md")
def test_paper_comparison_on_set14_then_projector_mode_at_1920(app_url):
    with browser_page(app_url, viewport=(1920, 1080)) as page:
        ready(page, app_url)
        for key in ("srresnet", "esrgan_psnr"):
            assert not page.locator("#methods").get_by_label(
                {"srresnet": "SRResNet", "esrgan_psnr": "RRDB-PSNR"}[key], exact=True).is_checked()
        page.locator("#upload input[type=file]").set_input_files(str(SET14_IMAGE))
        page.locator("#input-info").get_by_text("248×360 px").wait_for()
        page.locator("#paper-preset").click()
        page.wait_for_function("""n => document.querySelectorAll('#methods input[type=checkbox]:checked').length === n""",
                               arg=len(PAPER), timeout=RUN_MS)
        page.locator("#run").click()
        page.locator("#download").wait_for(state="visible", timeout=RUN_MS)
        for key in ("original", *PAPER):
            wait_for_panel(page, key)
        note = page.locator("#caption-srresnet .sr-twin").inner_text()
        assert "Same network as SRGAN" in note and "MSE" in note
        assert "Same network as ESRGAN" in page.locator("#caption-esrgan_psnr .sr-twin").inner_text()
        rows = table(page)
        assert {"Bicubic", "SRResNet", "SRGAN", "RRDB-PSNR", "ESRGAN"} == set(rows)
        psnr = {name: number(row["PSNR (dB)"]) for name, row in rows.items()}
        niqe = {name: number(row["NIQE (lower = more natural)"]) for name, row in rows.items()}
        report = {"image": f"Set14/{SET14_IMAGE.name}", "psnr": psnr, "niqe": niqe,
                  "twin_notes": {k: page.locator(f"#caption-{k} .sr-twin").inner_text() for k in ("srresnet", "esrgan_psnr")},
                  "lesson": {}}
        for twin, gan in (("SRResNet", "SRGAN"), ("RRDB-PSNR", "ESRGAN")):
            report["lesson"][f"{gan} vs {twin}"] = {
                "gan_psnr_lower": psnr[gan] < psnr[twin],
                "gan_niqe_lower": None if niqe[gan] is None or niqe[twin] is None else niqe[gan] < niqe[twin]}
        ARTIFACTS_DIR.mkdir(exist_ok=True)
        (ARTIFACTS_DIR / "paper-comparison.json").write_text(json.dumps(report, indent=1))
        print("\npaper comparison:", json.dumps(report, indent=1))
        assert all(value is not None for value in psnr.values()), psnr
        assert "other weights" not in report["twin_notes"]["srresnet"]  # the house pair: one network, two losses
        # Ledig et al. §4.3: the adversarial loss costs PSNR and buys natural texture (lower NIQE). The PSNR
        # half is asserted; the NIQE half is measured and reported, not assumed: the house SRGAN now shipped
        # (a short GAN stage with a spectral penalty, stripe-free) has lower PSNR than SRResNet but not a
        # lower NIQE on comic (10.01 vs 8.56), the striped one before it had 5.56.
        assert psnr["SRGAN"] < psnr["SRResNet"], report
        if niqe_available():
            assert all(value is not None for value in niqe.values()), niqe
        if "same image" in report["twin_notes"]["esrgan_psnr"]:  # no GAN stage installed: ESRGAN runs RRDB-PSNR
            assert psnr["ESRGAN"] == psnr["RRDB-PSNR"] and niqe["ESRGAN"] == niqe["RRDB-PSNR"], report
        screenshot(page, "paper-comparison-1920", full_page=True)

        # ---- projector mode: magnification 8, tiles 8 × the crop on screen, in a grid, labels whole.
        page.locator("#strip figure").first.wait_for(timeout=RUN_MS)
        drag_slider_to_end(page, "magnification")
        page.wait_for_function("""() => { const img = document.querySelector('#strip img');
                                          return img && Math.abs(img.getBoundingClientRect().width - 384) < 4; }""",
                               timeout=UI_MS, polling=250)
        tiles = strip_geometry(page)
        assert len(tiles) == 7 and page.locator("#strip .sr-zoom.sr-grid").count() == 1
        assert all(abs(t["width"] - 48 * 8) < 4 and t["natural"] == 48 for t in tiles), tiles  # 8 × the 48-px crop
        assert all(t["rendering"] == "pixelated" and not t["cut"] for t in tiles), tiles
        srgan = next(t for t in tiles if t["key"] == "srgan")
        assert re.search(r"SRGAN · \d+\.\d\d dB · \d\.\d{3}", srgan["caption"]), srgan
        page.locator("#strip").scroll_into_view_if_needed()
        page.locator("#zoom").evaluate("e => e.scrollIntoView({block: 'start'})")
        screenshot(page, "projector-1920-mag8-zoom", full_page=False)
        page.locator("#strip figure").nth(6).scroll_into_view_if_needed()
        screenshot(page, "projector-1920-mag8-strip", full_page=False)

        # ---- arrow keys move the crop (the strip has the focus).
        before = page.locator("#crop-metrics b").first.inner_text()
        page.locator("#strip .sr-zoom").focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function("b => document.querySelector('#crop-metrics b').innerText !== b", arg=before,
                               timeout=UI_MS)
        after = page.locator("#crop-metrics b").first.inner_text()
        x_before, x_after = (int(re.search(r"x (\d+)", t).group(1)) for t in (before, after))
        assert x_after == x_before + 24, (before, after)  # half of the 48-px crop
        page.keyboard.press("ArrowDown")
        page.wait_for_function("a => document.querySelector('#crop-metrics b').innerText !== a", arg=after,
                               timeout=UI_MS)

        # A panel's fullscreen (style.PAGE_JS: integer scale, pixelated) is not checked here: in headless
        # Chromium Gradio 6.31's fullscreen button did not produce a document.fullscreenElement (issue 13 open point).


def test_example_shows_where_it_is_and_an_upload_resets_its_mode_on_a_phone(app_url, tmp_path):
    from playwright.sync_api import expect
    from PIL import Image
    from skimage import data

    original = tmp_path / "coffee_original.png"
    Image.fromarray(data.coffee()[:256, :256]).save(original)
    with browser_page(app_url, viewport=(390, 844)) as page:
        ready(page, app_url)
        assert "No input yet" in page.locator("#input-info").inner_text()
        page.get_by_text("Cameraman, greyscale (already low-res, 64×64)").click()
        expect(page.locator("#picture img").first).to_be_visible(timeout=RUN_MS)  # shown in the visible tab
        expect(page.locator("#mode").get_by_label("This is already low-resolution")).to_be_checked()
        page.locator("#input-info").get_by_text("64×64 px").wait_for(timeout=RUN_MS)
        assert "Paste, webcam or example tab" in page.locator("#input-info").inner_text()
        page.locator("#download").wait_for(state="visible", timeout=RUN_MS)
        page.locator("#strip figure").first.wait_for(timeout=RUN_MS)
        widths = [t["width"] for t in strip_geometry(page)]
        assert widths and max(widths) <= 390, widths  # tiles never wider than the phone
        page.locator("#input-info").scroll_into_view_if_needed()
        screenshot(page, "phone-example-input", full_page=False)
        page.locator("#strip").scroll_into_view_if_needed()
        screenshot(page, "phone-zoom-strip", full_page=False)

        page.get_by_role("tab", name="Upload a file").click()
        page.locator("#upload input[type=file]").set_input_files(str(original))
        expect(page.locator("#mode").get_by_label("I have the original")).to_be_checked(timeout=RUN_MS)
        page.locator("#input-info").get_by_text("coffee_original.png").wait_for(timeout=RUN_MS)
        page.locator("#input-info").get_by_text("256×256 px, an original").wait_for(timeout=UI_MS)
        screenshot(page, "phone-upload-resets-mode", full_page=False)
