"""Raw votes and summaries as CSV and JSON (Results tab downloads and the CLI).

Raters appear only as per-study pseudonyms (:func:`sr_arena.mos.identity.pseudonym`), never by their
stored id or session. Every CSV cell goes through :func:`safe_cell` (the one neutraliser of
spreadsheet formulas, used by the battle exports too).
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

from .stats import Summary, _clean

VOTE_COLUMNS = ("id", "rater", "study_id", "stimulus_id", "image_sha256", "image_name",
                "method", "checkpoint_sha256", "precision", "kind", "score", "shown_at", "answered_at",
                "response_ms", "position", "blinded", "retest", "app_version")
SUMMARY_COLUMNS = ("label", "method", "checkpoint_sha256", "precision", "n_votes", "n_raters", "n_images",
                   "mos", "sd", "t_low", "t_high", "boot_low", "boot_high", "average_rank",
                   "hist_1", "hist_2", "hist_3", "hist_4", "hist_5")


def safe_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run as a formula (OWASP CSV injection: a text starting with
    ``= + - @``, tab or CR gets a leading ``'``)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_text(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """``rows`` as CSV with a header; missing values empty, every cell through :func:`safe_cell`."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else safe_cell(row.get(k))) for k in columns})
    return out.getvalue()


def vote_rows(votes: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Votes for export: the rater as a per-study pseudonym; no rater id, no session id."""
    from .identity import pseudonym

    return [{**{k: v.get(k) for k in VOTE_COLUMNS if k != "rater"},
             "rater": pseudonym(v["rater_id"], v["study_id"])} for v in votes]


def votes_csv(votes: Sequence[dict[str, Any]]) -> str:
    """Every vote, one row each, in storage order."""
    return csv_text(vote_rows(votes), VOTE_COLUMNS)


def votes_json(votes: Sequence[dict[str, Any]]) -> str:
    """Every vote as a JSON list of objects."""
    return json.dumps([{k: row[k] for k in VOTE_COLUMNS} for row in vote_rows(votes)], indent=1)


def summary_rows(summary: Summary) -> list[dict[str, Any]]:
    """The per-condition table as flat dicts (histogram spread over hist_1..hist_5)."""
    rows = []
    for c in summary.conditions:
        row = asdict(c)
        for score, count in enumerate(row.pop("histogram"), 1):
            row[f"hist_{score}"] = count
        rows.append(_clean(row))
    return rows


def summary_csv(summary: Summary) -> str:
    """The per-condition summary as CSV."""
    return csv_text(summary_rows(summary), SUMMARY_COLUMNS)


def summary_json(summary: Summary) -> str:
    """Everything (conditions, per-image breakdown, tests, flagged raters, options) as JSON."""
    return json.dumps(summary.as_dict(), indent=1)


def write_all(votes: Sequence[dict[str, Any]], summary: Summary, folder: Path, stem: str = "mos") -> list[Path]:
    """Write votes and summary as CSV and JSON into ``folder``; return the four paths."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        f"{stem}_votes.csv": votes_csv(votes), f"{stem}_votes.json": votes_json(votes),
        f"{stem}_summary.csv": summary_csv(summary), f"{stem}_summary.json": summary_json(summary),
    }
    paths = []
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
        paths.append(folder / name)
    return paths
