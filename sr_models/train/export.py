"""Export a run's weights as a house checkpoint with its model card.

The EMA weights of ``runs/<name>/last.pt`` are written to ``checkpoints/<export>``
(safetensors; fp16 storage when it changes Set5 PSNR by at most 0.01 dB, else fp32), read
back through the loader (the same recognition any checkpoint goes through), evaluated on
Set5 and Set14 with :func:`sr_models.evaluate.evaluate_model` (the code behind
``python -m sr_models evaluate``), and described in ``<stem>.json`` / ``<stem>.md`` beside it.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sr_models.checkpoint_io import save_safetensors_atomic, sha256_file
from sr_models.evaluate import evaluate_model, iter_pairs
from sr_models.inference import upscale
from sr_models.imresize import imresize
from sr_models.loader import LoadedModel, Provenance, load_checkpoint
from sr_models.paths import CHECKPOINTS_DIR
from sr_models.registry import WeightsKind, get_card

from .config import TrainConfig, run_dir
from .data import training_files
from .validate import BENCHMARK_DIR, BN_RECALIBRATION_BATCHES, gradient_ratio, recalibrate_batch_norm

MAX_BYTES = 10 * 1024 * 1024
#: A GAN stage may have at most this many times its PSNR stage's artefact score (``sr_models.artefacts``).
MAX_ARTEFACT_RATIO = 3.0
FP16_MAX_PSNR_CHANGE = 0.01
PROJECT_LICENCE = "MIT (SR Arena)"


def house_origin(config: TrainConfig) -> str:
    """The ``origin`` line of a house checkpoint (the registry's sources use the same text)."""
    return f"trained by SR Arena, config configs/train/{config.name}.toml"


def _loaded(path: Path, config: TrainConfig, description: str) -> LoadedModel:
    descriptor = load_checkpoint(path, config.arch)
    provenance = Provenance(kind=WeightsKind.HOUSE.value, file=str(path), sha256=sha256_file(path),
                            origin=house_origin(config), licence=PROJECT_LICENCE, description=description)
    return LoadedModel(card=get_card(config.model_id), descriptor=descriptor, provenance=provenance,
                       device=torch.device("cpu"))


def _set5_psnr(path: Path, config: TrainConfig, pairs: list) -> float:
    return evaluate_model(_loaded(path, config, ""), pairs).psnr


def _metadata(config: TrainConfig, state: dict[str, Any], dtype: str) -> dict[str, str]:
    return {"sr_arena": "house", "model_id": config.model_id, "arch": config.arch,
            "config": json.dumps(config.as_dict()), "step": str(state["step"]), "dtype": dtype}


def sharpness(model: LoadedModel, pairs: list) -> dict[str, float]:
    """Gradient-magnitude ratio (output vs HR) of ``model`` and of bicubic on ``pairs``."""
    outs = [upscale(model, lr)[: hr.shape[0], : hr.shape[1]] for _, hr, lr in pairs]
    bic = [imresize(lr, scale=4.0)[: hr.shape[0], : hr.shape[1]] for _, hr, lr in pairs]
    refs = [hr for _, hr, _ in pairs]
    return {"model": gradient_ratio(outs, refs), "bicubic": gradient_ratio(bic, refs)}


def export_run(config: TrainConfig, out_dir: Path | None = None, checkpoints_dir: Path | None = None,
               sets: tuple[str, ...] = ("Set5", "Set14"), snapshot: Path | None = None) -> dict[str, Any]:
    """Write the house checkpoint and its card; returns the card (a JSON-able dict). ``snapshot``: a GAN
    stage's validated ``runs/<name>/ema_<step>.pt`` to ship instead of the last EMA."""
    if not config.export:
        raise ValueError(f"config {config.name} has no 'export' file name")
    out_dir = Path(out_dir) if out_dir else run_dir(config)
    target = Path(checkpoints_dir or CHECKPOINTS_DIR) / config.export
    state = torch.load(out_dir / "last.pt", map_location="cpu", weights_only=True)
    run_steps = int(state["step"])
    if snapshot is not None:
        state = {**state, "ema": torch.load(snapshot, map_location="cpu", weights_only=True),
                 "step": int(Path(snapshot).stem.split("_")[1])}
    averaged = {k: v.float() if v.is_floating_point() else v for k, v in state["ema"].items()}
    weights = recalibrate_batch_norm(averaged, config)
    set5 = list(iter_pairs(BENCHMARK_DIR / sets[0]))

    fp32_path = target.with_name(target.stem + ".fp32.tmp.safetensors")
    save_safetensors_atomic(weights, fp32_path, _metadata(config, state, "float32"))
    psnr32 = _set5_psnr(fp32_path, config, set5)
    half = {k: (v.half() if v.is_floating_point() else v) for k, v in weights.items()}
    save_safetensors_atomic(half, target, _metadata(config, state, "float16"))
    psnr16 = _set5_psnr(target, config, set5)
    dtype = "float16"
    if abs(psnr16 - psnr32) > FP16_MAX_PSNR_CHANGE:
        fp32_path.replace(target)
        dtype = "float32"
    fp32_path.unlink(missing_ok=True)
    size = target.stat().st_size
    if size > MAX_BYTES:
        raise ValueError(f"{target} is {size} bytes, over the {MAX_BYTES}-byte limit for house checkpoints")

    model = _loaded(target, config, config.description)
    results = {}
    for name in sets:
        pairs = set5 if name == sets[0] else list(iter_pairs(BENCHMARK_DIR / name))
        r = evaluate_model(model, pairs)
        results[name] = {"psnr": round(r.psnr, 4), "ssim": round(r.ssim, 5), "n": r.n, "seconds": round(r.seconds, 1)}
    records = read_log(out_dir / "log.jsonl")
    log = next((r for r in records if r.get("event") == "start"), {})
    card = {
        "model_id": config.model_id,
        "title": config.description,
        "file": config.export,
        "sha256": sha256_file(target),
        "bytes": size,
        "storage_dtype": dtype,
        "set5_psnr_fp32_vs_stored": [round(psnr32, 4), round(psnr16 if dtype == "float16" else psnr32, 4)],
        "kind": WeightsKind.HOUSE.value,
        "licence": PROJECT_LICENCE,
        "origin": house_origin(config),
        "parameters": sum(v.numel() for k, v in weights.items() if "num_batches" not in k and "running" not in k),
        "config": config.as_dict(),
        "data": {"folders": config.data_dirs, "images": len(training_files(config.data_dirs)),
                 "degradation": "MATLAB-exact bicubic x1/4 (sr_models.imresize), whole image, aligned crops",
                 "augmentation": "random crops, flips and rot90", "benchmark images": "none"},
        "steps": int(state["step"]),
        "planned_steps": config.steps,
        "changed_during_run": config_changes(log.get("config", {}), config.as_dict()),
        "train_seconds": round(float(state["train_seconds"]), 1),
        "wall_seconds": round(float(state["wall_seconds"]), 1),
        "steps_per_second": round(run_steps / max(float(state["train_seconds"]), 1e-9), 4),
        "step_times": step_time_stats(records),
        "hardware": "; ".join(run_hardware(records)),
        "results": results,
        "sharpness_set5": sharpness(model, set5),
        "weights": "exponential moving average of the generator (decay %g)" % config.ema_decay + (
            f"; BatchNorm statistics re-estimated for the averaged weights on {BN_RECALIBRATION_BATCHES} training "
            "batches (torch.optim.swa_utils.update_bn)" if weights is not averaged else ""),
        "commands": {
            "train": f"python -m sr_models train configs/train/{config.name}.toml --resume",
            "export": f"python -m sr_models train configs/train/{config.name}.toml --export"
                      + (f" --snapshot runs/{config.name}/{Path(snapshot).name}" if snapshot else ""),
            "evaluate": evaluate_commands(config.model_id, sets),
        },
        "exported_at": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }
    if config.adversarial_weight > 0:
        add_artefact_check(card, model, config)
    write_card(card, target)
    if card.get("artefact_check") == "over the limit":
        raise ValueError(f"{target}: artefact score {card['artefacts']['percent']:.2f} % is "
                         f"{card['artefact_ratio_to_psnr_stage']:.1f}× its PSNR stage's (limit {MAX_ARTEFACT_RATIO:g}×); "
                         "the card says so: retrain or choose another step before shipping it")
    return card


def artefacts_of(model: LoadedModel) -> dict[str, Any]:
    """Artefact score of ``model`` on flat regions of Set14 and the app's examples (``sr_models.artefacts``)."""
    from sr_models.artefacts import artefact_score, measurement_inputs
    from sr_models.paths import REPO_ROOT

    inputs = measurement_inputs(BENCHMARK_DIR / "Set14" / "LR_bicubic" / "X4", REPO_ROOT / "examples")
    return artefact_score([upscale(model, lr) for _, lr in inputs], [lr for _, lr in inputs]).as_dict()


def add_artefact_check(card: dict[str, Any], model: LoadedModel, config: TrainConfig,
                       psnr_card_path: Path | None = None) -> None:
    """The export check of a GAN stage: its artefact score beside its PSNR stage's (the ``init_from`` run's
    exported card), recorded in ``card``; over ``MAX_ARTEFACT_RATIO`` × the PSNR stage's, the card says so
    (``artefact_check``: "over the limit")."""
    from .config import load_config
    from sr_models.paths import REPO_ROOT

    card["artefacts"] = artefacts_of(model)
    if psnr_card_path is None and config.init_from:
        init = load_config(REPO_ROOT / "configs" / "train" / f"{config.init_from}.toml")
        psnr_card_path = (CHECKPOINTS_DIR / init.export).with_suffix(".json")
    if psnr_card_path is None or not psnr_card_path.is_file():
        return
    stage = json.loads(psnr_card_path.read_text())
    if "artefacts" not in stage:
        stage["artefacts"] = artefacts_of(_loaded(CHECKPOINTS_DIR / stage["file"], load_config(
            REPO_ROOT / "configs" / "train" / f"{config.init_from}.toml"), ""))
        psnr_card_path.write_text(json.dumps(stage, indent=1) + "\n")
        (psnr_card_path.with_suffix(".md")).write_text(card_markdown(stage))
    ratio = card["artefacts"]["percent"] / max(stage["artefacts"]["percent"], 1e-9)
    card["psnr_stage"] = {"file": stage["file"], "sha256": stage["sha256"], "results": stage["results"],
                          "sharpness_set5": stage["sharpness_set5"], "artefacts": stage["artefacts"]}
    card["artefact_ratio_to_psnr_stage"] = round(ratio, 3)
    card["artefact_check"] = "passed" if ratio <= MAX_ARTEFACT_RATIO else "over the limit"


def evaluate_commands(model_id: str, sets: tuple[str, ...]) -> list[str]:
    """Commands that re-measure a house checkpoint's table rows.

    ``SR_ARENA_SHARED=/nonexistent`` hides ``../shared/weights`` (the public SRGAN checkpoint
    would otherwise be preferred over the house one); the data path is explicit.
    """
    return [f"SR_ARENA_SHARED=/nonexistent python -m sr_models evaluate --data ../shared/data/benchmark/{s} "
            f"--models bicubic,{model_id}" for s in sets]


def step_time_stats(records: list[dict[str, Any]]) -> dict[str, float]:
    """Step-time statistics from a run's log records: the median, and the median of the fastest
    tenth (an estimate of the uncontended speed on a CPU shared with other work)."""
    times = sorted(r["step_s"] for r in records if "step_s" in r)
    if not times:
        return {}
    fastest = times[: max(1, len(times) // 10)]
    return {"median_step_s": round(float(np.median(times)), 4),
            "fastest_tenth_median_step_s": round(float(np.median(fastest)), 4),
            "uncontended_steps_per_second_estimate": round(1.0 / float(np.median(fastest)), 4)}


def config_changes(started: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """Settings edited in the config after the run started (e.g. a shortened schedule), as
    ``"key: old → new"``; the per-invocation thread count is not a training setting."""
    return [f"{key}: {started[key]} → {now[key]}" for key in sorted(set(started) & set(now))
            if key != "threads" and started[key] != now[key]]


def run_hardware(records: list[dict[str, Any]]) -> list[str]:
    """Every distinct machine/thread setting the run trained on (its start and resume records)."""
    lines = (r["hardware"].replace(" 1 threads,", " 1 thread,") for r in records if r.get("hardware"))
    return list(dict.fromkeys(lines))


def read_log(path: Path) -> list[dict[str, Any]]:
    """Every record of a run's ``log.jsonl`` (start/resume events, steps, validations), or ``[]``."""
    if not path.is_file():
        return []
    with open(path) as handle:
        return [json.loads(line) for line in handle]


def card_markdown(card: dict[str, Any]) -> str:
    """The model card as Markdown."""
    rows = "\n".join(f"| {name} | {r['psnr']:.2f} | {r['ssim']:.4f} | {r['n']} |" for name, r in card["results"].items())
    cfg = card["config"]
    sharp = card["sharpness_set5"]
    edited = card.get("changed_during_run") or []
    changes = f"- config edited during the run (schedule re-aimed; resumed from the same state): {'; '.join(edited)}\n" if edited else ""
    return f"""# {card['title']} — SR Arena house weights

- file: `checkpoints/{card['file']}` ({card['bytes']:,} bytes, {card['storage_dtype']} storage; Set5 PSNR fp32 → stored: {card['set5_psnr_fp32_vs_stored'][0]:.4f} → {card['set5_psnr_fp32_vs_stored'][1]:.4f} dB)
- sha256: `{card['sha256']}`
- kind: {card['kind']}; licence: {card['licence']}; origin: {card['origin']}
- architecture: `{cfg['arch']}` {json.dumps(cfg['arch_args'])} ({card['parameters']:,} parameters)
- training: {card['steps']:,} of {card['planned_steps']:,} planned steps, batch {cfg['batch_size']}, LR patch {cfg['lr_patch']}×{cfg['lr_patch']}, loss {cfg['loss']}{' + %g adversarial' % cfg['adversarial_weight'] if cfg['adversarial_weight'] else ''}, Adam lr {cfg['lr']:g} (cosine to {cfg['lr_min']:g}), seed {cfg['seed']}{', initialised from run ' + cfg['init_from'] if cfg['init_from'] else ''}
{changes}- weights: {card['weights']}
- data: {', '.join(card['data']['folders'])} ({card['data']['images']} images from ../shared/data/train); {card['data']['degradation']}; {card['data']['augmentation']}; no benchmark image
- time: {card['train_seconds'] / 3600:.2f} h of training steps ({card['wall_seconds'] / 3600:.2f} h with validation), {card['steps_per_second']:.3f} steps/s on average on a CPU shared with other work; {card.get('step_times', {}).get('uncontended_steps_per_second_estimate', float('nan')):.3f} steps/s for the fastest tenth of the steps (≈ the uncontended speed)
- hardware: {card['hardware']}
- exported: {card['exported_at']}

## Results (×4, Y channel, crop 4, LR_bicubic/X4 from ../shared)

| set | PSNR | SSIM | images |
|---|---|---|---|
{rows}

Sharpness on Set5 (mean Sobel gradient magnitude, output / HR; 1 = as sharp as the original): {sharp['model']:.3f} (bicubic {sharp['bicubic']:.3f}).
{artefact_text(card)}

## Reproduce

```bash
{card['commands']['train']}
{card['commands']['export']}
{chr(10).join(card['commands']['evaluate'])}
```
"""


def artefact_text(card: dict[str, Any]) -> str:
    """The card's artefact-score paragraph (GAN stages: beside their PSNR stage's), or empty."""
    art = card.get("artefacts")
    if not art:
        return ""
    text = (f"\nArtefact score (share of the detrended spectral energy of flat regions at the ×4 upsampler's "
            f"period-2/period-4 frequencies, `sr_models/artefacts.py`; white noise ≈ 1.47 %): {art['percent']:.2f} % "
            f"on {art['flat_blocks']} flat 32² blocks of {art['images']} images (Set14 and the app's examples).")
    stage = card.get("psnr_stage")
    if stage:
        text += (f" Its PSNR stage `{stage['file']}` scores {stage['artefacts']['percent']:.2f} %: ratio "
                 f"{card['artefact_ratio_to_psnr_stage']:.2f} (limit {MAX_ARTEFACT_RATIO:g}"
                 f"{'; OVER THE LIMIT' if card['artefact_ratio_to_psnr_stage'] > MAX_ARTEFACT_RATIO else ''}).")
    return text + "\n"


def write_card(card: dict[str, Any], weights_path: Path, markdown: str | None = None) -> tuple[Path, Path]:
    """``<stem>.json`` and ``<stem>.md`` (``markdown``, else :func:`card_markdown`) beside the weights."""
    stem = weights_path.with_suffix("")
    json_path, md_path = stem.with_suffix(".json"), stem.with_suffix(".md")
    json_path.write_text(json.dumps(card, indent=1) + "\n")
    md_path.write_text(markdown if markdown is not None else card_markdown(card))
    return json_path, md_path
