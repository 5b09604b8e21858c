"""Battle votes in the real stores (SQLite WAL and a real PostgreSQL server): 20 concurrent
writers × 50 battles, SIGKILL mid-stream, the integrity checks, and the battle service."""
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

from mos_support import StepClock, synthetic_study
from sr_arena.mos.battles import BattleService, BattleStore, Pair, gold_passed
from sr_arena.mos.storage import Store, VoteRejected

REPO = Path(__file__).resolve().parents[1]
OUTCOMES = ("left", "right", "tie", "both_bad")




def _pairs(stimuli, n):
    """``n`` distinct method pairs of the same image (synthetic study: 10 images × 5 stimuli)."""
    by_image = {}
    for s in stimuli:
        by_image.setdefault(s.image_sha256, []).append(s.id)
    out = []
    for ids in by_image.values():
        for a in range(len(ids)):
            for b in range(a + 1, len(ids)):
                out.append(Pair(ids[a], ids[b]))
    return out[:n]


def test_migration_creates_the_battle_tables(target):
    store = Store(target, 0)
    assert store.schema_version() >= 2
    assert store.query("SELECT COUNT(*) AS n FROM battles")[0]["n"] == 0


def test_twenty_concurrent_writers_store_exactly_1000_battles(target):
    store = Store(target, min_vote_interval_s=0)
    pairs = _pairs(synthetic_study(store, n_images=10), 50)
    assert len(pairs) == 50
    errors: list[BaseException] = []
    barrier = threading.Barrier(20)

    def writer(w: int) -> None:
        try:
            mine = BattleStore(Store(target, min_vote_interval_s=0))  # like a separate replica
            rater = f"rater-{w:02d}"
            session = mine.create_session(f"bsess-{w:02d}", rater, "s", pairs)
            barrier.wait()
            for position, pair in enumerate(session.sequence):
                mine.mark_served(session.id, position, pair)
                mine.record(rater, session.id, position, OUTCOMES[(w + position) % 4])
            mine.store.close()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors[:3]
    battles = BattleStore(store).battles("s")
    assert len(battles) == 1000 == store.query("SELECT COUNT(*) AS n FROM battles")[0]["n"]
    assert len({(b["rater_id"], b["position"]) for b in battles}) == 1000
    for b in battles:
        w = int(b["rater_id"].split("-")[1])
        assert b["outcome"] == OUTCOMES[(w + b["position"]) % 4]
        assert (b["left_id"], b["right_id"]) == (pairs[b["position"]].left, pairs[b["position"]].right)
        assert b["left_method"] == b["left_id"].split("-")[-1] and b["response_ms"] >= 0


WRITER = textwrap.dedent("""
    import sys
    from sr_arena.mos.battles import BattleStore, Pair
    from sr_arena.mos.storage import Store
    db = BattleStore(Store(sys.argv[1], min_vote_interval_s=0))
    ids = [row["id"] for row in db.store.query("SELECT id FROM stimuli ORDER BY id")]
    pairs = [Pair(ids[i], ids[i + 1]) for i in range(0, len(ids) - 1, 2)]
    session = db.create_session("crash-session", "crash-rater", "s", pairs)
    print("READY", flush=True)
    for position, pair in enumerate(session.sequence):
        db.mark_served(session.id, position, pair)
        battle_id = db.record("crash-rater", session.id, position, ("left", "right", "tie", "both_bad")[position % 4])
        print("ACK", battle_id, position, flush=True)  # acknowledged only after COMMIT returned
    print("DONE", flush=True)
""")


def test_sigkill_mid_stream_loses_no_acknowledged_battle(target):
    store = Store(target, 0)
    synthetic_study(store, n_images=400, methods=("bicubic", "srgan"))  # 400 pairs
    proc = subprocess.Popen([sys.executable, "-c", WRITER, target], stdout=subprocess.PIPE, text=True,
                            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    acked: dict[int, int] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("ACK"):
            _, battle_id, position = line.split()
            acked[int(battle_id)] = int(position)
            if len(acked) == 60:
                os.kill(proc.pid, signal.SIGKILL)
                break
    rest = proc.stdout.read()
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL and "DONE" not in rest
    for line in rest.splitlines():
        if line.startswith("ACK"):
            _, battle_id, position = line.split()
            acked[int(battle_id)] = int(position)
    stored = {b["id"]: b for b in BattleStore(Store(target, 0)).battles("s")}
    assert len(acked) >= 60
    assert all(i in stored and stored[i]["position"] == p and
               stored[i]["outcome"] == ("left", "right", "tie", "both_bad")[p % 4] for i, p in acked.items())
    assert len(stored) - len(acked) <= 1 and len(stored) < 400
    if store.dialect == "sqlite":
        with sqlite3.connect(target) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_battle_answers_are_checked_before_anything_is_stored(target):
    clock = StepClock()
    store = Store(target, min_vote_interval_s=1.0, clock=clock)
    pairs = _pairs(synthetic_study(store), 4)
    db = BattleStore(store)
    mine = db.create_session("bs-a", "rater-a", "s", pairs)
    other = db.create_session("bs-b", "rater-b", "s", pairs)
    db.mark_served(mine.id, 0, pairs[0])
    db.mark_served(other.id, 1, pairs[1])
    for bad in ("LEFT", "", None, 1, "draw"):
        with pytest.raises(VoteRejected, match="must be one of"):
            db.record("rater-a", mine.id, 0, bad)
    with pytest.raises(VoteRejected, match="does not belong"):
        db.record("rater-a", other.id, 1, "left")  # someone else's session: the ownership check
    with pytest.raises(VoteRejected, match="not shown to you"):
        db.record("rater-a", mine.id, 1, "left")
    with pytest.raises(VoteRejected, match="Unknown rater"):
        db.record("nobody", mine.id, 0, "left")
    assert db.battles() == []
    db.record("rater-a", mine.id, 0, "tie")
    with pytest.raises(VoteRejected, match="already judged"):
        db.record("rater-a", mine.id, 0, "left")  # replay
    db.mark_served(mine.id, 1, pairs[1])
    clock.now += 0.5
    with pytest.raises(VoteRejected, match="Too fast"):
        db.record("rater-a", mine.id, 1, "left")
    clock.now += 0.6
    db.record("rater-a", mine.id, 1, "both_bad")
    assert [(b["position"], b["outcome"]) for b in db.battles("s")] == [(0, "tie"), (1, "both_bad")]
    assert db.create_session("bs-a2", "rater-a", "s", pairs[::-1]).id == "bs-a"  # second tab: same session


def test_battle_service_serves_gold_and_resumes(tmp_path):
    store = Store(tmp_path / "db.sqlite3", 0)
    synthetic_study(store, n_images=3)
    service = BattleService(store, "s", battles_per_rater=16)
    seen, answered = [], 0
    while (served := service.next("rater-x")) is not None:
        assert served.left.image_sha256 == served.right.image_sha256 and served.left.id != served.right.id
        again = service.next("rater-x")  # a reload serves the same pair again
        assert (again.position, again.left.id) == (served.position, served.left.id)
        hr_left = served.left.kind == "anchor_hr"
        service.vote("rater-x", served.position, "left" if hr_left else "right")
        seen.append((served.left.kind, served.right.kind))
        answered += 1
    assert answered == 16 and served is None
    gold = [b for b in BattleStore(store).battles("s") if b["gold"]]
    assert len(gold) == 2 and all(gold_passed(b) for b in gold)
    assert sum(1 for k in seen if "method" in k) == 14
    with pytest.raises(VoteRejected, match="No battle session"):
        service.vote("rater-y", 0, "left")
