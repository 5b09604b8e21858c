"""Durable storage for MOS studies: one schema, SQLite by default, PostgreSQL when configured.

``open_store()`` picks the backend: PostgreSQL when ``DATABASE_URL`` is set (psycopg 3), else a
SQLite file (``SR_ARENA_DB``, else ``sr_arena.sqlite3`` under ``SR_ARENA_DATA_DIR``, else under
``/data`` when it exists, as on a Space with persistent storage, else under ``data/`` in the repository). SQLite runs
in WAL mode with ``synchronous=FULL``; every vote is one transaction that checks and writes.

The schema is created by numbered migrations recorded in ``schema_version``; applying them
is serialised (SQLite write lock, PostgreSQL advisory lock) so replicas may start together.
SQL is written once with ``?`` placeholders; the PostgreSQL adapter rewrites them to ``%s``.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from .. import settings
from . import APP_VERSION

DB_FILE_NAME = "sr_arena.sqlite3"
QUICK_STUDY_ID = "quick"
SCORE_LABELS = {1: "Bad", 2: "Poor", 3: "Fair", 4: "Good", 5: "Excellent"}

#: Column types that differ between the two dialects.
_TYPES = {
    "sqlite": {"ID": "INTEGER PRIMARY KEY AUTOINCREMENT", "REAL": "REAL"},
    "postgresql": {"ID": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "REAL": "DOUBLE PRECISION"},
}

#: Numbered migrations. Never edit a released one: append a new version instead.
MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (1, "studies, stimuli, raters, sessions, served stimuli, votes", (
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE studies (
            id TEXT PRIMARY KEY, title TEXT NOT NULL, source TEXT NOT NULL,
            config TEXT NOT NULL, created_at {REAL} NOT NULL)""",
        """CREATE TABLE stimuli (
            id TEXT PRIMARY KEY, study_id TEXT NOT NULL REFERENCES studies(id),
            image_sha256 TEXT NOT NULL, image_name TEXT NOT NULL, method TEXT NOT NULL,
            checkpoint_sha256 TEXT NOT NULL, precision TEXT NOT NULL, kind TEXT NOT NULL,
            file TEXT NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL,
            active INTEGER NOT NULL DEFAULT 1, created_at {REAL} NOT NULL)""",
        "CREATE INDEX stimuli_study ON stimuli (study_id, active)",
        "CREATE TABLE raters (id TEXT PRIMARY KEY, created_at {REAL} NOT NULL, last_vote_at {REAL})",
        """CREATE TABLE sessions (
            id TEXT PRIMARY KEY, rater_id TEXT NOT NULL REFERENCES raters(id),
            study_id TEXT NOT NULL REFERENCES studies(id), sequence TEXT NOT NULL,
            created_at {REAL} NOT NULL, UNIQUE (rater_id, study_id))""",
        """CREATE TABLE served (
            session_id TEXT NOT NULL REFERENCES sessions(id), stimulus_id TEXT NOT NULL REFERENCES stimuli(id),
            position INTEGER NOT NULL, shown_at {REAL} NOT NULL, PRIMARY KEY (session_id, stimulus_id))""",
        """CREATE TABLE votes (
            id {ID}, rater_id TEXT NOT NULL REFERENCES raters(id), study_id TEXT NOT NULL,
            session_id TEXT, stimulus_id TEXT, image_sha256 TEXT NOT NULL, image_name TEXT NOT NULL,
            method TEXT NOT NULL, checkpoint_sha256 TEXT NOT NULL, precision TEXT NOT NULL, kind TEXT NOT NULL,
            score INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
            shown_at {REAL}, answered_at {REAL} NOT NULL, response_ms INTEGER, position INTEGER,
            blinded INTEGER NOT NULL, retest INTEGER NOT NULL DEFAULT 0, app_version TEXT NOT NULL)""",
        "CREATE UNIQUE INDEX votes_one_per_stimulus ON votes (rater_id, stimulus_id) WHERE blinded = 1 AND retest = 0",
        """CREATE UNIQUE INDEX votes_one_quick ON votes
            (rater_id, image_sha256, method, checkpoint_sha256, precision) WHERE blinded = 0""",
        "CREATE INDEX votes_study ON votes (study_id)",
    )),
    (2, "battles: pairwise (2AFC) sessions, served pairs, battle votes (sr_arena/mos/battles.py)", (
        """CREATE TABLE battle_sessions (
            id TEXT PRIMARY KEY, rater_id TEXT NOT NULL REFERENCES raters(id),
            study_id TEXT NOT NULL REFERENCES studies(id), sequence TEXT NOT NULL,
            created_at {REAL} NOT NULL, UNIQUE (rater_id, study_id))""",
        """CREATE TABLE battle_served (
            session_id TEXT NOT NULL REFERENCES battle_sessions(id), position INTEGER NOT NULL,
            left_id TEXT NOT NULL REFERENCES stimuli(id), right_id TEXT NOT NULL REFERENCES stimuli(id),
            shown_at {REAL} NOT NULL, PRIMARY KEY (session_id, position))""",
        """CREATE TABLE battles (
            id {ID}, rater_id TEXT NOT NULL REFERENCES raters(id), study_id TEXT NOT NULL,
            session_id TEXT NOT NULL, position INTEGER NOT NULL, image_sha256 TEXT NOT NULL,
            image_name TEXT NOT NULL, left_id TEXT NOT NULL, right_id TEXT NOT NULL,
            left_method TEXT NOT NULL, left_checkpoint_sha256 TEXT NOT NULL, left_precision TEXT NOT NULL,
            left_kind TEXT NOT NULL, right_method TEXT NOT NULL, right_checkpoint_sha256 TEXT NOT NULL,
            right_precision TEXT NOT NULL, right_kind TEXT NOT NULL, gold INTEGER NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('left', 'right', 'tie', 'both_bad')),
            shown_at {REAL}, answered_at {REAL} NOT NULL, response_ms INTEGER, app_version TEXT NOT NULL,
            UNIQUE (session_id, position))""",
        "CREATE INDEX battles_study ON battles (study_id)",
    )),
    (3, "classes: an owner's study with a join code, its state and reveal (sr_arena/mos/classroom.py)", (
        """CREATE TABLE classes (
            study_id TEXT PRIMARY KEY REFERENCES studies(id), code TEXT NOT NULL UNIQUE,
            mode TEXT NOT NULL CHECK (mode IN ('acr', 'battle')),
            state TEXT NOT NULL CHECK (state IN ('open', 'closed', 'archived')),
            revealed INTEGER NOT NULL DEFAULT 0, created_at {REAL} NOT NULL, updated_at {REAL} NOT NULL)""",
    )),
    (4, "raters: the keyed hash of the client that started each (new-rater limit, sr_arena/mos/identity.py)", (
        "ALTER TABLE raters ADD COLUMN client TEXT",
        "CREATE INDEX raters_client ON raters (client, created_at)",
    )),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


class VoteRejected(ValueError):
    """A vote that must not be stored; the message says why, in words for the rater."""


@dataclass(frozen=True)
class StimulusRow:
    """One image a rater can be shown: an enlargement (or an anchor) of one study image."""

    id: str
    study_id: str
    image_sha256: str
    image_name: str
    method: str
    checkpoint_sha256: str  # "" when no weights produced it (bicubic, anchors)
    precision: str  # "exact"/"fast" for methods; "-" for anchors
    kind: str  # "method", "anchor_nn" or "anchor_hr"
    file: str
    width: int
    height: int


@dataclass(frozen=True)
class SessionRow:
    """A rater's run through one study: the randomised order they see stimuli in."""

    id: str
    rater_id: str
    study_id: str
    sequence: tuple[str, ...]


def validate_score(value: Any) -> int:
    """The score as an int 1–5, or raise :class:`VoteRejected` saying what is wrong."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise VoteRejected(f"A score must be a whole number from 1 to 5; got {value!r}.")
    if isinstance(value, str):
        text = value.strip()
        if not text.lstrip("-").isdigit():
            raise VoteRejected(f"A score must be a whole number from 1 to 5; got {value!r}.")
        value = int(text)
    if isinstance(value, float):
        if not value.is_integer():
            raise VoteRejected(f"A score must be a whole number from 1 to 5; got {value!r}.")
        value = int(value)
    if not 1 <= value <= 5:
        raise VoteRejected(f"A score must be from 1 (Bad) to 5 (Excellent); got {value}.")
    return value


def data_dir() -> Path:
    """Where studies keep files (:attr:`sr_arena.settings.Settings.data_dir`)."""
    return settings.current().data_dir


def default_sqlite_path() -> Path:
    """``SR_ARENA_DB``, else ``sr_arena.sqlite3`` in :func:`data_dir`."""
    return settings.current().db_path or data_dir() / DB_FILE_NAME


class Store:
    """The study database. Thread-safe: each thread gets its own connection."""

    def __init__(self, target: str | Path, min_vote_interval_s: float = 1.0,
                 clock: Callable[[], float] = time.time) -> None:
        """``clock`` gives the vote times (seconds since the epoch); tests pass a controllable one."""
        target = str(target)
        self.clock = clock
        self.dialect = "postgresql" if target.startswith(("postgres://", "postgresql://")) else "sqlite"
        self.target = target
        self.min_vote_interval_s = float(min_vote_interval_s)
        self._local = threading.local()
        if self.dialect == "sqlite":
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        self.migrate()

    def __repr__(self) -> str:
        where = self.target.split("@")[-1] if self.dialect == "postgresql" else self.target
        return f"Store({self.dialect}: {where})"

    # -- connections and transactions -------------------------------------------------

    def _connect(self) -> Any:
        if self.dialect == "sqlite":
            conn = sqlite3.connect(self.target, timeout=60.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=60000")
            return conn
        import psycopg

        return psycopg.connect(self.target, autocommit=True, connect_timeout=10)

    def _connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self.dialect == "postgresql" and conn.closed:
            conn = None
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextmanager
    def transaction(self) -> Iterator["_Tx"]:
        """One write transaction (SQLite: ``BEGIN IMMEDIATE``); commits on success, else rolls back."""
        conn = self._connection()
        if self.dialect == "sqlite":
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield _Tx(conn, self.dialect)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        else:
            with conn.transaction():
                yield _Tx(conn, self.dialect)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a read-only statement outside any explicit transaction; rows as dicts."""
        return _Tx(self._connection(), self.dialect).all(sql, params)

    # -- schema --------------------------------------------------------------------------

    def migrate(self) -> int:
        """Apply missing migrations; return the schema version now in place."""
        with self.transaction() as tx:
            if self.dialect == "postgresql":
                tx.run("SELECT pg_advisory_xact_lock(715517)")
            tx.run(f"CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                   f"description TEXT NOT NULL, applied_at {_TYPES[self.dialect]['REAL']} NOT NULL)")
            done = {row["version"] for row in tx.all("SELECT version FROM schema_version")}
            for version, description, statements in MIGRATIONS:
                if version in done:
                    continue
                for statement in statements:
                    tx.run(statement.format(**_TYPES[self.dialect]))
                tx.run("INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                       (version, description, self.clock()))
        return self.schema_version()

    def schema_version(self) -> int:
        """The highest applied migration."""
        return int(self.query("SELECT MAX(version) AS v FROM schema_version")[0]["v"] or 0)

    # -- meta, studies, stimuli ----------------------------------------------------------

    def meta(self, key: str, default: str) -> str:
        """A stored setting; ``default`` is stored (once, by whichever replica wins) when absent."""
        with self.transaction() as tx:
            tx.run("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", (key, default))
            return tx.all("SELECT value FROM meta WHERE key = ?", (key,))[0]["value"]

    def save_study(self, study_id: str, title: str, source: str, config: dict[str, Any],
                   stimuli: Sequence[StimulusRow]) -> None:
        """Create or update a study and make ``stimuli`` its active set (older ones stay, inactive)."""
        now = self.clock()
        with self.transaction() as tx:
            tx.run("INSERT INTO studies (id, title, source, config, created_at) VALUES (?, ?, ?, ?, ?) "
                   "ON CONFLICT (id) DO UPDATE SET title = excluded.title, source = excluded.source, "
                   "config = excluded.config", (study_id, title, source, json.dumps(config, sort_keys=True), now))
            tx.run("UPDATE stimuli SET active = 0 WHERE study_id = ?", (study_id,))
            for s in stimuli:
                tx.run("INSERT INTO stimuli (id, study_id, image_sha256, image_name, method, checkpoint_sha256, "
                       "precision, kind, file, width, height, active, created_at) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?) "
                       "ON CONFLICT (id) DO UPDATE SET active = 1, file = excluded.file",
                       (s.id, study_id, s.image_sha256, s.image_name, s.method, s.checkpoint_sha256,
                        s.precision, s.kind, s.file, s.width, s.height, now))

    def studies(self) -> list[dict[str, Any]]:
        """Every study, newest first."""
        return self.query("SELECT id, title, source, config, created_at FROM studies ORDER BY created_at DESC")

    def stimuli(self, study_id: str, active_only: bool = True) -> list[StimulusRow]:
        """The study's stimuli (its current set unless ``active_only`` is false)."""
        sql = ("SELECT id, study_id, image_sha256, image_name, method, checkpoint_sha256, precision, kind, "
               "file, width, height FROM stimuli WHERE study_id = ?")
        if active_only:
            sql += " AND active = 1"
        return [StimulusRow(**row) for row in self.query(sql + " ORDER BY id", (study_id,))]

    def stimulus(self, stimulus_id: str) -> StimulusRow | None:
        """One stimulus by id, or None."""
        rows = self.query("SELECT id, study_id, image_sha256, image_name, method, checkpoint_sha256, precision, "
                          "kind, file, width, height FROM stimuli WHERE id = ?", (stimulus_id,))
        return StimulusRow(**rows[0]) if rows else None

    # -- raters and sessions -------------------------------------------------------------

    def ensure_rater(self, rater_id: str) -> None:
        """Register an anonymous rater id (idempotent)."""
        if not rater_id or len(rater_id) > 64:
            raise VoteRejected("Missing or malformed rater id.")
        with self.transaction() as tx:
            tx.run("INSERT INTO raters (id, created_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
                   (rater_id, self.clock()))

    def rater_exists(self, rater_id: str) -> bool:
        """Whether the rater was registered."""
        return bool(self.query("SELECT 1 AS one FROM raters WHERE id = ?", (rater_id,)))

    def create_rater(self, rater_id: str, client: str, limit: int, window_s: float) -> None:
        """Register a new rater started by ``client`` (a keyed hash of its address), unless that client
        started ``limit`` raters in the last ``window_s`` seconds (:class:`VoteRejected`); the count and
        the insert are one transaction, serialised per client."""
        now = self.clock()
        with self.transaction() as tx:
            if self.dialect == "postgresql":
                tx.run("SELECT pg_advisory_xact_lock(715518, hashtext(?))", (client,))
            recent = tx.all("SELECT COUNT(*) AS n FROM raters WHERE client = ? AND created_at > ?",
                            (client, now - window_s))[0]["n"]
            if recent >= limit:
                raise VoteRejected("Too many new raters from your network just now; please try again later.")
            tx.run("INSERT INTO raters (id, created_at, client) VALUES (?, ?, ?)", (rater_id, now, client))

    def session(self, rater_id: str, study_id: str) -> SessionRow | None:
        """The rater's session in a study, or None."""
        rows = self.query("SELECT id, rater_id, study_id, sequence FROM sessions WHERE rater_id = ? AND study_id = ?",
                          (rater_id, study_id))
        if not rows:
            return None
        row = rows[0]
        return SessionRow(row["id"], row["rater_id"], row["study_id"], tuple(json.loads(row["sequence"])))

    def create_session(self, session_id: str, rater_id: str, study_id: str, sequence: Sequence[str]) -> SessionRow:
        """Store a new session; when one already exists (a race, a second tab) return that one."""
        self.ensure_rater(rater_id)
        with self.transaction() as tx:
            tx.run("INSERT INTO sessions (id, rater_id, study_id, sequence, created_at) VALUES (?, ?, ?, ?, ?) "
                   "ON CONFLICT (rater_id, study_id) DO NOTHING",
                   (session_id, rater_id, study_id, json.dumps(list(sequence)), self.clock()))
        existing = self.session(rater_id, study_id)
        assert existing is not None
        return existing

    def mark_served(self, session_id: str, stimulus_id: str, position: int) -> float:
        """Record that a stimulus is being shown now (again, after a reload); return the time."""
        now = self.clock()
        with self.transaction() as tx:
            tx.run("INSERT INTO served (session_id, stimulus_id, position, shown_at) VALUES (?, ?, ?, ?) "
                   "ON CONFLICT (session_id, stimulus_id) DO UPDATE SET shown_at = excluded.shown_at",
                   (session_id, stimulus_id, position, now))
        return now

    def voted_stimuli(self, rater_id: str, study_id: str) -> set[str]:
        """Stimulus ids this rater has already scored in this study (blinded votes)."""
        rows = self.query("SELECT stimulus_id FROM votes WHERE rater_id = ? AND study_id = ? AND blinded = 1",
                          (rater_id, study_id))
        return {row["stimulus_id"] for row in rows}

    # -- votes ---------------------------------------------------------------------------

    def record_vote(self, rater_id: str, session_id: str, stimulus_id: str, score: Any) -> int:
        """Validate and store one blinded study vote in one transaction; return its id.

        Raises :class:`VoteRejected` (nothing stored) for a score that is not an integer 1–5,
        an unknown session or stimulus, a stimulus not served to this rater in this session,
        a second vote for the same stimulus, or a vote sooner than the minimum interval.
        """
        score = validate_score(score)
        now = self.clock()
        with self.transaction() as tx:
            last = self._lock_rater(tx, rater_id)
            sessions = tx.all("SELECT study_id FROM sessions WHERE id = ? AND rater_id = ?", (session_id, rater_id))
            if not sessions:
                raise VoteRejected("This study session does not belong to this rater; reload the page.")
            study_id = sessions[0]["study_id"]
            stimuli = tx.all("SELECT image_sha256, image_name, method, checkpoint_sha256, precision, kind "
                             "FROM stimuli WHERE id = ? AND study_id = ?", (stimulus_id, study_id))
            if not stimuli:
                raise VoteRejected(f"Unknown stimulus {str(stimulus_id)[:40]!r} in this study.")
            served = tx.all("SELECT position, shown_at FROM served WHERE session_id = ? AND stimulus_id = ?",
                            (session_id, stimulus_id))
            if not served:
                raise VoteRejected("This image was not shown to you in this session, so it cannot be scored.")
            if tx.all("SELECT id FROM votes WHERE rater_id = ? AND stimulus_id = ? AND blinded = 1 AND retest = 0",
                      (rater_id, stimulus_id)):
                raise VoteRejected("You have already scored this image; each image is scored once.")
            self._check_interval(last, now)
            s, shown = stimuli[0], served[0]
            vote_id = tx.insert_returning_id(
                "INSERT INTO votes (rater_id, study_id, session_id, stimulus_id, image_sha256, image_name, method, "
                "checkpoint_sha256, precision, kind, score, shown_at, answered_at, response_ms, position, blinded, "
                "retest, app_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 0, ?)",
                (rater_id, study_id, session_id, stimulus_id, s["image_sha256"], s["image_name"], s["method"],
                 s["checkpoint_sha256"], s["precision"], s["kind"], score, shown["shown_at"], now,
                 int(round((now - shown["shown_at"]) * 1000)), shown["position"], APP_VERSION))
            tx.run("UPDATE raters SET last_vote_at = ? WHERE id = ?", (now, rater_id))
        return vote_id

    def record_quick_vote(self, rater_id: str, image_sha256: str, image_name: str, method: str,
                          checkpoint_sha256: str, precision: str, score: Any) -> int:
        """Store an unblinded rating from the Compare tab (the rater saw the method's name).

        Once per rater, image and method (whatever the weights or precision: a rater's opinion of a
        method on an image counts once); kept out of study analyses by default.
        """
        score = validate_score(score)
        now = self.clock()
        self.ensure_rater(rater_id)
        with self.transaction() as tx:
            last = self._lock_rater(tx, rater_id)
            if tx.all("SELECT id FROM votes WHERE rater_id = ? AND image_sha256 = ? AND method = ? AND blinded = 0",
                      (rater_id, image_sha256, method)):
                raise VoteRejected("You have already rated this method on this image.")
            self._check_interval(last, now)
            vote_id = tx.insert_returning_id(
                "INSERT INTO votes (rater_id, study_id, session_id, stimulus_id, image_sha256, image_name, method, "
                "checkpoint_sha256, precision, kind, score, shown_at, answered_at, response_ms, position, blinded, "
                "retest, app_version) VALUES (?, ?, NULL, NULL, ?, ?, ?, ?, ?, 'method', ?, NULL, ?, NULL, NULL, "
                "0, 0, ?)",
                (rater_id, QUICK_STUDY_ID, image_sha256, image_name, method, checkpoint_sha256, precision, score,
                 now, APP_VERSION))
            tx.run("UPDATE raters SET last_vote_at = ? WHERE id = ?", (now, rater_id))
        return vote_id

    def _lock_rater(self, tx: "_Tx", rater_id: str) -> float | None:
        """Lock the rater's row for this transaction (serialises their votes); their last vote time."""
        lock = " FOR UPDATE" if self.dialect == "postgresql" else ""
        rows = tx.all(f"SELECT last_vote_at FROM raters WHERE id = ?{lock}", (rater_id,))
        if not rows:
            raise VoteRejected("Unknown rater; reload the page to start.")
        return rows[0]["last_vote_at"]

    def _check_interval(self, last: float | None, now: float) -> None:
        if last is not None and now - last < self.min_vote_interval_s:
            raise VoteRejected(f"Too fast: please look at each image for at least "
                               f"{self.min_vote_interval_s:g} s before scoring it.")

    def votes(self, study_id: str | None = None) -> list[dict[str, Any]]:
        """Every stored vote (of one study, or all), oldest first, as dicts."""
        sql = "SELECT * FROM votes"
        params: tuple[Any, ...] = ()
        if study_id is not None:
            sql, params = sql + " WHERE study_id = ?", (study_id,)
        return self.query(sql + " ORDER BY id", params)


class _Tx:
    """A thin cursor wrapper: ``?`` placeholders on both dialects, rows as dicts."""

    def __init__(self, conn: Any, dialect: str) -> None:
        self.conn, self.dialect = conn, dialect

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgresql" else sql

    def run(self, sql: str, params: Sequence[Any] = ()) -> None:
        cursor = self.conn.execute(self._sql(sql), tuple(params))
        cursor.close()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cursor = self.conn.execute(self._sql(sql), tuple(params))
        try:
            if cursor.description is None:
                return []
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def insert_returning_id(self, sql: str, params: Sequence[Any]) -> int:
        return int(self.all(sql + " RETURNING id", params)[0]["id"])


def open_store(min_vote_interval_s: float | None = None) -> Store:
    """The configured store: ``DATABASE_URL`` (PostgreSQL) or the SQLite file.

    ``SR_ARENA_MIN_VOTE_INTERVAL`` (seconds, default 1) sets the minimum time between a rater's votes.
    """
    if min_vote_interval_s is None:
        min_vote_interval_s = settings.current().min_vote_interval_s
    url = settings.current().database_url
    return Store(url if url else default_sqlite_path(), min_vote_interval_s=min_vote_interval_s)


def stimulus_dict(row: StimulusRow) -> dict[str, Any]:
    """A stimulus as a plain dict (for JSON)."""
    return asdict(row)
