"""The analyses issue 12 adds to a study's summary: Bradley–Terry over battles, Krippendorff's α
for ACR, and the perception–distortion picture (Blau & Michaeli, CVPR 2018).

* **Bradley–Terry** (:mod:`sr_arena.mos.bradley_terry`): method battles only (gold HR-vs-NN
  battles screen raters and are left out), raters failing gold items left out by default;
  "both bad" counts as a tie (half a win each).
* **Krippendorff's α** (Krippendorff 2004, ordinal metric, the ``krippendorff`` package): raters ×
  stimuli matrix of blinded ACR scores.
* **Perception–distortion**: per method, mean PSNR and SSIM (Y, border shaved by the scale, as the
  papers measure; :mod:`sr_models.metrics`) of its study stimuli against the same crop's HR, with
  t-intervals over images, beside its MOS and its BT strength with their intervals; Spearman
  (SRCC) and Pearson (PLCC) correlation of each metric with per-stimulus MOS. NIQE (Mittal et al.
  2013, :mod:`sr_models.niqe`; no reference, lower = more natural, border shaved by the scale) of each
  stimulus joins them where its parameters are installed: the PIRM challenge's picture (Blau et al.,
  ECCV-W 2018) plots distortion against such a no-reference perceptual score.
"""
from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
from scipy import stats as sps

from .battles import OUTCOMES, flagged_battle_raters
from .bradley_terry import BOOTSTRAP_ROUNDS, OUTCOME_SCORE, BTResult, analyse, win_tensor
from .stats import METHOD_ORDER, t_interval
from .storage import StimulusRow, Store

_METRIC_CACHE: dict[tuple[str, str], tuple[float, float]] = {}
_NIQE_CACHE: dict[str, float | None] = {}


def _order(methods: Iterable[str]) -> list[str]:
    return sorted(methods, key=lambda m: (METHOD_ORDER.index(m) if m in METHOD_ORDER else len(METHOD_ORDER), m))


def select_battles(battles: Iterable[dict[str, Any]], study_id: str | None, include_flagged: bool = False,
                   max_fail_share: float = 0.25) -> tuple[list[dict[str, Any]], dict[str, tuple[int, int]]]:
    """The study's method battles for BT (unflagged raters unless ``include_flagged``); the flagged raters."""
    chosen = [b for b in battles if study_id is None or b["study_id"] == study_id]
    flagged = flagged_battle_raters(chosen, max_fail_share)
    kept = [b for b in chosen if not b["gold"] and (include_flagged or b["rater_id"] not in flagged)]
    return kept, flagged


def bradley_terry(battles: Sequence[dict[str, Any]], rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0) -> BTResult:
    """BT strengths and rater-bootstrap intervals of the methods in ``battles``."""
    items = _order({b["left_method"] for b in battles} | {b["right_method"] for b in battles})
    index = {m: k for k, m in enumerate(items)}
    raters = sorted({b["rater_id"] for b in battles})
    rater_index = {r: k for k, r in enumerate(raters)}
    per_rater = win_tensor([rater_index[b["rater_id"]] for b in battles],
                           [index[b["left_method"]] for b in battles], [index[b["right_method"]] for b in battles],
                           [OUTCOME_SCORE[b["outcome"]] for b in battles], len(raters), len(items))
    return analyse(items, per_rater, rounds, seed)


def outcome_counts(battles: Sequence[dict[str, Any]]) -> dict[str, int]:
    """How often each answer was given."""
    return {o: sum(1 for b in battles if b["outcome"] == o) for o in OUTCOMES}


def krippendorff_alpha(votes: Sequence[dict[str, Any]]) -> float | None:
    """Ordinal Krippendorff's α of blinded scores (raters × stimuli); None with too little overlap."""
    import krippendorff

    scored = [v for v in votes if v.get("blinded") and v.get("stimulus_id")]
    raters = sorted({v["rater_id"] for v in scored})
    units = sorted({v["stimulus_id"] for v in scored})
    if len(raters) < 2 or len(units) < 2:
        return None
    r_index, u_index = {r: k for k, r in enumerate(raters)}, {u: k for k, u in enumerate(units)}
    data = np.full((len(raters), len(units)), np.nan)
    for v in scored:
        data[r_index[v["rater_id"]], u_index[v["stimulus_id"]]] = v["score"]
    if np.sum(np.sum(~np.isnan(data), axis=0) >= 2) < 2 or len(np.unique(data[~np.isnan(data)])) < 2:
        return None
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal", value_domain=[1, 2, 3, 4, 5]))


def stimulus_metrics(stimulus: StimulusRow, hr: StimulusRow, scale: int = 4) -> tuple[float, float] | None:
    """(PSNR, SSIM) of a stimulus against its image's HR crop; None when the files are not there."""
    from PIL import Image

    from sr_models.metrics import calculate_psnr, calculate_ssim

    key = (stimulus.file, hr.file)
    if key in _METRIC_CACHE:
        return _METRIC_CACHE[key]
    if not stimulus.file or not hr.file or not Path(stimulus.file).is_file() or not Path(hr.file).is_file():
        return None
    with Image.open(stimulus.file) as a, Image.open(hr.file) as b:
        x, y = np.asarray(a.convert("RGB")), np.asarray(b.convert("RGB"))
    if x.shape != y.shape:
        return None
    _METRIC_CACHE[key] = (calculate_psnr(x, y, scale), calculate_ssim(x, y, scale))
    return _METRIC_CACHE[key]


def stimulus_niqe(stimulus: StimulusRow, scale: int = 4) -> float | None:
    """NIQE of a stimulus image (border = ``scale``); None when the file, the parameters or room for
    two 96×96 patches is missing, or the image has no texture to score."""
    from PIL import Image

    from sr_models import niqe

    if stimulus.file in _NIQE_CACHE:
        return _NIQE_CACHE[stimulus.file]
    if not stimulus.file or not Path(stimulus.file).is_file() or not niqe.available():
        return None
    with Image.open(stimulus.file) as a:
        x = np.asarray(a.convert("RGB"))
    value = niqe.calculate_niqe(x, scale) if niqe.fits(x.shape, scale) else None
    _NIQE_CACHE[stimulus.file] = value if value is not None and math.isfinite(value) else None
    return _NIQE_CACHE[stimulus.file]


def _correlation(pairs: Sequence[tuple[float, float]]) -> dict[str, Any]:
    """SRCC and PLCC (with p) of metric vs MOS over ``(metric, mos)`` pairs; None where undefined."""
    x, y = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    if len(pairs) >= 3 and np.ptp(x) > 0 and np.ptp(y) > 0:
        srcc, srcc_p = sps.spearmanr(x, y)
        plcc, plcc_p = sps.pearsonr(x, y)
        return {"srcc": float(srcc), "srcc_p": float(srcc_p), "plcc": float(plcc), "plcc_p": float(plcc_p),
                "stimuli": len(pairs)}
    return {"srcc": None, "srcc_p": None, "plcc": None, "plcc_p": None, "stimuli": len(pairs)}


def _interval(values: Sequence[float]) -> list[float | None]:
    low, high = t_interval(values)
    return [None if math.isnan(low) else low, None if math.isnan(high) else high]


def perception_distortion(stimuli: Sequence[StimulusRow], votes: Sequence[dict[str, Any]],
                          bt: BTResult | None, scale: int = 4) -> dict[str, Any]:
    """Per method: PSNR/SSIM/NIQE (mean, 95 % t-CI over images), MOS (mean, CI), BT (θ, CI); correlations."""
    hr_of = {s.image_sha256: s for s in stimuli if s.kind == "anchor_hr"}
    metrics: dict[str, dict[str, list[float]]] = defaultdict(lambda: {"psnr": [], "ssim": [], "niqe": []})
    per_stimulus = {}
    niqe_of: dict[str, float] = {}
    for s in stimuli:
        if s.kind != "method":
            continue
        score = stimulus_niqe(s, scale)  # no reference needed
        if score is not None:
            metrics[s.method]["niqe"].append(score)
            niqe_of[s.id] = score
        if s.image_sha256 not in hr_of:
            continue
        m = stimulus_metrics(s, hr_of[s.image_sha256], scale)
        if m is None:
            continue
        metrics[s.method]["psnr"].append(m[0])
        metrics[s.method]["ssim"].append(m[1])
        per_stimulus[s.id] = m
    scores: dict[str, list[int]] = defaultdict(list)
    by_stimulus: dict[str, list[int]] = defaultdict(list)
    for v in votes:
        if v.get("blinded") and v["kind"] == "method":
            scores[v["method"]].append(v["score"])
            by_stimulus[v["stimulus_id"]].append(v["score"])
    bt_of = {}
    if bt is not None:
        bt_of = {m: (float(bt.log_strength[k]), bt.ci_low[k], bt.ci_high[k]) for k, m in enumerate(bt.items)}
    methods = []
    for method in _order(set(metrics) | set(scores) | set(bt_of)):
        psnr, ssim, mos = metrics[method]["psnr"], metrics[method]["ssim"], scores.get(method, [])
        niqe = metrics[method]["niqe"]
        entry: dict[str, Any] = {
            "method": method, "images": len(psnr),
            "psnr": float(np.mean(psnr)) if psnr else None, "psnr_ci": _interval(psnr),
            "ssim": float(np.mean(ssim)) if ssim else None, "ssim_ci": _interval(ssim),
            "niqe": float(np.mean(niqe)) if niqe else None, "niqe_ci": _interval(niqe),
            "mos": float(np.mean(mos)) if mos else None, "mos_ci": _interval(mos), "mos_votes": len(mos),
            "bt_log_strength": None, "bt_ci": None,
        }
        if method in bt_of:
            theta, low, high = bt_of[method]
            entry["bt_log_strength"] = theta
            entry["bt_ci"] = None if math.isnan(low) else [float(low), float(high)]
        methods.append(entry)
    correlations = {}
    ids = [i for i in per_stimulus if i in by_stimulus]
    for k, name in enumerate(("psnr", "ssim")):
        correlations[name] = _correlation([(per_stimulus[i][k], float(np.mean(by_stimulus[i]))) for i in ids])
    if niqe_of:
        correlations["niqe"] = _correlation([(niqe_of[i], float(np.mean(by_stimulus[i])))
                                             for i in niqe_of if i in by_stimulus])
    return {"methods": methods, "correlations": correlations}


def extended_summary(store: Store, study_id: str | None, votes: Sequence[dict[str, Any]],
                     include_flagged: bool = False, max_fail_share: float = 0.25,
                     rounds: int = BOOTSTRAP_ROUNDS) -> dict[str, Any]:
    """What ``summary --json`` gains: ``bradley_terry``, ``battles``, ``krippendorff_alpha``,
    ``perception_distortion`` and ``simulated`` (``votes``: the ACR votes the MOS table analysed)."""
    from .battles import BattleStore
    from .simulate import simulated_study_ids, study_is_simulated

    every = BattleStore(store).battles(study_id)
    if study_id is None:  # across studies: simulated ones never mix in
        every = [b for b in every if b["study_id"] not in simulated_study_ids(store)]
    kept, flagged = select_battles(every, study_id, include_flagged, max_fail_share)
    bt = bradley_terry(kept, rounds) if kept else None
    stimuli = store.stimuli(study_id) if study_id else []
    return {
        "simulated": study_is_simulated(store, study_id),
        "bradley_terry": bt.as_dict() if bt else {},
        "battles": {
            "n_battles": len(kept), "n_gold": sum(1 for b in every if b["gold"]),
            "flagged_raters": len(flagged), "outcomes": outcome_counts(kept),
            "methods": list(bt.items) if bt else [],
            "battles_per_pair": bt.battles.round().astype(int).tolist() if bt else [],
            "win_rate": [[None if math.isnan(x) else float(x) for x in row] for row in bt.win_rate()] if bt else [],
            "bootstrap_rounds": bt.rounds if bt else 0,
        },
        "krippendorff_alpha": krippendorff_alpha(votes),
        "perception_distortion": perception_distortion(stimuli, votes, bt),
    }


BATTLE_COLUMNS = ("id", "rater", "study_id", "position", "image_name", "image_sha256", "left_method",
                  "left_checkpoint_sha256", "left_precision", "left_kind", "right_method", "right_checkpoint_sha256",
                  "right_precision", "right_kind", "gold", "outcome", "answered_at", "response_ms", "app_version")
BT_COLUMNS = ("method", "log_strength", "ci_low", "ci_high", "battles")


def _pseudonym(rater_id: str, study_id: str) -> str:
    """The rater's per-study pseudonym (keyed with the deployment secret)."""
    from .identity import pseudonym

    return pseudonym(rater_id, study_id)


def battle_rows(battles: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Battles for export: the rater as a per-study pseudonym, never the raw id or session."""
    return [{**{k: b.get(k) for k in BATTLE_COLUMNS if k != "rater"},
             "rater": _pseudonym(b["rater_id"], b["study_id"])} for b in battles]


def write_battle_files(store: Store, study_id: str | None, folder: Path, stem: str = "mos") -> list[Path]:
    """``<stem>_battles.csv/.json`` and ``<stem>_bradley_terry.csv`` plus ``<stem>_analysis.json``."""
    import json

    from .battles import BattleStore
    from .export import csv_text

    folder.mkdir(parents=True, exist_ok=True)
    battles = BattleStore(store).battles(study_id)
    votes = [v for v in store.votes(study_id) if v["blinded"]] if study_id else []
    extra = extended_summary(store, study_id, votes)
    rows = battle_rows(battles)

    to_csv = csv_text  # the one CSV writer, every cell neutralised (export.safe_cell)

    bt_rows = [{"method": m, "log_strength": r["log_strength"], "ci_low": (r["ci"] or [None, None])[0],
                "ci_high": (r["ci"] or [None, None])[1], "battles": r["battles"]}
               for m, r in extra["bradley_terry"].items()]
    files = {f"{stem}_battles.csv": to_csv(rows, BATTLE_COLUMNS), f"{stem}_battles.json": json.dumps(rows, indent=1),
             f"{stem}_bradley_terry.csv": to_csv(bt_rows, BT_COLUMNS),
             f"{stem}_analysis.json": json.dumps(extra, indent=1)}
    paths = []
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
        paths.append(folder / name)
    return paths
