"""``python -m sr_arena.mos summary|export``: the Results tab from the command line.

Uses the same database as the app (``DATABASE_URL``, else ``SR_ARENA_DB``/the default SQLite file).
"""
from __future__ import annotations

import argparse
import json
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
    sim = sub.add_parser("simulate", help="write simulated raters into a study marked simulated (planning)")
    sim.add_argument("--study", required=True, help="a new study id, or an earlier simulated one")
    sim.add_argument("--mode", choices=("pairwise", "acr"), required=True)
    sim.add_argument("--raters", type=int, required=True)
    sim.add_argument("--votes-per-rater", type=int, required=True)
    sim.add_argument("--truth", required=True,
                     help="m1=v1,m2=v2,...: natural-log BT strength (pairwise) or MOS 1-5 (acr) per method")
    sim.add_argument("--seed", type=int, default=0)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    store = open_store()
    if args.command == "studies":
        for study in store.studies():
            print(f"{study['id']}\t{study['title']}\t{study['source']}")
        return 0
    if args.command == "simulate":
        from .simulate import SimulationRefused, parse_truth, write_study

        try:
            done = write_study(store, args.study, args.mode, parse_truth(args.truth), args.raters,
                               args.votes_per_rater, args.seed)
        except SimulationRefused as error:
            print(f"simulate: {error}", file=sys.stderr)
            return 2
        print(f"SIMULATED study {args.study}: {done['raters']} raters, {done['votes']} votes written to {store}")
        return 0
    votes = store.votes()
    if args.study is None:  # across studies: simulated ones never mix with real votes
        from .simulate import simulated_study_ids

        simulated = simulated_study_ids(store)
        votes = [v for v in votes if v["study_id"] not in simulated]
    summary = summarize(votes, args.study, args.include_unblinded, args.include_flagged, args.max_fail_share)
    if args.command == "export":
        chosen = [v for v in votes if args.study is None or v["study_id"] == args.study]
        from .battle_stats import write_battle_files

        for path in [*write_all(chosen, summary, args.out), *write_battle_files(store, args.study, args.out)]:
            print(path)
        return 0
    from .battle_stats import extended_summary

    kept = [v for v in votes if args.study is None or v["study_id"] == args.study]
    extra = extended_summary(store, args.study, kept, args.include_flagged, args.max_fail_share)
    if args.json:
        print(json.dumps({**json.loads(summary_json(summary)), **extra}, indent=1))
        return 0
    if extra["simulated"]:
        print(f"SIMULATED study {args.study}: simulated raters, not real votes")
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
    if extra["bradley_terry"]:
        print(f"\nBradley–Terry over {extra['battles']['n_battles']} battles (natural log, mean 0; 95 % rater "
              f"bootstrap, {extra['battles']['bootstrap_rounds']} rounds):")
        for method, row in extra["bradley_terry"].items():
            ci = "too few battles" if row["ci"] is None else f"{_fmt(row['ci'][0])}–{_fmt(row['ci'][1])}"
            print(f"  {method:20} {_fmt(row['log_strength']):>6}  {ci:>14}  battles={row['battles']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
