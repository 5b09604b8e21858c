"""A whole short MOS study in a real browser against the real app (python app.py): calibration,
every stimulus scored with the five buttons, stop and resume after a reload, the thank-you
summary, and the results in the Results tab. Screenshots go to test-artifacts/."""
from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path

import pytest
from PIL import Image
from skimage import data as skdata

from browser_support import browser_page, require_browser, screenshot, serve_app

pytestmark = pytest.mark.slow


def _study_folder(folder: Path) -> Path:
    """Two small HR images (scikit-image's astronaut and cat)."""
    folder.mkdir(parents=True)
    Image.fromarray(skdata.astronaut()[30:286, 130:386]).save(folder / "astronaut.png")
    Image.fromarray(skdata.chelsea()[20:276, 100:356]).save(folder / "cat.png")
    return folder


def _current_stimulus(db: Path) -> tuple[str, str]:
    """(stimulus id, method) most recently served: the test peeks at what the blinded page shows."""
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT s.id, s.method FROM served v JOIN stimuli s ON s.id = v.stimulus_id "
                            "ORDER BY v.shown_at DESC LIMIT 1").fetchone()


EXPECTED = {"nn": 1, "hr": 5, "bicubic": 2, "srgan": 4, "esrgan": 4}


def test_whole_short_study_in_the_browser(tmp_path):
    require_browser()
    data = tmp_path / "data"
    env = {"SR_ARENA_DATA_DIR": str(data), "SR_ARENA_STUDY_DIR": str(_study_folder(tmp_path / "study")),
           "SR_ARENA_STUDY_ID": "browser-study", "SR_ARENA_STUDY_CROP": "128", "SR_ARENA_MIN_VOTE_INTERVAL": "0.2",
           "DATABASE_URL": ""}
    db = data / "sr_arena.sqlite3"
    with serve_app(extra_env=env, log_name="mos-browser-app") as url, browser_page(url) as page:
        page.get_by_role("tab", name="Rate").click()
        start = page.locator("#mos-start")
        page.wait_for_function("() => { const b = document.querySelector('#mos-start');"
                               " return b && !b.disabled && /Start rating/.test(b.innerText); }", timeout=300_000)
        assert page.get_by_text("Scored 1 — Bad").is_visible() and page.get_by_text("Scored 5 — Excellent").is_visible()
        screenshot(page, "mos-1-calibration")
        start.click()
        progress = page.locator("#mos-progress")
        progress.get_by_text(re.compile(r"0 / \d+")).wait_for()
        total = int(re.search(r"0 / (\d+)", progress.inner_text()).group(1))
        assert total >= 10 and total % 2 == 0  # 2 images x (2 anchors + every available method)
        screenshot(page, "mos-2-rating")
        # Blinded: neither the image's address nor the rating panel names the method.
        src = page.locator("#mos-stimulus img").get_attribute("src") or ""
        shown = page.locator("#mos-stimulus").inner_text() + page.locator("#mos-progress").inner_text()
        for name in ("nn", "hr", "bicubic", "srgan", "esrgan", "awsrn", "san"):
            assert name not in src.rsplit("/", 1)[-1].lower() and name not in shown.lower().split()
        sizes: set[tuple[int, int]] = set()
        for n in range(total):
            if n == 3:  # stop, reload the page, and continue where we left off
                page.locator("#mos-stop").click()
                page.get_by_text("Saved: 3 /").wait_for()
                page.reload()
                page.get_by_role("tab", name="Rate").click()
                page.get_by_role("button", name=f"Continue (3 / {total} rated)").wait_for(timeout=120_000)
                page.get_by_role("button", name=f"Continue (3 / {total} rated)").click()
                progress.get_by_text(f"3 / {total}").wait_for()
            stimulus_id, method = _current_stimulus(db)
            box = page.locator("#mos-stimulus img").bounding_box()
            sizes.add((round(box["width"]), round(box["height"])))
            time.sleep(0.3)  # the server refuses votes faster than SR_ARENA_MIN_VOTE_INTERVAL
            page.locator(f"#mos-score-{EXPECTED.get(method, 3)}").click()
            if n + 1 < total:
                progress.get_by_text(f"{n + 1} / {total}").wait_for()
                assert _current_stimulus(db)[0] != stimulus_id
        assert sizes == {(512, 512)}  # every stimulus at the same size on screen (128 px shown ×4)
        thanks = page.locator("#mos-thanks")
        thanks.get_by_text(f"You scored {total} images").wait_for()
        page.wait_for_timeout(500)
        assert "Original HR (anchor)" in thanks.inner_text() and "5.00" in thanks.inner_text()
        screenshot(page, "mos-3-thanks")

        page.get_by_role("tab", name="Results").click()
        page.locator("#mos-summary").get_by_text("HR anchor").wait_for(timeout=120_000)
        info = page.locator("#mos-results-info").inner_text()
        assert f"{total} votes" in info
        summary = page.locator("#mos-summary").inner_text()
        for label in ("NN anchor", "HR anchor", "bicubic", "srgan"):
            assert label in summary
        page.locator("#mos-plot").locator("img, svg, canvas").first.wait_for()
        links = [a.get_attribute("href") or "" for a in page.locator("#mos-downloads a").all()]
        names = {link.rsplit("/", 1)[-1] for link in links}
        assert {f"mos_browser-study_{kind}" for kind in ("votes.csv", "votes.json", "summary.csv",
                                                         "summary.json")} <= names, links
        csv_link = next(link for link in links if link.endswith("summary.csv"))
        rows = page.request.get(page.url.rstrip("/") + csv_link if csv_link.startswith("/") else csv_link).text()
        rows = rows.splitlines()
        assert rows[0].startswith("label,method,checkpoint_sha256")
        assert len(rows) == 1 + total // 2  # one row per condition shown (methods with weights + 2 anchors)
        screenshot(page, "mos-4-results")

    with sqlite3.connect(db) as conn:
        votes = conn.execute("SELECT rater_id, method, score, position, blinded, response_ms FROM votes").fetchall()
        sessions = conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
    assert len(votes) == total and sessions == 1  # the reload kept the same anonymous rater
    assert len({v[0] for v in votes}) == 1 and re.fullmatch(r"[0-9a-f]{32}", votes[0][0])
    assert sorted(v[3] for v in votes) == list(range(total)) and all(v[4] == 1 and v[5] > 0 for v in votes)
    assert all(score == EXPECTED.get(method, 3) for _, method, score, *_ in votes)
