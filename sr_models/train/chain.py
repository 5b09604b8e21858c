"""Run several training configs in turn, one at a time, in time slices, exporting after each.

``python -m sr_models.train.chain --minutes 30 CONFIG ...`` trains each unfinished config for
``--minutes`` (resuming from its last checkpoint), exports its house checkpoint and card, and
moves on to the next, round after round, until every run has reached its planned steps. A
config with ``init_from`` waits until that run is finished. Each slice is a separate process
(``python -m sr_models train``), so code changes are picked up and memory is returned. Meant to
run in the background at low priority::

    nohup nice -n 19 python -m sr_models.train.chain --minutes 30 configs/train/awsrn.toml \\
        configs/train/san_house.toml configs/train/srresnet.toml configs/train/srgan.toml \\
        > runs/chain.log 2>&1 &

``python -m sr_models.train.chain --status CONFIG ...`` shows where each run stands.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from .config import TrainConfig, load_config, run_dir


def status(config: TrainConfig) -> dict:
    path = run_dir(config) / "status.json"
    return json.loads(path.read_text()) if path.is_file() else {"step": 0, "finished": False}


def finished(config: TrainConfig) -> bool:
    return status(config).get("step", 0) >= config.steps


def _run(args: list[str]) -> int:
    print(time.strftime("%H:%M:%S"), " ".join(args), flush=True)
    return subprocess.call([sys.executable, "-m", "sr_models", *args])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="+")
    parser.add_argument("--minutes", type=float, default=30.0, help="training time per slice")
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--status", action="store_true", help="print each run's step and last validation, then exit")
    args = parser.parse_args(argv)
    if args.status:
        for path in args.configs:
            config = load_config(path)
            print(f"{config.name:<10} {json.dumps(status(config))}")
        return 0
    for _ in range(args.rounds):
        configs = [(path, load_config(path)) for path in args.configs]  # re-read: configs may be edited
        by_name = {c.name: c for _, c in configs}
        pending = [(p, c) for p, c in configs if not finished(c)]
        if not pending:
            break
        progressed = False
        for path, config in pending:
            parent = by_name.get(config.init_from) if config.init_from else None
            if parent is not None and not finished(parent):
                continue
            before = status(config).get("step", 0)
            _run(["train", path, "--resume", "--max-minutes", str(args.minutes)])
            if status(config).get("step", 0) > before and config.export:
                _run(["train", path, "--export"])
                progressed = True
        if not progressed:
            print("no run made progress this round; stopping", flush=True)
            return 1
    print(time.strftime("%H:%M:%S"), "all runs finished", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
