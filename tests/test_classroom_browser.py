"""A class rehearsal in real browsers against the real app (python app.py): the owner builds a
study from uploaded images, five phone-sized participant pages (390×844) join by code and finish
it, the owner's live view updates without Refresh, shows "too few votes" early and readable method
names after Reveal, and no other study's votes appear. Screenshots go to test-artifacts/."""
from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path

import pytest
from PIL import Image
from skimage import data as skdata

from browser_support import CHROMIUM_ARGS, CHROMIUM_PATH, has_weights, require_browser, screenshot, serve_app

pytestmark = pytest.mark.slow

PHONE = {"width": 390, "height": 844}
EXPECTED = {"nn": 1, "hr": 5, "bicubic": 2, "srgan": 4}


def _images(folder: Path) -> list[Path]:
    folder.mkdir(parents=True)
    paths = [folder / "astronaut.png", folder / "cat.png"]
    Image.fromarray(skdata.astronaut()[30:286, 130:386]).save(paths[0])
    Image.fromarray(skdata.chelsea()[20:276, 100:356]).save(paths[1])
    return paths


def _other_study_votes(db: Path, folder: Path, stimuli: Path) -> int:
    """Another study in the same database, with votes, before the class exists."""
    from sr_arena.mos.storage import Store
    from sr_arena.mos.study import StudyConfig, StudyService, prepare_study

    store = Store(db, 0)
    config = StudyConfig("other-testers", folder, crop=128, methods=("bicubic",), cache_root=stimuli)
    prepare_study(store, config)
    service = StudyService(store, config)
    rater = "e" * 32
    n = 0
    while (served := service.next(rater)) is not None:
        service.vote(rater, served.stimulus.id, 3)
        n += 1
    store.close()
    return n


def _served_method(db: Path, session_id: str) -> str:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT s.method FROM served v JOIN stimuli s ON s.id = v.stimulus_id "
                            "WHERE v.session_id = ? ORDER BY v.shown_at DESC LIMIT 1", (session_id,)).fetchone()[0]


def _newest_session(db: Path, study_id: str) -> str:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT id FROM sessions WHERE study_id = ? ORDER BY created_at DESC LIMIT 1",
                            (study_id,)).fetchone()[0]


def _votes_shown(owner) -> int:
    return int(owner.locator("#class-live .class-votes").inner_text())


def test_class_rehearsal_five_phones(tmp_path):
    require_browser()
    if not has_weights("srgan"):
        pytest.skip("no SRGAN checkpoint")
    from playwright.sync_api import sync_playwright

    data = tmp_path / "data"
    db = data / "sr_arena.sqlite3"
    uploads = _images(tmp_path / "uploads")
    other_votes = _other_study_votes(db, tmp_path / "uploads", data / "stimuli")  # other testers, same images
    assert other_votes == 6
    env = {"SR_ARENA_DATA_DIR": str(data), "SR_ARENA_OWNER_PASSWORD": "lecture-pw", "SR_ARENA_STUDY_CROP": "128",
           "SR_ARENA_STUDY_DIR": str(tmp_path / "uploads"), "SR_ARENA_MIN_VOTE_INTERVAL": "0.2",
           "SR_ARENA_NEW_RATERS_PER_HOUR": "50", "SR_ARENA_BATTLES_PER_RATER": "4",
           "DATABASE_URL": ""}
    with serve_app(extra_env=env, log_name="classroom-browser-app") as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS, headless=True)
        try:
            owner = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            owner.set_default_timeout(60_000)
            owner.goto(url)
            owner.get_by_role("tab", name="Class").click()
            owner.get_by_text("Lecturer: build and run a class study").click()
            owner.locator("#class-password input").fill("wrong")
            owner.locator("#class-unlock").click()
            owner.get_by_text("Wrong password.").wait_for()
            assert owner.locator("#class-create").count() == 0 or not owner.locator("#class-create").is_visible()
            owner.locator("#class-password input").fill("lecture-pw")
            owner.locator("#class-unlock").click()
            owner.locator("#class-create").wait_for()
            owner.locator("#class-uploads input[type=file]").set_input_files([str(p) for p in uploads])
            owner.wait_for_function("() => /cat/.test(document.querySelector('#class-uploads').innerText)")
            owner.locator("#class-title input, #class-title textarea").first.fill("Rehearsal")
            owner.locator("#class-methods").get_by_text("ESRGAN", exact=True).click()  # bicubic + SRGAN stay
            owner.locator("#class-create").click()
            owner.locator("#class-build-note").get_by_text("with code").wait_for(timeout=180_000)
            code = re.search(r"code ([A-Z0-9]{6})", owner.locator("#class-build-note").inner_text()).group(1)
            owner.locator("#class-code-big").get_by_text(code).wait_for()
            assert owner.locator("#class-qr svg").count() == 1
            assert f"?join={code}" in owner.locator("#class-link").inner_text()
            owner.locator("#class-live").get_by_text("0 raters joined").wait_for()
            with sqlite3.connect(db) as conn:
                study_id = conn.execute("SELECT study_id FROM classes WHERE code = ?", (code,)).fetchone()[0]

            # Five phones join by the link; each sees only the rating screen.
            phones, sessions = [], []
            for k in range(5):
                page = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
                page.set_default_timeout(60_000)
                page.goto(f"{url}?join={code.lower() if k == 4 else code}")
                page.locator("#class-start").wait_for()
                assert not page.get_by_role("tab", name="Compare").is_visible()
                assert not page.get_by_role("tab", name="Results").is_visible()
                assert not page.locator("#status").is_visible() and not page.locator("#class-owner").is_visible()
                if k == 0:
                    assert page.get_by_text("Scored 1 — Bad").is_visible()
                    screenshot(page, "classroom-phone-1-calibration", full_page=False)
                sessions.append(_newest_session(db, study_id))
                page.locator("#class-start").click()
                page.locator("#class-progress").get_by_text("0 / 8").wait_for()
                phones.append(page)
            assert len(set(sessions)) == 5
            owner.locator("#class-live").get_by_text("5 raters joined").wait_for()  # no Refresh pressed

            total = 8  # 2 images × (bicubic, SRGAN, NN anchor, HR anchor)
            for n in range(total):
                for k, page in enumerate(phones):
                    method = _served_method(db, sessions[k])
                    if n == 1 and k == 0:
                        image = page.locator("#class-stimulus img").bounding_box()
                        button = page.locator("#class-score-5").bounding_box()
                        assert image["y"] >= 0 and button["y"] + button["height"] <= PHONE["height"], (image, button)
                        assert image["width"] >= 300  # the image uses the phone's width
                        screenshot(page, "classroom-phone-2-rating", full_page=False)
                    page.locator(f"#class-score-{EXPECTED[method]}").click()
                    if n + 1 < total:
                        page.locator("#class-progress").get_by_text(f"{n + 1} / {total}").wait_for()
                if n == 1:
                    owner.wait_for_function("() => document.querySelector('#class-live .class-votes')"
                                            "?.innerText === '10'")
                    owner.locator("#class-reveal").click()
                    owner.locator("#class-live").get_by_text("too few votes").first.wait_for()
                time.sleep(0.2)  # the server refuses one rater's votes faster than SR_ARENA_MIN_VOTE_INTERVAL
            for page in phones:
                thanks = page.locator("#class-thanks")
                thanks.get_by_text(f"You scored {total} images").wait_for()
                assert "SRGAN" in thanks.inner_text() and "Original HR (anchor)" in thanks.inner_text()
            screenshot(phones[0], "classroom-phone-3-thanks", full_page=False)

            # The owner's view caught up by itself (the timer), with this class's votes only.
            owner.wait_for_function("() => document.querySelector('#class-live .class-votes')?.innerText === '40'")
            live = owner.locator("#class-live")
            live.get_by_text("5 finished").wait_for()
            text = live.inner_text()
            assert _votes_shown(owner) == 5 * total and "too few votes" not in text
            for name in ("SRGAN", "Bicubic", "Nearest neighbour (anchor)", "Original HR (anchor)"):
                assert name in text
            assert "@" not in text and "srgan" not in text.split()  # readable names, checkpoint in a tooltip
            title = live.locator("span", has_text="SRGAN").first.get_attribute("title") or ""
            assert "checkpoint" in title
            srgan_row = live.locator("tr", has_text="SRGAN").inner_text()
            assert re.search(r"\b10\b.*4\.00", srgan_row, re.S), srgan_row
            screenshot(owner, "classroom-owner-live")

            # Closing the class turns new participants away.
            owner.locator("#class-close").click()
            owner.locator("#class-link").get_by_text("closed").wait_for()
            late = browser.new_context(viewport=PHONE).new_page()
            late.goto(f"{url}?join={code}")
            late.get_by_text("This study is closed.").wait_for()

            # Battle mode: a phone judges its pairs side by side, names revealed after each answer.
            owner.locator("#class-mode").get_by_text("Battles").click()
            owner.locator("#class-title input, #class-title textarea").first.fill("Battles")
            owner.locator("#class-create").click()
            owner.locator("#class-build-note").get_by_text("Battles").wait_for(timeout=120_000)
            battle_code = re.search(r"code ([A-Z0-9]{6})", owner.locator("#class-build-note").inner_text()).group(1)
            late.goto(f"{url}?join={battle_code}")
            late.locator("#class-start").click()
            late.locator("#class-battle-progress").get_by_text("0 / 4").wait_for()
            for n in range(4):
                late.locator("#class-outcome-left").click()
                if n < 3:
                    late.locator("#class-battle-progress").get_by_text(f"{n + 1} / 4").wait_for()
                    assert re.search(r"Left was \*?\*?(Bicubic|SRGAN)", late.locator("#class-revealed").inner_text())
                time.sleep(0.2)
            late.locator("#class-thanks").get_by_text("You judged 4 pairs").wait_for()
            owner.locator("#class-live").get_by_text("4 battles").wait_for()
        finally:
            browser.close()

    with sqlite3.connect(db) as conn:
        per_study = dict(conn.execute("SELECT study_id, COUNT(*) FROM votes GROUP BY study_id").fetchall())
        battles = conn.execute("SELECT COUNT(*) FROM battles").fetchone()[0]
    assert per_study == {"other-testers": other_votes, study_id: 5 * total} and battles == 4
