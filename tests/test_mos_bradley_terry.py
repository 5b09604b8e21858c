"""Bradley–Terry analysis of battles: recovery and interval coverage on simulated studies with
known strengths, choix checked against a logistic-regression fit and the batched Newton solver,
the pair schedule, Krippendorff's α, and the perception–distortion numbers."""
from __future__ import annotations

import random
from collections import Counter
from itertools import combinations

import numpy as np
import pytest
from PIL import Image
from scipy import optimize, stats as sps

from mos_support import noisy_stimuli
from sr_arena.mos.battle_stats import bradley_terry, krippendorff_alpha, perception_distortion
from sr_arena.mos.battles import GOLD_EVERY, schedule
from sr_arena.mos.bradley_terry import BOOTSTRAP_ROUNDS, bootstrap, fit_choix, fit_many, win_tensor
from sr_arena.mos.simulate import centred, simulate_wins
from sr_arena.mos.storage import StimulusRow

TRUTH = {"bicubic": -1.0, "srgan": 0.5, "esrgan": 0.9, "awsrn": -0.1, "san": 0.2}


def test_bt_recovers_order_and_intervals_cover_truth_60_raters_x_40_battles():
    theta = centred(TRUTH)
    per_rater = simulate_wins(theta, 60, 40, np.random.default_rng(12))
    assert per_rater.sum() == 60 * 40
    battles = [  # as stored rows, through the same path the app uses
        {"rater_id": f"r{r}", "left_method": list(TRUTH)[i], "right_method": list(TRUTH)[j], "outcome": "left"}
        for r in range(60) for i in range(5) for j in range(5) for _ in range(int(per_rater[r, i, j]))]
    result = bradley_terry(battles, rounds=BOOTSTRAP_ROUNDS)
    order = [list(TRUTH).index(m) for m in result.items]
    estimate, truth = result.log_strength, theta[order]
    assert abs(estimate.mean()) < 1e-9
    assert list(np.argsort(estimate)) == list(np.argsort(truth)), (estimate, truth)
    covered = (result.ci_low <= truth) & (truth <= result.ci_high)
    assert covered.sum() >= 4, (result.ci_low, result.ci_high, truth)
    assert result.rounds >= 1000 and np.all(result.ci_high - result.ci_low < 0.5)


def test_interval_coverage_over_200_simulated_studies_is_nominal():
    """Full bootstrap (1000 rounds) in every study: the batched Newton fit makes that ~7 s."""
    theta = centred(TRUTH)
    rng = np.random.default_rng(2026)
    covered = []
    for study in range(200):
        low, high = bootstrap(simulate_wins(theta, 60, 40, rng), rounds=1000, seed=study)
        covered.append((low <= theta) & (theta <= high))
    coverage = float(np.mean(covered))
    print(f"coverage over 200 studies x 5 methods: {coverage:.3f}")
    assert 0.93 <= coverage <= 0.97


def _logistic_regression(wins: np.ndarray) -> np.ndarray:
    """BT as a logistic regression: one row per ordered pair (i beat j, weight W_ij), x = e_i − e_j,
    no intercept, the last item's coefficient fixed at 0; fitted with scipy's BFGS."""
    m = wins.shape[0]
    rows, weights = [], []
    for i in range(m):
        for j in range(m):
            if i != j and wins[i, j] > 0:
                x = np.zeros(m)
                x[i], x[j] = 1.0, -1.0
                rows.append(x[:-1])
                weights.append(wins[i, j])
    X, w = np.array(rows), np.array(weights)

    def loss(beta: np.ndarray) -> tuple[float, np.ndarray]:
        z = X @ beta
        return float(np.sum(w * np.logaddexp(0, -z))), -(X.T @ (w * sps.logistic.cdf(-z)))

    beta = optimize.minimize(loss, np.zeros(m - 1), jac=True, method="BFGS", options={"gtol": 1e-10}).x
    theta = np.append(beta, 0.0)
    return theta - theta.mean()


def test_choix_agrees_with_logistic_regression_and_batched_newton_with_ties():
    rng = np.random.default_rng(5)
    theta = centred(TRUTH)
    items = list(TRUTH)
    battles = []
    for _ in range(600):
        i, j = rng.choice(5, 2, replace=False)
        p = 1 / (1 + np.exp(-(theta[i] - theta[j])))
        u = rng.random()
        outcome = "tie" if u < 0.15 else "both_bad" if u < 0.2 else ("left" if rng.random() < p else "right")
        battles.append((i, j, outcome))
    score = {"left": 1.0, "right": 0.0, "tie": 0.5, "both_bad": 0.5}
    wins = win_tensor([0] * len(battles), [b[0] for b in battles], [b[1] for b in battles],
                      [score[b[2]] for b in battles], 1, 5)[0]
    assert np.any(wins % 1 == 0.5)  # ties really count as half wins
    choix_theta, lr_theta, newton = fit_choix(wins), _logistic_regression(wins), fit_many(wins, penalty=0.0)
    np.testing.assert_allclose(choix_theta, lr_theta, atol=1e-5)
    np.testing.assert_allclose(newton, lr_theta, atol=1e-6)
    stored = [{"rater_id": "r", "left_method": items[i], "right_method": items[j], "outcome": o}
              for i, j, o in battles]
    result = bradley_terry(stored, rounds=10)
    mine = {m: result.log_strength[k] for k, m in enumerate(result.items)}
    np.testing.assert_allclose([mine[m] for m in items], lr_theta, atol=1e-5)


def _stimuli(methods=("bicubic", "srgan", "esrgan", "awsrn", "san"), images=3) -> list[StimulusRow]:
    rows = []
    for i in range(images):
        for m in ("nn", *methods, "hr"):
            kind = {"nn": "anchor_nn", "hr": "anchor_hr"}.get(m, "method")
            rows.append(StimulusRow(f"{i}-{m}", "s", f"img{i}", f"img{i}.png", m, "", "-", kind, "", 64, 64))
    return rows


def test_schedule_balances_pairs_and_images_and_interleaves_gold():
    stimuli = _stimuli()
    by_id = {s.id: s for s in stimuli}
    counts: Counter = Counter()
    pairs = []
    for rater in range(6):  # each rater continues from the study's counts so far
        mine = schedule(stimuli, 40, random.Random(rater), counts)
        for p in mine:
            if not p.gold:
                counts[tuple(sorted((by_id[p.left].method, by_id[p.right].method)))] += 1
        pairs += mine
    gold = [p for p in pairs if p.gold]
    assert len(gold) == 6 * (40 // GOLD_EVERY)
    assert all({by_id[p.left].kind, by_id[p.right].kind} == {"anchor_hr", "anchor_nn"} for p in gold)
    assert all(by_id[p.left].image_sha256 == by_id[p.right].image_sha256 for p in pairs)
    method_pairs = Counter(tuple(sorted((by_id[p.left].method, by_id[p.right].method))) for p in pairs if not p.gold)
    assert set(method_pairs) == set(combinations(sorted(("bicubic", "srgan", "esrgan", "awsrn", "san")), 2))
    assert max(method_pairs.values()) - min(method_pairs.values()) <= 1
    lefts = Counter(by_id[p.left].method for p in pairs if not p.gold)
    assert max(lefts.values()) / min(lefts.values()) < 1.6  # sides drawn at random


def test_krippendorff_alpha_of_the_rater_by_stimulus_matrix():
    import krippendorff

    data = np.array([[1, 2, 3, 3, 2, 1, 4, 1, 2, np.nan],
                     [1, 2, 3, 3, 2, 2, 4, 1, 2, 5],
                     [np.nan, 3, 3, 3, 2, 3, 4, 2, 2, 5]])
    votes = [{"blinded": 1, "stimulus_id": f"s{u}", "rater_id": f"r{r}", "score": int(data[r, u])}
             for r in range(3) for u in range(10) if not np.isnan(data[r, u])]
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal", value_domain=[1, 2, 3, 4, 5])
    assert krippendorff_alpha(votes) == pytest.approx(expected)
    assert 0.5 < expected < 1
    agree = [{**v, "score": int(data[1, int(v["stimulus_id"][1:])])} for v in votes]
    assert krippendorff_alpha(agree) == pytest.approx(1.0)
    assert krippendorff_alpha(votes[:1]) is None


def test_perception_distortion_reads_the_stimuli_and_correlates_with_mos(tmp_path):
    from skimage import data as skdata

    from sr_models.metrics import calculate_psnr, calculate_ssim

    crops = [skdata.astronaut()[i * 64: i * 64 + 96, 100:196] for i in range(3)]
    rows = noisy_stimuli(tmp_path, crops, {"bicubic": 4, "srgan": 12}, seed=0)
    votes = [{"blinded": 1, "kind": "method", "method": method, "stimulus_id": f"{i}-{method}", "rater_id": f"r{r}",
              "score": 4 if method == "bicubic" else 2 + (i + r) % 2} for i in range(3) for method in ("bicubic", "srgan")
             for r in range(4)]
    result = perception_distortion(rows, votes, None)
    bicubic = next(m for m in result["methods"] if m["method"] == "bicubic")
    hr0 = np.asarray(Image.open(tmp_path / "hr0.png"))
    psnrs = [calculate_psnr(np.asarray(Image.open(tmp_path / f"bicubic{i}.png")),
                            np.asarray(Image.open(tmp_path / f"hr{i}.png")), 4) for i in range(3)]
    assert bicubic["psnr"] == pytest.approx(np.mean(psnrs)) and bicubic["images"] == 3
    assert bicubic["psnr_ci"][0] < bicubic["psnr"] < bicubic["psnr_ci"][1]
    assert bicubic["ssim"] == pytest.approx(np.mean([calculate_ssim(
        np.asarray(Image.open(tmp_path / f"bicubic{i}.png")), np.asarray(Image.open(tmp_path / f"hr{i}.png")), 4)
        for i in range(3)]))
    assert bicubic["mos"] == 4.0 and hr0.shape == (96, 96, 3)
    corr = result["correlations"]["psnr"]
    assert corr["stimuli"] == 6 and corr["srcc"] > 0.5 and corr["plcc"] > 0.5  # less noise, higher MOS here
