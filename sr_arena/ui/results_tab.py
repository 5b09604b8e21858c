"""The Results tab: MOS per method with 95 % intervals, histograms, per-image breakdown,
paired Wilcoxon tests (Holm), and CSV/JSON downloads of raw votes and the summary (raters only by
per-study pseudonyms, every CSV cell neutralised: :mod:`sr_arena.mos.export`).

Call ``build_results_tab(tab)`` inside ``with gr.Tab("Results") as tab:``; it refreshes when
the tab is opened and on the Refresh button.
"""
from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd
from matplotlib.figure import Figure

from sr_arena.mos.export import write_all
from sr_arena.mos.stats import TOO_FEW, Summary, shown_interval, summarize
from sr_arena.mos.storage import QUICK_STUDY_ID

from .rating_session import get_service, service_error

SCORE_COLOURS = ["#d73027", "#fc8d59", "#fee08b", "#91cf60", "#1a9850"]


def _r(x: float | None, digits: int = 2) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(x, digits)


def _interval_text(low: float, high: float, n_votes: int) -> str:
    """"lo – hi" on the 1-5 scale, or "too few votes" (:func:`sr_arena.mos.stats.shown_interval`)."""
    shown = shown_interval(low, high, n_votes)
    return TOO_FEW if shown is None else f"{_r(shown[0])} – {_r(shown[1])}"


def summary_table(summary: Summary) -> pd.DataFrame:
    """One row per (method, checkpoint, precision)."""
    return pd.DataFrame([{
        "method": c.label, "MOS": _r(c.mos), "SD": _r(c.sd), "votes": c.n_votes, "raters": c.n_raters,
        "images": c.n_images, "95% t-CI": _interval_text(c.t_low, c.t_high, c.n_votes),
        "95% bootstrap CI": _interval_text(c.boot_low, c.boot_high, c.n_votes), "avg rank": _r(c.average_rank),
        "1/2/3/4/5": "/".join(map(str, c.histogram)), "checkpoint": c.checkpoint_sha256[:12] or "—",
    } for c in summary.conditions], columns=["method", "MOS", "SD", "votes", "raters", "images", "95% t-CI",
                                             "95% bootstrap CI", "avg rank", "1/2/3/4/5", "checkpoint"])


def image_table(summary: Summary) -> pd.DataFrame:
    """Per image and method: mean, SD, votes."""
    return pd.DataFrame([{"image": r.image_name, "method": r.label, "mean": _r(r.mean), "SD": _r(r.sd),
                          "votes": r.n_votes} for r in summary.per_image],
                        columns=["image", "method", "mean", "SD", "votes"])


def tests_table(summary: Summary) -> pd.DataFrame:
    """Every pair: images, mean difference, W, p, Holm-adjusted p."""
    return pd.DataFrame([{"A": t.a, "B": t.b, "images": t.n_images, "mean A − B": _r(t.mean_difference),
                          "W": _r(t.statistic, 1), "p": _r(t.p_value, 4), "p (Holm)": _r(t.p_holm, 4),
                          "significant (α = .05)": "yes" if t.p_holm == t.p_holm and t.p_holm < 0.05 else "no"}
                         for t in summary.tests],
                        columns=["A", "B", "images", "mean A − B", "W", "p", "p (Holm)", "significant (α = .05)"])


def mos_figure(summary: Summary) -> Figure | None:
    """Bars of MOS with 95 % t-interval error bars (bootstrap interval as a thin grey bar)."""
    rows = summary.conditions
    if not rows:
        return None
    fig = Figure(figsize=(10, 0.5 * len(rows) + 1.5), layout="constrained")
    ax = fig.subplots()
    y = list(range(len(rows)))[::-1]
    mos = [c.mos for c in rows]
    shown = [shown_interval(c.t_low, c.t_high, c.n_votes) or (c.mos, c.mos) for c in rows]  # no bar: too few
    err = [[c.mos - s[0] for c, s in zip(rows, shown)], [s[1] - c.mos for c, s in zip(rows, shown)]]
    colours = ["#9ca3af" if c.method in ("nn", "hr") else "#6366f1" for c in rows]
    ax.barh(y, mos, color=colours, height=0.6, xerr=err, capsize=4, error_kw={"elinewidth": 1.5})
    for yi, c in zip(y, rows):
        if shown_interval(c.boot_low, c.boot_high, c.n_votes):
            ax.plot([c.boot_low, c.boot_high], [yi - 0.38, yi - 0.38], color="#374151", lw=1)
        ax.text(0.08, yi, f"{c.mos:.2f}  (n={c.n_votes})", va="center", color="white", fontsize=9, weight="bold")
    ax.set_yticks(y, [c.label for c in rows])
    ax.set_xlim(0, 5.2)
    ax.set_ylim(-0.6, len(rows) - 0.4 + 0.6)  # room above the top bar for the component's label
    ax.set_xticks([1, 2, 3, 4, 5], ["1 Bad", "2 Poor", "3 Fair", "4 Good", "5 Excellent"])
    ax.set_xlabel("Mean opinion score — bars: 95 % t-interval; line below: 95 % bootstrap interval")
    ax.grid(axis="x", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def histogram_figure(summary: Summary) -> Figure | None:
    """One small histogram of scores 1–5 per method (share of its votes)."""
    rows = summary.conditions
    if not rows:
        return None
    cols = min(7, len(rows))
    nrows = math.ceil(len(rows) / cols)
    fig = Figure(figsize=(1.6 * cols + 0.6, 2.0 * nrows + 0.3), layout="constrained")
    axes = fig.subplots(nrows, cols, squeeze=False, sharey=True)
    for ax, c in zip(axes.flat, rows):
        share = [k / c.n_votes for k in c.histogram]
        ax.bar([1, 2, 3, 4, 5], share, color=SCORE_COLOURS)
        ax.set_title(f"{c.label}\n(n={c.n_votes})", fontsize=9)
        ax.set_xticks([1, 2, 3, 4, 5])
        ax.set_ylim(0, 1)
        ax.spines[["top", "right"]].set_visible(False)
    for ax in list(axes.flat)[len(rows):]:
        ax.set_visible(False)
    fig.supylabel("share of votes", fontsize=9)
    return fig


def headline(summary: Summary, study: str) -> str:
    """One paragraph saying what was analysed and what was left out."""
    flagged = len(summary.flagged_raters)
    text = (f"**{summary.n_votes} votes** analysed in study `{study}`"
            f"{'' if summary.options.get('include_flagged') else f'; {flagged} rater(s) flagged by the check images and left out'}"
            f"; {summary.excluded_votes} vote(s) left out by the options.")
    if not summary.conditions and summary.excluded_votes:
        text += " Every vote was left out: tick the options above to include them."
    elif not summary.conditions:
        text += " No votes yet — rate some images in the **Rate** tab."
    return text


def build_results_tab(tab: Any = None) -> dict[str, Any]:
    """Build the results UI in the current layout; returns its components."""
    service = get_service()
    if service is None:
        gr.Markdown(f"**Results are unavailable.** {service_error() or ''}")
        return {}
    with gr.Row():
        study = gr.Dropdown(label="Study", choices=[service.config.study_id], value=service.config.study_id,
                            allow_custom_value=False, scale=2, elem_id="mos-study")
        flagged = gr.Checkbox(label="Include raters flagged by the check images", value=False)
        unblinded = gr.Checkbox(label="Include unblinded quick ratings (Compare tab)", value=False)
        refresh = gr.Button("Refresh", size="sm", elem_id="mos-refresh")
    info = gr.Markdown(elem_id="mos-results-info")
    table = gr.Dataframe(label="MOS per method (a method with other weights or precision is another row)",
                         interactive=False, wrap=True, elem_id="mos-summary")
    mos_plot = gr.Plot(label="MOS with 95 % confidence intervals", elem_id="mos-plot")
    hist_plot = gr.Plot(label="Rating histograms", elem_id="mos-hist")
    tests = gr.Dataframe(label="Paired two-sided Wilcoxon signed-rank tests on per-image means, Holm-corrected",
                         interactive=False, wrap=True, elem_id="mos-tests")
    with gr.Accordion("Per-image breakdown", open=False):
        images = gr.Dataframe(interactive=False, elem_id="mos-images")
    downloads = gr.File(label="Downloads: raw votes and summary (CSV, JSON)", file_count="multiple",
                        interactive=False, elem_id="mos-downloads")

    def update(study_id: str, include_flagged: bool, include_unblinded: bool) -> list[Any]:
        studies = [s["id"] for s in service.store.studies()] or [service.config.study_id]
        votes = service.store.votes()
        if any(not v["blinded"] for v in votes):
            studies.append(QUICK_STUDY_ID)
        study_id = study_id if study_id in studies else service.config.study_id
        summary = summarize(votes, study_id, include_unblinded or study_id == QUICK_STUDY_ID, include_flagged,
                            service.config.gold_max_fail_share)
        chosen = [v for v in votes if v["study_id"] == study_id]
        folder = Path(tempfile.mkdtemp(prefix="sr-arena-mos-"))
        files = [str(p) for p in write_all(chosen, summary, folder, stem=f"mos_{study_id}")]
        return [gr.Dropdown(choices=sorted(set(studies)), value=study_id), headline(summary, study_id),
                summary_table(summary), mos_figure(summary), histogram_figure(summary), tests_table(summary),
                image_table(summary), files]

    inputs = [study, flagged, unblinded]
    outputs = [study, info, table, mos_plot, hist_plot, tests, images, downloads]
    for trigger in (refresh.click, study.input, flagged.input, unblinded.input):
        trigger(update, inputs, outputs, api_visibility="private")
    if tab is not None:
        tab.select(update, inputs, outputs, api_visibility="private")
    from .battle_results import build_battle_results  # BT, α, perception–distortion, planning (issue 12)
    from .rate_tab import method_names

    build_battle_results(service, study, flagged, (refresh.click, study.input, flagged.input), tab, method_names())
    return {"update": update, "refresh": refresh}
