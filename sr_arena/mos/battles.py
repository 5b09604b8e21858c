"""Battle mode: pairwise two-alternative forced choice (2AFC), as Chatbot Arena/GenAI-Arena do.

A rater sees two anonymous methods' enlargements of the same image crop side by side and answers
*left better*, *right better*, *tie* or *both bad*; the names are revealed after the answer.

* **Schedule** (:func:`schedule`): each battle takes the pair of methods compared least so far
  (this study's earlier sessions plus this one; ties broken at random), on the image that pair has
  met least, with sides drawn at random. Every ``GOLD_EVERY``-th battle is a gold item: the
  original HR against the nearest-neighbour enlargement of the same crop; HR must win.
* **Storage**: the tables of migration 2 in :mod:`sr_arena.mos.storage`; one transaction per
  answer, which checks that the rater owns the session, the pair was served at that position and
  not answered yet, and the same minimum interval between a rater's votes as the ACR votes.
"""
from __future__ import annotations

import json
import random
import secrets
from collections import Counter, defaultdict
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Iterable, Sequence

from . import APP_VERSION
from .storage import StimulusRow, Store, VoteRejected

OUTCOMES = ("left", "right", "tie", "both_bad")
OUTCOME_LABELS = {"left": "Left is better", "right": "Right is better", "tie": "Tie", "both_bad": "Both bad"}
#: Every GOLD_EVERY-th battle (positions GOLD_EVERY-1, 2·GOLD_EVERY-1, …) is HR vs NN.
GOLD_EVERY = 8
#: Battles per rater in the app's battle session.
BATTLES_PER_RATER = 24


@dataclass(frozen=True)
class Pair:
    """One battle to show: two stimuli of the same image; ``gold`` when it is HR vs NN."""

    left: str
    right: str
    gold: bool = False


def _by_image(stimuli: Iterable[StimulusRow]) -> dict[str, dict[str, StimulusRow]]:
    """image sha256 → method (or ``nn``/``hr`` for anchors) → stimulus."""
    out: dict[str, dict[str, StimulusRow]] = defaultdict(dict)
    for s in stimuli:
        out[s.image_sha256][s.method] = s
    return out


def schedule(stimuli: Sequence[StimulusRow], n: int, rng: random.Random,
             pair_counts: Counter | None = None, gold_every: int = GOLD_EVERY) -> list[Pair]:
    """``n`` battles balancing method pairs (least-compared first) and images; gold items interleaved."""
    images = _by_image(stimuli)
    methods = sorted({s.method for s in stimuli if s.kind == "method"})
    counts: Counter = Counter(pair_counts or {})
    per_image: Counter = Counter()
    gold_images = [k for k, v in images.items() if "nn" in v and "hr" in v]
    out: list[Pair] = []
    for position in range(n):
        if gold_images and gold_every and (position + 1) % gold_every == 0:
            image = images[rng.choice(sorted(gold_images))]
            a, b = image["hr"].id, image["nn"].id
            out.append(Pair(*((a, b) if rng.random() < 0.5 else (b, a)), gold=True))
            continue
        pairs = [p for p in combinations(methods, 2)
                 if any(p[0] in v and p[1] in v for v in images.values())]
        if not pairs:
            break
        low = min(counts[p] for p in pairs)
        pair = rng.choice([p for p in pairs if counts[p] == low])
        counts[pair] += 1
        candidates = sorted(k for k, v in images.items() if pair[0] in v and pair[1] in v)
        fewest = min(per_image[(k, pair)] for k in candidates)
        image_key = rng.choice([k for k in candidates if per_image[(k, pair)] == fewest])
        per_image[(image_key, pair)] += 1
        a, b = images[image_key][pair[0]].id, images[image_key][pair[1]].id
        out.append(Pair(*((a, b) if rng.random() < 0.5 else (b, a))))
    return out


def validate_outcome(value: Any) -> str:
    """The outcome as one of :data:`OUTCOMES`, or raise :class:`VoteRejected`."""
    if not isinstance(value, str) or value not in OUTCOMES:
        raise VoteRejected(f"An answer must be one of {', '.join(OUTCOMES)}; got {str(value)[:40]!r}.")
    return value


@dataclass(frozen=True)
class BattleSession:
    """A rater's run of battles in one study."""

    id: str
    rater_id: str
    study_id: str
    sequence: tuple[Pair, ...]


class BattleStore:
    """Battle queries on a :class:`~sr_arena.mos.storage.Store` (same database, same transactions)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def session(self, rater_id: str, study_id: str) -> BattleSession | None:
        rows = self.store.query("SELECT id, rater_id, study_id, sequence FROM battle_sessions "
                                "WHERE rater_id = ? AND study_id = ?", (rater_id, study_id))
        if not rows:
            return None
        r = rows[0]
        return BattleSession(r["id"], r["rater_id"], r["study_id"],
                             tuple(Pair(*p) for p in json.loads(r["sequence"])))

    def pair_counts(self, study_id: str) -> Counter:
        """Method pairs scheduled so far in the study's sessions (unordered, sorted names)."""
        method_of = {s.id: s.method for s in self.store.stimuli(study_id, active_only=False)}
        counts: Counter = Counter()
        for row in self.store.query("SELECT sequence FROM battle_sessions WHERE study_id = ?", (study_id,)):
            for left, right, gold in json.loads(row["sequence"]):
                if not gold and left in method_of and right in method_of:
                    counts[tuple(sorted((method_of[left], method_of[right])))] += 1
        return counts

    def create_session(self, session_id: str, rater_id: str, study_id: str, sequence: Sequence[Pair]) -> BattleSession:
        """Store a new session; when one exists already (a race, a second tab) return that one."""
        self.store.ensure_rater(rater_id)
        with self.store.transaction() as tx:
            tx.run("INSERT INTO battle_sessions (id, rater_id, study_id, sequence, created_at) VALUES (?, ?, ?, ?, ?) "
                   "ON CONFLICT (rater_id, study_id) DO NOTHING",
                   (session_id, rater_id, study_id, json.dumps([[p.left, p.right, p.gold] for p in sequence]),
                    self.store.clock()))
        existing = self.session(rater_id, study_id)
        assert existing is not None
        return existing

    def mark_served(self, session_id: str, position: int, pair: Pair) -> float:
        """Record that the pair at ``position`` is shown now (again, after a reload)."""
        now = self.store.clock()
        with self.store.transaction() as tx:
            tx.run("INSERT INTO battle_served (session_id, position, left_id, right_id, shown_at) "
                   "VALUES (?, ?, ?, ?, ?) ON CONFLICT (session_id, position) DO UPDATE SET shown_at = excluded.shown_at",
                   (session_id, position, pair.left, pair.right, now))
        return now

    def answered(self, session_id: str) -> set[int]:
        """Positions of the session already answered."""
        return {r["position"] for r in self.store.query("SELECT position FROM battles WHERE session_id = ?",
                                                        (session_id,))}

    def record(self, rater_id: str, session_id: str, position: int, outcome: Any) -> int:
        """Validate and store one answer in one transaction; return its id.

        Raises :class:`VoteRejected` (nothing stored) for an unknown outcome, a session that is not
        this rater's, a position not served in it, a second answer, or an answer too soon.
        """
        outcome = validate_outcome(outcome)
        store = self.store
        now = store.clock()
        with store.transaction() as tx:
            last = store._lock_rater(tx, rater_id)
            sessions = tx.all("SELECT study_id FROM battle_sessions WHERE id = ? AND rater_id = ?",
                              (session_id, rater_id))
            if not sessions:
                raise VoteRejected("This battle session does not belong to this rater; reload the page.")
            served = tx.all("SELECT left_id, right_id, shown_at FROM battle_served WHERE session_id = ? AND position = ?",
                            (session_id, int(position)))
            if not served:
                raise VoteRejected("This pair was not shown to you in this session, so it cannot be judged.")
            if tx.all("SELECT id FROM battles WHERE session_id = ? AND position = ?", (session_id, int(position))):
                raise VoteRejected("You have already judged this pair; each pair is judged once.")
            store._check_interval(last, now)
            shown = served[0]
            side = {}
            for name in ("left", "right"):
                rows = tx.all("SELECT image_sha256, image_name, method, checkpoint_sha256, precision, kind "
                              "FROM stimuli WHERE id = ?", (shown[f"{name}_id"],))
                side[name] = rows[0]
            a, b = side["left"], side["right"]
            gold = int(a["kind"] != "method" and b["kind"] != "method")
            battle_id = tx.insert_returning_id(
                "INSERT INTO battles (rater_id, study_id, session_id, position, image_sha256, image_name, left_id, "
                "right_id, left_method, left_checkpoint_sha256, left_precision, left_kind, right_method, "
                "right_checkpoint_sha256, right_precision, right_kind, gold, outcome, shown_at, answered_at, "
                "response_ms, app_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (rater_id, sessions[0]["study_id"], session_id, int(position), a["image_sha256"], a["image_name"],
                 shown["left_id"], shown["right_id"], a["method"], a["checkpoint_sha256"], a["precision"], a["kind"],
                 b["method"], b["checkpoint_sha256"], b["precision"], b["kind"], gold, outcome, shown["shown_at"],
                 now, int(round((now - shown["shown_at"]) * 1000)), APP_VERSION))
            tx.run("UPDATE raters SET last_vote_at = ? WHERE id = ?", (now, rater_id))
        return battle_id

    def battles(self, study_id: str | None = None) -> list[dict[str, Any]]:
        """Every stored battle (of one study, or all), oldest first."""
        sql, params = "SELECT * FROM battles", ()
        if study_id is not None:
            sql, params = sql + " WHERE study_id = ?", (study_id,)
        return self.store.query(sql + " ORDER BY id", params)


def gold_passed(battle: dict[str, Any]) -> bool:
    """A gold battle is passed when the side showing the original HR was chosen."""
    hr_side = "left" if battle["left_kind"] == "anchor_hr" else "right"
    return battle["outcome"] == hr_side


def flagged_battle_raters(battles: Iterable[dict[str, Any]], max_fail_share: float) -> dict[str, tuple[int, int]]:
    """Raters failing more than ``max_fail_share`` of their gold battles: id → (failed, gold)."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for b in battles:
        if b["gold"]:
            counts[b["rater_id"]][1] += 1
            counts[b["rater_id"]][0] += 0 if gold_passed(b) else 1
    return {r: (f, n) for r, (f, n) in counts.items() if n and f / n > max_fail_share}


@dataclass(frozen=True)
class ServedPair:
    """The pair to show now: both stimuli, the position and the progress."""

    left: StimulusRow
    right: StimulusRow
    position: int
    done: int
    total: int


class BattleService:
    """What the battle UI does, independent of Gradio: start, serve, answer, reveal."""

    def __init__(self, store: Store, study_id: str, battles_per_rater: int = BATTLES_PER_RATER) -> None:
        self.store, self.study_id, self.n = store, study_id, battles_per_rater
        self.db = BattleStore(store)

    def session(self, rater_id: str) -> BattleSession:
        """The rater's battle session, scheduled on first use."""
        self.store.ensure_rater(rater_id)
        existing = self.db.session(rater_id, self.study_id)
        if existing is not None:
            return existing
        stimuli = self.store.stimuli(self.study_id)
        sequence = schedule(stimuli, self.n, random.Random(secrets.randbits(64)), self.db.pair_counts(self.study_id))
        return self.db.create_session(secrets.token_hex(12), rater_id, self.study_id, sequence)

    def next(self, rater_id: str) -> ServedPair | None:
        """Serve the rater's next unanswered pair (recorded as shown now), or None when done."""
        session = self.session(rater_id)
        answered = self.db.answered(session.id)
        for position, pair in enumerate(session.sequence):
            if position not in answered:
                left, right = self.store.stimulus(pair.left), self.store.stimulus(pair.right)
                if left is None or right is None:
                    raise VoteRejected("A stimulus of this battle vanished from the database.")
                self.db.mark_served(session.id, position, pair)
                return ServedPair(left, right, position, len(answered), len(session.sequence))
        return None

    def vote(self, rater_id: str, position: int, outcome: Any) -> int:
        """Store the rater's answer for the pair served at ``position``."""
        session = self.db.session(rater_id, self.study_id)
        if session is None:
            raise VoteRejected("No battle session for this rater; reload the page to start.")
        return self.db.record(rater_id, session.id, position, outcome)
