"""A MOS study: the stimuli (every method's ×4 output plus two hidden anchors), each rater's
randomised order, serving and scoring, and the rater's own summary.

For every HR image of the study folder: crop the centre to at most ``crop``×``crop`` pixels,
``modcrop`` it, make the LR input with MATLAB bicubic ``bicubic_downscale``, enlarge it with
every available method, and add the anchors the SRGAN paper calibrated with: the LR enlarged by
nearest neighbour (``np.repeat``) and the original HR. Outputs are cached as PNG files named by
an opaque stimulus id (nothing in a URL tells the method) under ``<data dir>/stimuli/<study>/``.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import secrets
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
from PIL import Image

from .. import settings
from .storage import SessionRow, StimulusRow, Store, VoteRejected, data_dir

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
ANCHOR_NN, ANCHOR_HR = "nn", "hr"
ANCHOR_KINDS = {ANCHOR_NN: "anchor_nn", ANCHOR_HR: "anchor_hr"}
#: Gold items: a rater "fails" an HR anchor scored below 4 or an NN anchor scored above 2.
GOLD_HR_MIN, GOLD_NN_MAX = 4, 2


@dataclass(frozen=True)
class StudyConfig:
    """What the host configures for a study."""

    study_id: str
    folder: Path
    title: str = "SR Arena MOS study"
    crop: int = 256  # HR images are centre-cropped to at most crop×crop pixels
    min_side: int = 128  # smaller images (e.g. LR examples meant for the Compare tab) are left out
    scale: int = 4
    precision: str = "fast"
    methods: tuple[str, ...] | None = None  # None: every method in the registry
    gold_max_fail_share: float = 0.25  # raters failing more than this share of gold items are flagged
    cache_root: Path = field(default_factory=lambda: data_dir() / "stimuli")


def config_from_env() -> StudyConfig:
    """The study configured by environment variables (defaults: the app's ``examples/``).

    ``SR_ARENA_STUDY_DIR`` (folder of HR images), ``SR_ARENA_STUDY_ID``, ``SR_ARENA_STUDY_CROP``,
    ``SR_ARENA_STUDY_METHODS`` (comma-separated ids), ``SR_ARENA_GOLD_MAX_FAIL`` (share, 0–1).
    """
    config = settings.current()
    return StudyConfig(
        study_id=config.study_id or config.study_dir.resolve().name,
        folder=config.study_dir,
        crop=config.study_crop,
        methods=config.study_methods,
        gold_max_fail_share=config.gold_max_fail_share,
    )


def study_images(folder: Path) -> list[Path]:
    """The HR images of a study folder, sorted by name."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def centre_crop(image: np.ndarray, size: int) -> np.ndarray:
    """The central ``size``×``size`` region (or less, along a shorter side)."""
    h, w = image.shape[:2]
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return image[top: top + size, left: left + size]


def _stimulus_id(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:24]


def _write_png(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}.png")
    Image.fromarray(image).save(tmp)
    os.replace(tmp, path)


def prepare_study(store: Store, config: StudyConfig,
                  progress: Callable[[str], None] | None = None) -> tuple[list[StimulusRow], list[str]]:
    """Precompute (or reuse from the cache) every stimulus and save the study; return it and notes.

    Unavailable methods are skipped; each one gives a note saying why.
    """
    from sr_models.image_io import ImageReadError, image_sha256, read_checked
    from sr_models.imresize import hr_and_lr, nearest_upscale
    from sr_models.inference import upscale_with_info
    from sr_models.loader import ModelUnavailableError, load_model
    from sr_models.registry import CARDS

    say = progress or (lambda message: None)
    cache = config.cache_root / config.study_id
    method_ids = list(config.methods or CARDS)
    models, notes = {}, []
    for method in method_ids:
        try:
            models[method] = load_model(method)
        except ModelUnavailableError as error:
            notes.append(f"{method} skipped: {error.reason}")
        except KeyError:
            notes.append(f"{method} skipped: no such method")
    rows: list[StimulusRow] = []
    images = study_images(config.folder)
    for number, path in enumerate(images, 1):
        try:  # the same validator as every Compare input
            source, _ = read_checked(path)
        except ImageReadError as error:
            notes.append(f"{path.name} left out: {error}")
            continue
        image_sha = image_sha256(source)  # pixels as decoded, the same identity the Compare tab stores
        hr, lr = hr_and_lr(centre_crop(source, config.crop), config.scale)  # as the Compare tab makes its LR
        if min(hr.shape[:2]) < config.min_side:
            notes.append(f"{path.name} left out: smaller than {config.min_side} pixels")
            continue
        base = (config.study_id, image_sha, config.crop, config.scale)

        def add(method: str, ckpt: str, precision: str, kind: str, make: Callable[[], np.ndarray]) -> None:
            sid = _stimulus_id(*base, method, ckpt, precision)
            file = cache / f"{sid}.png"
            if not file.exists():
                _write_png(file, make())
            rows.append(StimulusRow(sid, config.study_id, image_sha, path.name, method, ckpt, precision, kind,
                                    str(file), hr.shape[1], hr.shape[0]))

        add(ANCHOR_NN, "", "-", ANCHOR_KINDS[ANCHOR_NN],
            lambda: nearest_upscale(lr, config.scale))
        add(ANCHOR_HR, "", "-", ANCHOR_KINDS[ANCHOR_HR], lambda: hr)
        for method, model in models.items():
            ckpt = model.provenance.sha256 if model.provenance is not None else ""
            sidecar = cache / "runs" / (_stimulus_id(*base, method, ckpt, "requested", config.precision) + ".json")
            if sidecar.exists():
                precision = json.loads(sidecar.read_text())["precision"]
                if (cache / f"{_stimulus_id(*base, method, ckpt, precision)}.png").exists():
                    add(method, ckpt, precision, "method", lambda: hr)  # cached: make() is not called
                    continue
            say(f"image {number}/{len(images)}: {method}")
            result = upscale_with_info(model, lr, config.precision)
            add(method, ckpt, result.precision, "method", lambda: result.image)
            sidecar.parent.mkdir(parents=True, exist_ok=True)
            sidecar.write_text(json.dumps({"precision": result.precision, "seconds": result.seconds}))
    if not images:
        notes.append(f"no images in {config.folder}")
    store.save_study(config.study_id, config.title, str(config.folder),
                     {"crop": config.crop, "scale": config.scale, "precision": config.precision,
                      "methods": sorted(models), "gold_max_fail_share": config.gold_max_fail_share}, rows)
    return rows, notes


def make_sequence(stimuli: Sequence[StimulusRow], rng: random.Random) -> list[str]:
    """A random order of all stimuli, methods and images interleaved.

    Each step draws an image with probability proportional to its remaining stimuli, never the
    image just shown unless nothing else is left, then one of its stimuli at random.
    """
    remaining: dict[str, list[str]] = defaultdict(list)
    for s in stimuli:
        remaining[s.image_sha256].append(s.id)
    for ids in remaining.values():
        rng.shuffle(ids)
    order, previous = [], None
    while remaining:
        choices = [k for k in sorted(remaining) if k != previous] or [previous]
        image = rng.choices(choices, weights=[len(remaining[k]) for k in choices])[0]
        order.append(remaining[image].pop())
        if not remaining[image]:
            del remaining[image]
        previous = image
    return order


@dataclass(frozen=True)
class Served:
    """The stimulus to show now, and where the rater is in their sequence."""

    stimulus: StimulusRow
    position: int  # 0-based index in the rater's sequence
    done: int
    total: int


class StudyService:
    """Everything the Rate tab does, independent of Gradio: start, serve, score, summarise."""

    def __init__(self, store: Store, config: StudyConfig) -> None:
        self.store, self.config = store, config
        self._lock = threading.Lock()
        self._prepared = False
        self.notes: list[str] = []
        self.status = "not prepared"

    def prepare(self) -> None:
        """Precompute the stimuli once per process (thread-safe; later calls return at once)."""
        with self._lock:
            if self._prepared:
                return
            self.status = "preparing"
            _, self.notes = prepare_study(self.store, self.config, progress=self._set_status)
            self._prepared = True
            self.status = "ready"

    def _set_status(self, message: str) -> None:
        self.status = f"preparing: {message}"

    @property
    def ready(self) -> bool:
        return self._prepared

    def stimuli(self) -> list[StimulusRow]:
        """The study's current stimuli."""
        self.prepare()
        return self.store.stimuli(self.config.study_id)

    def calibration(self) -> tuple[StimulusRow, StimulusRow] | None:
        """The NN and HR anchors of the first study image, shown with their anchor scores."""
        by_kind = {}
        for s in sorted(self.stimuli(), key=lambda s: s.image_name):
            by_kind.setdefault(s.kind, s)
        if "anchor_nn" not in by_kind or "anchor_hr" not in by_kind:
            return None
        return by_kind["anchor_nn"], by_kind["anchor_hr"]

    def session(self, rater_id: str) -> SessionRow:
        """The rater's session, created (with a fresh random order) on first use."""
        self.store.ensure_rater(rater_id)
        existing = self.store.session(rater_id, self.config.study_id)
        if existing is not None:
            return existing
        sequence = make_sequence(self.stimuli(), random.Random(secrets.randbits(64)))
        return self.store.create_session(secrets.token_hex(12), rater_id, self.config.study_id, sequence)

    def progress(self, rater_id: str) -> tuple[int, int]:
        """(scored, total) for the rater."""
        session = self.session(rater_id)
        voted = self.store.voted_stimuli(rater_id, self.config.study_id)
        return sum(1 for s in session.sequence if s in voted), len(session.sequence)

    def next(self, rater_id: str) -> Served | None:
        """Serve the rater's next unscored stimulus (recorded as shown now), or None when done."""
        session = self.session(rater_id)
        voted = self.store.voted_stimuli(rater_id, self.config.study_id)
        done = sum(1 for s in session.sequence if s in voted)
        for position, stimulus_id in enumerate(session.sequence):
            if stimulus_id not in voted:
                stimulus = self.store.stimulus(stimulus_id)
                if stimulus is None:
                    raise VoteRejected(f"Stimulus {stimulus_id} vanished from the database.")
                self.store.mark_served(session.id, stimulus_id, position)
                return Served(stimulus, position, done, len(session.sequence))
        return None

    def vote(self, rater_id: str, stimulus_id: str, score: object) -> int:
        """Store the rater's score for a stimulus they were served; raises VoteRejected otherwise."""
        session = self.store.session(rater_id, self.config.study_id)
        if session is None:
            raise VoteRejected("No study session for this rater; reload the page to start.")
        return self.store.record_vote(rater_id, session.id, stimulus_id, score)

    def rater_summary(self, rater_id: str) -> dict[str, object]:
        """The rater's own scores: mean per (revealed) method and how the gold items went."""
        votes = [v for v in self.store.votes(self.config.study_id) if v["rater_id"] == rater_id and v["blinded"]]
        per_method: dict[str, list[int]] = defaultdict(list)
        for v in votes:
            per_method[v["method"]].append(v["score"])
        gold = [v for v in votes if v["kind"] in ("anchor_nn", "anchor_hr")]
        failed = sum(1 for v in gold if not gold_passed(v["kind"], v["score"]))
        return {
            "n_votes": len(votes),
            "mean_by_method": {m: float(np.mean(s)) for m, s in sorted(per_method.items())},
            "n_gold": len(gold),
            "n_gold_failed": failed,
            "flagged": bool(gold) and failed / len(gold) > self.config.gold_max_fail_share,
        }


def gold_passed(kind: str, score: int) -> bool:
    """Whether an anchor vote looks attentive: HR scored ≥ 4, NN scored ≤ 2 (other kinds pass)."""
    if kind == "anchor_hr":
        return score >= GOLD_HR_MIN
    if kind == "anchor_nn":
        return score <= GOLD_NN_MAX
    return True


def flagged_raters(votes: Iterable[dict], max_fail_share: float) -> dict[str, tuple[int, int]]:
    """Raters failing more than ``max_fail_share`` of their gold items: id -> (failed, gold items)."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for v in votes:
        if v["blinded"] and v["kind"] in ("anchor_nn", "anchor_hr"):
            counts[v["rater_id"]][1] += 1
            counts[v["rater_id"]][0] += 0 if gold_passed(v["kind"], v["score"]) else 1
    return {r: (f, n) for r, (f, n) in counts.items() if n and f / n > max_fail_share}
