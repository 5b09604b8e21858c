"""The ``train`` subcommand of ``python -m sr_models``."""
from __future__ import annotations

import argparse
import json


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``train CONFIG [--resume] [--max-steps N] [--max-minutes M] [--export]``."""
    p = sub.add_parser("train", help="train house weights from a config (configs/train/*.toml)")
    p.add_argument("config", help="TOML run config")
    p.add_argument("--resume", action="store_true", help="continue from runs/<name>/last.pt when it exists")
    p.add_argument("--max-steps", type=int, default=None, help="stop at this step (the schedule keeps the config's steps)")
    p.add_argument("--max-minutes", type=float, default=None, help="stop (and save) after this much wall time")
    p.add_argument("--export", action="store_true",
                   help="do not train: export runs/<name>/last.pt to checkpoints/ with its model card")
    p.add_argument("--snapshot", default=None,
                   help="with --export: ship this validated GAN-stage snapshot (runs/<name>/ema_<step>.pt)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads for this invocation (overrides the config; e.g. 1 per run when two runs share 2 cores)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    from .config import load_config

    config = load_config(args.config, threads=args.threads)
    if args.export:
        from .export import export_run

        card = export_run(config, snapshot=args.snapshot)
        print(json.dumps({k: card[k] for k in ("file", "steps", "results", "sharpness_set5", "storage_dtype")}, indent=1))
        return 0
    from .loop import make_trainer

    trainer = make_trainer(config, resume=args.resume, quiet=args.quiet)
    summary = trainer.run(max_steps=args.max_steps, max_minutes=args.max_minutes)
    print(json.dumps(summary))
    return 0
