"""The Class tab: a lecturer's study builder and live view, and the participants' phone view.

* **Participants** open ``/?join=CODE`` (the link or QR code the owner shows) or type the code.
  Their page then shows only the rating screen: the other tabs, the title and the status line are
  hidden, so nothing (Compare examples, Results) leaks what is being rated. The layout fits a
  390×844 phone: image and buttons on one screen, and each answer scrolls to the next image.
  Raters are the server-issued ones of :mod:`sr_arena.mos.identity` (the Rate tab's binding).
* **The owner** unlocks the builder with ``SR_ARENA_OWNER_PASSWORD``, uploads images, picks the
  methods and the mode (ACR scores or pairwise battles) and gets a join code, link and QR code;
  opens/closes, reveals, resets test votes or archives the class. The live view (raters, votes,
  progress; per-method results after *Reveal*) refreshes itself every
  :data:`LIVE_EVERY_S` seconds and reads only this class's rows (:func:`sr_arena.mos.classroom.live_view`).

Call ``build_class_tab(tab)`` inside ``with gr.Tab("Class", id="class") as tab:``, as the last tab.
"""
from __future__ import annotations

import hmac
import html
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from PIL import Image

from sr_arena import settings
from sr_arena.mos import classroom
from sr_arena.mos.battles import OUTCOME_LABELS, OUTCOMES, BattleService
from sr_arena.mos.stats import TOO_FEW
from sr_arena.mos.storage import SCORE_LABELS, Store, VoteRejected

from .rate_tab import method_names, progress_html
from .rating_session import claim_rater, get_service, rater_binding, voting_rater

TAB_ID = "class"
LIVE_EVERY_S = 2.0
DEFAULT_METHODS = ("bicubic", "srgan", "esrgan")

CSS = """
#class-stimulus .image-frame, .class-pair .image-frame, .class-calibration .image-frame {
  width: 100% !important; height: auto !important; }
#class-stimulus img, .class-pair img, .class-calibration img { image-rendering: pixelated;
  width: 100% !important; height: auto !important; max-height: 62vh; object-fit: contain !important; }
#class-stimulus { max-width: 512px; margin: 0 auto; }
.class-score button, .class-outcome button { min-width: 0 !important; padding: .5em .15em !important;
  font-size: .95em; white-space: normal; line-height: 1.15; min-height: 3.2em; }
.class-code { font-size: 72px !important; line-height: 1.1; font-weight: 800; letter-spacing: .12em;
  font-family: monospace; }
#class-live { font-size: 1.35em; }
#class-live table { width: 100%; font-size: 1.05em; }
#class-live td, #class-live th { padding: .25em .5em; }
.class-bar { height: 10px; background: #e5e7eb; border-radius: 5px; overflow: hidden; margin: .15em 0; }
.class-bar > div { height: 100%; background: #6366f1; }
#class-progress p { margin: 0; }
"""
#: Extra CSS on a participant's page: hide the tab bar (only this tab is left) to save a phone's height.
PARTICIPANT_CSS = "<style>.tab-wrapper, [role=tablist] { display: none !important; }</style>"
SCROLL_JS = ("() => { const el = document.querySelector('#class-progress');"
             " if (el) el.scrollIntoView({block: 'start', behavior: 'instant'}); }")


def _png(path: str) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def readable_name(method: str, checkpoint: str = "", precision: str = "") -> str:
    """A method's display name (projector-readable), its checkpoint and precision in a tooltip."""
    name = method_names().get(method, method)
    detail = " · ".join(x for x in (method, f"checkpoint {checkpoint[:12]}" if checkpoint else "",
                                    precision if precision not in ("", "-") else "") if x)
    return f"<span title='{html.escape(detail)}'>{html.escape(name)}</span>"


def join_link(request: gr.Request | None, code: str) -> str:
    """The participant link of a code, on the address this page was opened at."""
    headers = getattr(request, "headers", None) or {}
    host = headers.get("x-forwarded-host") or headers.get("host") or "127.0.0.1:7860"
    scheme = headers.get("x-forwarded-proto") or "http"
    return f"{scheme}://{host}/?join={code}"


def qr_svg(link: str) -> str:
    """The link as an inline SVG QR code (segno), large enough to scan from the back of a room."""
    import segno

    return segno.make(link, error="m").svg_inline(scale=8, border=2)


def live_html(view: classroom.LiveView) -> str:
    """The owner's live view: raters, votes, progress; per-method results once revealed."""
    s = view.study
    share = 100 * view.votes / view.expected if view.expected else 0
    unit = "votes" if s.mode == "acr" else "battles"
    out = [f"<p><b>{view.raters}</b> raters joined · <b>{view.finished}</b> finished · "
           f"<b class='class-votes'>{view.votes}</b> {unit} (of {view.expected} started)</p>",
           f"<div class='class-bar'><div style='width:{share:.1f}%'></div></div>"]
    for done, total in view.per_rater[:40]:
        out.append(f"<div class='class-bar' title='{done} / {total}'>"
                   f"<div style='width:{100 * done / total if total else 0:.1f}%'></div></div>")
    if not s.revealed:
        out.append("<p><i>Results are hidden until you press <b>Reveal</b>.</i></p>")
        return "".join(out)
    head = "MOS (1–5), 95 % interval" if s.mode == "acr" else "Bradley–Terry log-strength, 95 % interval"
    out.append(f"<table><tr><th>method</th><th>{unit}</th><th>{head}</th></tr>")
    for m in sorted(view.methods, key=lambda m: -(m.value or 0)):
        if m.enough:
            value = f"<b>{m.value:.2f}</b> [{m.ci[0]:.2f} – {m.ci[1]:.2f}]"
        else:
            value = f"<i>{TOO_FEW}</i> ({m.n} of {view.minimum} needed)"
        out.append(f"<tr><td>{readable_name(m.method, m.checkpoint_sha256, m.precision)}</td>"
                   f"<td>{m.n}</td><td>{value}</td></tr>")
    out.append("</table>")
    return "".join(out)


def _acr_summary(service: Any, rater_id: str) -> str:
    summary = service.rater_summary(rater_id)
    lines = [f"## Thank you!\nYou scored **{summary['n_votes']}** images. Your mean score per method "
             "(now revealed):\n", "| method | your mean |", "|---|---|"]
    for method, mean in sorted(summary["mean_by_method"].items(), key=lambda kv: -kv[1]):
        lines.append(f"| {method_names().get(method, method)} | {mean:.2f} |")
    lines.append("\nThe class results are shown by your lecturer.")
    return "\n".join(lines)


def _battle_summary(store: Store, study_id: str, rater_id: str) -> str:
    mine = [b for b in BattleService(store, study_id).db.battles(study_id) if b["rater_id"] == rater_id]
    wins: dict[str, float] = {}
    for b in mine:
        if b["gold"]:
            continue
        points = {"left": (1, 0), "right": (0, 1), "tie": (.5, .5), "both_bad": (.5, .5)}[b["outcome"]]
        for side, p in zip(("left", "right"), points):
            wins[b[f"{side}_method"]] = wins.get(b[f"{side}_method"], 0) + p
    lines = [f"## Thank you!\nYou judged **{len(mine)}** pairs. Points you gave each method (win 1, tie ½):\n",
             "| method | your points |", "|---|---|"]
    for method, points in sorted(wins.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {method_names().get(method, method)} | {points:g} |")
    lines.append("\nThe class results are shown by your lecturer.")
    return "\n".join(lines)


def build_class_tab(tab: Any = None) -> dict[str, Any]:
    """Build the Class tab in the current layout; returns its components (for tests and wiring)."""
    service = get_service()
    if service is None:
        gr.Markdown("**Classes are unavailable:** the study database could not be opened.")
        return {}
    store = service.store
    config = settings.current()
    gr.HTML(f"<style>{CSS}</style>", padding=False)
    participant_css = gr.HTML("", padding=False)
    binding = rater_binding()
    class_id, current = gr.State(None), gr.State(None)

    # -- participant view ----------------------------------------------------------------
    with gr.Column() as join_panel:
        gr.Markdown("### Join a class study")
        with gr.Row():
            code_box = gr.Textbox(label="Join code", placeholder="e.g. K7HQ3M", max_length=16, scale=3,
                                  elem_id="class-code-input")
            join_button = gr.Button("Join", variant="primary", scale=1, min_width=0, elem_id="class-join")
    header = gr.Markdown(elem_id="class-header")
    with gr.Column(visible=False) as intro:
        gr.Markdown("Score how good each image looks. These two examples set the scale:")
        with gr.Row():
            nn_example = gr.Image(label="Scored 1 — Bad", format="png", interactive=False, buttons=[],
                                  min_width=0, elem_classes="class-calibration")
            hr_example = gr.Image(label="Scored 5 — Excellent", format="png", interactive=False, buttons=[],
                                  min_width=0, elem_classes="class-calibration")
        start = gr.Button("Start", variant="primary", elem_id="class-start")
    with gr.Column(visible=False) as rating:
        progress = gr.HTML(elem_id="class-progress")
        stimulus = gr.Image(show_label=False, format="png", interactive=False, buttons=[], elem_id="class-stimulus")
        with gr.Row(elem_classes="class-score", equal_height=True):
            scores = [gr.Button(f"{score} {label}", min_width=0, elem_id=f"class-score-{score}")
                      for score, label in SCORE_LABELS.items()]
    with gr.Column(visible=False) as battle:
        battle_progress = gr.HTML(elem_id="class-battle-progress")
        with gr.Row(elem_classes="class-pair", equal_height=True):
            left = gr.Image(label="Left", format="png", interactive=False, buttons=[], min_width=0,
                            elem_id="class-left")
            right = gr.Image(label="Right", format="png", interactive=False, buttons=[], min_width=0,
                             elem_id="class-right")
        with gr.Row(elem_classes="class-outcome"):
            outcomes = [gr.Button(OUTCOME_LABELS[o], min_width=0, elem_id=f"class-outcome-{o}")
                        for o in OUTCOMES]
        revealed = gr.Markdown(elem_id="class-revealed")
    with gr.Column(visible=False) as done_panel:
        thanks = gr.Markdown(elem_id="class-thanks")
    panels = [intro, rating, battle, done_panel]

    def show(which: Any) -> list[Any]:
        return [gr.Column(visible=p is which) for p in panels]

    # -- owner view ----------------------------------------------------------------------
    unlocked = gr.State(False)
    with gr.Accordion("Lecturer: build and run a class study", open=False, elem_id="class-owner") as owner_box:
        with gr.Row():
            password = gr.Textbox(label="Owner password", type="password", scale=3, elem_id="class-password")
            unlock = gr.Button("Unlock", scale=1, elem_id="class-unlock")
        owner_note = gr.Markdown("" if config.owner_password else
                                 "_The builder is locked: set `SR_ARENA_OWNER_PASSWORD` to use it._")
        with gr.Column(visible=False) as owner_panel:
            with gr.Row():
                with gr.Column():
                    uploads = gr.File(label="Study images", file_count="multiple", file_types=["image"],
                                      elem_id="class-uploads")
                    title = gr.Textbox(label="Study name", value="Class study", elem_id="class-title")
                with gr.Column():
                    mode = gr.Radio([("Scores 1–5 (ACR)", "acr"), ("Battles (pick the better of two)", "battle")],
                                    value="acr", label="Mode", elem_id="class-mode")
                    from sr_models.registry import CARDS

                    methods = gr.CheckboxGroup([(c.display_name, k) for k, c in CARDS.items()],
                                               value=[m for m in DEFAULT_METHODS if m in CARDS],
                                               label="Methods", elem_id="class-methods")
                    create = gr.Button("Create study", variant="primary", elem_id="class-create")
            build_note = gr.Markdown(elem_id="class-build-note")
            chooser = gr.Dropdown(label="Class", choices=[], elem_id="class-chooser")
            with gr.Row():
                code_big = gr.HTML(elem_id="class-code-big")
                qr = gr.HTML(elem_id="class-qr")
            link = gr.Markdown(elem_id="class-link")
            with gr.Row():
                open_b = gr.Button("Open", size="sm", elem_id="class-open")
                close_b = gr.Button("Close", size="sm", elem_id="class-close")
                reveal_b = gr.Button("Reveal results", size="sm", variant="primary", elem_id="class-reveal")
                hide_b = gr.Button("Hide results", size="sm", elem_id="class-hide")
                reset_b = gr.Button("Reset votes", size="sm", variant="stop", elem_id="class-reset")
                archive_b = gr.Button("Archive", size="sm", variant="stop", elem_id="class-archive")
            live = gr.HTML(elem_id="class-live")
    timer = gr.Timer(LIVE_EVERY_S, active=False)

    # -- participant handlers ----------------------------------------------------------------
    root = gr.context.Context.root_block
    tabs = getattr(tab, "parent", None)
    others = [t for t in (tabs.children if tabs is not None else []) if t is not tab]
    chrome = [b for b in (root.children if root is not None else []) if isinstance(b, gr.Markdown)]

    def enter(code: Any, token: Any, owner: Any, request: gr.Request) -> list[Any]:
        """Find the class of a code, claim this browser's rater and show the calibration (or the end)."""
        study = classroom.find_class(store, code)
        # A participant's page (whatever the code): only this tab, no title, status line or owner box.
        participant = [gr.Tabs(selected=TAB_ID), *[gr.Tab(visible=False) for _ in others],
                       *[gr.Markdown(visible=False) for _ in chrome], PARTICIPANT_CSS,
                       gr.Accordion(visible=False)]
        if study is None or study.state != "open":
            why = ("**This study is closed.**" if study and study.state == "closed" else
                   f"No open study has the code **{html.escape(classroom.normalise_code(code))}**.")
            return [gr.skip(), gr.skip(), None, *participant, gr.Column(visible=True), why,
                    None, None, gr.Button(), *show(None), ""]
        try:
            token, rater_id = claim_rater(store, token, owner, request)
        except VoteRejected as error:
            return [gr.skip(), gr.skip(), None, *participant, gr.Column(visible=True),
                    f"**{html.escape(str(error))}**", None, None, gr.Button(), *show(None), ""]
        nn, hr = classroom.calibration_pair(store, study.study_id, config.data_dir)
        done, total = _progress(study, rater_id)
        what = "images to score" if study.mode == "acr" else "pairs to judge"
        note = f"## {html.escape(study.title)}\n**{total} {what}**, about {max(1, round(total * 6 / 60))} min."
        if total and done >= total:
            return [token, rater_id, study.study_id, *participant, gr.Column(visible=False), note,
                    None, None, gr.Button(), *show(done_panel), _summary(study, rater_id)]
        label = "Start" if done == 0 else f"Continue ({done} / {total})"
        return [token, rater_id, study.study_id, *participant, gr.Column(visible=False), note,
                _png(str(nn)), _png(str(hr)), gr.Button(label), *show(intro), ""]

    def _progress(study: classroom.ClassStudy, rater_id: str) -> tuple[int, int]:
        if study.mode == "acr":
            return classroom.acr_service(store, study).progress(rater_id)
        svc = BattleService(store, study.study_id, config.battles_per_rater)
        session = svc.session(rater_id)
        return len(svc.db.answered(session.id)), len(session.sequence)

    def _summary(study: classroom.ClassStudy, rater_id: str) -> str:
        if study.mode == "acr":
            return _acr_summary(classroom.acr_service(store, study), rater_id)
        return _battle_summary(store, study.study_id, rater_id)

    def _open_study(study_id: Any) -> classroom.ClassStudy:
        study = classroom.get_class(store, study_id) if isinstance(study_id, str) else None
        if study is None:
            raise gr.Error("Join the study first (reload the page).")
        if study.state != "open":
            raise gr.Error("This study is closed; thank you!")
        return study

    def serve(study: classroom.ClassStudy, rater_id: str, note: str = "") -> list[Any]:
        """The next item: [current, stimulus, progress, left, right, battle progress, revealed, panels…, thanks]."""
        if study.mode == "acr":
            served = classroom.acr_service(store, study).next(rater_id)
            if served is not None:
                return [served.stimulus.id, _png(served.stimulus.file), progress_html(served.done, served.total),
                        None, None, "", "", *show(rating), ""]
        else:
            pair = BattleService(store, study.study_id, config.battles_per_rater).next(rater_id)
            if pair is not None:
                return [pair.position, None, "", _png(pair.left.file), _png(pair.right.file),
                        progress_html(pair.done, pair.total), note, *show(battle), ""]
        return [None, None, "", None, None, "", "", *show(done_panel), _summary(study, rater_id)]

    def begin(study_id: Any, token: Any, owner: Any) -> list[Any]:
        study = _open_study(study_id)
        try:
            rater_id = voting_rater(store, token, owner)
        except VoteRejected as error:
            raise gr.Error(str(error)) from None
        return serve(study, rater_id)

    def score(value: int):
        def handler(study_id: Any, token: Any, owner: Any, stimulus_id: Any) -> list[Any]:
            study = _open_study(study_id)
            try:
                rater_id = voting_rater(store, token, owner)
                classroom.acr_service(store, study).vote(rater_id, stimulus_id, value)
            except VoteRejected as error:
                gr.Warning(str(error))
                return [gr.skip()] * len(served_outputs)
            return serve(study, rater_id)
        return handler

    def judge(outcome: str):
        def handler(study_id: Any, token: Any, owner: Any, position: Any) -> list[Any]:
            study = _open_study(study_id)
            try:
                rater_id = voting_rater(store, token, owner)
                svc = BattleService(store, study.study_id, config.battles_per_rater)
                session = svc.session(rater_id)
                pair = session.sequence[int(position)]
                svc.vote(rater_id, int(position), outcome)
            except (VoteRejected, TypeError, ValueError, IndexError) as error:
                gr.Warning(str(error))
                return [gr.skip()] * len(served_outputs)
            names = [method_names().get(s.method, s.method) for s in map(store.stimulus, (pair.left, pair.right))]
            note = (f"You chose **{OUTCOME_LABELS[outcome]}**. Left was **{names[0]}**, "
                    f"right was **{names[1]}**.")
            return serve(study, rater_id, note)
        return handler

    entered = [binding.token, binding.owner, class_id, *([tabs] if tabs is not None else []), *others, *chrome,
               participant_css, owner_box, join_panel, header, nn_example, hr_example, start, *panels, thanks]
    if tabs is None:  # keep the positions enter() returns
        entered.insert(3, gr.State(None))
    served_outputs = [current, stimulus, progress, left, right, battle_progress, revealed, *panels, thanks]
    scroll = {"js": SCROLL_JS}

    def enter_from_url(token: Any, owner: Any, request: gr.Request) -> list[Any]:
        code = (getattr(request, "query_params", None) or {}).get("join")
        if not code:
            return [gr.skip()] * len(entered)
        return enter(code, token, owner, request)

    if root is not None:
        root.load(enter_from_url, binding.inputs, entered, api_visibility="private")
    join_button.click(enter, [code_box, *binding.inputs], entered, api_visibility="private")
    code_box.submit(enter, [code_box, *binding.inputs], entered, api_visibility="private")
    start.click(begin, [class_id, *binding.inputs], served_outputs, api_visibility="private").then(None, **scroll)
    for value, button in zip(SCORE_LABELS, scores):
        button.click(score(value), [class_id, *binding.inputs, current], served_outputs, api_visibility="private",
                     concurrency_limit=None, show_progress="minimal").then(None, **scroll)
    for outcome, button in zip(OUTCOMES, outcomes):
        button.click(judge(outcome), [class_id, *binding.inputs, current], served_outputs,
                     api_visibility="private", concurrency_limit=None, show_progress="minimal").then(None, **scroll)

    # -- owner handlers ----------------------------------------------------------------------
    def choices() -> list[tuple[str, str]]:
        return [(f"{c.title} — {c.code} ({c.mode}, {c.state})", c.study_id) for c in classroom.classes(store)]

    def do_unlock(text: str) -> list[Any]:
        ok = bool(config.owner_password) and hmac.compare_digest(str(text or "").encode(),
                                                                 config.owner_password.encode())
        if not ok:
            return [False, "**Wrong password.**" if config.owner_password else owner_note.value,
                    gr.Column(visible=False), gr.Dropdown(), gr.Timer(active=False)]
        items = choices()
        return [True, "Unlocked.", gr.Column(visible=True),
                gr.Dropdown(choices=items, value=items[0][1] if items else None), gr.Timer(active=True)]

    def require(ok: Any) -> None:
        if ok is not True:
            raise gr.Error("Unlock the builder with the owner password first.")

    def class_panel(ok: Any, study_id: Any, request: gr.Request) -> list[Any]:
        require(ok)
        study = classroom.get_class(store, study_id) if study_id else None
        if study is None:
            return ["", "", "", ""]
        url = join_link(request, study.code)
        state = {"open": "open — participants can join", "closed": "closed", "archived": "archived"}[study.state]
        return [f"<div class='class-code'>{study.code}</div>", qr_svg(url), f"Join at **{url}** · the study is **{state}**",
                live_html(classroom.live_view(store, study.study_id))]

    def do_create(ok: Any, files: Any, name: str, how: str, chosen: list[str],
                  progress: gr.Progress = gr.Progress()) -> list[Any]:
        require(ok)
        paths = [Path(getattr(f, "name", f)) for f in (files or [])]
        try:
            study, notes = classroom.create_class(store, paths, name, list(chosen or []), how, config.data_dir,
                                                  crop=config.study_crop, progress=lambda m: progress(0, desc=m))
        except ValueError as error:
            return [f"**{html.escape(str(error))}**", gr.Dropdown()]
        note = f"Created **{html.escape(study.title)}** with code **{study.code}**."
        if notes:
            note += "  \n" + html.escape("; ".join(notes))
        return [note, gr.Dropdown(choices=choices(), value=study.study_id)]

    def action(kind: str):
        def handler(ok: Any, study_id: Any) -> Any:
            require(ok)
            if not study_id:
                raise gr.Error("Choose a class first.")
            if kind in classroom.STATES:
                classroom.set_state(store, study_id, kind)
            elif kind == "reset":
                gr.Info(f"Removed {classroom.reset_votes(store, study_id)} votes of this class.")
            else:
                classroom.set_revealed(store, study_id, kind == "reveal")
            items = choices()
            keep = study_id if any(v == study_id for _, v in items) else (items[0][1] if items else None)
            return gr.Dropdown(choices=items, value=keep)
        return handler

    def tick(ok: Any, study_id: Any) -> Any:
        if ok is not True or not study_id or classroom.get_class(store, study_id) is None:
            return gr.skip()
        return live_html(classroom.live_view(store, study_id))

    private = {"api_visibility": "private"}
    unlock.click(do_unlock, password, [unlocked, owner_note, owner_panel, chooser, timer], **private)
    password.submit(do_unlock, password, [unlocked, owner_note, owner_panel, chooser, timer], **private)
    panel_outputs = [code_big, qr, link, live]
    chooser.change(class_panel, [unlocked, chooser], panel_outputs, **private)
    create.click(do_create, [unlocked, uploads, title, mode, methods], [build_note, chooser], **private)
    for button, kind in ((open_b, "open"), (close_b, "closed"), (archive_b, "archived"), (reset_b, "reset"),
                         (reveal_b, "reveal"), (hide_b, "hide")):
        button.click(action(kind), [unlocked, chooser], chooser, **private).then(
            class_panel, [unlocked, chooser], panel_outputs, **private)
    timer.tick(tick, [unlocked, chooser], live, show_progress="hidden", **private)
    return {"enter": enter, "live": live, "timer": timer}
