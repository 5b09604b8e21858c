"""``python -m sr_models``: upscale, evaluate, list and fetch from the command line.

The app and the benchmarks call the same functions as this CLI.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .checkpoint_io import CheckpointError
from .image_io import ImageReadError, read_image, write_png
from .loader import ModelUnavailableError, load_model
from .paths import CHECKPOINTS_DIR
from .registry import CARDS, get_card

PRECISIONS = ("exact", "fast")


def _model_ids(text: str) -> list[str]:
    ids = [part.strip() for part in text.split(",") if part.strip()]
    for model_id in ids:
        get_card(model_id)
    return ids


def cmd_upscale(args: argparse.Namespace) -> int:
    model = load_model(args.model)
    from .inference import upscale_with_info

    result = upscale_with_info(model, read_image(args.input), precision=args.precision, cache=None)
    write_png(args.output, result.image)
    print(f"{args.input} -> {args.output} with {model.card.display_name}"
          + (f" ({model.provenance.kind}, {Path(model.provenance.file).name})" if model.provenance else "")
          + f", {result.precision} precision ({result.note}), {result.seconds:.2f} s")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluate import MEASURED_FILE, evaluate, format_table, record

    store = None if args.record is None else Path(args.record) if args.record else MEASURED_FILE
    reports = []
    for data_dir in args.data:
        report = evaluate(Path(data_dir), args.models, lr_from_hr=args.lr_from_hr, precision=args.precision)
        reports.append(report)
        if not args.json:
            print(format_table(report))
        if store is not None:
            keys = record(report, store)
            print(f"recorded {report['dataset']} for {len(keys)} checkpoint(s) in {store}",
                  file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(reports[0] if len(reports) == 1 else reports, indent=1))
    return 0


def model_status(model_id: str) -> dict:
    """What ``list`` says of one model: its weights' provenance, or why it is unavailable."""
    card = get_card(model_id)
    status: dict = {"id": card.id, "name": card.display_name, "paper": f"{card.paper.venue} {card.paper.year}"}
    try:
        model = load_model(model_id)
    except ModelUnavailableError as error:
        status.update(available=False, reason=error.reason, fix=error.fix)
        return status
    status.update(available=True, parameters=model.num_parameters)
    if model.provenance is not None:
        status["weights"] = model.provenance.as_dict()
        status["config"] = dict(model.descriptor.config)
    return status


def cmd_list(args: argparse.Namespace) -> int:
    statuses = [model_status(model_id) for model_id in CARDS]
    if args.json:
        print(json.dumps(statuses, indent=1))
        return 0
    for s in statuses:
        if not s["available"]:
            print(f"{s['id']:<8} {s['name']:<8} UNAVAILABLE: {s['reason']}\n{'':17}fix: {s['fix']}")
        elif "weights" not in s:
            print(f"{s['id']:<8} {s['name']:<8} ready (no weights needed)")
        else:
            w = s["weights"]
            print(f"{s['id']:<8} {s['name']:<8} {w['kind']}: {w['file']}\n{'':17}{w['description']}\n{'':17}sha256 {w['sha256']}  "
                  f"licence {w['licence']}  {s['parameters']:,} parameters\n{'':17}source: {w['origin']}")
            for note in w["skipped"]:
                print(f"{'':17}skipped: {note}")
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    from .fetch import FetchError, fetch_model

    ids = args.models or [card.id for card in CARDS.values() if card.needs_weights]
    failures = 0
    for model_id in ids:
        try:
            paths = fetch_model(get_card(model_id), Path(args.dest), timeout=args.timeout)
        except (FetchError, CheckpointError) as error:
            print(f"{model_id}: {error}", file=sys.stderr)
            failures += 1
            continue
        for path in paths:
            print(f"{model_id}: {path}")
    return 1 if failures else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sr_models", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("upscale", help="enlarge one image ×4")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--model", default="esrgan", choices=list(CARDS))
    p.add_argument("--precision", default="fast", choices=PRECISIONS,
                   help="fast (default): channels_last, reduced precision only where the checkpoint's quality "
                        "guard passed; exact: float32 NCHW as the authors' test scripts")
    p.set_defaults(func=cmd_upscale)

    p = sub.add_parser("evaluate", help="PSNR/SSIM/NIQE on a benchmark directory (HR/ + LR_bicubic/X4/)")
    p.add_argument("--data", required=True, nargs="+", metavar="DIR",
                   help="one or more dataset directories (e.g. ../shared/data/benchmark/Set5)")
    p.add_argument("--models", type=_model_ids, default=list(CARDS))
    p.add_argument("--lr-from-hr", action="store_true", help="make LR from HR with MATLAB-exact bicubic")
    p.add_argument("--precision", default="exact", choices=PRECISIONS,
                   help="exact (default, as the papers measure) or fast")
    p.add_argument("--json", action="store_true")
    p.add_argument("--record", nargs="?", const="", default=None, metavar="FILE",
                   help="add or replace each checkpoint's scores (keyed by its sha256) in the measurement store "
                        "the Models tab reads (default results/measured.json)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("list", help="every model, its checkpoint and provenance")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("fetch", help="download checkpoints (sha256-verified)")
    p.add_argument("models", nargs="*", help="model ids (default: every model with weights)")
    p.add_argument("--dest", default=str(CHECKPOINTS_DIR))
    p.add_argument("--timeout", type=float, default=30.0)
    p.set_defaults(func=cmd_fetch)

    from .niqe_fetch import add_parser as add_fetch_niqe_parser

    add_fetch_niqe_parser(sub)

    from . import guard

    p = sub.add_parser("guard", help="quality guard: fast vs exact PSNR on Set5, per checkpoint")
    guard.add_arguments(p)
    p.set_defaults(func=guard.run)

    from .train.command import add_parser as add_train_parser

    add_train_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ModelUnavailableError, CheckpointError, ImageReadError, FileNotFoundError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
