"""A whole battle study in a real browser against the real app (python app.py): the calibration
pair, every battle answered with the four buttons (gold items included), the synchronized zoom,
the names revealed only after each answer, and the Results tab's Bradley–Terry ratings and
perception–distortion plot. Screenshots go to test-artifacts/."""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from PIL import Image
from skimage import data as skdata

from browser_support import browser_page, require_browser, screenshot, serve_app

pytestmark = pytest.mark.slow

BATTLES = 10  # one of them (position 7) is the gold item HR vs NN
RANK = {"bicubic": 0, "awsrn": 1, "srgan": 2}  # the answers this "rater" gives
NAMES = {"bicubic": "Bicubic", "awsrn": "AWSRN", "srgan": "SRGAN", "hr": "Original HR", "nn": "Nearest neighbour"}


def _study_folder(folder: Path) -> Path:
    folder.mkdir(parents=True)
    Image.fromarray(skdata.astronaut()[30:286, 130:386]).save(folder / "astronaut.png")
    Image.fromarray(skdata.chelsea()[20:276, 100:356]).save(folder / "cat.png")
    return folder


def _served(db: Path) -> tuple[int, str, str, str, str]:
    """(position, left method, right method, left kind, right kind) most recently served."""
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT b.position, l.method, r.method, l.kind, r.kind FROM battle_served b "
            "JOIN stimuli l ON l.id = b.left_id JOIN stimuli r ON r.id = b.right_id "
            "ORDER BY b.shown_at DESC LIMIT 1").fetchone()


def _answer(left: str, right: str, left_kind: str, position: int) -> str:
    if left_kind.startswith("anchor"):
        return "left" if left == "hr" else "right"
    if position == 2:
        return "tie"
    if position == 4:
        return "both-bad"
    return "left" if RANK[left] > RANK[right] else "right"


def test_whole_battle_study_in_the_browser(tmp_path):
    require_browser()
    data = tmp_path / "data"
    env = {"SR_ARENA_DATA_DIR": str(data), "SR_ARENA_STUDY_DIR": str(_study_folder(tmp_path / "study")),
           "SR_ARENA_STUDY_ID": "battle-study", "SR_ARENA_STUDY_CROP": "128", "SR_ARENA_MIN_VOTE_INTERVAL": "0.2",
           "SR_ARENA_STUDY_METHODS": "bicubic,srgan,awsrn", "SR_ARENA_BATTLES_PER_RATER": str(BATTLES),
           "DATABASE_URL": ""}
    db = data / "sr_arena.sqlite3"
    with serve_app(extra_env=env, log_name="mos-battle-app") as url, browser_page(url) as page:
        page.get_by_role("tab", name="Rate").click()
        page.locator("#battle-cal-left img").wait_for(timeout=300_000)  # the study is prepared
        page.locator("#battle-cal-right img").wait_for()
        assert page.get_by_text("Better: the original").is_visible()
        page.locator("#battle-start").scroll_into_view_if_needed()
        screenshot(page, "battle-1-calibration")
        page.locator("#battle-start").click()
        progress = page.locator("#battle-progress")
        for n in range(BATTLES):
            progress.get_by_text(f"{n} / {BATTLES}", exact=False).wait_for()
            page.locator("#battle-left img").wait_for()
            position, left, right, left_kind, right_kind = _served(db)
            assert position == n
            # Blinded until the answer: no method name on the arena, nor in the image addresses.
            arena = page.locator("#battle-left").inner_text() + page.locator("#battle-right").inner_text()
            sources = [page.locator(f"#battle-{side} img").get_attribute("src") or "" for side in ("left", "right")]
            for name in ("bicubic", "srgan", "awsrn", "nn", "hr"):
                assert name not in arena.lower().split() and all(name not in s.rsplit("/", 1)[-1] for s in sources)
            boxes = [page.locator(f"#battle-{side} img").bounding_box() for side in ("left", "right")]
            assert {(round(b["width"]), round(b["height"])) for b in boxes} == {(384, 384)}
            if n == 0:  # synchronized zoom: a click on the right image moves both zoom panels
                before = [page.locator(f"#battle-zoom-{s} img").get_attribute("src") for s in ("left", "right")]
                page.locator("#battle-right img").click(position={"x": 40, "y": 40})
                page.wait_for_function(
                    "(before) => ['left', 'right'].every((s, k) => { const i = document.querySelector("
                    "`#battle-zoom-${s} img`); return i && i.getAttribute('src') !== before[k]; })",
                    arg=before, timeout=30_000)
                screenshot(page, "battle-2-arena")
            assert page.locator("#battle-reveal").is_hidden()
            time.sleep(0.25)  # the server refuses answers faster than SR_ARENA_MIN_VOTE_INTERVAL
            choice = _answer(left, right, left_kind, position)
            page.locator(f"#battle-answer-{choice}").click()
            reveal = page.locator("#battle-reveal")
            reveal.get_by_text("You said").wait_for()
            text = reveal.inner_text()
            assert NAMES[left] in text.split("Right:")[0] and NAMES[right] in text.split("Right:")[1], text
            if n == 0:
                screenshot(page, "battle-3-reveal")
            page.locator("#battle-next").click()
        page.locator("#battle-done").wait_for()

        page.get_by_role("tab", name="Results").click()
        table = page.locator("#bt-table")
        table.get_by_text("SRGAN").wait_for(timeout=120_000)
        for name in ("Bicubic", "AWSRN", "SRGAN"):
            assert name in table.inner_text()
        assert f"{BATTLES - 1} battles" in page.locator("#bt-info").inner_text()
        page.locator("#bt-plot").locator("img, svg, canvas").first.wait_for()
        page.locator("#bt-heatmap").locator("img, svg, canvas").first.wait_for()
        page.locator("#pd-plot").locator("img, svg, canvas").first.wait_for()
        assert "PSNR" in page.locator("#pd-correlations").inner_text()
        links = [a.get_attribute("href") or "" for a in page.locator("#bt-downloads a").all()]
        assert any(link.endswith("mos_battle-study_bradley_terry.csv") for link in links), links
        page.locator("#pd-plot").scroll_into_view_if_needed()
        screenshot(page, "battle-4-results")
        page.get_by_text("How many raters do I need?").click()  # the simulator, from the Results tab
        page.locator("#plan-run").click()
        plan = page.locator("#plan-table")
        plan.get_by_text("80").wait_for(timeout=120_000)
        assert "expected 95% CI width" in plan.inner_text()
        assert "Truth used" in page.get_by_text("Truth used").inner_text()

    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT rater_id, position, left_method, right_method, left_kind, outcome, gold "
                            "FROM battles ORDER BY position").fetchall()
    assert [r[1] for r in rows] == list(range(BATTLES)) and len({r[0] for r in rows}) == 1
    gold = [r for r in rows if r[6]]
    assert len(gold) == 1 and gold[0][5] == ("left" if gold[0][4] == "anchor_hr" else "right")
    assert {r[5] for r in rows} == {"left", "right", "tie", "both_bad"}
