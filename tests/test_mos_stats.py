"""MOS statistics checked against scipy on fixed data and by simulation (CI coverage)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from sr_arena.mos.stats import average_ranks, holm, per_image_means, summarize


def vote(rater, image, method, score, ckpt="", precision="exact", kind="method", blinded=1, study="s"):
    return {"rater_id": rater, "image_sha256": image, "image_name": image + ".png", "method": method,
            "checkpoint_sha256": ckpt, "precision": precision, "kind": kind, "score": score,
            "blinded": blinded, "study_id": study}


def fixed_votes() -> list[dict]:
    """3 methods x 8 images x 4 raters with fixed pseudo-random scores (seeded)."""
    rng = np.random.default_rng(1234)
    centre = {"bicubic": 2.0, "srgan": 3.6, "esrgan": 3.2}
    votes = []
    for method, mu in centre.items():
        for image in range(8):
            for rater in range(4):
                score = int(np.clip(np.rint(mu + rng.normal(0, 0.9)), 1, 5))
                votes.append(vote(f"r{rater}", f"img{image}", method, score, ckpt="" if method == "bicubic" else method))
    return votes


def test_per_condition_statistics_match_scipy():
    votes = fixed_votes()
    summary = summarize(votes)
    assert [c.method for c in summary.conditions] == ["bicubic", "srgan", "esrgan"]
    for row in summary.conditions:
        x = np.array([v["score"] for v in votes if v["method"] == row.method], dtype=float)
        assert row.n_votes == x.size == 32 and row.n_raters == 4 and row.n_images == 8
        assert row.mos == pytest.approx(x.mean()) and row.sd == pytest.approx(x.std(ddof=1))
        half = sps.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
        assert (row.t_low, row.t_high) == pytest.approx((x.mean() - half, x.mean() + half))
        boot = sps.bootstrap((x,), np.mean, n_resamples=2000, method="percentile",
                             rng=np.random.default_rng(0)).confidence_interval
        assert (row.boot_low, row.boot_high) == pytest.approx((boot.low, boot.high))
        assert row.boot_low < row.mos < row.boot_high
        assert list(row.histogram) == np.bincount(x.astype(int), minlength=6)[1:].tolist()


def test_wilcoxon_on_per_image_means_with_holm_matches_scipy():
    votes = fixed_votes()
    summary = summarize(votes)
    means = {m: np.array([np.mean([v["score"] for v in votes if v["method"] == m and v["image_sha256"] == f"img{i}"])
                          for i in range(8)]) for m in ("bicubic", "srgan", "esrgan")}
    pairs = [("bicubic", "srgan"), ("bicubic", "esrgan"), ("srgan", "esrgan")]
    raw = [sps.wilcoxon(means[a], means[b], alternative="two-sided").pvalue for a, b in pairs]
    assert [t.p_value for t in summary.tests] == pytest.approx(raw)
    # Holm by hand: sort, multiply by (m - rank), running maximum, clip at 1.
    order = np.argsort(raw)
    expected = np.empty(3)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (3 - rank) * raw[i]))
        expected[i] = running
    assert [t.p_holm for t in summary.tests] == pytest.approx(expected.tolist())
    assert [t.n_images for t in summary.tests] == [8, 8, 8]
    assert summary.tests[0].mean_difference == pytest.approx(float(np.mean(means["bicubic"] - means["srgan"])))
    assert summary.tests[0].p_holm < 0.05  # bicubic (≈2) vs SRGAN (≈3.6) differ clearly


def test_holm_known_values_and_nan():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.4]) == pytest.approx([0.8, 0.8])
    out = holm([0.02, math.nan, 0.01])
    assert out[0] == pytest.approx(0.02) and math.isnan(out[1]) and out[2] == pytest.approx(0.02)


def test_average_rank_by_hand():
    votes = [vote("r", "a", "x", 5), vote("r", "a", "y", 3), vote("r", "a", "z", 3),
             vote("r", "b", "x", 1), vote("r", "b", "y", 4)]
    ranks = average_ranks(per_image_means(votes))
    assert ranks[("x", "", "exact")] == pytest.approx((1 + 2) / 2)
    assert ranks[("y", "", "exact")] == pytest.approx((2.5 + 1) / 2)
    assert ranks[("z", "", "exact")] == pytest.approx(2.5)


def test_checkpoints_and_precisions_are_never_pooled():
    votes = [vote("r1", "a", "srgan", 4, ckpt="aaa"), vote("r1", "a", "srgan", 2, ckpt="bbb"),
             vote("r2", "a", "srgan", 4, ckpt="aaa", precision="fast")]
    rows = summarize(votes).conditions
    assert {(r.checkpoint_sha256, r.precision, r.mos) for r in rows} == {("aaa", "exact", 4), ("bbb", "exact", 2),
                                                                         ("aaa", "fast", 4)}


def test_flagged_raters_and_unblinded_votes_are_left_out_by_default():
    votes = []
    for image in "abcd":
        votes += [vote("good", image, "hr", 5, kind="anchor_hr", precision="-"),
                  vote("good", image, "nn", 1, kind="anchor_nn", precision="-"),
                  vote("bad", image, "hr", 1, kind="anchor_hr", precision="-"),
                  vote("bad", image, "nn", 5, kind="anchor_nn", precision="-"),
                  vote("good", image, "srgan", 4), vote("bad", image, "srgan", 1),
                  vote("quick", image, "srgan", 2, blinded=0, study="quick")]
    default = summarize(votes, study_id="s")
    assert set(default.flagged_raters) == {"bad"} and default.flagged_raters["bad"] == (8, 8)
    srgan = next(c for c in default.conditions if c.method == "srgan")
    assert (srgan.n_votes, srgan.mos) == (4, 4.0)
    assert default.excluded_votes == 12
    hr = next(c for c in default.conditions if c.method == "hr")
    assert hr.label == "HR anchor" and hr.mos == 5
    everyone = summarize(votes, study_id="s", include_flagged=True, include_unblinded=True)
    srgan = next(c for c in everyone.conditions if c.method == "srgan")
    assert (srgan.n_votes, srgan.n_raters) == (12, 3)


def test_confidence_intervals_cover_known_true_means_about_95_percent():
    """Simulated raters score i.i.d. from known distributions over 1..5; count how often the
    95 % intervals (t and bootstrap) contain the true mean over 400 simulated studies."""
    rng = np.random.default_rng(2024)
    truth = {"nn": [0.85, 0.12, 0.03, 0, 0], "bicubic": [0.55, 0.3, 0.1, 0.05, 0],
             "srgan": [0.03, 0.12, 0.25, 0.4, 0.2]}
    true_mean = {m: float(np.dot(p, [1, 2, 3, 4, 5])) for m, p in truth.items()}
    covered_t = covered_boot = total = 0
    for _ in range(400):
        votes = [vote(f"r{r}", f"img{i}", m, int(rng.choice(5, p=p)) + 1)
                 for m, p in truth.items() for r in range(10) for i in range(5)]
        for row in summarize(votes).conditions:
            total += 1
            covered_t += row.t_low <= true_mean[row.method] <= row.t_high
            covered_boot += row.boot_low <= true_mean[row.method] <= row.boot_high
    assert total == 1200
    print(f"coverage t={covered_t / total:.3f} bootstrap={covered_boot / total:.3f}")
    assert 0.92 <= covered_t / total <= 0.98, covered_t / total
    assert 0.92 <= covered_boot / total <= 0.98, covered_boot / total


def test_results_table_says_too_few_votes_instead_of_a_raw_small_sample_interval():
    """Issue 12: three votes gave "None – None" or an interval of -15.56 - 22.56 running off the chart."""
    from sr_arena.mos.stats import MIN_VOTES_PER_METHOD, TOO_FEW
    from sr_arena.ui.results_tab import mos_figure, summary_table

    few = [vote(f"r{k}", "img0", "srgan", score) for k, score in enumerate((1, 5, 3))]
    one = [vote("r0", "img0", "esrgan", 4)]
    many = [vote(f"r{k}", f"img{k % 3}", "bicubic", 1 + k % 5) for k in range(MIN_VOTES_PER_METHOD)]
    summary = summarize(few + one + many)
    raw = {c.method: (c.t_low, c.t_high) for c in summary.conditions}
    assert raw["srgan"][0] < 1 and raw["srgan"][1] > 5  # what used to be shown
    table = summary_table(summary).set_index("method")
    assert table.loc["srgan (exact)", "95% t-CI"] == TOO_FEW and table.loc["srgan (exact)", "95% bootstrap CI"] == TOO_FEW
    assert table.loc["esrgan (exact)", "95% t-CI"] == TOO_FEW  # one vote: undefined, not "None – None"
    low, high = (float(x) for x in table.loc["bicubic (exact)", "95% t-CI"].split(" – "))
    assert 1 <= low < high <= 5
    ax = mos_figure(summary).axes[0]
    assert ax.get_xlim() == (0, 5.2)
    for line in ax.lines:  # no interval drawn outside the scale
        assert all(0 <= x <= 5.2 for x in line.get_xdata())
