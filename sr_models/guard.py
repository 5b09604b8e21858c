"""``python -m sr_models guard [MODEL ...]``: test the fast path of each checkpoint on Set5.

For every model with weights, upscale the dataset exactly and fast, compare mean PSNR
(Y channel, crop 4) and write a record keyed by the checkpoint's sha256 and the fast mode
to the guard file (:func:`sr_models.precision.guard_file`). Fast precision is used only
where the record passes (ΔPSNR ≤ 0.05 dB).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from .loader import ModelUnavailableError, load_model
from .paths import SHARED_DIR
from .precision import GUARD_THRESHOLD_DB, guard_file, run_guard, save_guard_record
from .registry import CARDS

DEFAULT_DATA = SHARED_DIR / "data" / "benchmark" / "Set5"


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
