"""Simulated raters, for planning a study: how precise will N raters × K votes be?

* **pairwise**: ``truth`` gives each method's natural-log Bradley–Terry strength; the left side
  wins with probability 1 / (1 + exp(−(θ_left − θ_right))) (no ties, so the fitted model is the
  true one). Gold items (HR vs NN) are passed with probability ``GOLD_ACCURACY``.
* **acr**: ``truth`` gives each method's MOS; a vote is round(truth + rater bias + noise) clipped
  to 1–5 (bias ~ N(0, ``ACR_RATER_SD``), noise ~ N(0, ``ACR_NOISE_SD``)); anchors NN 1.2, HR 4.7.

:func:`write_study` stores such raters in a study marked ``simulated`` (config ``"simulated":
true``, title prefixed ``SIMULATED``, rater ids ``sim-…``); it refuses a study holding real
data, so simulated and real votes never share a study. :func:`expected_ci_width` is the Results
tab's "how many raters do I need".
"""
from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from . import APP_VERSION
from .battles import schedule
from .bradley_terry import bootstrap, win_tensor
from .storage import StimulusRow, Store

GOLD_ACCURACY = 0.97
ACR_RATER_SD, ACR_NOISE_SD = 0.3, 0.7
ACR_ANCHORS = {"nn": 1.2, "hr": 4.7}
SIMULATED_IMAGES = 4
SIM_PREFIX = "sim-"


class SimulationRefused(ValueError):
    """The simulation would mix with real votes (or its arguments are unusable)."""


def parse_truth(text: str) -> dict[str, float]:
    """``"m1=v1,m2=v2"`` → {m1: v1, m2: v2} (at least two methods)."""
    truth = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise SimulationRefused(f"--truth wants method=value pairs separated by commas; got {part!r}")
        truth[name.strip()] = float(value)
    if len(truth) < 2:
        raise SimulationRefused("--truth needs at least two methods")
    return truth


def centred(truth: Mapping[str, float]) -> np.ndarray:
    """The truth as log strengths with mean 0 (what Bradley–Terry estimates)."""
    v = np.array(list(truth.values()), float)
    return v - v.mean()


def balanced_pairs(n_items: int, per_rater: int, n_raters: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_raters, per_rater, 2)`` item pairs: each rater cycles through every pair in a random order
    (the balance :func:`sr_arena.mos.battles.schedule` aims at), with random sides."""
    pairs = np.array([(i, j) for i in range(n_items) for j in range(i + 1, n_items)])
    order = np.argsort(rng.random((n_raters, per_rater // len(pairs) + 1, len(pairs))), axis=2)
    chosen = pairs[order.reshape(n_raters, -1)[:, :per_rater]]
    flip = rng.random((n_raters, per_rater)) < 0.5
    return np.where(flip[..., None], chosen[..., ::-1], chosen)


def simulate_wins(truth: Sequence[float], n_raters: int, per_rater: int, rng: np.random.Generator) -> np.ndarray:
    """Per-rater win tensors ``(n_raters, m, m)`` of one simulated pairwise study."""
    theta = np.asarray(truth, float)
    pairs = balanced_pairs(theta.size, per_rater, n_raters, rng)
    left, right = pairs[..., 0], pairs[..., 1]
    p_left = 1.0 / (1.0 + np.exp(-(theta[left] - theta[right])))
    score = (rng.random(p_left.shape) < p_left).astype(float)
    raters = np.repeat(np.arange(n_raters), per_rater)
    return win_tensor(raters, left.ravel(), right.ravel(), score.ravel(), n_raters, theta.size)


def simulate_acr(truth: Sequence[float], n_raters: int, per_rater: int, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rater, item, score) arrays of one simulated ACR study; items cycle per rater."""
    mos = np.asarray(truth, float)
    raters = np.repeat(np.arange(n_raters), per_rater)
    items = (np.arange(per_rater)[None, :] + rng.integers(0, mos.size, n_raters)[:, None]) % mos.size
    items = items.ravel()
    bias = rng.normal(0, ACR_RATER_SD, n_raters)[raters]
    scores = np.clip(np.rint(mos[items] + bias + rng.normal(0, ACR_NOISE_SD, items.size)), 1, 5)
    return raters, items, scores


@dataclass(frozen=True)
class Plan:
    """Expected precision for one number of raters."""

    n_raters: int
    mean_ci_width: float  # mean over methods and simulated studies
    order_recovered: float  # share of simulated studies ranking every method right


def expected_ci_width(mode: str, truth: Mapping[str, float], n_raters: int, per_rater: int,
                      studies: int = 20, rounds: int = 1000, seed: int = 0) -> Plan:
    """Simulate ``studies`` studies of ``n_raters`` × ``per_rater`` votes; mean 95 % CI width.

    pairwise: rater-bootstrap interval of the BT log strength (as the Results tab reports it);
    acr: Student-t interval of each method's MOS.
    """
    if len(truth) < 2 or n_raters < 2 or per_rater < 1:
        raise SimulationRefused("planning needs at least two methods, two raters and one vote per rater")
    rng = np.random.default_rng(seed)
    theta = centred(truth) if mode == "pairwise" else np.array(list(truth.values()), float)
    widths, recovered = [], 0
    for k in range(studies):
        if mode == "pairwise":
            per = simulate_wins(theta, n_raters, per_rater, rng)
            low, high = bootstrap(per, rounds, seed=seed + k)
            estimate = (low + high) / 2
        else:
            from scipy import stats as sps

            _, items, scores = simulate_acr(theta, n_raters, per_rater, rng)
            estimate, low, high = (np.zeros(theta.size) for _ in range(3))
            for i in range(theta.size):
                x = scores[items == i]
                estimate[i] = x.mean() if x.size else math.nan
                half = sps.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size) if x.size > 1 else math.nan
                low[i], high[i] = estimate[i] - half, estimate[i] + half
        widths.append(np.nanmean(high - low))
        recovered += int(np.array_equal(np.argsort(estimate), np.argsort(theta)))
    return Plan(n_raters, float(np.mean(widths)), recovered / studies)


def _is_simulated(store: Store, study_id: str) -> bool | None:
    rows = [s for s in store.studies() if s["id"] == study_id]
    if not rows:
        return None
    return bool(json.loads(rows[0]["config"] or "{}").get("simulated"))


def study_is_simulated(store: Store, study_id: str | None) -> bool:
    """Whether ``study_id`` is a simulated study."""
    return bool(study_id) and bool(_is_simulated(store, study_id))


def simulated_study_ids(store: Store) -> set[str]:
    """Ids of every simulated study (left out of analyses across studies)."""
    return {s["id"] for s in store.studies() if json.loads(s["config"] or "{}").get("simulated")}


def _stimuli(study_id: str, methods: Sequence[str]) -> list[StimulusRow]:
    rows = []
    for i in range(SIMULATED_IMAGES):
        for method in ("nn", *methods, "hr"):
            kind = {"nn": "anchor_nn", "hr": "anchor_hr"}.get(method, "method")
            rows.append(StimulusRow(f"{study_id}~{i}~{method}", study_id, f"simulated-image-{i}",
                                    f"simulated-{i}.png", method, "", "-" if kind != "method" else "simulated",
                                    kind, "", 128, 128))
    return rows


def write_study(store: Store, study_id: str, mode: str, truth: Mapping[str, float], n_raters: int,
                per_rater: int, seed: int) -> dict[str, int]:
    """Store ``n_raters`` simulated raters in the simulated study ``study_id`` (created if new)."""
    if mode not in ("pairwise", "acr"):
        raise SimulationRefused(f"--mode is pairwise or acr, not {mode!r}")
    state = _is_simulated(store, study_id)
    if state is False:
        raise SimulationRefused(f"Study {study_id!r} holds real votes; simulated raters go into a study of "
                                "their own (choose another --study).")
    methods = list(truth)
    if state is None:
        store.save_study(study_id, f"SIMULATED {mode} study", "simulate",
                         {"simulated": True, "mode": mode, "truth": dict(truth), "seed": seed},
                         _stimuli(study_id, methods))
    stimuli = store.stimuli(study_id)
    if not set(methods) <= {s.method for s in stimuli}:
        raise SimulationRefused(f"Study {study_id!r} has methods {sorted({s.method for s in stimuli})}; "
                                f"--truth names {methods}")
    rng, prng = np.random.default_rng(seed), random.Random(seed)
    now = store.clock()
    written = 0
    for r in range(n_raters):
        rater = f"{SIM_PREFIX}{seed}-{r}-{prng.getrandbits(32):08x}"
        with store.transaction() as tx:
            tx.run("INSERT INTO raters (id, created_at, last_vote_at) VALUES (?, ?, ?)", (rater, now, now))
            session = f"{SIM_PREFIX}{rater[len(SIM_PREFIX):]}"
            if mode == "pairwise":
                written += _pairwise_rater(tx, rater, session, study_id, stimuli, truth, per_rater, rng, prng, now)
            else:
                written += _acr_rater(tx, rater, session, study_id, stimuli, truth, per_rater, rng, prng, now)
    return {"raters": n_raters, "votes": written}


def _pairwise_rater(tx, rater, session, study_id, stimuli, truth, per_rater, rng, prng, now) -> int:
    by_id = {s.id: s for s in stimuli}
    theta = dict(zip(truth, centred(truth)))
    pairs = schedule([s for s in stimuli if s.kind != "method" or s.method in truth], per_rater, prng)
    tx.run("INSERT INTO battle_sessions (id, rater_id, study_id, sequence, created_at) VALUES (?, ?, ?, ?, ?)",
           (session, rater, study_id, json.dumps([[p.left, p.right, p.gold] for p in pairs]), now))
    for position, pair in enumerate(pairs):
        a, b = by_id[pair.left], by_id[pair.right]
        if pair.gold:
            outcome = ("left" if a.kind == "anchor_hr" else "right") if rng.random() < GOLD_ACCURACY else \
                ("right" if a.kind == "anchor_hr" else "left")
        else:
            p_left = 1.0 / (1.0 + math.exp(-(theta[a.method] - theta[b.method])))
            outcome = "left" if rng.random() < p_left else "right"
        tx.run("INSERT INTO battle_served (session_id, position, left_id, right_id, shown_at) VALUES (?, ?, ?, ?, ?)",
               (session, position, a.id, b.id, now))
        tx.run("INSERT INTO battles (rater_id, study_id, session_id, position, image_sha256, image_name, left_id, "
               "right_id, left_method, left_checkpoint_sha256, left_precision, left_kind, right_method, "
               "right_checkpoint_sha256, right_precision, right_kind, gold, outcome, shown_at, answered_at, "
               "response_ms, app_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (rater, study_id, session, position, a.image_sha256, a.image_name, a.id, b.id, a.method,
                a.checkpoint_sha256, a.precision, a.kind, b.method, b.checkpoint_sha256, b.precision, b.kind,
                int(pair.gold), outcome, now, now, 0, APP_VERSION + "+simulated"))
    return len(pairs)


def _acr_rater(tx, rater, session, study_id, stimuli, truth, per_rater, rng, prng, now) -> int:
    mos = {**ACR_ANCHORS, **truth}
    pool = [s for s in stimuli if s.method in mos]
    prng.shuffle(pool)
    chosen = (pool * (per_rater // max(1, len(pool)) + 1))[:min(per_rater, len(pool))]
    bias = rng.normal(0, ACR_RATER_SD)
    tx.run("INSERT INTO sessions (id, rater_id, study_id, sequence, created_at) VALUES (?, ?, ?, ?, ?)",
           (session, rater, study_id, json.dumps([s.id for s in chosen]), now))
    for position, s in enumerate(chosen):
        score = int(np.clip(np.rint(mos[s.method] + bias + rng.normal(0, ACR_NOISE_SD)), 1, 5))
        tx.run("INSERT INTO served (session_id, stimulus_id, position, shown_at) VALUES (?, ?, ?, ?)",
               (session, s.id, position, now))
        tx.run("INSERT INTO votes (rater_id, study_id, session_id, stimulus_id, image_sha256, image_name, method, "
               "checkpoint_sha256, precision, kind, score, shown_at, answered_at, response_ms, position, blinded, "
               "retest, app_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 0, ?)",
               (rater, study_id, session, s.id, s.image_sha256, s.image_name, s.method, s.checkpoint_sha256,
                s.precision, s.kind, score, now, now, 0, position, APP_VERSION + "+simulated"))
    return len(chosen)
