"""Quick ratings in the Compare tab: score a method you have just seen, by name.

These votes are stored with ``blinded = 0`` (the person saw which method made the image) under
the study id ``quick``, and are kept out of study analyses unless asked for. The Compare tab
calls :func:`build_quick_rating` through its hook. They count once per (rater, image, method), for
the rater this browser session owns (the same binding as the Rate tab: :mod:`sr_arena.mos.identity`).
"""
from __future__ import annotations

from typing import Any

import gradio as gr

from sr_arena.mos.storage import SCORE_LABELS, VoteRejected
from sr_models.image_io import image_sha256

from .rating_session import claim_rater, get_service, rater_binding


def source_sha256(comparison: Any) -> str:
    """The identity votes store for a comparison's image: :func:`sr_models.image_io.image_sha256`
    of the image the person gave (the original, else the low-res upload), as the MOS study does."""
    if getattr(comparison, "source_sha256", ""):
        return comparison.source_sha256
    return image_sha256(comparison.original if comparison.original is not None else comparison.lr)


def record_quick_rating(rater_id: str, comparison: Any, method: str | None, score: int) -> str:
    """Store one unblinded rating of ``method``'s output in ``comparison`` by ``rater_id`` (a rater the
    session owns); the message for the person."""
    service = get_service()
    if service is None:
        raise gr.Error("Ratings cannot be stored: the study database is unavailable.")
    run = comparison.runs.get(method) if comparison is not None and method else None
    if run is None or not run.ok:
        raise gr.Error("Compare an image first, then pick one of the methods that produced an output.")
    ckpt = (run.provenance or {}).get("sha256") or ""
    try:
        service.store.record_quick_vote(rater_id, source_sha256(comparison), comparison.name, method, ckpt,
                                        run.precision or "exact", score)
    except VoteRejected as error:
        return f"Not stored: {error}"
    return f"Stored: {run.name} — {score} {SCORE_LABELS[score]} (unblinded quick rating)."


def rate_in_session(token: Any, owner: Any, comparison: Any, method: str | None, score: int,
                    request: Any) -> tuple[Any, Any, str]:
    """A quick-rating click: the session's rater (issued on first use, rate-limited), then the vote."""
    service = get_service()
    if service is None:
        raise gr.Error("Ratings cannot be stored: the study database is unavailable.")
    try:
        token, rater_id = claim_rater(service.store, token, owner, request)
    except VoteRejected as error:
        return gr.skip(), gr.skip(), f"Not stored: {error}"
    return token, rater_id, record_quick_rating(rater_id, comparison, method, score)


def build_quick_rating(components: Any) -> None:
    """A small 'rate what you see' row under the comparison (hook called by the Compare tab)."""
    if get_service() is None:
        return
    binding = rater_binding()
    with gr.Accordion("Quick rating — score a method you have seen (stored as unblinded)", open=False):
        gr.Markdown("For a fair, blinded comparison take the study in the **Rate** tab; quick ratings are kept "
                    "apart from it.", elem_classes="sr-hint")
        with gr.Row():
            method = gr.Dropdown(label="Method", choices=[], interactive=True, scale=2, elem_id="quick-method")
            buttons = [gr.Button(f"{s} {label}", size="sm", min_width=80, elem_id=f"quick-score-{s}")
                       for s, label in SCORE_LABELS.items()]
        message = gr.Markdown(elem_id="quick-message")

    def choices(comparison: Any) -> Any:
        runs = [(r.name, key) for key, r in (comparison.runs.items() if comparison else []) if r.ok]
        return gr.Dropdown(choices=runs, value=runs[0][1] if runs else None)

    if components.finished is not None:
        components.finished.then(choices, components.state, method, api_visibility="private")
    def clicked(value: int):
        def click(token: Any, owner: Any, comparison: Any, chosen: Any, request: gr.Request) -> tuple[Any, Any, str]:
            return rate_in_session(token, owner, comparison, chosen, value, request)
        return click

    for score, button in zip(SCORE_LABELS, buttons):
        button.click(clicked(score), [*binding.inputs, components.state, method], [*binding.inputs, message],
                     api_visibility="private")
