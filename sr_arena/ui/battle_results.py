"""Results-tab additions of issue 12: Bradley–Terry ratings from battles (with 95 % rater-bootstrap
intervals), the win-rate heat map with battles per pair, Krippendorff's α, the perception–distortion
plot with SRCC/PLCC, "how many raters do I need" (the study simulator), and their downloads.

``build_battle_results(service, study, flagged, triggers, tab)`` is called by the Results tab.
"""
from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any, Sequence

import gradio as gr
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sr_arena.mos.battle_stats import extended_summary, write_battle_files
from sr_arena.mos.simulate import expected_ci_width, study_is_simulated

DEFAULT_TRUTH = {"bicubic": -1.0, "srgan": 0.4, "esrgan": 0.8, "awsrn": -0.1, "san": -0.1}


def _r(x: float | None, digits: int = 2) -> Any:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(x, digits)


def bt_table(extra: dict[str, Any], names: dict[str, str]) -> pd.DataFrame:
    """Method, BT log strength, 95 % interval (or "too few battles"), battles."""
    rows = [{"method": names.get(m, m), "BT log strength": _r(r["log_strength"]),
             "95% CI": "too few battles" if r["ci"] is None else f"{_r(r['ci'][0])} – {_r(r['ci'][1])}",
             "battles": r["battles"]}
            for m, r in sorted(extra["bradley_terry"].items(), key=lambda kv: -kv[1]["log_strength"])]
    return pd.DataFrame(rows, columns=["method", "BT log strength", "95% CI", "battles"])


def bt_figure(extra: dict[str, Any], names: dict[str, str]) -> Figure | None:
    """BT log strengths with their 95 % intervals, strongest on top."""
    bt = extra["bradley_terry"]
    if not bt:
        return None
    items = sorted(bt, key=lambda m: bt[m]["log_strength"])
    fig = Figure(figsize=(8, 0.5 * len(items) + 1.6), layout="constrained")
    ax = fig.subplots()
    for y, m in enumerate(items):
        theta, ci = bt[m]["log_strength"], bt[m]["ci"]
        ax.plot([theta], [y], "o", color="#6366f1")
        if ci is not None:
            ax.plot(ci, [y, y], color="#6366f1", lw=2)
    ax.set_yticks(range(len(items)), [names.get(m, m) for m in items])
    ax.axvline(0, color="#9ca3af", lw=0.8)
    ax.set_xlabel("Bradley–Terry log strength (mean 0) with 95 % rater-bootstrap interval")
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def win_rate_figure(extra: dict[str, Any], names: dict[str, str]) -> Figure | None:
    """Heat map: share of points the row method took from the column method; battles per pair in each cell."""
    b = extra["battles"]
    if not b["methods"]:
        return None
    rate = np.array([[np.nan if x is None else x for x in row] for row in b["win_rate"]], float)
    counts = np.array(b["battles_per_pair"])
    labels = [names.get(m, m) for m in b["methods"]]
    fig = Figure(figsize=(1.3 * len(labels) + 3, 1.0 * len(labels) + 1.5), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(rate, cmap="RdYlGn", vmin=0, vmax=1)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if i != j and counts[i, j]:
                ax.text(j, i, f"{rate[i, j]:.0%}\nn={counts[i, j]}", ha="center", va="center", fontsize=9)
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("against")
    ax.set_ylabel("method (row wins …)")
    fig.colorbar(image, ax=ax, label="win rate (ties = ½)")
    return fig


def _errorbar(ax: Any, x: float | None, xci: Sequence | None, y: float | None, yci: Sequence | None,
              label: str) -> None:
    if x is None or y is None:
        return
    def err(v: float, ci: Sequence | None) -> list[list[float]]:
        if not ci or ci[0] is None:
            return [[0.0], [0.0]]
        return [[v - ci[0]], [ci[1] - v]]
    ax.errorbar([x], [y], xerr=err(x, xci), yerr=err(y, yci), fmt="o", capsize=3)
    ax.annotate(label, (x, y), textcoords="offset points", xytext=(5, 5), fontsize=9)


#: The perception–distortion plot's x-axis choices: full-reference distortion, or NIQE as in PIRM.
PD_AXES = {"PSNR / SSIM (distortion)": "distortion", "NIQE (no reference, as in PIRM)": "niqe"}


def niqe_figure(extra: dict[str, Any], names: dict[str, str]) -> Figure | None:
    """PIRM's perception–distortion plane (Blau et al., ECCV-W 2018): PSNR (y) against NIQE (x, lower =
    more natural), and MOS against NIQE, per method with 95 % intervals on both axes."""
    methods = [m for m in extra["perception_distortion"]["methods"] if m.get("niqe") is not None]
    if not methods:
        return None
    fig = Figure(figsize=(10, 4.5), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, (y, yci, ylabel) in zip(axes, (("psnr", "psnr_ci", "mean PSNR of the study stimuli (dB)"),
                                           ("mos", "mos_ci", "MOS (1–5)"))):
        for m in methods:
            _errorbar(ax, m["niqe"], m["niqe_ci"], m[y], m[yci], names.get(m["method"], m["method"]))
        ax.set_xlabel("mean NIQE of the study stimuli (lower = more natural)")
        ax.set_ylabel(ylabel)
        ax.invert_xaxis()  # more natural to the right, as perception improves
        ax.grid(alpha=0.3)
    fig.suptitle("Perception–distortion as in PIRM: NIQE (no reference) against PSNR and MOS", fontsize=10)
    return fig


def perception_distortion_figure(extra: dict[str, Any], names: dict[str, str],
                                 x_axis: str = "distortion") -> Figure | None:
    """PSNR and SSIM (x) against MOS and BT strength (y), per method, with 95 % intervals on both axes;
    ``x_axis="niqe"``: :func:`niqe_figure` (None when NIQE was not measured)."""
    if PD_AXES.get(x_axis, x_axis) == "niqe":
        return niqe_figure(extra, names)
    methods = [m for m in extra["perception_distortion"]["methods"] if m["psnr"] is not None]
    if not methods:
        return None
    fig = Figure(figsize=(10, 7.5), layout="constrained")
    axes = fig.subplots(2, 2)
    for col, metric in enumerate(("psnr", "ssim")):
        for row, (y, yci, ylabel) in enumerate((("mos", "mos_ci", "MOS (1–5)"),
                                                ("bt_log_strength", "bt_ci", "BT log strength"))):
            ax = axes[row][col]
            for m in methods:
                _errorbar(ax, m[metric], m[f"{metric}_ci"], m[y], m[yci], names.get(m["method"], m["method"]))
            ax.set_xlabel(f"mean {metric.upper()} of the study stimuli" + (" (dB)" if metric == "psnr" else ""))
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
    fig.suptitle("Perception–distortion: distortion (PSNR/SSIM, higher = closer to the original) "
                 "against perception (MOS, BT)", fontsize=10)
    return fig


def correlation_table(extra: dict[str, Any]) -> pd.DataFrame:
    """SRCC and PLCC of PSNR, SSIM (and NIQE, where measured) with per-stimulus MOS."""
    rows = [{"metric": k.upper(), "SRCC": _r(v["srcc"], 3), "p (SRCC)": _r(v["srcc_p"], 4), "PLCC": _r(v["plcc"], 3),
             "p (PLCC)": _r(v["plcc_p"], 4), "stimuli": v["stimuli"]}
            for k, v in extra["perception_distortion"]["correlations"].items()]
    return pd.DataFrame(rows, columns=["metric", "SRCC", "p (SRCC)", "PLCC", "p (PLCC)", "stimuli"])


def headline(extra: dict[str, Any], study: str) -> str:
    """What the battle part analysed; says plainly when the study is simulated."""
    b = extra["battles"]
    alpha = extra["krippendorff_alpha"]
    text = (f"**{b['n_battles']} battles** analysed ({b['n_gold']} gold HR-vs-NN items screen raters; "
            f"{b['flagged_raters']} rater(s) flagged). Answers: " +
            ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in b["outcomes"].items()) +
            ". Krippendorff's α (ordinal, ACR scores): " + ("too few votes" if alpha is None else f"{alpha:.3f}") + ".")
    if extra["simulated"]:
        text = f"⚠️ **SIMULATED study `{study}`: simulated raters, not real votes.** " + text
    return text


def plan_table(mode: str, truth: dict[str, float], raters: str, per_rater: float) -> pd.DataFrame:
    """Expected 95 % CI width for each number of raters (20 simulated studies each)."""
    numbers = sorted({int(x) for x in str(raters).replace(" ", "").split(",") if x.strip().isdigit() and int(x) >= 2})
    rows = []
    for n in numbers[:8]:
        plan = expected_ci_width(mode, truth, n, int(per_rater), studies=20, rounds=400)
        rows.append({"raters": n, "votes per rater": int(per_rater),
                     "expected 95% CI width": round(plan.mean_ci_width, 3),
                     "order recovered": f"{plan.order_recovered:.0%}"})
    return pd.DataFrame(rows, columns=["raters", "votes per rater", "expected 95% CI width", "order recovered"])


def build_battle_results(service: Any, study: Any, flagged: Any, triggers: Sequence[Any], tab: Any = None,
                         names: dict[str, str] | None = None) -> dict[str, Any]:
    """Build the battle/agreement/perception–distortion/planning section of the Results tab."""
    names = names or {}
    gr.Markdown("## Battles (Bradley–Terry), agreement and the perception–distortion picture")
    info = gr.Markdown(elem_id="bt-info")
    table = gr.Dataframe(label="Bradley–Terry ratings (natural log strength, mean 0; 95 % rater bootstrap)",
                         interactive=False, elem_id="bt-table")
    bt_plot = gr.Plot(label="Bradley–Terry strengths", elem_id="bt-plot")
    heat = gr.Plot(label="Win rate and battles per pair", elem_id="bt-heatmap")
    pd_axis = gr.Radio(list(PD_AXES), value=next(iter(PD_AXES)), label="Perception–distortion x-axis",
                       elem_id="pd-axis")
    pd_plot = gr.Plot(label="Perception–distortion", elem_id="pd-plot")
    corr = gr.Dataframe(label="Metric vs per-stimulus MOS (Spearman SRCC, Pearson PLCC)", interactive=False,
                        elem_id="pd-correlations")
    files = gr.File(label="Downloads: battles, Bradley–Terry, analysis (CSV, JSON)", file_count="multiple",
                    interactive=False, elem_id="bt-downloads")
    with gr.Accordion("How many raters do I need? (simulated studies)", open=False):
        with gr.Row():
            mode = gr.Radio(["pairwise", "acr"], value="pairwise", label="mode")
            raters = gr.Textbox("10,20,40,80", label="numbers of raters")
            per_rater = gr.Number(40, label="votes per rater", precision=0)
            plan_button = gr.Button("Simulate", elem_id="plan-run")
        plan_note = gr.Markdown("Truth: this study's current estimates (BT strengths for pairwise, MOS for ACR), "
                                "else a typical spread.")
        plan = gr.Dataframe(interactive=False, elem_id="plan-table")

    def summary(study_id: str, include_flagged: bool) -> dict[str, Any]:
        votes = [v for v in service.store.votes(study_id) if v["blinded"]]
        return extended_summary(service.store, study_id, votes, include_flagged, service.config.gold_max_fail_share)

    def update(study_id: str, include_flagged: bool, x_axis: str = "distortion") -> list[Any]:
        extra = summary(study_id, include_flagged)
        folder = Path(tempfile.mkdtemp(prefix="sr-arena-bt-"))
        paths = [str(p) for p in write_battle_files(service.store, study_id, folder, stem=f"mos_{study_id}")]
        return [headline(extra, study_id), bt_table(extra, names), bt_figure(extra, names),
                win_rate_figure(extra, names), perception_distortion_figure(extra, names, x_axis),
                correlation_table(extra), paths]

    def redraw(study_id: str, include_flagged: bool, x_axis: str) -> Figure | None:
        return perception_distortion_figure(summary(study_id, include_flagged), names, x_axis)

    def run_plan(study_id: str, chosen: str, numbers: str, k: float) -> list[Any]:
        votes = [v for v in service.store.votes(study_id) if v["blinded"]]
        extra = extended_summary(service.store, study_id, votes, rounds=200)
        if chosen == "pairwise":
            truth = {m: r["log_strength"] for m, r in extra["bradley_terry"].items()} or DEFAULT_TRUTH
        else:
            truth = {m["method"]: m["mos"] for m in extra["perception_distortion"]["methods"] if m["mos"] is not None}
            truth = truth if len(truth) >= 2 else {m: 3 + v for m, v in DEFAULT_TRUTH.items()}
        sim = " (simulated study)" if study_is_simulated(service.store, study_id) else ""
        note = f"Truth used{sim}: " + ", ".join(f"{names.get(m, m)} {v:.2f}" for m, v in truth.items())
        return [note, plan_table(chosen, truth, numbers, k or 1)]

    outputs = [info, table, bt_plot, heat, pd_plot, corr, files]
    for trigger in triggers:
        trigger(update, [study, flagged, pd_axis], outputs, api_visibility="private")
    if tab is not None:
        tab.select(update, [study, flagged, pd_axis], outputs, api_visibility="private")
    pd_axis.change(redraw, [study, flagged, pd_axis], pd_plot, api_visibility="private")
    plan_button.click(run_plan, [study, mode, raters, per_rater], [plan_note, plan], api_visibility="private")
    return {"update": update, "plan": run_plan}
