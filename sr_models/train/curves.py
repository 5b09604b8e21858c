"""Compare training runs' Set5 validation curves step for step and at equal training compute.

``python -m sr_models.train.curves CONFIG [CONFIG ...]`` reads each run's ``runs/<name>/log.jsonl``
and prints its validation PSNR against the optimiser step and against the training FLOPs spent
so far. Compute is counted, not timed: wall-clock step times on a shared CPU depend on what else
runs, whereas the FLOPs of one training step (forward + backward of the generator on one batch,
counted by ``torch.utils.flop_counter``) do not. This is how the AWSRN-S house model is compared
with the full AWSRN trained by the same recipe (issue 3: "AWSRN-S if it reaches the same PSNR in
the time you have").
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from .config import TrainConfig, load_config, run_dir
from .nets import build_generator


@dataclass(frozen=True)
class CurvePoint:
    step: int
    psnr: float
    pflop: float  # training compute spent up to this step, in PFLOP


def training_flops_per_step(config: TrainConfig) -> float:
    """FLOPs of one generator training step (forward + backward) on one batch of LR patches."""
    model, _ = build_generator(config.arch, config.arch_args)
    side = config.lr_patch
    lr = torch.rand(config.batch_size, 3, side, side)
    with FlopCounterMode(display=False) as counter:
        model(lr).float().mean().backward()
    return float(counter.get_total_flops())


def validation_curve(log: Path, flops_per_step: float) -> list[CurvePoint]:
    """A run's logged validation points (``log.jsonl``; the last one per step, in step order)."""
    if not log.is_file():
        return []
    points: dict[int, float] = {}
    with log.open() as handle:
        for line in handle:
            row = json.loads(line)
            if "val" in row and "step" in row:
                points[int(row["step"])] = float(row["val"]["psnr"])
    return [CurvePoint(s, p, s * flops_per_step / 1e15) for s, p in sorted(points.items())]


def psnr_at_compute(curve: list[CurvePoint], pflop: float) -> CurvePoint | None:
    """The last validation point reached with at most ``pflop`` of training compute; None before
    the first one or beyond the run's last one (the run has not been trained that far)."""
    if not curve or pflop > curve[-1].pflop + 1e-12:
        return None
    reached = [p for p in curve if p.pflop <= pflop + 1e-12]
    return reached[-1] if reached else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="+", help="TOML run configs (configs/train/*.toml)")
    args = parser.parse_args(argv)
    runs = []
    for path in args.configs:
        config = load_config(path)
        per_step = training_flops_per_step(config)
        runs.append((config, per_step, validation_curve(run_dir(config) / "log.jsonl", per_step)))
        print(f"{config.name}: {per_step / 1e9:.1f} GFLOP per training step")
    steps = sorted({p.step for _, _, curve in runs for p in curve})
    print("\nSet5 PSNR (dB) by step")
    print("step    " + "".join(f"{c.name:>14}" for c, _, _ in runs))
    for step in steps:
        cells = [next((f"{p.psnr:14.2f}" for p in curve if p.step == step), " " * 14) for _, _, curve in runs]
        print(f"{step:<8}" + "".join(cells))
    budgets = [p.pflop for p in runs[0][2]]  # the first run is the reference
    print(f"\nSet5 PSNR (dB) at equal training compute (budgets: {runs[0][0].name}'s validation points;"
          " each run's last validation within the budget)")
    print("PFLOP   " + "".join(f"{c.name:>20}" for c, _, _ in runs))
    for budget in budgets:
        cells = []
        for _, _, curve in runs:
            point = psnr_at_compute(curve, budget)
            cells.append(f"{point.psnr:9.2f} @ {point.step:>6}" if point else "—")
        print(f"{budget:<8.3f}" + "".join(f"{c:>20}" for c in cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
