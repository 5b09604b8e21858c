"""Text and HTML the page shows: provenance badges, panel captions, the metric table."""
from __future__ import annotations

import html

import pandas as pd

from sr_models.registry import CARDS

from . import no_reference
from .jobs import RUNNING, SlotView
from .pipeline import Comparison, MethodRun, in_registry_order

BADGE_STYLES = {
    "official": ("#1b6e3a", "#e3f5e9"),
    "public re-implementation": ("#7a4b00", "#fff1d6"),
    "converted": ("#1d4f91", "#e2ecfa"),
    "trained by this project": ("#5b2a86", "#efe4f9"),
    "no weights": ("#444", "#eee"),
}

TABLE_COLUMNS = ["Method", "PSNR (dB)", "SSIM", "NIQE (lower = more natural)", "LR-consistency (dB)", "Seconds",
                 "Parameters", "Checkpoint"]


def badge(provenance: dict | None) -> str:
    """A coloured pill naming the kind of weights; its tooltip gives file, sha256, licence, origin."""
    if not provenance:
        return ""
    kind = str(provenance.get("kind", ""))
    fg, bg = BADGE_STYLES.get(kind, ("#333", "#eee"))
    if kind == "no weights":
        tip = "No weights: MATLAB-exact bicubic interpolation (imresize semantics)."
    else:
        tip = (f"File: {provenance.get('file_name') or provenance.get('file')}\n"
               f"sha256: {provenance.get('sha256')}\nLicence: {provenance.get('licence')}\n"
               f"Source: {provenance.get('origin')}\n{provenance.get('description', '')}")
    return (f'<span class="sr-badge" title="{html.escape(tip)}" '
            f'style="color:{fg};background:{bg};border:1px solid {fg}33">{html.escape(kind)} ⓘ</span>')


def duration(seconds: float | None) -> str:
    """A short human duration: "<1 s", "12 s", "2 min 05 s"."""
    if seconds is None:
        return "unknown"
    if seconds < 1:
        return "<1 s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


def _ordinal(position: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(position, f"{position}th")


def pending_caption(name: str, view: SlotView) -> str:
    """A method waiting its turn: its place in the queue and its estimate."""
    title = f"<b>{html.escape(name)}</b>"
    if view.cached:
        guess = "cached"
    elif view.estimate_s is None:
        guess = "no estimate yet (still loading)"
    else:
        guess = f"estimate ≈ {duration(view.estimate_s)}"
    return (f'<div class="sr-cap sr-pending" data-state="pending">{title} · queued, runs {_ordinal(view.position)}'
            f' · <span class="sr-estimate">{guess}</span></div>')


def running_caption(name: str, view: SlotView) -> str:
    """A method running now: a progress bar, percentage, tiles and time left."""
    title = f"<b>{html.escape(name)}</b>"
    if view.state != RUNNING or view.fraction is None:
        return f'<div class="sr-cap sr-pending" data-state="running">{title} <span class="sr-spin">⏳</span> running…</div>'
    percent = 100 * view.fraction
    left = "taking longer than estimated" if view.seconds_left is None else \
        f"about {duration(view.seconds_left)} left"
    tiles = f" · tile {min(view.tiles_done + 1, view.tiles_total)}/{view.tiles_total}" if view.tiles_total > 1 else ""
    return (f'<div class="sr-cap sr-pending" data-state="running">{title} <span class="sr-spin">⏳</span> running'
            f'<div class="sr-progress"><div style="width:{percent:.0f}%"></div></div>'
            f'<span class="sr-progress-text">{percent:.0f}%{tiles} · {left} · '
            f'{duration(view.elapsed_s)} so far, estimate was {duration(view.estimate_s)}</span></div>')


def caption(run: MethodRun | None, name: str, pending: bool = False) -> str:
    """The line under a method's panel: badge, seconds, metrics; or progress/unavailable/error/stopped."""
    title = f"<b>{html.escape(name)}</b>"
    if pending or run is None:
        return f'<div class="sr-cap sr-pending">{title} <span class="sr-spin">⏳</span> running…</div>'
    if run.stopped:
        return (f'<div class="sr-cap sr-stopped" data-state="stopped">{title} — <b>stopped</b>: '
                f'Stop was pressed before it finished; nothing was kept for it.</div>')
    if run.unavailable is not None:
        u = run.unavailable
        return (f'<div class="sr-cap sr-unavailable">{title} — <b>unavailable</b>: {html.escape(u.reason)}.'
                f'<br><span class="sr-fix">How to fix: {html.escape(u.fix)}</span></div>')
    if run.error is not None:
        return f'<div class="sr-cap sr-error">{title} — failed: {html.escape(run.error)}</div>'
    parts = [title, badge(run.provenance), f"{run.seconds:.2f} s" + (" (cached)" if run.cached else "")]
    if run.precision and run.precision != "exact" and not run.note:
        parts.append(html.escape(run.precision))
    if run.psnr is not None:
        parts.append(f'<span class="sr-metric">PSNR {run.psnr:.2f} dB · SSIM {run.ssim:.4f}</span>')
    elif run.lr_consistency is None:
        parts.append('<span class="sr-metric sr-scoring">scoring…</span>')
    else:
        parts.append(f'<span class="sr-metric" title="PSNR between the output shrunk ×1/4 and the input">'
                     f'LR-consistency {run.lr_consistency:.2f} dB</span>')
    note = precision_line(run)
    return '<div class="sr-cap">' + " · ".join(p for p in parts if p) + note + "</div>"


def precision_line(run: MethodRun) -> str:
    """A small second caption line: which precision ran and the engine's note on why (or nothing)."""
    if not run.note:
        return ""
    asked = f"asked {run.requested}, ran {run.precision}" if run.requested and run.requested != run.precision \
        else str(run.precision or "")
    return f'<br><span class="sr-note">{html.escape(asked)}: {html.escape(run.note)}</span>'


def input_caption(comparison: Comparison, key: str) -> str:
    """Caption of the Original / Low-res panels."""
    if key == "original":
        h, w = comparison.original.shape[:2]
        return f'<div class="sr-cap"><b>Original</b> · {w}×{h} px · the reference for every metric</div>'
    h, w = comparison.lr.shape[:2]
    how = "made with MATLAB-exact bicubic ×1/4" if comparison.original is not None else "your upload"
    return f'<div class="sr-cap"><b>Low-res input</b> · {w}×{h} px ({how}), shown nearest-neighbour ×4</div>'


def _fmt(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def checkpoint_text(run: MethodRun) -> str:
    """Short checkpoint description for the table."""
    if run.stopped:
        return "stopped before it finished"
    if run.unavailable is not None:
        return f"unavailable: {run.unavailable.reason}"
    if run.error is not None:
        return f"failed: {run.error}"
    p = run.provenance or {}
    if p.get("kind") == "no weights":
        return "no weights (interpolation)"
    return f"{p.get('file_name', '')} ({p.get('kind', '')}, sha256 {str(p.get('sha256', ''))[:12]}…)"


def metric_table(comparison: Comparison | None, niqe: bool = False) -> pd.DataFrame:
    """Method, PSNR, SSIM, NIQE, LR-consistency, seconds, parameters, checkpoint — one row per method.

    ``niqe``: compute NIQE for every output (the finished table; while methods still run it shows "…").
    Where NIQE cannot be computed here the cell is "—" and :func:`niqe_help` says why.
    """
    rows = []
    for run in (in_registry_order(comparison.runs) if comparison else []):
        score = no_reference.niqe(run.image) if niqe and run.ok else None
        pending = "…" if run.ok and not niqe and no_reference.status().available else "—"
        rows.append([run.name, _fmt(run.psnr, 2), _fmt(run.ssim, 4), pending if score is None else f"{score:.2f}",
                     _fmt(run.lr_consistency, 2), _fmt(run.seconds, 2),
                     "—" if not run.parameters else f"{run.parameters:,}", checkpoint_text(run)])
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def niqe_help() -> str:
    """One line under the table: what NIQE is, or why its column shows "—"."""
    state = no_reference.status()
    what = ("**NIQE** (Mittal, Soundararajan & Bovik 2013): a no-reference naturalness score, lower = more natural; "
            "it needs no original, so it is given in both modes, and it can favour a GAN whose PSNR is lower.")
    return what if state.available else f"{what} Not available here: {state.reason} — its column shows “—”."


def twin_note(comparison: Comparison | None, model_id: str) -> str:
    """Under a PSNR-oriented twin's panel: one line on what differs from its GAN (the papers' lesson), and
    whether the checkpoints that ran here are really the same network (derived from what ran, never assumed)."""
    card = CARDS.get(model_id)
    if card is None or not card.twin_of:
        return ""
    gan = CARDS[card.twin_of].display_name
    text = (f"Same network as {gan}, trained with the {card.loss} loss alone; {gan} adds an adversarial loss: "
            f"expect higher PSNR here, more natural-looking texture (lower NIQE) there.")
    runs = comparison.runs if comparison is not None else {}
    mine, theirs = runs.get(model_id), runs.get(card.twin_of)
    if mine is not None and theirs is not None and mine.provenance and theirs.provenance:
        if mine.provenance.get("sha256") == theirs.provenance.get("sha256"):
            text += (f" Here {gan} runs this very checkpoint (no {gan} GAN stage is installed), so the two panels "
                     f"are the same image — not the papers' comparison.")
        elif mine.parameters and theirs.parameters and mine.parameters != theirs.parameters:
            text += (f" Here {gan} runs other weights ({theirs.provenance.get('file_name', '')}, "
                     f"{theirs.parameters:,} parameters vs {mine.parameters:,}): a different network, so more than "
                     f"the loss differs.")
    return f'<div class="sr-twin" data-twin-of="{html.escape(card.twin_of)}">{html.escape(text)}</div>'


def method_caption(comparison: Comparison | None, model_id: str) -> str:
    """A method panel's caption: :func:`caption` plus, for a twin, :func:`twin_note`."""
    run = comparison.runs.get(model_id) if comparison is not None else None
    return caption(run, run.name if run else CARDS[model_id].display_name) + twin_note(comparison, model_id)


def notes_markdown(comparison: Comparison) -> str:
    """What was done to the upload (one line), or nothing."""
    return ("Note: " + "; ".join(comparison.notes) + ".") if comparison.notes else ""
