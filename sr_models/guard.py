"""``python -m sr_models guard [MODEL ...]``: test the fast path of each checkpoint on Set5.

For every model with weights, upscale the dataset exactly and fast, compare mean PSNR
(Y channel, crop 4) and write a record keyed by the checkpoint's sha256 and the fast mode
to the guard file (:func:`sr_models.precision.guard_file`). Fast precision is used only
where the record passes (ΔPSNR ≤ 0.05 dB).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from .evaluate import iter_pairs
from .inference import upscale
from .loader import ModelUnavailableError, load_model
from .metrics import calculate_psnr
from .paths import SHARED_DIR
from .precision import GUARD_THRESHOLD_DB, fast_mode_for, guard_file, guard_key, save_guard_record
from .registry import CARDS

DEFAULT_DATA = SHARED_DIR / "data" / "benchmark" / "Set5"


def run_guard(model, data_dir: Path, threshold_db: float = GUARD_THRESHOLD_DB) -> dict:
    """Compare exact and fast PSNR on ``data_dir`` (HR + LR_bicubic/X4); return a guard record.

    ``model`` is a :class:`~sr_models.loader.LoadedModel` with weights; the fast mode is the
    one its device runs now (:func:`fast_mode_for`). The unrounded |ΔPSNR| decides and is stored.
    """
    mode = fast_mode_for(model.device)
    scale = model.card.scale
    per_image: dict[str, dict[str, float]] = {}
    for name, hr, lr in iter_pairs(data_dir):
        row = {}
        for precision in ("exact", "fast"):
            sr = upscale(model, lr, precision=precision, force_fast=True)[: hr.shape[0], : hr.shape[1]]
            row[precision] = calculate_psnr(sr, hr, crop_border=scale, test_y_channel=True)
        per_image[name] = row
    exact = float(np.mean([r["exact"] for r in per_image.values()]))
    fast = float(np.mean([r["fast"] for r in per_image.values()]))
    delta = abs(fast - exact)
    sha = model.provenance.sha256
    return {
        "key": guard_key(sha, mode),
        "model": model.id,
        "checkpoint_sha256": sha,
        "checkpoint_file": Path(model.provenance.file).name,
        "mode": mode.name,
        "dataset": data_dir.name,
        "n": len(per_image),
        "psnr_exact": exact,
        "psnr_fast": fast,
        "delta_db": delta,
        "max_image_delta_db": round(max(abs(r["fast"] - r["exact"]) for r in per_image.values()), 4),
        "threshold_db": threshold_db,
        "passed": delta <= threshold_db,
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d"),
    }


def guard_models(model_ids: list[str], data_dir: Path, threshold_db: float = GUARD_THRESHOLD_DB) -> list[dict]:
    """Run and save the guard for each available model with weights; return the records."""
    records = []
    for model_id in model_ids:
        try:
            model = load_model(model_id)
        except ModelUnavailableError as error:
            print(f"{model_id}: skipped ({error.reason})")
            continue
        if model.descriptor is None:
            continue
        record = run_guard(model, data_dir, threshold_db=threshold_db)
        save_guard_record(record)
        verdict = "PASS" if record["passed"] else "FAIL (runs float32)"
        print(f"{model_id}: {record['mode']} exact {record['psnr_exact']:.3f} dB, fast {record['psnr_fast']:.3f} dB, "
              f"Δ {record['delta_db']:.4f} dB -> {verdict}  [{record['checkpoint_sha256'][:12]}]")
        records.append(record)
    print(f"records in {guard_file()}")
    return records


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The guard command's options (shared by ``python -m sr_models guard`` and this module)."""
    parser.add_argument("models", nargs="*", help="model ids (default: every model with weights)")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="dataset with HR/ and LR_bicubic/X4/")
    parser.add_argument("--threshold", type=float, default=GUARD_THRESHOLD_DB, help="max |ΔPSNR| in dB")


def run(args: argparse.Namespace) -> int:
    """Entry point for parsed arguments."""
    ids = args.models or [card.id for card in CARDS.values() if card.needs_weights]
    guard_models(ids, Path(args.data), args.threshold)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sr_models.guard", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
