"""The download: a slide-ready zip of one comparison.

``build_zip`` writes, all lossless PNG:

* ``original.png`` (when given), ``lr_input.png``, ``<method>.png`` — every full-size image;
* ``crops/<key>.png`` — the zoom-strip crop of every image, enlarged with nearest neighbour,
  and ``crops/overview.png`` — where the crop is;
* ``diff/<method>.png`` — the difference maps (|method − reference| amplified, as the Compare tab
  shows them) and ``diff/legend.png``;
* ``scores.csv`` (PSNR, SSIM, NIQE, LR-consistency, time, checkpoint name and sha256 per method),
  ``crop_scores.csv`` (the same scores inside the crop);
* ``index.html`` — one page laying out the above for a slide or a handout;
* ``metrics.json`` — metrics and provenance. Checkpoints are named by file name and sha256;
  no server path is written anywhere (every string is scrubbed of directories).
"""
from __future__ import annotations

import csv
import html
import io
import json
import math
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from . import crops, diffmaps, no_reference
from .pipeline import LR_KEY, ORIGINAL_KEY, Comparison, MethodRun, in_registry_order, label

#: The zoom crop exported when the caller gives none (the Compare tab's defaults).
EXPORT_CROP, EXPORT_MAGNIFICATION, EXPORT_AMPLIFICATION = 48, 4, 4.0
SCORE_COLUMNS = ["method", "id", "psnr_db", "ssim", "niqe", "lr_consistency_db", "seconds", "precision",
                 "parameters", "checkpoint", "sha256"]
CROP_COLUMNS = ["image", "id", "x0", "y0", "x1", "y1", "crop_psnr_db", "crop_ssim", "crop_niqe"]
#: An absolute POSIX path (not the path part of a URL): its directories are dropped, the name kept.
_ABSOLUTE_PATH = re.compile(r"(?<![\w:/.~-])/(?:[^\s/'\"()]+/)+")


@dataclass(frozen=True)
class ZoomChoice:
    """Which crop of the images to export (the zoom strip's box and enlargement, the maps' amplification)."""

    center: tuple[int, int] | None = None  # (x, y) in full-size pixels; None: the image centre
    size: int = EXPORT_CROP
    magnification: int = EXPORT_MAGNIFICATION
    amplification: float = EXPORT_AMPLIFICATION


def scrub(value):
    """``value`` (JSON data) with every absolute path reduced to its file name: no server directory leaks."""
    if isinstance(value, str):
        return _ABSOLUTE_PATH.sub("", value)
    if isinstance(value, dict):
        return {key: scrub(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(item) for item in value]
    return value


def checkpoint_of(run: MethodRun) -> dict:
    """The weights a run used, by name and sha256 (never their location)."""
    prov = run.provenance or {}
    return {"kind": prov.get("kind", ""), "checkpoint": Path(str(prov.get("file") or "")).name,
            "sha256": prov.get("sha256", ""), "licence": prov.get("licence", ""), "origin": prov.get("origin", ""),
            "description": prov.get("description", "")}


def _png_bytes(image) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def metrics_json(comparison: Comparison, niqe: dict[str, float | None] | None = None) -> dict:
    """Metrics and provenance of every run, as plain JSON data (``niqe``: scores by method, if measured)."""
    methods = {}
    for run in in_registry_order(comparison.runs):
        model_id = run.model_id
        methods[model_id] = {
            "name": run.name, "psnr": run.psnr, "ssim": run.ssim, "lr_consistency": run.lr_consistency,
            "niqe": (niqe or {}).get(model_id),
            "seconds": run.seconds, "precision": run.precision, "precision_requested": run.requested,
            "precision_note": run.note or None, "parameters": run.parameters,
            "provenance": checkpoint_of(run), "file": f"{model_id}.png" if run.ok else None,
            "unavailable": None if run.unavailable is None else {"reason": run.unavailable.reason,
                                                                  "fix": run.unavailable.fix},
            "error": run.error, "stopped": run.stopped, "cached": run.cached,
        }
    return scrub({
        "mode": comparison.mode, "name": comparison.name, "scale": 4, "notes": comparison.notes,
        "lr_size": list(comparison.lr.shape[1::-1]),
        "metrics": "PSNR/SSIM on BT.601 Y, 4-pixel border shaved, against the original; "
                   "LR-consistency = PSNR(Y) of the output shrunk x1/4 (MATLAB bicubic) vs the input; "
                   "NIQE (Mittal et al. 2013, no reference, lower = more natural) on Y, 4-pixel border shaved",
        "methods": methods,
    })


def _fmt(value: float | None, digits: int) -> str:
    return "" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _csv(header: list[str], rows: list[list]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def scores_csv(comparison: Comparison, niqe: dict[str, float | None]) -> str:
    """One row per method: full-image scores and the checkpoint's name and sha256."""
    rows = []
    for run in in_registry_order(comparison.runs):
        ckpt = checkpoint_of(run)
        rows.append([run.name, run.model_id, _fmt(run.psnr, 4), _fmt(run.ssim, 5), _fmt(niqe.get(run.model_id), 4),
                     _fmt(run.lr_consistency, 4), _fmt(run.seconds, 3), run.precision or "",
                     run.parameters or "", ckpt["checkpoint"], ckpt["sha256"]])
    return _csv(SCORE_COLUMNS, scrub(rows))


@dataclass(frozen=True)
class CropRow:
    """One image's crop: its enlarged pixels and the scores inside it (None where they do not apply)."""

    key: str
    tile: np.ndarray
    psnr: float | None
    ssim: float | None
    niqe: float | None


def crop_rows(comparison: Comparison, box: crops.Box, magnification: int) -> list[CropRow]:
    """The zoom strip: every image's crop, with PSNR/SSIM against the original's crop and NIQE."""
    reference = comparison.original
    rows = []
    for key, image in comparison.images().items():
        piece = crops.cut(image, box)
        psnr = ssim = None
        if reference is not None and key != ORIGINAL_KEY:
            psnr, ssim = crops.crop_metrics(piece, crops.cut(reference, box))
        rows.append(CropRow(key, crops.enlarge_nearest(piece, magnification), psnr, ssim,
                            no_reference.niqe(piece, crop_border=0)))
    return rows


def difference_maps(comparison: Comparison, amplification: float) -> tuple[str, dict[str, np.ndarray]]:
    """(reference name, heat map per method) as the Compare tab shows them; none without a reference."""
    if comparison.original is not None:
        reference, name = comparison.original, "original"
    else:
        bicubic = comparison.runs.get("bicubic")
        if bicubic is None or not bicubic.ok:
            return "", {}
        reference, name = bicubic.image, "bicubic"
    return name, {run.model_id: diffmaps.difference_map(run.image, reference, amplification)
                  for run in in_registry_order(comparison.runs)
                  if run.ok and not (name == "bicubic" and run.model_id == "bicubic")}


def _figure(src: str, caption: str, width: int | None = None) -> str:
    size = f' width="{width}"' if width else ""
    return (f'<figure><img src="{html.escape(src)}" alt="{html.escape(caption)}"{size}>'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


_PAGE_STYLE = """body{font:16px/1.4 system-ui,sans-serif;margin:24px;color:#111}
h1{font-size:24px}h2{font-size:19px;margin-top:28px}
.row{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
figure{margin:0}figcaption{font-size:14px;max-width:100%}
img{image-rendering:pixelated;max-width:100%;border:1px solid #ccc}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}"""


def index_html(comparison: Comparison, niqe: dict[str, float | None], rows: list[CropRow], box: crops.Box,
               diff_name: str, diff_keys: list[str], zoom: ZoomChoice) -> str:
    """One page: scores, the full images, the zoom strip with crop scores, the difference maps."""
    runs = in_registry_order(comparison.runs)
    score_rows = [[run.name, _fmt(run.psnr, 2), _fmt(run.ssim, 4), _fmt(niqe.get(run.model_id), 2),
                   checkpoint_of(run)["checkpoint"] or "—"] for run in runs]
    full = ([_figure("original.png", "Original", 256)] if comparison.original is not None else [])
    full.append(_figure("lr_input.png", f"Low-res input {comparison.lr.shape[1]}×{comparison.lr.shape[0]}", 256))
    full += [_figure(f"{run.model_id}.png", run.name, 256) for run in runs if run.ok]
    strip = []
    for row in rows:
        numbers = " · ".join(part for part in (
            row.psnr is not None and f"{row.psnr:.2f} dB", row.ssim is not None and f"SSIM {row.ssim:.3f}",
            row.niqe is not None and f"NIQE {row.niqe:.2f}") if part)
        strip.append(_figure(f"crops/{row.key}.png", label(row.key) + (f" · {numbers}" if numbers else "")))
    where = f"{box.size[0]}×{box.size[1]} px at x {box.x0}–{box.x1}, y {box.y0}–{box.y1}, ×{zoom.magnification}"
    diffs = [_figure(f"diff/{key}.png", f"|{comparison.runs[key].name} − {diff_name}| ×{zoom.amplification:g}", 256)
             for key in diff_keys]
    title = html.escape(f"SR Arena — {comparison.name} ({comparison.mode}, ×4)")
    parts = [f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>",
             f"<style>{_PAGE_STYLE}</style></head><body><h1>{title}</h1>",
             "<h2>Scores</h2>", _table(["Method", "PSNR (dB)", "SSIM", "NIQE ↓", "Checkpoint"], score_rows),
             "<p>PSNR/SSIM: BT.601 Y, 4-pixel border shaved, against the original. NIQE (Mittal, Soundararajan "
             "&amp; Bovik 2013): no reference, lower = more natural. All numbers: scores.csv, crop_scores.csv.</p>",
             "<h2>Images</h2>", f'<div class="row">{"".join(full)}</div>',
             f"<h2>Zoom: {html.escape(where)}</h2>", _figure("crops/overview.png", "Where the crop is", 256),
             f'<div class="row">{"".join(strip)}</div>']
    if diffs:
        parts += [f"<h2>Difference maps against the {html.escape(diff_name)}</h2>",
                  f'<div class="row">{"".join(diffs)}</div>', _figure("diff/legend.png", "0 → large difference")]
    parts.append("</body></html>")
    return "\n".join(parts)


def build_zip(comparison: Comparison, directory: str | Path, zoom: ZoomChoice | None = None,
              niqe: dict[str, float | None] | None = None) -> Path:
    """Write ``sr-arena-<name>-<id>.zip`` into ``directory`` and return its path (contents: module docstring).

    ``zoom``: the crop to export (default: the centre, the Compare tab's default size and magnification);
    ``niqe``: NIQE per method when the caller has measured it (crop 4, Y), else measured here.
    """
    zoom = zoom or ZoomChoice()
    path = Path(directory) / f"sr-arena-{comparison.name}-{comparison.request_id}.zip"
    height, width = comparison.hr_shape
    box = crops.crop_box(zoom.center or (width // 2, height // 2), int(zoom.size), (height, width))
    if niqe is None:
        niqe = {run.model_id: no_reference.niqe(run.image) for run in comparison.runs.values()}
    rows = crop_rows(comparison, box, int(zoom.magnification))
    diff_name, diff_maps = difference_maps(comparison, zoom.amplification)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        if comparison.original is not None:
            archive.writestr("original.png", _png_bytes(comparison.original))
        archive.writestr("lr_input.png", _png_bytes(comparison.lr))
        for run in in_registry_order(comparison.runs):
            if run.ok:
                archive.writestr(f"{run.model_id}.png", _png_bytes(run.image))
        for row in rows:
            archive.writestr(f"crops/{row.key}.png", _png_bytes(row.tile))
        base = comparison.original if comparison.original is not None else comparison.images()[LR_KEY]
        factor = crops.overview_scale((height, width))
        archive.writestr("crops/overview.png", _png_bytes(np.ascontiguousarray(crops.draw_box(base, box)[::factor, ::factor])))
        for key, heat in diff_maps.items():
            archive.writestr(f"diff/{key}.png", _png_bytes(heat))
        if diff_maps:
            archive.writestr("diff/legend.png", _png_bytes(diffmaps.legend()))
        archive.writestr("scores.csv", scores_csv(comparison, niqe))
        archive.writestr("crop_scores.csv", _csv(CROP_COLUMNS, [
            [label(r.key), r.key, box.x0, box.y0, box.x1, box.y1, _fmt(r.psnr, 4), _fmt(r.ssim, 5), _fmt(r.niqe, 4)]
            for r in rows]))
        archive.writestr("index.html", index_html(comparison, niqe, rows, box, diff_name, list(diff_maps), zoom))
        archive.writestr("metrics.json", json.dumps(metrics_json(comparison, niqe), indent=2, ensure_ascii=False))
    return path
