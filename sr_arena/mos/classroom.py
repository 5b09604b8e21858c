"""Classroom / lab studies: an owner builds a study from uploaded images, participants join by a code.

* **Building** (:func:`create_class`): the uploaded images are copied into
  ``<data dir>/classes/<study id>/images/`` and turned into stimuli by
  :func:`sr_arena.mos.study.prepare_study` (centre crop, MATLAB-bicubic LR, every chosen method
  ×4, the NN and HR anchors), exactly as for a benchmark folder. Each class is its own study id
  (``class-…``), so no other study's votes ever enter its results.
* **Calibration** (:func:`calibration_pair`): the "scored 1" and "scored 5" examples come from a
  scikit-image picture that is *not* among the uploads, so a calibration image is never a stimulus.
* **Join code** (:func:`new_code`): six characters without look-alikes (no 0/O, 1/I/L), drawn with
  :mod:`secrets`; stored in the ``classes`` table of migration 3 with the study's mode
  (``acr`` or ``battle``), state (``open``/``closed``/``archived``) and whether results are revealed.
* **Live view** (:func:`live_view`): raters, votes and per-rater progress of this study only; per
  method the MOS with its 95 % Student-t interval (ACR, as the SRGAN paper §4.1 reports) or the
  Bradley–Terry strength with its rater-bootstrap interval (battles). Below
  :data:`sr_arena.mos.stats.MIN_VOTES_PER_METHOD` ACR votes or :data:`sr_arena.mos.bradley_terry.MIN_BATTLES`
  battles a method shows :data:`sr_arena.mos.stats.TOO_FEW` instead of an interval (a t-interval of 3 scores spans
  most of the 1–5 scale). Intervals are clipped to the scale's range.
"""
from __future__ import annotations

import json
import math
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .battle_stats import bradley_terry, select_battles
from .battles import BattleStore
from .bradley_terry import MIN_BATTLES
from .stats import MIN_VOTES_PER_METHOD, shown_interval, summarize
from .storage import Store
from .study import ANCHOR_HR, ANCHOR_NN, IMAGE_SUFFIXES, StudyConfig, StudyService, centre_crop, prepare_study

MODES = ("acr", "battle")
STATES = ("open", "closed", "archived")
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
#: Calibration pictures (scikit-image's bundled data), tried in order; the first not uploaded is used.
CALIBRATION_SOURCES = ("coffee", "rocket", "chelsea")


@dataclass(frozen=True)
class ClassStudy:
    """One class: its study id, join code, mode, state and whether results are revealed."""

    study_id: str
    code: str
    title: str
    mode: str
    state: str
    revealed: bool
    created_at: float


def new_code() -> str:
    """A fresh join code such as ``K7HQ3M``."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(text: Any) -> str:
    """What a participant typed (or the ``?join=`` parameter) as a stored code: upper case, no spaces."""
    return re.sub(r"[\s-]", "", str(text or "")).upper()[:16]


def _safe_name(name: str, taken: set[str]) -> str:
    stem, suffix = Path(name).stem, Path(name).suffix.lower()
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("._") or "image"
    out, k = f"{stem}{suffix}", 1
    while out in taken:
        k += 1
        out = f"{stem}-{k}{suffix}"
    taken.add(out)
    return out


def _row(row: dict[str, Any]) -> ClassStudy:
    return ClassStudy(row["study_id"], row["code"], row["title"], row["mode"], row["state"],
                      bool(row["revealed"]), float(row["created_at"]))


_SELECT = ("SELECT c.study_id, c.code, s.title, c.mode, c.state, c.revealed, c.created_at "
           "FROM classes c JOIN studies s ON s.id = c.study_id")


def create_class(store: Store, files: Sequence[Path], title: str, methods: Sequence[str], mode: str,
                 data_root: Path, crop: int = 256, progress: Callable[[str], None] | None = None
                 ) -> tuple[ClassStudy, list[str]]:
    """Build a study from ``files`` with ``methods`` and register it as an open class; return it and notes.

    Raises ``ValueError`` (nothing registered) when no image or no method could be used.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    if len(methods) < (2 if mode == "battle" else 1):
        raise ValueError("Choose at least two methods for battles." if mode == "battle"
                         else "Choose at least one method.")
    images = [Path(f) for f in files if Path(f).suffix.lower() in IMAGE_SUFFIXES]
    if not images:
        raise ValueError("Upload at least one image (PNG, JPEG, BMP, TIFF or WebP).")
    study_id = f"class-{secrets.token_hex(5)}"
    folder = data_root / "classes" / study_id / "images"
    folder.mkdir(parents=True)
    taken: set[str] = set()
    for path in images:
        shutil.copyfile(path, folder / _safe_name(path.name, taken))
    config = StudyConfig(study_id=study_id, folder=folder, title=title.strip() or "Class study", crop=crop,
                         methods=tuple(methods), cache_root=data_root / "stimuli")
    rows, notes = prepare_study(store, config, progress)
    if len({r.method for r in rows if r.kind == "method"}) < (2 if mode == "battle" else 1):
        raise ValueError("Too few methods could run: " + "; ".join(notes or ["no usable image"]))
    calibration_pair(store, study_id, data_root, crop)
    now = store.clock()
    for _ in range(20):  # a code collision is astronomically rare; retry with a fresh one
        code = new_code()
        with store.transaction() as tx:
            if tx.all("SELECT study_id FROM classes WHERE code = ?", (code,)):
                continue
            tx.run("INSERT INTO classes (study_id, code, mode, state, revealed, created_at, updated_at) "
                   "VALUES (?, ?, ?, 'open', 0, ?, ?)", (study_id, code, mode, now, now))
        break
    found = get_class(store, study_id)
    assert found is not None
    return found, notes


def calibration_pair(store: Store, study_id: str, data_root: Path, crop: int = 256) -> tuple[Path, Path]:
    """The NN ("scored 1") and HR ("scored 5") calibration examples of a class, made once.

    They come from the first of :data:`CALIBRATION_SOURCES` whose pixels are not among the study's
    images, so no calibration picture is ever rated.
    """
    folder = data_root / "stimuli" / study_id / "calibration"
    nn_path, hr_path = folder / "nn.png", folder / "hr.png"
    if nn_path.exists() and hr_path.exists():
        return nn_path, hr_path
    from PIL import Image
    from skimage import data as skdata
    from sr_models.image_io import image_sha256
    from sr_models.imresize import hr_and_lr, nearest_upscale

    used = {s.image_sha256 for s in store.stimuli(study_id, active_only=False)}
    for name in CALIBRATION_SOURCES:
        picture = np.ascontiguousarray(getattr(skdata, name)()[..., :3])
        if image_sha256(picture) not in used:
            break
    hr, lr = hr_and_lr(centre_crop(picture, crop), 4)
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(nearest_upscale(lr, 4)).save(nn_path)
    Image.fromarray(hr).save(hr_path)
    return nn_path, hr_path


class ClassStudyService(StudyService):
    """The ACR service of a class: its stimuli were made by :func:`create_class`, so nothing is prepared."""

    def prepare(self) -> None:
        self._prepared, self.status = True, "ready"


def acr_service(store: Store, study: ClassStudy) -> StudyService:
    """Serve and score a class's ACR study (the Rate tab's :class:`StudyService`, never re-preparing)."""
    rows = store.query("SELECT source, config FROM studies WHERE id = ?", (study.study_id,))
    config = _json(rows[0]["config"]) if rows else {}
    return ClassStudyService(store, StudyConfig(
        study.study_id, Path(rows[0]["source"]) if rows else Path("."), title=study.title,
        crop=int(config.get("crop", 256)), gold_max_fail_share=float(config.get("gold_max_fail_share", 0.25))))


def get_class(store: Store, study_id: str) -> ClassStudy | None:
    """The class of a study id, or None."""
    rows = store.query(_SELECT + " WHERE c.study_id = ?", (study_id,))
    return _row(rows[0]) if rows else None


def find_class(store: Store, code: Any) -> ClassStudy | None:
    """The class a join code names (any state), or None."""
    code = normalise_code(code)
    if not code:
        return None
    rows = store.query(_SELECT + " WHERE c.code = ?", (code,))
    return _row(rows[0]) if rows else None


def classes(store: Store, include_archived: bool = False) -> list[ClassStudy]:
    """Every class, newest first."""
    where = "" if include_archived else " WHERE c.state <> 'archived'"
    return [_row(r) for r in store.query(_SELECT + where + " ORDER BY c.created_at DESC, c.study_id")]


def set_state(store: Store, study_id: str, state: str) -> ClassStudy:
    """Open, close or archive a class."""
    if state not in STATES:
        raise ValueError(f"state must be one of {STATES}, not {state!r}")
    with store.transaction() as tx:
        tx.run("UPDATE classes SET state = ?, updated_at = ? WHERE study_id = ?", (state, store.clock(), study_id))
    found = get_class(store, study_id)
    if found is None:
        raise KeyError(study_id)
    return found


def set_revealed(store: Store, study_id: str, revealed: bool = True) -> ClassStudy:
    """Show (or hide again) the per-method results and names in the owner's live view."""
    with store.transaction() as tx:
        tx.run("UPDATE classes SET revealed = ?, updated_at = ? WHERE study_id = ?",
               (int(bool(revealed)), store.clock(), study_id))
    found = get_class(store, study_id)
    if found is None:
        raise KeyError(study_id)
    return found


def reset_votes(store: Store, study_id: str) -> int:
    """Delete this class's votes, battles and sessions (e.g. after a test run); return the votes removed.

    Only rows of ``study_id`` are touched; raters (shared across studies) stay.
    """
    with store.transaction() as tx:
        n = len(tx.all("SELECT id FROM votes WHERE study_id = ?", (study_id,)))
        n += len(tx.all("SELECT id FROM battles WHERE study_id = ?", (study_id,)))
        tx.run("DELETE FROM votes WHERE study_id = ?", (study_id,))
        tx.run("DELETE FROM served WHERE session_id IN (SELECT id FROM sessions WHERE study_id = ?)", (study_id,))
        tx.run("DELETE FROM sessions WHERE study_id = ?", (study_id,))
        tx.run("DELETE FROM battles WHERE study_id = ?", (study_id,))
        tx.run("DELETE FROM battle_served WHERE session_id IN (SELECT id FROM battle_sessions WHERE study_id = ?)",
               (study_id,))
        tx.run("DELETE FROM battle_sessions WHERE study_id = ?", (study_id,))
        tx.run("UPDATE classes SET revealed = 0, updated_at = ? WHERE study_id = ?", (store.clock(), study_id))
    return n


@dataclass(frozen=True)
class MethodLive:
    """One method's line in the live view."""

    method: str
    checkpoint_sha256: str
    precision: str
    kind: str  # "method" or "anchor"
    n: int  # ACR votes, or battles the method took part in
    value: float | None  # MOS, or BT log-strength
    ci: tuple[float, float] | None  # None below the minimum: shown as stats.TOO_FEW

    @property
    def enough(self) -> bool:
        return self.ci is not None


@dataclass(frozen=True)
class LiveView:
    """What the owner's live view shows for one class."""

    study: ClassStudy
    raters: int
    finished: int
    votes: int
    expected: int  # votes if every rater who joined finished
    per_rater: tuple[tuple[int, int], ...]  # (done, total) per rater, most advanced first
    methods: tuple[MethodLive, ...]
    minimum: int  # the votes (ACR) or battles a method needs for an interval


def _acr_live(store: Store, study: ClassStudy) -> tuple[list[tuple[int, int]], int, list[MethodLive]]:
    votes = store.votes(study.study_id)
    sessions = store.query("SELECT id, rater_id, sequence FROM sessions WHERE study_id = ?", (study.study_id,))
    done: dict[str, int] = {}
    for v in votes:
        if v["blinded"]:
            done[v["rater_id"]] = done.get(v["rater_id"], 0) + 1
    per_rater = [(done.get(s["rater_id"], 0), len(_json_list(s["sequence"]))) for s in sessions]
    lines = []
    for c in summarize(votes, study.study_id).conditions:
        lines.append(MethodLive(c.method, c.checkpoint_sha256, c.precision,
                                "anchor" if c.method in (ANCHOR_NN, ANCHOR_HR) else "method", c.n_votes,
                                float(c.mos), shown_interval(c.t_low, c.t_high, c.n_votes)))
    return per_rater, sum(1 for v in votes if v["blinded"]), lines


def _battle_live(store: Store, study: ClassStudy) -> tuple[list[tuple[int, int]], int, list[MethodLive]]:
    db = BattleStore(store)
    battles = db.battles(study.study_id)
    sessions = store.query("SELECT id, rater_id, sequence FROM battle_sessions WHERE study_id = ?", (study.study_id,))
    done: dict[str, int] = {}
    for b in battles:
        done[b["session_id"]] = done.get(b["session_id"], 0) + 1
    per_rater = [(done.get(s["id"], 0), len(_json_list(s["sequence"]))) for s in sessions]
    kept, _ = select_battles(battles, study.study_id)
    meta = {}
    for b in kept:
        for side in ("left", "right"):
            meta.setdefault(b[f"{side}_method"], (b[f"{side}_checkpoint_sha256"], b[f"{side}_precision"]))
    lines = []
    if kept:
        result = bradley_terry(kept, rounds=1000)
        totals = result.battles.sum(axis=1)
        for k, method in enumerate(result.items):
            ok = totals[k] >= MIN_BATTLES and not math.isnan(result.ci_low[k])
            ckpt, precision = meta.get(method, ("", ""))
            lines.append(MethodLive(method, ckpt, precision, "method", int(round(totals[k])),
                                    float(result.log_strength[k]),
                                    (float(result.ci_low[k]), float(result.ci_high[k])) if ok else None))
    return per_rater, len(battles), lines


def _json_list(text: str) -> list[Any]:
    return list(json.loads(text))


def _json(text: str) -> dict[str, Any]:
    return dict(json.loads(text))


def live_view(store: Store, study_id: str) -> LiveView:
    """The class's raters, votes, progress and per-method results (this study's rows only)."""
    study = get_class(store, study_id)
    if study is None:
        raise KeyError(study_id)
    per_rater, n_votes, lines = (_acr_live if study.mode == "acr" else _battle_live)(store, study)
    per_rater.sort(reverse=True)
    return LiveView(study, len(per_rater), sum(1 for d, t in per_rater if t and d >= t), n_votes,
                    sum(t for _, t in per_rater), tuple(per_rater), tuple(lines),
                    MIN_VOTES_PER_METHOD if study.mode == "acr" else MIN_BATTLES)
