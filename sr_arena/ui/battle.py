"""Battle mode in the Rate tab: two anonymous enlargements of the same crop, side by side.

Calibration (the original beside a blocky enlargement: the original is better) → battles, each
two stimuli of one image at the same on-screen size, with a synchronized zoom (click either image:
both zoom panels show the same place, enlarged with nearest neighbour) → *left better / right
better / tie / both bad* → the names revealed → next. Scheduling, storage and gold items live in
:mod:`sr_arena.mos.battles`; this module only draws.

``build_battle_panel(service, binding, names, tab)`` is called at the end of the Rate tab; the
battles follow the same integrity rules as the ACR study: the browser session owns its rater
(``binding``, :class:`sr_arena.ui.rating_session.RaterBinding`), answers count only for it, and a second
tab of the same rater continues with the next unanswered pair.
"""
from __future__ import annotations

import html
from typing import Any

import gradio as gr
import numpy as np
from PIL import Image

from sr_arena import settings
from sr_arena.mos.battles import OUTCOME_LABELS, OUTCOMES, BattleService, ServedPair
from sr_arena.mos.storage import VoteRejected

from .crops import crop_box, cut, enlarge_nearest

#: On-screen side of each battle image, in CSS pixels (two fit side by side on a laptop).
BATTLE_SIZE = 384
#: Side of the zoomed region (HR pixels) and its on-screen enlargement.
ZOOM_SIDE, ZOOM_FACTOR = 48, 4


def display_factor(crop: int) -> int:
    """Whole factor the crops are enlarged by (nearest neighbour, on the server) to about ``BATTLE_SIZE``.

    Enlarged on the server, not by CSS: Gradio maps a click to image pixels assuming the picture is
    never shown larger than it is, so a CSS-enlarged image would report the wrong place to zoom."""
    return max(1, BATTLE_SIZE // max(1, crop))


def battle_css(crop: int) -> str:
    """Both images at the same size, pixel for pixel."""
    side = display_factor(crop) * crop
    return f"""
.battle-side img {{ width: {side}px !important; height: {side}px !important; max-width: 100%;
  object-fit: contain !important; image-rendering: pixelated; }}
.battle-zoom img {{ width: {ZOOM_SIDE * ZOOM_FACTOR}px !important; height: {ZOOM_SIDE * ZOOM_FACTOR}px !important;
  object-fit: contain !important; image-rendering: pixelated; }}
.battle-answers button {{ min-height: 3em; font-size: 1.05em; }}
"""


def _png(path: str) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def zoom_pair(left: np.ndarray, right: np.ndarray, centre: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The same ``ZOOM_SIDE``² box of both images around ``centre = (x, y)``, enlarged ×``ZOOM_FACTOR``."""
    box = crop_box(centre, ZOOM_SIDE, left.shape[:2])
    return enlarge_nearest(cut(left, box), ZOOM_FACTOR), enlarge_nearest(cut(right, box), ZOOM_FACTOR)


def reveal_markdown(served: dict[str, Any], outcome: str, names: dict[str, str]) -> str:
    """After the answer: which method was on which side, and what the rater said."""
    left, right = (names.get(served[k], served[k]) for k in ("left_method", "right_method"))
    return (f"**Left:** {html.escape(left)} · **Right:** {html.escape(right)}\n\n"
            f"You said: *{OUTCOME_LABELS[outcome]}*.")


def progress_html(done: int, total: int) -> str:
    """``3 / 24 judged`` with a bar."""
    share = 100.0 * done / total if total else 0.0
    return (f"<p><b>{done} / {total}</b> judged</p>"
            f"<div class='mos-bar'><div style='width:{share:.1f}%'></div></div>")


def build_battle_panel(service: Any, binding: Any, names: dict[str, str], tab: Any = None) -> dict[str, Any]:
    """The battle UI (inside the Rate tab); ``binding`` holds this page's rater token and the rater the
    browser session owns (every answer is checked against it)."""
    from .rating_session import begin_as_rater, voting_rater

    battles = BattleService(service.store, service.config.study_id, settings.current().battles_per_rater)
    gr.HTML(f"<style>{battle_css(service.config.crop)}</style>", padding=False)
    factor = display_factor(service.config.crop)
    gr.Markdown("---\n## Battle mode: which of two is better?", elem_id="battle-title")
    current = gr.State(None)
    with gr.Column(visible=True) as intro:
        gr.Markdown("Two enlargements of the same picture, side by side, without their names. Say which looks "
                    "better — or *tie*, or *both bad*. The names are shown after each answer. For example, the "
                    "original (left) is better than the blocky enlargement (right):")
        with gr.Row():
            cal_left = gr.Image(label="Better: the original", format="png", interactive=False, buttons=[],
                                elem_classes="battle-side", elem_id="battle-cal-left")
            cal_right = gr.Image(label="Worse: a blocky enlargement", format="png", interactive=False, buttons=[],
                                 elem_classes="battle-side", elem_id="battle-cal-right")
        start = gr.Button("Start battles", variant="primary", elem_id="battle-start")
    with gr.Column(visible=False) as arena:
        progress = gr.HTML(elem_id="battle-progress")
        with gr.Row():
            left = gr.Image(label="Left", format="png", interactive=False, buttons=[], elem_classes="battle-side",
                            elem_id="battle-left")
            right = gr.Image(label="Right", format="png", interactive=False, buttons=[], elem_classes="battle-side",
                             elem_id="battle-right")
        gr.Markdown("Click either image to zoom into the same place of both:")
        with gr.Row():
            zoom_left = gr.Image(label="Left, zoomed", format="png", interactive=False, buttons=[],
                                 elem_classes="battle-zoom", elem_id="battle-zoom-left")
            zoom_right = gr.Image(label="Right, zoomed", format="png", interactive=False, buttons=[],
                                  elem_classes="battle-zoom", elem_id="battle-zoom-right")
        with gr.Row(elem_classes="battle-answers"):
            answers = {o: gr.Button(OUTCOME_LABELS[o], elem_id=f"battle-answer-{o.replace('_', '-')}") for o in OUTCOMES}
    with gr.Column(visible=False) as revealed:
        reveal = gr.Markdown(elem_id="battle-reveal")
        next_button = gr.Button("Next pair", variant="primary", elem_id="battle-next")
    with gr.Column(visible=False) as finished:
        gr.Markdown("## Thank you!\nAll pairs judged. Everyone's Bradley–Terry ratings are in the **Results** tab.",
                    elem_id="battle-done")
    panels = [intro, arena, revealed, finished]

    def show(which: Any) -> list[Any]:
        return [gr.Column(visible=p is which) for p in panels]

    def calibration() -> list[Any]:
        service.prepare()
        pair = service.calibration()
        return [enlarge_nearest(_png(pair[1].file), factor), enlarge_nearest(_png(pair[0].file), factor)] \
            if pair else [None, None]

    def serve(rater_id: str) -> list[Any]:
        served: ServedPair | None = battles.next(rater_id)
        if served is None:
            return [None, None, None, None, None, "", *show(finished)]
        a, b = _png(served.left.file), _png(served.right.file)
        za, zb = zoom_pair(a, b, (a.shape[1] // 2, a.shape[0] // 2))
        a, b = enlarge_nearest(a, factor), enlarge_nearest(b, factor)
        state = {"position": served.position, "left": served.left.file, "right": served.right.file,
                 "left_method": served.left.method, "right_method": served.right.method}
        return [state, a, b, za, zb, progress_html(served.done, served.total), *show(arena)]

    def begin(token: Any, owner: Any, request: gr.Request) -> list[Any]:
        service.prepare()
        return begin_as_rater(service.store, token, owner, request, serve, len(served_outputs))

    def rater_for_vote(token: Any, owner: Any) -> str:
        try:
            return voting_rater(service.store, token, owner)
        except VoteRejected as error:
            raise gr.Error(str(error)) from None

    def zoom(state: dict | None, evt: gr.SelectData) -> tuple[Any, Any]:
        if not state:
            return gr.skip(), gr.skip()
        x, y = (int(v) // factor for v in evt.index[:2])  # the picture is sent enlarged ×factor
        return zoom_pair(_png(state["left"]), _png(state["right"]), (x, y))

    def answer(outcome: str):
        def handler(token: Any, owner: Any, state: dict | None) -> list[Any]:
            if not state:
                raise gr.Error("Reload the page to continue the battles.")
            rater_id = rater_for_vote(token, owner)
            try:
                battles.vote(rater_id, state["position"], outcome)
            except VoteRejected as error:
                session = battles.db.session(rater_id, battles.study_id)
                if session is not None and state["position"] in battles.db.answered(session.id):
                    gr.Info("This pair was already judged (in another tab); here is the next one.")
                    return [rater_id, *serve(rater_id), gr.skip()]
                gr.Warning(str(error))
                return [gr.skip() for _ in answered_outputs]
            return [rater_id, None, *[gr.skip()] * 5, *show(revealed), reveal_markdown(state, outcome, names)]
        return handler

    rater, owner = binding.token, binding.owner
    served_outputs = [current, left, right, zoom_left, zoom_right, progress, *panels]
    answered_outputs = [owner, *served_outputs, reveal]
    if tab is not None:
        tab.select(calibration, None, [cal_left, cal_right], api_visibility="private")
    if service is not None:
        start.click(begin, binding.inputs, [rater, owner, *served_outputs], api_visibility="private")
        next_button.click(lambda t, o: serve(rater_for_vote(t, o)), binding.inputs, served_outputs,
                          api_visibility="private")
        for image in (left, right):
            image.select(zoom, current, [zoom_left, zoom_right], api_visibility="private", show_progress="hidden")
        for outcome, button in answers.items():
            button.click(answer(outcome), [*binding.inputs, current], answered_outputs, api_visibility="private",
                         concurrency_limit=None, show_progress="minimal")
    return {"calibration": (calibration, [cal_left, cal_right]), "start": start, "answers": answers,
            "service": battles}
