"""MOS storage against real SQLite and a real PostgreSQL server: migrations, concurrency,
crash durability, validation, rate limiting, quick ratings."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from mos_support import StepClock, fresh_database, synthetic_study
from sr_arena.mos.storage import MIGRATIONS, SCHEMA_VERSION, Store, VoteRejected, open_store

REPO = Path(__file__).resolve().parents[1]




def _count(store: Store) -> int:
    return int(store.query("SELECT COUNT(*) AS n FROM votes")[0]["n"])


def test_migrations_are_versioned_and_idempotent(target):
    store = Store(target, 0)
    assert store.schema_version() == SCHEMA_VERSION
    again = Store(target, 0)  # a second process/replica opening the same database
    assert again.migrate() == SCHEMA_VERSION
    rows = again.query("SELECT version FROM schema_version")
    assert [r["version"] for r in rows] == [version for version, *_ in MIGRATIONS]  # numbered, some reserved
    if store.dialect == "sqlite":
        assert store.query("PRAGMA journal_mode")[0]["journal_mode"] == "wal"


def test_open_store_follows_environment(tmp_path, env, postgres_admin_url):
    env("DATABASE_URL", "")
    env("SR_ARENA_DB", str(tmp_path / "x" / "db.sqlite3"))
    store = open_store()
    assert store.dialect == "sqlite" and (tmp_path / "x" / "db.sqlite3").exists()
    env("DATABASE_URL", fresh_database(postgres_admin_url))
    assert open_store().dialect == "postgresql"


def test_twenty_concurrent_writers_store_exactly_1000_votes(target):
    store = Store(target, min_vote_interval_s=0)
    stimuli = synthetic_study(store, n_images=10)  # 50 stimuli
    assert len(stimuli) == 50
    errors: list[BaseException] = []
    barrier = threading.Barrier(20)

    def writer(w: int) -> None:
        try:
            mine = Store(target, min_vote_interval_s=0)  # like a separate app replica
            rater = f"rater-{w:02d}"
            session = mine.create_session(f"sess-{w:02d}", rater, "s", [s.id for s in stimuli])
            barrier.wait()
            for i, s in enumerate(stimuli):
                mine.mark_served(session.id, s.id, i)
                mine.record_vote(rater, session.id, s.id, 1 + (w + i) % 5)
            mine.close()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors[:3]
    votes = store.votes("s")
    assert len(votes) == 1000 == _count(store)
    assert len({(v["rater_id"], v["stimulus_id"]) for v in votes}) == 1000
    index = {s.id: i for i, s in enumerate(stimuli)}
    for v in votes:
        w = int(v["rater_id"].split("-")[1])
        assert v["score"] == 1 + (w + index[v["stimulus_id"]]) % 5
        assert v["position"] == index[v["stimulus_id"]] and v["blinded"] == 1 and v["response_ms"] >= 0


WRITER = textwrap.dedent("""
    import sys
    from sr_arena.mos.storage import Store
    store = Store(sys.argv[1], min_vote_interval_s=0)
    rater = "crash-rater"
    ids = [row["id"] for row in store.query("SELECT id FROM stimuli ORDER BY id")]
    session = store.create_session("crash-session", rater, "s", ids)
    print("READY", flush=True)
    for position, sid in enumerate(ids):
        store.mark_served(session.id, sid, position)
        vote_id = store.record_vote(rater, session.id, sid, 1 + position % 5)
        print("ACK", vote_id, sid, flush=True)  # acknowledged only after COMMIT returned
    print("DONE", flush=True)
""")


def test_sigkill_mid_stream_loses_no_acknowledged_vote(target):
    store = Store(target, 0)
    synthetic_study(store, n_images=400, methods=("bicubic",))
    proc = subprocess.Popen([sys.executable, "-c", WRITER, target], stdout=subprocess.PIPE, text=True,
                            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    acked: dict[int, str] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("ACK"):
            _, vote_id, sid = line.split()
            acked[int(vote_id)] = sid
            if len(acked) == 60:
                os.kill(proc.pid, signal.SIGKILL)  # in the middle of the stream: no cleanup runs
                break
    rest = proc.stdout.read()
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL and "DONE" not in rest
    for line in rest.splitlines():
        if line.startswith("ACK"):
            _, vote_id, sid = line.split()
            acked[int(vote_id)] = sid
    reopened = Store(target, 0)
    stored = {v["id"]: v["stimulus_id"] for v in reopened.votes("s")}
    assert len(acked) >= 60
    assert all(stored.get(i) == sid for i, sid in acked.items()), "an acknowledged vote is missing"
    assert len(stored) - len(acked) <= 1  # at most the one committed before its ACK was printed
    assert len(stored) < 400  # the kill really happened mid-stream
    if reopened.dialect == "sqlite":
        with sqlite3.connect(target) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.parametrize("score, message", [
    (0, r"from 1 \(Bad\) to 5"), (6, r"from 1 \(Bad\) to 5"), (3.5, "whole number"), ("x", "whole number"),
    (None, "whole number"), (True, "whole number"),
])
def test_invalid_scores_are_rejected_and_not_stored(tmp_path, score, message):
    store = Store(tmp_path / "db.sqlite3", 0)
    stimuli = synthetic_study(store)
    session = store.create_session("sess", "r1", "s", [s.id for s in stimuli])
    store.mark_served(session.id, stimuli[0].id, 0)
    with pytest.raises(VoteRejected, match=message):
        store.record_vote("r1", session.id, stimuli[0].id, score)
    assert _count(store) == 0


def test_invalid_votes_are_rejected_with_clear_messages(target):
    store = Store(target, 0)
    stimuli = synthetic_study(store)
    ids = [s.id for s in stimuli]
    session = store.create_session("sess-a", "rater-a", "s", ids)
    other = store.create_session("sess-b", "rater-b", "s", ids)
    store.mark_served(session.id, ids[0], 0)
    store.mark_served(other.id, ids[1], 1)
    for score in (0, 6, 3.5, "x"):
        with pytest.raises(VoteRejected, match="score"):
            store.record_vote("rater-a", session.id, ids[0], score)
    with pytest.raises(VoteRejected, match="Unknown stimulus"):
        store.record_vote("rater-a", session.id, "no-such-stimulus", 3)
    with pytest.raises(VoteRejected, match="not shown to you"):
        store.record_vote("rater-a", session.id, ids[1], 3)  # served to rater-b, not to rater-a
    with pytest.raises(VoteRejected, match="does not belong"):
        store.record_vote("rater-a", other.id, ids[1], 3)  # someone else's session
    with pytest.raises(VoteRejected, match="Unknown rater"):
        store.record_vote("nobody", session.id, ids[0], 3)
    assert _count(store) == 0
    first = store.record_vote("rater-a", session.id, ids[0], "4")
    with pytest.raises(VoteRejected, match="already scored"):
        store.record_vote("rater-a", session.id, ids[0], 5)  # replay
    votes = store.votes()
    assert [(v["id"], v["score"]) for v in votes] == [(first, 4)]


def test_minimum_interval_between_votes(target):
    clock = StepClock()
    store = Store(target, min_vote_interval_s=0.6, clock=clock)
    stimuli = synthetic_study(store)
    session = store.create_session("sess", "r", "s", [s.id for s in stimuli])
    for i in range(3):
        store.mark_served(session.id, stimuli[i].id, i)
    store.record_vote("r", session.id, stimuli[0].id, 3)
    clock.now += 0.59
    with pytest.raises(VoteRejected, match="Too fast"):
        store.record_vote("r", session.id, stimuli[1].id, 3)
    clock.now += 0.02  # 0.61 s after the first vote
    store.record_vote("r", session.id, stimuli[1].id, 3)
    assert _count(store) == 2
    store.mark_served(session.id, stimuli[2].id, 2)
    with pytest.raises(VoteRejected, match="Too fast"):
        store.record_quick_vote("r", "imgsha", "x.png", "srgan", "abc", "exact", 4)  # same limit for quick ratings
    assert _count(store) == 2


def test_quick_ratings_are_stored_unblinded_once(target):
    store = Store(target, 0)
    vote_id = store.record_quick_vote("q", "imgsha", "mine.png", "srgan", "f4c3", "exact", 5)
    with pytest.raises(VoteRejected, match="already rated"):
        store.record_quick_vote("q", "imgsha", "mine.png", "srgan", "f4c3", "exact", 2)
    with pytest.raises(VoteRejected, match="already rated"):  # once per (rater, image, method)
        store.record_quick_vote("q", "imgsha", "mine.png", "srgan", "other-weights", "exact", 2)
    store.record_quick_vote("q", "imgsha", "mine.png", "esrgan", "other-weights", "exact", 2)
    with pytest.raises(VoteRejected):
        store.record_quick_vote("q", "imgsha", "mine.png", "esrgan", "", "exact", 9)
    votes = store.votes()
    assert [(v["id"], v["blinded"], v["study_id"], v["score"]) for v in votes][0] == (vote_id, 0, "quick", 5)
    assert len(votes) == 2
