"""Raw votes and summaries as CSV and JSON (Results tab downloads and the CLI)."""
from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

from .stats import Summary, _clean

VOTE_COLUMNS = ("id", "rater_id", "study_id", "session_id", "stimulus_id", "image_sha256", "image_name",
                "method", "checkpoint_sha256", "precision", "kind", "score", "shown_at", "answered_at",
                "response_ms", "position", "blinded", "retest", "app_version")
SUMMARY_COLUMNS = ("label", "method", "checkpoint_sha256", "precision", "n_votes", "n_raters", "n_images",
                   "mos", "sd", "t_low", "t_high", "boot_low", "boot_high", "average_rank",
                   "hist_1", "hist_2", "hist_3", "hist_4", "hist_5")


def _csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
    return out.getvalue()


def votes_csv(votes: Sequence[dict[str, Any]]) -> str:
    """Every vote, one row each, in storage order."""
    return _csv(votes, VOTE_COLUMNS)


def votes_json(votes: Sequence[dict[str, Any]]) -> str:
    """Every vote as a JSON list of objects."""
    return json.dumps([{k: v.get(k) for k in VOTE_COLUMNS} for v in votes], indent=1)


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
    return _csv(summary_rows(summary), SUMMARY_COLUMNS)


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
