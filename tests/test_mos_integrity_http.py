"""The abuse cases of issue 12 (vote integrity), tried as a hostile rater would: raw HTTP against the
real app (``python app.py``), speaking Gradio's queue protocol as the page does (``/gradio_api/queue/join``
and its event stream, any event by its ``fn_index``; the page's ``gr.State`` values stay on the server).

* votes as someone else: a rater id taken from the database (what exports used to carry) and
  presented by another session does not vote as that rater; exports carry no raw rater or session id;
* ballot stuffing: ``enter(null)`` five times in one session is one rater; new sessions from one
  address get new raters only up to ``SR_ARENA_NEW_RATERS_PER_HOUR``; a quick rating counts once per
  (rater, image, method);
* spreadsheet injection: an image named ``=HYPERLINK(...)`` reaches the CSV downloads neutralised;
* two tabs of one rater: the second continues with the next unscored stimulus (ACR and battles).

One server for the module (bicubic and SRGAN, 128² crops); the rater limit is the last test's subject.
"""
from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from skimage import data as skdata

from browser_support import app_server

pytestmark = pytest.mark.slow

EVIL = '=HYPERLINK("http:evil","x")+1.png'
RATER_LIMIT = 12


class Page:
    """One browser tab: its own Gradio session; ``storage`` is its localStorage (BrowserState)."""

    def __init__(self, url: str, config: dict, storage: dict | None = None) -> None:
        self.url, self.config = url, config
        self.session = uuid.uuid4().hex[:11]
        self.storage = storage if storage is not None else {}
        self.components = {c["id"]: c for c in config["components"]}

    def _default(self, component: int) -> Any:
        """What the page sends for an input nobody touched: the component's initial value."""
        if self.components[component].get("type") in ("browserstate", "state"):
            return None
        return self.components[component].get("props", {}).get("value")

    def _state_ids(self) -> set[int]:
        return {i for i, c in self.components.items() if c.get("type") == "browserstate"}

    def call(self, fn_index: int, values: dict[int, Any] | None = None) -> tuple[dict[int, Any] | None, list, str]:
        """Run one event; returns (outputs by component id or None on error, log messages, error text)."""
        dep = next(d for d in self.config["dependencies"] if d["id"] == fn_index)
        values = values or {}
        data = [values[i] if i in values else self.storage.get(i, self._default(i)) for i in dep["inputs"]]
        body = {"data": data, "fn_index": fn_index, "session_hash": self.session, "event_data": None,
                "trigger_id": dep["targets"][0][0] if dep["targets"] else None}
        with httpx.Client(base_url=self.url, timeout=120) as client:
            event = client.post("gradio_api/queue/join", json=body).raise_for_status().json()["event_id"]
            logs: list = []
            with client.stream("GET", "gradio_api/queue/data", params={"session_hash": self.session}) as stream:
                for line in stream.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    message = json.loads(line[5:])
                    if message.get("event_id") != event:
                        continue
                    if message.get("msg") == "log":
                        logs.append((message.get("level"), message.get("log")))
                    if message.get("msg") == "process_completed":
                        if not message.get("success"):
                            return None, logs, str(message.get("output", {}).get("error"))
                        out = dict(zip(dep["outputs"], message["output"]["data"]))
                        for i in self._state_ids() & set(out):
                            if not (isinstance(out[i], dict) and out[i].get("__type__") == "update"):
                                self.storage[i] = out[i]
                        return out, logs, ""
        raise AssertionError("the event stream ended without process_completed")


def _by_elem(config: dict, elem_id: str) -> int:
    return next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == elem_id)


def _event(config: dict, component: int, trigger: str, output: int | None = None) -> int:
    return next(d["id"] for d in config["dependencies"] if [component, trigger] in d["targets"]
                and (output is None or output in d["outputs"]))


class App:
    """The running app and the events a page triggers."""

    def __init__(self, url: str, db: Path, study: Path) -> None:
        self.url, self.db, self.study = url, db, study
        self.config = httpx.get(url + "config", timeout=60).raise_for_status().json()
        c = self.config
        rate_tab = next(x["id"] for x in c["components"] if x.get("type") == "tabitem"
                        and x.get("props", {}).get("label") == "Rate")
        self.start, self.progress = _by_elem(c, "mos-start"), _by_elem(c, "mos-progress")
        self.enter = _event(c, rate_tab, "select", self.start)
        self.begin = _event(c, self.start, "click")
        self.score = {s: _event(c, _by_elem(c, f"mos-score-{s}"), "click") for s in range(1, 6)}
        self.battle_start = _event(c, _by_elem(c, "battle-start"), "click")
        self.battle_progress = _by_elem(c, "battle-progress")
        self.answer = {o: _event(c, _by_elem(c, f"battle-answer-{o}"), "click") for o in ("left", "right")}
        self.battle_next = _event(c, _by_elem(c, "battle-next"), "click")
        self.quick = {s: _event(c, _by_elem(c, f"quick-score-{s}"), "click") for s in range(1, 6)}
        self.quick_method = _by_elem(c, "quick-method")
        self.downloads = _by_elem(c, "mos-downloads")
        self.battle_downloads = _by_elem(c, "bt-downloads")
        self.refresh = _event(c, _by_elem(c, "mos-refresh"), "click", self.downloads)

    def page(self, storage: dict | None = None) -> Page:
        return Page(self.url, self.config, storage)

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        with sqlite3.connect(self.db) as conn:
            return conn.execute(sql, params).fetchall()


def _study_folder(folder: Path) -> Path:
    folder.mkdir(parents=True)
    Image.fromarray(skdata.astronaut()[30:286, 130:386]).save(folder / "astronaut.png")
    Image.fromarray(skdata.chelsea()[20:276, 100:356]).save(folder / EVIL)
    return folder


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("integrity")
    data = root / "data"
    env = {"SR_ARENA_DATA_DIR": str(data), "SR_ARENA_STUDY_DIR": str(_study_folder(root / "study")),
           "SR_ARENA_STUDY_ID": "integrity", "SR_ARENA_STUDY_CROP": "128", "SR_ARENA_STUDY_METHODS": "bicubic,srgan",
           "SR_ARENA_MIN_VOTE_INTERVAL": "0", "SR_ARENA_BATTLES_PER_RATER": "4",
           "SR_ARENA_NEW_RATERS_PER_HOUR": str(RATER_LIMIT), "DATABASE_URL": "", "SR_ARENA_DB": "",
           "SR_ARENA_SECRET": ""}
    with app_server(extra_env=env, log_name="mos-integrity-app") as server:
        yield App(server.url, data / "sr_arena.sqlite3", root / "study")


def _progress(out: dict, component: int) -> str:
    value = out.get(component)
    return value if isinstance(value, str) else ""


def _token(page: Page) -> Any:
    return next(iter(page.storage.values()), None)


def _rater_of(app: App) -> str:
    """The rater of the latest vote."""
    return app.rows("SELECT rater_id FROM votes ORDER BY id DESC LIMIT 1")[0][0]


def test_a_rater_id_from_outside_the_browser_votes_as_no_one(app):
    victim = app.page()
    out, _, error = victim.call(app.enter)
    assert out is not None, error
    victim.call(app.begin)
    out, _, error = victim.call(app.score[3])
    assert out is not None and "1 /" in _progress(out, app.progress), error
    victim_id = _rater_of(app)

    attacker = app.page()  # presents the victim's rater id as its "browser state", as the issue did
    for key in victim.storage:
        attacker.storage[key] = victim_id
    attacker.call(app.enter)
    attacker.call(app.begin)
    attacker.call(app.score[1])
    forged = app.rows("SELECT COUNT(*) FROM votes WHERE rater_id = ? AND score = 1", (victim_id,))[0][0]
    assert forged == 0, "a vote was stored under another rater's id"
    assert app.rows("SELECT COUNT(*) FROM votes WHERE rater_id = ?", (victim_id,))[0][0] == 1
    attacker.call(app.battle_start)  # battles follow the same rule
    attacker.call(app.answer["left"])
    assert app.rows("SELECT COUNT(*) FROM battles WHERE rater_id = ?", (victim_id,))[0][0] == 0
    assert app.rows("SELECT COUNT(*) FROM battle_sessions WHERE rater_id = ?", (victim_id,))[0][0] == 0
    # Nor does a session with no rater vote by sending only a score.
    out, _, error = app.page().call(app.score[1])
    assert out is None and app.rows("SELECT COUNT(*) FROM votes WHERE score = 1 AND rater_id = ?",
                                    (victim_id,))[0][0] == 0
    assert victim_id != _token(victim)  # the browser's token is not what the database stores
    # /config (and with it the BrowserState key) carries no token, rater id or deployment secret.
    config_text = httpx.get(app.url + "config", timeout=60).text
    secret = (app.db.parent / "deployment_secret").read_text().strip()
    for value in (_token(victim), victim_id, secret):
        assert value not in config_text


def _downloads(app: App, page: Page, values: dict | None = None) -> dict[str, str]:
    """Refresh the Results tab; every file of both download lists (votes/summary, battles/BT): name → text."""
    texts = {}
    for files in (app.downloads, app.battle_downloads):
        event = _event(app.config, _by_elem(app.config, "mos-refresh"), "click", files)
        out, _, error = page.call(event, values)
        assert out is not None, error
        for f in out[files]:
            texts[Path(f["path"]).name] = httpx.get(f["url"], timeout=60).raise_for_status().text
    return texts


def test_downloads_carry_only_pseudonyms_and_no_formula(app):
    page = app.page()
    page.call(app.enter)
    out, _, _ = page.call(app.begin)
    total = int(re.search(r"0 / (\d+)", _progress(out, app.progress)).group(1))
    for n in range(total):  # every stimulus, so both images (one named like a formula)
        page.call(app.score[n % 5 + 1])
    page.call(app.battle_start)
    for _ in range(4):
        page.call(app.answer["left"])
        page.call(app.battle_next)
    raw = {r[0] for r in app.rows("SELECT rater_id FROM votes UNION SELECT rater_id FROM battles")}
    raw |= {r[0] for r in app.rows("SELECT id FROM sessions UNION SELECT id FROM battle_sessions")}
    raw.add(_token(page))
    texts = _downloads(app, page)
    assert {"mos_integrity_votes.csv", "mos_integrity_votes.json", "mos_integrity_battles.csv"} <= set(texts)
    evil = 0
    for name, text in texts.items():
        for value in raw:
            assert value not in text, f"{name} carries a raw rater or session id"
        if name.endswith(".csv"):
            rows = list(csv.DictReader(io.StringIO(text)))
            for row in rows:
                assert not any(str(cell).startswith(("=", "+", "@", "\t", "\r")) for cell in row.values()), (name, row)
            evil += sum(1 for row in rows if row.get("image_name") == "'" + EVIL)
    assert evil > 0  # the formula-named image is there, neutralised
    for name in ("mos_integrity_votes.json", "mos_integrity_battles.json"):
        rows = json.loads(texts[name])
        assert rows and all(re.fullmatch(r"r-[0-9a-f]{12}", r["rater"]) for r in rows), name


def test_two_tabs_of_one_rater_continue_with_the_next_stimulus(app):
    first = app.page()
    first.call(app.enter)
    second = app.page(dict(first.storage))  # same browser: same localStorage, another tab
    second.call(app.enter)
    out_a, _, _ = first.call(app.begin)
    out_b, _, _ = second.call(app.begin)
    total = int(re.search(r"0 / (\d+)", _progress(out_a, app.progress)).group(1))
    first.call(app.score[4])  # tab 1 scores the image both tabs show
    out, logs, error = second.call(app.score[2])  # tab 2 still shows it
    assert out is not None, error
    assert f"1 / {total}" in _progress(out, app.progress), (logs, out)
    out, logs, _ = second.call(app.score[2])  # and tab 2 now scores the next one
    assert f"2 / {total}" in _progress(out, app.progress), logs
    rater = _rater_of(app)
    assert app.rows("SELECT score FROM votes WHERE rater_id = ? ORDER BY id", (rater,)) == [(4,), (2,)]

    # Battles: the same in two tabs.
    first.call(app.battle_start)
    second.call(app.battle_start)
    first.call(app.answer["left"])
    out, logs, error = second.call(app.answer["right"])
    assert out is not None, error
    assert "1 / 4" in _progress(out, app.battle_progress), (logs, out)
    out, _, _ = second.call(app.answer["right"])
    assert app.rows("SELECT outcome FROM battles WHERE rater_id = ? ORDER BY id", (rater,)) == [
        ("left",), ("right",)]


def _compare(app: App, page: Page, path: Path) -> None:
    """Upload ``path`` and run a bicubic comparison in ``page``'s session, as the Compare tab does."""
    c = app.config
    upload, methods = _by_elem(c, "upload"), _by_elem(c, "methods")
    run = next(d["id"] for d in c["dependencies"] if upload in d["inputs"] and methods in d["inputs"])
    stored = httpx.post(app.url + "gradio_api/upload", files={"files": (path.name, path.read_bytes(), "image/png")},
                        timeout=60).raise_for_status().json()[0]
    out, _, error = page.call(run, {upload: {"path": stored, "orig_name": path.name,
                                             "meta": {"_type": "gradio.FileData"}}, methods: ["bicubic"]})
    assert out is not None, error
    choices = next(d["id"] for d in c["dependencies"] if d["outputs"] == [app.quick_method])
    assert page.call(choices)[0] is not None  # the quick-rating menu lists the finished methods


def test_quick_ratings_count_once_and_their_export_is_neutralised(app, tmp_path):
    page = app.page()
    _compare(app, page, Path(app.study) / EVIL)
    messages = []
    for _ in range(3):  # three quick ratings of one image and method, each with no rater (as the issue sent)
        page.storage.clear()
        out, _, error = page.call(app.quick[5], {app.quick_method: "bicubic"})
        assert out is not None, error
        messages.append(next(v for v in out.values() if isinstance(v, str) and "tored" in v))
    assert messages[0].startswith("Stored") and all("already rated" in m for m in messages[1:]), messages
    assert app.rows("SELECT COUNT(*) FROM votes WHERE blinded = 0")[0][0] == 1
    name = app.rows("SELECT image_name FROM votes WHERE blinded = 0")[0][0]
    assert name.startswith("=")  # the name as uploaded: a formula if a spreadsheet ran it
    _downloads(app, page)  # the first refresh lists the studies, "quick" among them
    texts = _downloads(app, page, {_by_elem(app.config, "mos-study"): "quick"})
    rows = list(csv.DictReader(io.StringIO(texts["mos_quick_votes.csv"])))
    assert [r["image_name"] for r in rows] == ["'" + name]


def test_one_session_is_one_rater_and_new_raters_per_client_are_limited(app):
    before = app.rows("SELECT COUNT(*) FROM raters")[0][0]
    page = app.page()
    for _ in range(5):  # enter(null) five times in one session
        page.storage.clear()
        out, _, error = page.call(app.enter)
        assert out is not None, error
    assert app.rows("SELECT COUNT(*) FROM raters")[0][0] == before + 1
    refused = None
    for attempt in range(RATER_LIMIT + 2):  # fresh sessions, no token: new raters until the limit
        out, _, _ = app.page().call(app.enter)
        if "Too many new raters" in json.dumps(out):
            refused = attempt
            break
    assert refused is not None, "no limit on new raters per client"
    assert app.rows("SELECT COUNT(*) FROM raters")[0][0] == RATER_LIMIT
