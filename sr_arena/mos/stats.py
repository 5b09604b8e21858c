"""MOS statistics: per condition MOS, SD, counts, 95 % t- and bootstrap intervals, histograms,
average rank; per-image breakdown; paired two-sided Wilcoxon signed-rank tests on per-image means
with Holm's correction.

A *condition* is (method, checkpoint sha256, precision): a method run with other weights or
another precision is another row, never pooled. Intervals treat votes as independent draws.
"""
from __future__ import annotations

import math
import warnings
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from itertools import combinations
from typing import Any, Iterable, Sequence

import numpy as np
from scipy import stats as sps

from sr_models.registry import CARDS, EXTRA_CARDS

from .study import ANCHOR_HR, ANCHOR_NN, flagged_raters

Condition = tuple[str, str, str]  # (method, checkpoint sha256 or "", precision)
CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 2000
#: Tables list the NN anchor first, then the methods in registry order, then the HR anchor.
METHOD_ORDER = (ANCHOR_NN, *CARDS, *EXTRA_CARDS, ANCHOR_HR)


def condition_of(vote: dict[str, Any]) -> Condition:
    """The condition a vote belongs to."""
    return (vote["method"], vote["checkpoint_sha256"] or "", vote["precision"])


def condition_label(condition: Condition) -> str:
    """A short readable name: ``srgan @f4c38164 (exact)``; anchors as ``NN anchor``/``HR anchor``."""
    method, ckpt, precision = condition
    if method in (ANCHOR_NN, ANCHOR_HR) and not ckpt:
        return f"{method.upper()} anchor"
    text = method + (f" @{ckpt[:8]}" if ckpt else "")
    return f"{text} ({precision})" if precision and precision != "-" else text


def _sort_key(condition: Condition) -> tuple[int, str, str, str]:
    method = condition[0]
    return (METHOD_ORDER.index(method) if method in METHOD_ORDER else len(METHOD_ORDER), *condition)


#: ACR votes a condition needs before its MOS interval is shown (fewer: :data:`TOO_FEW`); a
#: t-interval of 3 scores can span -15 to 22 on a 1-5 scale.
MIN_VOTES_PER_METHOD = 10
TOO_FEW = "too few votes"


def shown_interval(low: float, high: float, n_votes: int) -> tuple[float, float] | None:
    """The interval as shown to people: ``None`` (say :data:`TOO_FEW`) below
    :data:`MIN_VOTES_PER_METHOD` votes or when undefined, else clipped to the 1-5 ACR scale."""
    if n_votes < MIN_VOTES_PER_METHOD or math.isnan(low) or math.isnan(high):
        return None
    return (max(1.0, low), min(5.0, high))


def t_interval(scores: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Student-t interval for the mean (NaN when fewer than two scores)."""
    x = np.asarray(scores, dtype=float)
    if x.size < 2:
        return (math.nan, math.nan)
    sem = sps.sem(x)
    if sem == 0:
        return (float(x.mean()), float(x.mean()))
    low, high = sps.t.interval(confidence, x.size - 1, loc=x.mean(), scale=sem)
    return (float(low), float(high))


def bootstrap_interval(scores: Sequence[float], confidence: float = CONFIDENCE,
                       n_resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval for the mean (fixed seed, so results are reproducible)."""
    x = np.asarray(scores, dtype=float)
    if x.size < 2:
        return (math.nan, math.nan)
    if np.all(x == x[0]):
        return (float(x[0]), float(x[0]))
    result = sps.bootstrap((x,), np.mean, n_resamples=n_resamples, confidence_level=confidence,
                           method="percentile", vectorized=True, rng=np.random.default_rng(seed))
    return (float(result.confidence_interval.low), float(result.confidence_interval.high))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (NaNs stay NaN and do not count as tests)."""
    p = np.asarray(pvalues, dtype=float)
    adjusted = np.full(p.shape, math.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = valid.size
    running = 0.0
    for rank, index in enumerate(valid[np.argsort(p[valid], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted.tolist()


@dataclass(frozen=True)
class ConditionStats:
    """One row of the results table."""

    method: str
    checkpoint_sha256: str
    precision: str
    label: str
    n_votes: int
    n_raters: int
    n_images: int
    mos: float
    sd: float
    t_low: float
    t_high: float
    boot_low: float
    boot_high: float
    histogram: tuple[int, int, int, int, int]  # counts of scores 1..5
    average_rank: float  # over images, ranking conditions by per-image mean (1 = best)


@dataclass(frozen=True)
class PairTest:
    """Paired two-sided Wilcoxon signed-rank test between two conditions on per-image means."""

    a: str
    b: str
    n_images: int
    mean_difference: float  # mean over images of (a − b)
    statistic: float
    p_value: float
    p_holm: float


@dataclass(frozen=True)
class ImageRow:
    """One (image, condition) cell of the per-image breakdown."""

    image_name: str
    image_sha256: str
    label: str
    mean: float
    sd: float
    n_votes: int


@dataclass
class Summary:
    """Everything the Results tab and the CLI show."""

    conditions: list[ConditionStats]
    per_image: list[ImageRow]
    tests: list[PairTest]
    n_votes: int
    flagged_raters: dict[str, tuple[int, int]] = field(default_factory=dict)
    excluded_votes: int = 0
    options: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (NaN becomes None); flagged raters by their per-study pseudonyms."""
        from .identity import pseudonym

        out = asdict(self)
        study = self.options.get("study_id")
        out["flagged_raters"] = {pseudonym(r, study): v for r, v in self.flagged_raters.items()}
        return _clean(out)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def once_per_quick_rating(votes: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Unblinded quick ratings count once per (rater, image, method): the first (storage refuses
    later ones; this also covers rows stored before it did)."""
    seen: set[tuple[str, str, str]] = set()
    out = []
    for v in votes:
        if not v["blinded"]:
            key = (v["rater_id"], v["image_sha256"], v["method"])
            if key in seen:
                continue
            seen.add(key)
        out.append(v)
    return out


def select_votes(votes: Iterable[dict[str, Any]], study_id: str | None = None, include_unblinded: bool = False,
                 include_flagged: bool = False, max_fail_share: float = 0.25
                 ) -> tuple[list[dict[str, Any]], dict[str, tuple[int, int]], int]:
    """Votes for the analysis; the flagged raters; how many votes were left out by the options."""
    votes = [v for v in votes if study_id is None or v["study_id"] == study_id or
             (include_unblinded and not v["blinded"])]
    votes = once_per_quick_rating(votes)
    flagged = flagged_raters(votes, max_fail_share)
    kept = [v for v in votes if (include_unblinded or v["blinded"]) and
            (include_flagged or v["rater_id"] not in flagged)]
    return kept, flagged, len(votes) - len(kept)


def per_image_means(votes: Iterable[dict[str, Any]]) -> dict[Condition, dict[str, float]]:
    """condition -> {image sha256: mean score of that image under that condition}."""
    scores: dict[Condition, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for v in votes:
        scores[condition_of(v)][v["image_sha256"]].append(v["score"])
    return {c: {image: float(np.mean(s)) for image, s in by_image.items()} for c, by_image in scores.items()}


def average_ranks(means: dict[Condition, dict[str, float]]) -> dict[Condition, float]:
    """Per image rank the conditions by mean (1 = best, ties averaged); average over images."""
    ranks: dict[Condition, list[float]] = defaultdict(list)
    images = sorted({image for by_image in means.values() for image in by_image})
    for image in images:
        present = [c for c in means if image in means[c]]
        values = np.array([means[c][image] for c in present])
        for c, rank in zip(present, sps.rankdata(-values, method="average")):
            ranks[c].append(float(rank))
    return {c: float(np.mean(r)) for c, r in ranks.items()}


def wilcoxon_tests(means: dict[Condition, dict[str, float]]) -> list[PairTest]:
    """Every pair of conditions: paired two-sided Wilcoxon on the images both have; Holm-adjusted."""
    conditions = sorted(means, key=_sort_key)
    rows = []
    for a, b in combinations(conditions, 2):
        images = sorted(set(means[a]) & set(means[b]))
        x = np.array([means[a][i] for i in images])
        y = np.array([means[b][i] for i in images])
        statistic, p = math.nan, math.nan
        if len(images) >= 1 and np.any(x != y):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                result = sps.wilcoxon(x, y, alternative="two-sided")
            statistic, p = float(result.statistic), float(result.pvalue)
        elif len(images) >= 1:
            statistic, p = 0.0, 1.0  # identical on every image: no evidence of a difference
        rows.append((a, b, len(images), float(np.mean(x - y)) if images else math.nan, statistic, p))
    adjusted = holm([r[5] for r in rows])
    return [PairTest(condition_label(a), condition_label(b), n, diff, stat, p, padj)
            for (a, b, n, diff, stat, p), padj in zip(rows, adjusted)]


def condition_stats(votes: Sequence[dict[str, Any]], ranks: dict[Condition, float]) -> list[ConditionStats]:
    """One row per condition, in method order."""
    groups: dict[Condition, list[dict[str, Any]]] = defaultdict(list)
    for v in votes:
        groups[condition_of(v)].append(v)
    rows = []
    for c in sorted(groups, key=_sort_key):
        scores = np.array([v["score"] for v in groups[c]], dtype=float)
        rows.append(ConditionStats(
            method=c[0], checkpoint_sha256=c[1], precision=c[2], label=condition_label(c),
            n_votes=int(scores.size), n_raters=len({v["rater_id"] for v in groups[c]}),
            n_images=len({v["image_sha256"] for v in groups[c]}),
            mos=float(scores.mean()), sd=float(scores.std(ddof=1)) if scores.size > 1 else math.nan,
            t_low=t_interval(scores)[0], t_high=t_interval(scores)[1],
            boot_low=(boot := bootstrap_interval(scores))[0], boot_high=boot[1],
            histogram=tuple(int(np.sum(scores == k)) for k in range(1, 6)),  # type: ignore[arg-type]
            average_rank=ranks.get(c, math.nan),
        ))
    return rows


def image_rows(votes: Sequence[dict[str, Any]]) -> list[ImageRow]:
    """The per-image breakdown, by image name then method order."""
    groups: dict[tuple[str, str, Condition], list[int]] = defaultdict(list)
    for v in votes:
        groups[(v["image_name"], v["image_sha256"], condition_of(v))].append(v["score"])
    rows = []
    for (name, sha, c) in sorted(groups, key=lambda k: (k[0], k[1], _sort_key(k[2]))):
        s = np.array(groups[(name, sha, c)], dtype=float)
        rows.append(ImageRow(name, sha, condition_label(c), float(s.mean()),
                             float(s.std(ddof=1)) if s.size > 1 else math.nan, int(s.size)))
    return rows


def summarize(votes: Iterable[dict[str, Any]], study_id: str | None = None, include_unblinded: bool = False,
              include_flagged: bool = False, max_fail_share: float = 0.25) -> Summary:
    """The full analysis of a study's votes (blinded, unflagged raters by default)."""
    kept, flagged, excluded = select_votes(votes, study_id, include_unblinded, include_flagged, max_fail_share)
    means = per_image_means(kept)
    return Summary(
        conditions=condition_stats(kept, average_ranks(means)),
        per_image=image_rows(kept),
        tests=wilcoxon_tests(means),
        n_votes=len(kept),
        flagged_raters=flagged,
        excluded_votes=excluded,
        options={"study_id": study_id, "include_unblinded": include_unblinded,
                 "include_flagged": include_flagged, "max_fail_share": max_fail_share,
                 "confidence": CONFIDENCE, "bootstrap_resamples": BOOTSTRAP_RESAMPLES},
    )
