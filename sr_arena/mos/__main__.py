"""``python -m sr_arena.mos summary|export``: the Results tab from the command line.

Uses the same database as the app (``DATABASE_URL``, else ``SR_ARENA_DB``/the default SQLite file).
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from .export import summary_json, write_all
from .stats import summarize
from .storage import open_store


def _fmt(x: float, digits: int = 2) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sr_arena.mos", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("summary", "print MOS per method (table or --json)"),
                       ("export", "write raw votes and the summary as CSV and JSON")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--study", help="study id (default: every study's blinded votes; see 'studies')")
        p.add_argument("--include-flagged", action="store_true", help="keep raters who failed the gold items")
        p.add_argument("--include-unblinded", action="store_true", help="add quick ratings from the Compare tab")
        p.add_argument("--max-fail-share", type=float, default=0.25, help="gold-item failure share that flags a rater")
        if name == "summary":
            p.add_argument("--json", action="store_true", help="print the full summary as JSON")
        else:
            p.add_argument("--out", type=Path, default=Path("mos-export"), help="output folder")
    sub.add_parser("studies", help="list the studies in the database")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    store = open_store()
    if args.command == "studies":
        for study in store.studies():
            print(f"{study['id']}\t{study['title']}\t{study['source']}")
        return 0
    votes = store.votes()
    summary = summarize(votes, args.study, args.include_unblinded, args.include_flagged, args.max_fail_share)
    if args.command == "export":
        chosen = [v for v in votes if args.study is None or v["study_id"] == args.study]
        for path in write_all(chosen, summary, args.out):
            print(path)
        return 0
    if args.json:
        print(summary_json(summary))
        return 0
    print(f"{store}: {summary.n_votes} votes analysed, {summary.excluded_votes} left out, "
          f"{len(summary.flagged_raters)} raters flagged")
    print(f"{'condition':34} {'MOS':>5} {'SD':>5} {'n':>5} {'raters':>6}  {'95% t-CI':>13}  {'95% bootstrap':>13}  rank")
    for c in summary.conditions:
        print(f"{c.label:34} {_fmt(c.mos):>5} {_fmt(c.sd):>5} {c.n_votes:>5} {c.n_raters:>6}  "
              f"{_fmt(c.t_low)}–{_fmt(c.t_high):<8}  {_fmt(c.boot_low)}–{_fmt(c.boot_high):<8}  {_fmt(c.average_rank)}")
    if summary.tests:
        print("\nPaired two-sided Wilcoxon signed-rank on per-image means, Holm-adjusted:")
        for t in summary.tests:
            print(f"  {t.a} vs {t.b}: n={t.n_images} Δ={_fmt(t.mean_difference)} p={_fmt(t.p_value, 4)} "
                  f"p_holm={_fmt(t.p_holm, 4)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
