"""Vote integrity (issue 12 item 1) on real SQLite and PostgreSQL: server-issued rater tokens, the
deployment secret, keyed per-study pseudonyms, the new-rater limit per client, quick ratings once per
(rater, image, method), and exports that carry no raw rater or session id and no spreadsheet formula.
The same abuse cases through a running app are in test_mos_integrity_http.py."""
from __future__ import annotations

import csv
import io
import json
import os
import stat

import pytest

from mos_support import StepClock, synthetic_study
from sr_arena import settings
from sr_arena.mos import identity
from sr_arena.mos.battles import BattleService
from sr_arena.mos.export import safe_cell, write_all
from sr_arena.mos.stats import summarize
from sr_arena.mos.storage import Store, VoteRejected

EVIL = '=HYPERLINK("http:evil","x")+1.png'
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, env):
    """Each test has its own data directory, so its own deployment secret."""
    env("SR_ARENA_DATA_DIR", str(tmp_path / "data"))
    env("SR_ARENA_SECRET", "")


def test_the_deployment_secret_is_generated_once_with_mode_0600(tmp_path, env):
    first = settings.deployment_secret()
    path = tmp_path / "data" / settings.SECRET_FILE_NAME
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and len(first) == 64
    settings._SECRETS.clear()  # as a restarted process would: read from the file, not made anew
    assert settings.deployment_secret() == first
    env("SR_ARENA_SECRET", "x" * 40)
    assert settings.deployment_secret() == b"x" * 40


def test_only_tokens_the_server_issued_name_a_rater(target):
    store = Store(target, 0)
    token, rater_id = identity.issue(store, "10.0.0.1", per_hour=10)
    assert identity.claim(store, token) == rater_id != token
    assert identity.claim(store, rater_id) is None  # the stored (and once exported) id is no credential
    assert identity.claim(store, identity.new_token()) is None  # a made-up token names nobody
    assert identity.claim(store, None) is None and identity.claim(store, "../" + token) is None
    store.ensure_rater("f" * 32)  # even a rater row whose id looks like a token
    assert identity.claim(store, "f" * 32) is None


def test_a_session_keeps_its_rater_and_new_raters_per_client_are_limited(target):
    clock = StepClock()
    store = Store(target, 0, clock=clock)
    token, owner = identity.resolve(store, None, None, "10.0.0.1", per_hour=3)
    for _ in range(5):  # enter(null) five times in one session: still the one rater
        assert identity.resolve(store, None, owner, "10.0.0.1", per_hour=3)[1] == owner
    assert identity.resolve(store, token, None, "10.0.0.1", per_hour=3) == (token, owner)  # a second tab
    identity.resolve(store, None, None, "10.0.0.1", per_hour=3)
    identity.resolve(store, None, None, "10.0.0.1", per_hour=3)
    with pytest.raises(VoteRejected, match="Too many new raters"):
        identity.resolve(store, None, None, "10.0.0.1", per_hour=3)
    identity.resolve(store, None, None, "10.0.0.2", per_hour=3)  # another client is not held back
    clock.now += identity.RATER_WINDOW_S + 1
    identity.resolve(store, None, None, "10.0.0.1", per_hour=3)
    assert store.query("SELECT COUNT(*) AS n FROM raters")[0]["n"] == 5
    assert not store.query("SELECT id FROM raters WHERE client LIKE ?", ("%10.0.0%",))  # no raw address


def test_votes_need_a_rater_the_session_owns_or_its_token_names(target):
    store = Store(target, 0)
    token, owner = identity.issue(store, "10.0.0.1", per_hour=10)
    assert identity.voting_rater(store, None, owner) == owner
    assert identity.voting_rater(store, token, None) == owner
    with pytest.raises(VoteRejected):
        identity.voting_rater(store, owner, None)  # the rater id in place of the token
    with pytest.raises(VoteRejected):
        identity.voting_rater(store, None, "0" * 32)  # an owner that was never issued


def test_pseudonyms_are_keyed_and_per_study(env):
    a, b = identity.pseudonym("rater-1", "s1"), identity.pseudonym("rater-1", "s2")
    assert a != b and a.startswith("r-") and "rater-1" not in a
    assert identity.pseudonym("rater-1", "s1") == a
    env("SR_ARENA_SECRET", "another deployment's secret, 32+ chars")
    assert identity.pseudonym("rater-1", "s1") != a  # not computable without the secret


def test_quick_ratings_count_once_per_rater_image_and_method(target):
    store = Store(target, 0)
    store.record_quick_vote("q", "imgsha", "mine.png", "srgan", "f4c3", "exact", 5)
    for ckpt, precision in (("f4c3", "exact"), ("other-weights", "exact"), ("f4c3", "fast")):
        with pytest.raises(VoteRejected, match="already rated"):
            store.record_quick_vote("q", "imgsha", "mine.png", "srgan", ckpt, precision, 2)
    store.record_quick_vote("q", "imgsha", "mine.png", "esrgan", "", "exact", 3)
    assert len(store.votes()) == 2
    # Rows stored before the rule (a second precision) count once in the analysis.
    old = {**store.votes()[0], "id": 99, "precision": "fast", "score": 1}
    summary = summarize([*store.votes(), old], "quick", include_unblinded=True)
    assert summary.n_votes == 2


def test_safe_cell_neutralises_formula_starts():
    for start in FORMULA_STARTS:
        assert safe_cell(start + "1+1") == "'" + start + "1+1"
    assert safe_cell("plain.png") == "plain.png" and safe_cell(-1.5) == -1.5


def _number(cell: str) -> bool:
    """A numeric cell (a negative number is data, not a formula)."""
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _abused_store(target) -> tuple[Store, list[str]]:
    """A study with an image named like a formula: ACR votes, battles and a quick rating on it."""
    store = Store(target, 0)
    rows = synthetic_study(store, "s", n_images=2)
    with store.transaction() as tx:
        tx.run("UPDATE stimuli SET image_name = ? WHERE image_sha256 = ?", (EVIL, "img000"))
    token, rater = identity.issue(store, "10.0.0.1", per_hour=10)
    session = store.create_session("sess-" + rater[:8], rater, "s", [r.id for r in rows])
    for position, row in enumerate(rows[:5]):
        store.mark_served(session.id, row.id, position)
        store.record_vote(rater, session.id, row.id, 3)
    battles = BattleService(store, "s", battles_per_rater=3)
    for _ in range(3):
        served = battles.next(rater)
        battles.vote(rater, served.position, "left")
    store.record_quick_vote(rater, "imgsha", EVIL, "srgan", "abc", "exact", 4)
    secrets_ = [token, rater, session.id, battles.db.session(rater, "s").id]
    return store, secrets_


def test_exports_carry_pseudonyms_only_and_no_formula(target, tmp_path):
    from sr_arena.mos.battle_stats import write_battle_files

    store, secret_values = _abused_store(target)
    paths = []
    for study in ("s", "quick"):
        votes = [v for v in store.votes() if v["study_id"] == study]
        summary = summarize(store.votes(), study, include_unblinded=study == "quick", include_flagged=True)
        paths += write_all(votes, summary, tmp_path / "out", stem=f"mos_{study}")
    paths += write_battle_files(store, "s", tmp_path / "out", stem="mos_s")
    seen_evil = 0
    for path in paths:
        text = path.read_text()
        for value in secret_values:
            assert value not in text, f"{path.name} carries a raw id"
        if path.suffix == ".csv":
            for row in csv.reader(io.StringIO(text)):
                assert not any(cell.startswith(FORMULA_STARTS) and not _number(cell) for cell in row), (path.name, row)
                seen_evil += row.count("'" + EVIL)
    on_evil = store.query("SELECT COUNT(*) AS n FROM battles WHERE image_name = ?", (EVIL,))[0]["n"]
    assert seen_evil == 5 + on_evil + 1  # every vote and battle on that image, neutralised
    votes = json.loads((tmp_path / "out" / "mos_s_votes.json").read_text())
    assert {v["rater"] for v in votes} == {identity.pseudonym(secret_values[1], "s")}
    assert "rater_id" not in votes[0] and "session_id" not in votes[0]
    quick = json.loads((tmp_path / "out" / "mos_quick_votes.json").read_text())
    assert quick[0]["rater"] != votes[0]["rater"]  # another study, another pseudonym


def test_the_client_address_behind_a_trusted_proxy_is_the_entry_the_proxy_added():
    import gradio as gr
    from starlette.requests import Request

    scope = {"type": "http", "client": ("10.0.0.9", 4242),
             "headers": [(b"x-forwarded-for", b"6.6.6.6, 203.0.113.7")]}  # client-sent, then the proxy's
    request = gr.Request(Request(scope))
    assert identity.request_address(request, trust_forwarded_for=False) == "10.0.0.9"
    assert identity.request_address(request, trust_forwarded_for=True) == "203.0.113.7"
    assert identity.request_address(gr.Request(Request({"type": "http", "client": ("10.0.0.9", 1), "headers": []})),
                                    trust_forwarded_for=True) == "10.0.0.9"
