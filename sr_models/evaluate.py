"""Benchmark evaluation exactly as the papers report it (Y channel, border crop = scale).

A dataset directory holds ``HR/`` and ``LR_bicubic/X4/`` with the same file names (the
layout of ``../shared/data/benchmark/<set>``); with ``lr_from_hr`` the LR images are made
from the HR ones with the project's MATLAB-exact bicubic instead.

Measurements are kept in one place, ``results/measured.json``, keyed by the sha256 of the
checkpoint they were measured with (the model id for bicubic, which has none)::

    {sha256: {"model", "checkpoint", "kind",
              "datasets": {"Set5": {"psnr", "ssim", "n", "lr", "precision", "date", "seconds", "niqe"?}}}}

Beside PSNR/SSIM, :func:`evaluate` reports NIQE (:mod:`sr_models.niqe`, no reference: crop 4, Y
channel, BasicSR's defaults) as ``"niqe"``: the mean over the images large enough for it (two
96×96 patches), ``None`` when none is or its parameters are not installed (``"niqe_note"`` says why).

``python -m sr_models evaluate --data DIR --record`` adds or replaces the entries of every
checkpoint it ran (:func:`record`); the Models tab shows the entry of the checkpoint that runs.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from .image_io import read_image
from .imresize import imresize, modcrop
from .inference import upscale
from .loader import LoadedModel, ModelUnavailableError, load_model
from .metrics import calculate_psnr, calculate_ssim
from .niqe import NiqeUnavailableError, calculate_niqe, fits, pristine_model
from .paths import CHECKPOINTS_DIR, REPO_ROOT, SHARED_DIR

IMAGE_SUFFIXES = {".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff"}
#: The one file that holds this project's measurements (see the module docstring).
MEASURED_FILE = REPO_ROOT / "results" / "measured.json"


@dataclass
class ModelResult:
    """Mean scores of one method on one dataset."""

    model_id: str
    psnr: float
    ssim: float
    n: int
    seconds: float
    checkpoint: dict[str, str]
    per_image: dict[str, dict[str, float]] = field(default_factory=dict)
    niqe: float | None = None  # mean over the images NIQE fits (None: none, or NIQE not asked for)


def iter_pairs(data_dir: Path, scale: int = 4, lr_from_hr: bool = False) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Yield ``(name, hr, lr)`` uint8 arrays, HR modcropped to a multiple of ``scale``."""
    hr_dir = data_dir / "HR"
    if not hr_dir.is_dir():
        raise FileNotFoundError(f"{hr_dir} not found: a dataset directory holds HR/ and LR_bicubic/X{scale}/")
    for hr_path in sorted(p for p in hr_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        hr = modcrop(read_image(hr_path), scale)
        if lr_from_hr:
            lr = imresize(hr, scale=1 / scale)
        else:
            lr_path = data_dir / "LR_bicubic" / f"X{scale}" / hr_path.name
            if not lr_path.is_file():
                raise FileNotFoundError(f"{lr_path} not found (use --lr-from-hr to make LR images from HR)")
            lr = read_image(lr_path)
        yield hr_path.name, hr, lr


def display_path(path: Path) -> str:
    """A checkpoint path as a reader of this repository writes it (``checkpoints/…``, ``../shared/…``)."""
    resolved = path.resolve()
    for base, prefix in ((CHECKPOINTS_DIR, "checkpoints/"), (SHARED_DIR, "../shared/"), (REPO_ROOT, "")):
        try:
            return prefix + resolved.relative_to(base.resolve()).as_posix()
        except ValueError:
            continue
    return str(path)


def checkpoint_summary(model: LoadedModel) -> dict[str, str]:
    """``{"sha256", "kind", "file"}`` of the weights a result came from (empty sha256 and file for bicubic)."""
    if model.provenance is None:
        return {"sha256": "", "kind": "no weights (interpolation)", "file": ""}
    return {"sha256": model.provenance.sha256, "kind": model.provenance.kind,
            "file": display_path(Path(model.provenance.file))}


def evaluate_model(model: LoadedModel, pairs: list[tuple[str, np.ndarray, np.ndarray]],
                   precision: str = "exact", niqe: bool = False) -> ModelResult:
    """PSNR/SSIM (Y channel, crop = scale) of ``model`` over ``pairs``, with wall time.

    ``niqe``: also NIQE of each output (crop = scale, Y), where the image is large enough
    (:func:`sr_models.niqe.fits`); its parameters must be installed (:func:`niqe_status`).
    """
    scale = model.card.scale
    per_image: dict[str, dict[str, float]] = {}
    start = time.perf_counter()
    for name, hr, lr in pairs:
        sr = upscale(model, lr, precision=precision)
        sr = sr[: hr.shape[0], : hr.shape[1]]
        per_image[name] = {
            "psnr": calculate_psnr(sr, hr, crop_border=scale, test_y_channel=True),
            "ssim": calculate_ssim(sr, hr, crop_border=scale, test_y_channel=True),
        }
        if niqe and fits(sr.shape, scale):
            per_image[name]["niqe"] = calculate_niqe(sr, crop_border=scale, convert_to="y")
    seconds = time.perf_counter() - start
    niqes = [s["niqe"] for s in per_image.values() if "niqe" in s and np.isfinite(s["niqe"])]
    return ModelResult(
        model_id=model.id,
        psnr=float(np.mean([s["psnr"] for s in per_image.values()])),
        ssim=float(np.mean([s["ssim"] for s in per_image.values()])),
        n=len(per_image),
        seconds=seconds,
        checkpoint=checkpoint_summary(model),
        per_image=per_image,
        niqe=float(np.mean(niqes)) if niqes else None,
    )


def niqe_status() -> str | None:
    """Why NIQE cannot be measured here (``None``: it can)."""
    try:
        pristine_model()
    except NiqeUnavailableError as error:
        return str(error)
    return None


def evaluate(data_dir: Path, model_ids: list[str], lr_from_hr: bool = False, precision: str = "exact") -> dict:
    """Evaluate every model on one dataset; unavailable models are listed with their reason."""
    pairs = list(iter_pairs(data_dir, lr_from_hr=lr_from_hr))
    niqe_note = niqe_status()
    results: dict[str, dict] = {}
    unavailable: dict[str, str] = {}
    for model_id in model_ids:
        try:
            model = load_model(model_id)
        except ModelUnavailableError as error:
            unavailable[model_id] = str(error)
            continue
        result = evaluate_model(model, pairs, precision, niqe=niqe_note is None)
        results[model_id] = {
            "psnr": result.psnr,
            "ssim": result.ssim,
            "niqe": result.niqe,
            "n": result.n,
            "seconds": result.seconds,
            "checkpoint": result.checkpoint,
            "per_image": result.per_image,
        }
    report = {"dataset": data_dir.name, "lr": "from HR (MATLAB bicubic)" if lr_from_hr else "LR_bicubic/X4",
              "precision": precision, "results": results, "unavailable": unavailable}
    if niqe_note is not None:
        report["niqe_note"] = niqe_note
    return report


def measurement_key(model_id: str, sha256: str) -> str:
    """Where a measurement is filed: the checkpoint's sha256, or the model id when it has no weights."""
    return sha256 or model_id


def measure_command(model_id: str, datasets: list[str]) -> str:
    """The command that measures ``model_id``'s running checkpoint on ``datasets`` and records it.

    It measures whichever checkpoint the loader picks where it runs, so run it where the app runs.
    """
    dirs = " ".join(f"../shared/data/benchmark/{name}" for name in datasets)
    return f"python -m sr_models evaluate --data {dirs} --models {model_id} --record"


def read_measured(path: Path = MEASURED_FILE) -> dict[str, dict]:
    """Every stored measurement, ``{key: entry}`` (empty when the file does not exist yet)."""
    if not path.is_file():
        return {}
    return json.loads(path.read_text())


def _dataset_entry(result: dict, report: dict, date: str) -> dict:
    entry = {"psnr": round(result["psnr"], 4), "ssim": round(result["ssim"], 5), "n": result["n"],
             "lr": report["lr"], "precision": report["precision"], "date": date,
             "seconds": round(result["seconds"], 1)}
    if result.get("niqe") is not None:
        entry["niqe"] = round(result["niqe"], 4)
    return entry


def record(report: dict, path: Path = MEASURED_FILE, date: str | None = None) -> list[str]:
    """Add or replace, in ``path``, the scores of every checkpoint ``report`` ran (one dataset each).

    Other datasets of the same checkpoint and other checkpoints are kept. Returns the keys written.
    """
    date = date or time.strftime("%Y-%m-%d")
    measured = read_measured(path)
    keys = []
    for model_id, result in report["results"].items():
        checkpoint = result["checkpoint"]
        key = measurement_key(model_id, checkpoint["sha256"])
        entry = measured.setdefault(key, {"datasets": {}})
        entry.update(model=model_id, checkpoint=checkpoint.get("file", ""), kind=checkpoint["kind"])
        entry["datasets"][report["dataset"]] = _dataset_entry(result, report, date)
        keys.append(key)
    write_measured(measured, path)
    return keys


def write_measured(measured: dict[str, dict], path: Path = MEASURED_FILE) -> None:
    """Write the store atomically (a reader never sees half a file), keys sorted for small diffs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(measured, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def format_table(report: dict) -> str:
    """A paper-style table: method, PSNR, SSIM, NIQE, images, seconds, weights."""
    lines = [f"{report['dataset']} ×4 (Y channel, crop 4; LR: {report['lr']})",
             f"{'method':<10} {'PSNR':>7} {'SSIM':>7} {'NIQE':>7} {'n':>4} {'seconds':>8}  weights"]
    for model_id, r in report["results"].items():
        weights = f"{r['checkpoint']['kind']} {r['checkpoint']['sha256'][:12]}".strip()
        niqe = "—" if r.get("niqe") is None else f"{r['niqe']:.3f}"
        lines.append(f"{model_id:<10} {r['psnr']:7.2f} {r['ssim']:7.4f} {niqe:>7} {r['n']:4d} {r['seconds']:8.1f}"
                     f"  {weights}")
    for model_id, reason in report["unavailable"].items():
        lines.append(f"{model_id:<10} {'—':>7} {'—':>7} {'—':>7} {'—':>4} {'—':>8}  {reason}")
    if report.get("niqe_note"):
        lines.append(report["niqe_note"])
    return "\n".join(lines)
