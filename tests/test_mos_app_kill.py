"""The real app (``python app.py``) killed with SIGKILL in the middle of a rater's vote stream:
every vote the browser saw acknowledged is in the database after a restart, and the restarted
app resumes the same rater's session in the same browser (BrowserState in the same context).

A vote counts as acknowledged when the Rate tab's progress counter advances ("3 / 8" → "4 / 8"):
the server answers only after the vote's transaction has committed."""
from __future__ import annotations

import os
import re
import signal
import sqlite3
from pathlib import Path

import pytest
from PIL import Image
from skimage import data as skdata

from browser_support import app_server, browser_page, require_browser, screenshot

pytestmark = pytest.mark.slow

ACKED_BEFORE_KILL = 4


def _study_folder(folder: Path) -> Path:
    """Two 256² HR images (scikit-image's astronaut and cat); 128² crops keep the study small."""
    folder.mkdir(parents=True)
    Image.fromarray(skdata.astronaut()[30:286, 130:386]).save(folder / "astronaut.png")
    Image.fromarray(skdata.chelsea()[20:276, 100:356]).save(folder / "cat.png")
    return folder


def _shown(db: Path) -> str:
    """Id of the stimulus most recently served (the test peeks behind the blinded page)."""
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT stimulus_id FROM served ORDER BY shown_at DESC LIMIT 1").fetchone()[0]


def _votes(db: Path) -> list[tuple[int, str, int, str]]:
    """(position, stimulus id, score, rater id) of every stored vote, in sequence order."""
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT position, stimulus_id, score, rater_id FROM votes ORDER BY position").fetchall()


def _open_rate_tab(page, url: str) -> None:
    page.goto(url, timeout=180_000)  # the app warms its models up on both cores meanwhile
    page.get_by_role("tab", name="Rate").click()


def _wait_ready(page, label: str) -> None:
    """Wait until the start button is enabled and reads ``label`` (the study is prepared)."""
    page.wait_for_function(
        "(label) => { const b = document.querySelector('#mos-start');"
        " return b && !b.disabled && b.innerText.includes(label); }", arg=label, timeout=300_000)


def _score_for(position: int) -> int:
    """A score that differs from one position to the next, so a mix-up cannot go unnoticed."""
    return position % 5 + 1


def test_sigkill_of_the_app_mid_vote_stream_loses_no_acknowledged_vote(tmp_path):
    require_browser()
    data = tmp_path / "data"
    db = data / "sr_arena.sqlite3"
    env = {"SR_ARENA_DATA_DIR": str(data), "SR_ARENA_DB": str(db),
           "SR_ARENA_STUDY_DIR": str(_study_folder(tmp_path / "study")), "SR_ARENA_STUDY_ID": "kill-study",
           "SR_ARENA_STUDY_CROP": "128", "SR_ARENA_STUDY_METHODS": "bicubic,srgan",
           "SR_ARENA_MIN_VOTE_INTERVAL": "0", "DATABASE_URL": ""}
    acked: list[tuple[int, str, int]] = []  # (position, stimulus id, score) the browser saw acknowledged
    with browser_page() as page:
        progress = page.locator("#mos-progress")
        with app_server(extra_env=env, log_name="mos-kill-app-1") as first:
            _open_rate_tab(page, first.url)
            _wait_ready(page, "Start rating")
            page.locator("#mos-start").click()
            progress.get_by_text(re.compile(r"^0 / \d+")).wait_for()
            total = int(re.search(r"0 / (\d+)", progress.inner_text()).group(1))
            assert total >= ACKED_BEFORE_KILL + 3
            for position in range(ACKED_BEFORE_KILL):
                stimulus_id, score = _shown(db), _score_for(position)
                page.locator(f"#mos-score-{score}").click()
                progress.get_by_text(f"{position + 1} / {total}", exact=True).wait_for()
                acked.append((position, stimulus_id, score))
            # One more vote, in flight: the kill comes as soon as the browser has sent it.
            in_flight = (ACKED_BEFORE_KILL, _shown(db), _score_for(ACKED_BEFORE_KILL))
            with page.expect_request(lambda request: "queue/join" in request.url):
                page.locator(f"#mos-score-{in_flight[2]}").click()
            os.kill(first.pid, signal.SIGKILL)  # the app's own Python process: no cleanup runs
            assert first.process.wait(timeout=30) == -signal.SIGKILL

        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = _votes(db)
        assert [v[:3] for v in stored[:len(acked)]] == acked, "an acknowledged vote is missing or changed"
        assert len(stored) - len(acked) <= 1  # at most the in-flight vote, committed before its answer
        if len(stored) > len(acked):
            assert stored[-1][:3] == in_flight
        assert len({v[3] for v in stored}) == 1
        done = len(stored)

        # Restart on the same database and port (same origin, so the browser keeps its rater id).
        with app_server(extra_env=env, log_name="mos-kill-app-2", port=first.port) as second:
            _open_rate_tab(page, second.url)
            _wait_ready(page, f"Continue ({done} / {total} rated)")
            page.locator("#mos-start").click()
            progress.get_by_text(f"{done} / {total}", exact=True).wait_for()
            screenshot(page, "mos-kill-resumed")
            stimulus_id, score = _shown(db), _score_for(done)
            page.locator(f"#mos-score-{score}").click()
            progress.get_by_text(f"{done + 1} / {total}", exact=True).wait_for()

    after = _votes(db)
    assert [v[:3] for v in after[:done]] == [v[:3] for v in stored]
    assert after[done][:3] == (done, stimulus_id, score) and len(after) == done + 1
    assert {v[3] for v in after} == {stored[0][3]}  # the same anonymous rater, not a new one
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 1
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
