"""The Rate tab: a blinded MOS study in the browser, as in the SRGAN paper.

Calibration (an NN and an HR example with their anchor scores) → one stimulus at a time, same
display size, no method name, in the rater's own random order → five labelled buttons → a
thank-you with the rater's own summary. Progress is kept in the database under an anonymous rater
whose secret token the server issues to the browser (``gr.BrowserState``), so a rater can stop,
reload and continue; the session that presented the token owns the rater (a server-side
``gr.State``) and votes are taken only for it (:mod:`sr_arena.mos.identity`). A second tab of the
same rater simply continues with the next unscored image.

Call ``build_rate_tab()`` inside ``with gr.Tab("Rate") as tab:`` (pass ``tab`` so the study
loads when the tab is opened).
"""
from __future__ import annotations

import html
from typing import Any

import gradio as gr
import numpy as np
from PIL import Image

from sr_arena.mos.storage import SCORE_LABELS, VoteRejected

from .rating_session import begin_as_rater, claim_rater, get_service, rater_binding, service_error, voting_rater

#: On-screen size of every stimulus (and calibration example), in CSS pixels.
DISPLAY_SIZE = 512


def mos_css(crop: int) -> str:
    """Stimuli are shown enlarged by a whole factor (512 px for 128- and 256-pixel crops) with
    nearest-neighbour display scaling, so the browser adds no blur and every stimulus has the same size."""
    side = max(1, DISPLAY_SIZE // max(1, crop)) * crop
    return f"""
#mos-stimulus img, .mos-calibration img {{ width: {side}px !important; height: {side}px !important;
  max-width: 100%; object-fit: contain !important; image-rendering: pixelated; }}
#mos-progress p {{ font-size: 1.15em; font-variant-numeric: tabular-nums; margin: 0; }}
.mos-bar {{ height: 6px; background: #e5e7eb; border-radius: 3px; overflow: hidden; margin-top: .3em; }}
.mos-bar > div {{ height: 100%; background: #6366f1; }}
.mos-score button {{ min-height: 3.2em; font-size: 1.05em; }}
"""

def _png(path: str) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def progress_html(done: int, total: int) -> str:
    """"12 / 42" with a thin bar."""
    share = 100 * done / total if total else 0
    return (f"<p><b>{done} / {total}</b> rated</p>"
            f"<div class='mos-bar'><div style='width:{share:.1f}%'></div></div>")


def summary_markdown(summary: dict[str, Any], method_names: dict[str, str]) -> str:
    """The rater's own results, methods now revealed."""
    lines = [f"## Thank you!\nYou scored **{summary['n_votes']}** images. Here is what you gave each method "
             "(now revealed), on the 1 (Bad) – 5 (Excellent) scale:\n", "| method | your mean score |", "|---|---|"]
    for method, mean in sorted(summary["mean_by_method"].items(), key=lambda kv: kv[1]):
        lines.append(f"| {method_names.get(method, method)} | {mean:.2f} |")
    if summary["n_gold"]:
        ok = summary["n_gold"] - summary["n_gold_failed"]
        lines.append(f"\nCheck images (the original and the blocky enlargement): **{ok} of {summary['n_gold']}** "
                     "scored as expected (original ≥ 4, blocky ≤ 2).")
        if summary["flagged"]:
            lines.append("Your ratings are kept but left out of the default analysis, because several check "
                         "images were scored unexpectedly.")
    lines.append("\nThe combined results of everyone are in the **Results** tab.")
    return "\n".join(lines)


def method_names() -> dict[str, str]:
    """Display names of methods and anchors."""
    from sr_models.registry import CARDS

    return {"nn": "Nearest neighbour (anchor)", "hr": "Original HR (anchor)",
            **{k: c.display_name for k, c in CARDS.items()}}


def build_rate_tab(tab: Any = None) -> dict[str, Any]:
    """Build the study UI in the current layout; returns its components (for tests and wiring)."""
    service = get_service()
    if service is None:
        gr.Markdown(f"**The MOS study is unavailable.** {html.escape(service_error() or '')}")
        return {}
    gr.HTML(f"<style>{mos_css(service.config.crop)}</style>", padding=False)
    current = gr.State(None)
    with gr.Column(visible=True) as intro:
        gr.Markdown(
            "## Rate image quality\nYou will see images enlarged ×4 by different methods, one at a time, in random "
            "order, without their names. Score each for how good it looks, from **1 (Bad)** to **5 (Excellent)**. "
            "Two examples calibrate the scale:")
        with gr.Row():
            nn_example = gr.Image(label="Scored 1 — Bad: a blocky nearest-neighbour enlargement", format="png",
                                  interactive=False, buttons=[], height=DISPLAY_SIZE + 80,
                                  elem_classes="mos-calibration")
            hr_example = gr.Image(label="Scored 5 — Excellent: the original image", format="png",
                                  interactive=False, buttons=[], height=DISPLAY_SIZE + 80,
                                  elem_classes="mos-calibration")
        intro_note = gr.Markdown("Loading the study…")
        start = gr.Button("Start rating", variant="primary", interactive=False, elem_id="mos-start")
    with gr.Column(visible=False) as rating:
        progress = gr.HTML(elem_id="mos-progress")
        stimulus = gr.Image(show_label=False, format="png", interactive=False, buttons=[], height=DISPLAY_SIZE + 20,
                            elem_id="mos-stimulus")
        gr.Markdown("How good does this image look?")
        with gr.Row(elem_classes="mos-score"):
            buttons = [gr.Button(f"{score} {label}", variant="secondary", elem_id=f"mos-score-{score}")
                       for score, label in SCORE_LABELS.items()]
        stop = gr.Button("Stop — continue later", variant="stop", size="sm", elem_id="mos-stop")
    with gr.Column(visible=False) as done_panel:
        thanks = gr.Markdown(elem_id="mos-thanks")

    panels = [intro, rating, done_panel]

    def show(which: Any) -> list[Any]:
        return [gr.Column(visible=p is which) for p in panels]

    def refused(error: VoteRejected) -> list[Any]:
        """The intro with the reason nothing can start (e.g. too many new raters from this address)."""
        return [gr.skip(), gr.skip(), None, None, f"**{html.escape(str(error))}**",
                gr.Button(interactive=False), *show(intro), ""]

    def enter(token: Any, owner: Any, request: gr.Request) -> list[Any]:
        service.prepare()
        try:
            token, rater_id = claim_rater(service.store, token, owner, request)
        except VoteRejected as error:
            return refused(error)
        calibration = service.calibration()
        done, total = service.progress(rater_id)
        if total and done >= total:
            return [token, rater_id, None, None, "", gr.Button(), *show(done_panel),
                    summary_markdown(service.rater_summary(rater_id), method_names())]
        nn, hr = (_png(calibration[0].file), _png(calibration[1].file)) if calibration else (None, None)
        minutes = max(1, round(total * 6 / 60))
        note = (f"**{total} images** to score; it takes about {minutes} minute{'s' if minutes > 1 else ''}. "
                "You can stop at any time and continue later in this browser.")
        if not total:
            note = "This study has no images yet. " + " ".join(service.notes)
        label = "Start rating" if done == 0 else f"Continue ({done} / {total} rated)"
        return [token, rater_id, nn, hr, note, gr.Button(label, interactive=bool(total)), *show(intro), ""]

    def serve(rater_id: str) -> list[Any]:
        served = service.next(rater_id)
        if served is None:
            return [None, None, "", *show(done_panel),
                    summary_markdown(service.rater_summary(rater_id), method_names())]
        return [served.stimulus.id, _png(served.stimulus.file), progress_html(served.done, served.total),
                *show(rating), ""]

    def begin(token: Any, owner: Any, request: gr.Request) -> list[Any]:
        return begin_as_rater(service.store, token, owner, request, serve, len(served_outputs))

    def score(value: int):
        def handler(token: Any, owner: Any, stimulus_id: str | None) -> list[Any]:
            if not stimulus_id:
                raise gr.Error("Reload the page to continue the study.")
            try:
                rater_id = voting_rater(service.store, token, owner)
            except VoteRejected as error:
                raise gr.Error(str(error)) from None
            try:
                service.vote(rater_id, stimulus_id, value)
            except VoteRejected as error:
                if stimulus_id in service.store.voted_stimuli(rater_id, service.config.study_id):
                    gr.Info("This image was already scored (in another tab); here is the next one.")
                    return [rater_id, *serve(rater_id)]
                gr.Warning(str(error))
                return [gr.skip() for _ in range(1 + len(served_outputs))]
            return [rater_id, *serve(rater_id)]
        return handler

    def pause(token: Any, owner: Any) -> list[Any]:
        try:
            done, total = service.progress(voting_rater(service.store, token, owner))
        except VoteRejected as error:
            raise gr.Error(str(error)) from None
        return [None, f"**Saved: {done} / {total} rated.** Come back any time in this browser to continue.",
                gr.Button(f"Continue ({done} / {total} rated)"), *show(intro)]

    binding = rater_binding()
    rater, owner = binding.token, binding.owner
    entered = [rater, owner, nn_example, hr_example, intro_note, start, *panels, thanks]
    served_outputs = [current, stimulus, progress, *panels, thanks]
    if tab is not None:
        tab.select(enter, binding.inputs, entered, api_visibility="private")
    start.click(begin, binding.inputs, [rater, owner, *served_outputs], api_visibility="private")
    for value, button in zip(SCORE_LABELS, buttons):
        button.click(score(value), [*binding.inputs, current], [owner, *served_outputs], api_visibility="private",
                     concurrency_limit=None, show_progress="minimal")
    stop.click(pause, binding.inputs, [current, intro_note, start, *panels], api_visibility="private")
    from .battle import build_battle_panel  # battle mode (pairwise 2AFC), below the ACR study

    build_battle_panel(service, binding, method_names(), tab)
    return {"rater": rater, "enter": (enter, entered), "start": start, "buttons": buttons, "stimulus": stimulus}
