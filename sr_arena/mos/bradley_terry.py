"""Bradley–Terry strengths from pairwise battles, with rater-bootstrap 95 % intervals.

Model (Bradley & Terry 1952): P(i beats j) = 1 / (1 + exp(-(θ_i − θ_j))), θ the natural-log
strength, reported with mean 0 over methods. Ties (and "both bad") count as half a win for each
side, as in Chatbot Arena's leaderboard; the likelihood is then Σ W_ij log P(i beats j) with W the
(half-)win matrix.

* Point estimate: ``choix.ilsr_pairwise_dense`` (Maystre & Grossglauser, NeurIPS 2015), the
  maximum-likelihood estimate when the comparison graph is connected.
* Intervals: percentile bootstrap over *raters* (a rater's battles resampled together, so rater
  effects widen the interval instead of being ignored), ``BOOTSTRAP_ROUNDS`` rounds, fitted all at
  once by a batched Newton solver (:func:`fit_many`, checked against choix in the tests).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

CONFIDENCE = 0.95
BOOTSTRAP_ROUNDS = 2000
#: L2 penalty of the batched fits: keeps a resample in which a method never wins finite
#: (θ ≈ −log(1/α)), and is far below the information of any real pair (one battle ≈ 0.25).
PENALTY = 1e-4
#: Fewer battles than this per method and its interval is not shown (too few votes).
MIN_BATTLES = 10
OUTCOME_SCORE = {"left": 1.0, "right": 0.0, "tie": 0.5, "both_bad": 0.5}


def win_tensor(raters: Sequence[int], left: Sequence[int], right: Sequence[int], score_left: Sequence[float],
               n_raters: int, n_items: int) -> np.ndarray:
    """``R[r, i, j]``: (half-)wins of item i over item j in rater r's battles."""
    r, a, b = np.asarray(raters, int), np.asarray(left, int), np.asarray(right, int)
    s = np.asarray(score_left, float)
    out = np.zeros((n_raters, n_items, n_items))
    np.add.at(out, (r, a, b), s)
    np.add.at(out, (r, b, a), 1.0 - s)
    return out


def fit_many(wins: np.ndarray, penalty: float = PENALTY, iterations: int = 60) -> np.ndarray:
    """Penalised BT maximum likelihood for a batch of win matrices ``(B, m, m)`` → θ ``(B, m)``, mean 0.

    Newton's method on the concave log-likelihood, all B problems at once; the gradient sums to
    zero, so every step keeps the mean at 0.
    """
    wins = np.asarray(wins, float)
    single = wins.ndim == 2
    w = wins[None] if single else wins
    n = w + np.swapaxes(w, 1, 2)
    b, m, _ = w.shape
    theta = np.zeros((b, m))
    eye = np.eye(m)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(theta[:, :, None] - theta[:, None, :])))
        grad = (w - n * p).sum(axis=2) - penalty * theta
        curv = n * p * (1.0 - p)
        # + J/m: the likelihood is flat along (1, …, 1); the gradient has no component there,
        # so the step keeps the mean at 0 and the system stays regular even without a penalty.
        neg_hess = eye * curv.sum(axis=2)[:, :, None] - curv + penalty * eye + 1.0 / m
        step = np.linalg.solve(neg_hess, grad[..., None])[..., 0]
        step = np.clip(step, -2.0, 2.0)  # damped where a resample pushes a method far out
        theta += step
        if np.max(np.abs(step)) < 1e-10:
            break
    theta -= theta.mean(axis=1, keepdims=True)
    return theta[0] if single else theta


def fit_choix(wins: np.ndarray) -> np.ndarray:
    """θ (mean 0) from choix's ILSR on the (half-)win matrix; ``comp[i, j]`` = wins of i over j."""
    import choix

    comp = np.asarray(wins, float)
    try:
        theta = choix.ilsr_pairwise_dense(comp, alpha=0.0, max_iter=1000, tol=1e-12)
    except (RuntimeError, ValueError, np.linalg.LinAlgError):  # disconnected or one-sided data
        theta = fit_many(comp)
    if not np.all(np.isfinite(theta)):
        theta = fit_many(comp)
    return np.asarray(theta - np.mean(theta), float)


@dataclass(frozen=True)
class BTResult:
    """Strengths of ``items`` with percentile-bootstrap intervals; counts per pair."""

    items: tuple[str, ...]
    log_strength: np.ndarray  # (m,) natural log, mean 0
    ci_low: np.ndarray
    ci_high: np.ndarray
    wins: np.ndarray  # (m, m) half-wins of row over column
    rounds: int

    @property
    def battles(self) -> np.ndarray:
        """``(m, m)``: battles between each pair."""
        return self.wins + self.wins.T

    def win_rate(self) -> np.ndarray:
        """Share of points row won against column (NaN where they never met)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.battles > 0, self.wins / self.battles, np.nan)

    def as_dict(self) -> dict[str, dict[str, object]]:
        """The ``bradley_terry`` object of ``summary --json``: method → log_strength, ci, battles."""
        totals = self.battles.sum(axis=1)
        out: dict[str, dict[str, object]] = {}
        for k, item in enumerate(self.items):
            enough = totals[k] >= MIN_BATTLES
            out[item] = {"log_strength": float(self.log_strength[k]),
                         "ci": [float(self.ci_low[k]), float(self.ci_high[k])] if enough else None,
                         "battles": int(round(totals[k]))}
        return out


def bootstrap(per_rater: np.ndarray, rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0,
              confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of θ over ``rounds`` resamples of the raters (rows of ``per_rater``)."""
    rng = np.random.default_rng(seed)
    n_raters = per_rater.shape[0]
    counts = rng.multinomial(n_raters, np.full(n_raters, 1.0 / n_raters), size=rounds).astype(float)
    thetas = fit_many(np.einsum("br,rij->bij", counts, per_rater))
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(thetas, [tail, 1.0 - tail], axis=0)
    return low, high


def analyse(items: Sequence[str], per_rater: np.ndarray, rounds: int = BOOTSTRAP_ROUNDS,
            seed: int = 0) -> BTResult:
    """Fit (choix) and bootstrap (over raters) the battles in ``per_rater`` ``(raters, m, m)``."""
    wins = per_rater.sum(axis=0)
    m = len(items)
    if per_rater.shape[0] < 2 or wins.sum() == 0:
        nan = np.full(m, math.nan)
        return BTResult(tuple(items), fit_many(wins) if wins.sum() else np.zeros(m), nan, nan, wins, 0)
    low, high = bootstrap(per_rater, rounds, seed)
    return BTResult(tuple(items), fit_choix(wins), low, high, wins, rounds)
