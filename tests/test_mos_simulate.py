"""``python -m sr_arena.mos simulate`` and ``summary --json``'s Bradley–Terry object, run as the
user would (a real subprocess on a real SQLite file); simulated studies never mix with real ones."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mos_support import synthetic_study
from sr_arena.mos.simulate import SimulationRefused, expected_ci_width
from sr_arena.mos.storage import Store

REPO = Path(__file__).resolve().parents[1]
TRUTH = "bicubic=-1,srgan=0.5,esrgan=1,awsrn=0,san=-0.2"


def _cli(db: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SR_ARENA_DB": str(db), "DATABASE_URL": "", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "sr_arena.mos", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)


def test_simulate_then_summary_json_reports_bradley_terry(tmp_path):
    db = tmp_path / "db.sqlite3"
    done = _cli(db, "simulate", "--study", "plan", "--mode", "pairwise", "--raters", "60", "--votes-per-rater", "40",
                "--truth", TRUTH, "--seed", "7")
    assert done.returncode == 0, done.stderr
    assert "SIMULATED study plan: 60 raters, 2400 votes" in done.stdout
    out = _cli(db, "summary", "--study", "plan", "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["simulated"] is True
    bt = summary["bradley_terry"]
    assert set(bt) == {"bicubic", "srgan", "esrgan", "awsrn", "san"}
    assert abs(sum(r["log_strength"] for r in bt.values())) < 1e-9
    truth = {"bicubic": -1, "srgan": 0.5, "esrgan": 1, "awsrn": 0, "san": -0.2}
    mean = sum(truth.values()) / 5
    assert sorted(bt, key=lambda m: bt[m]["log_strength"]) == sorted(truth, key=truth.get)
    assert sum(r["ci"][0] <= truth[m] - mean <= r["ci"][1] for m, r in bt.items()) >= 4
    assert all(isinstance(r["battles"], int) and r["battles"] > 700 for r in bt.values())
    assert summary["battles"]["n_gold"] == 60 * (40 // 8)
    text = _cli(db, "summary", "--study", "plan")
    assert "SIMULATED" in text.stdout and "Bradley–Terry" in text.stdout
    exported = _cli(db, "export", "--study", "plan", "--out", str(tmp_path / "out"))
    assert exported.returncode == 0, exported.stderr
    rows = (tmp_path / "out" / "mos_battles.csv").read_text().splitlines()
    assert len(rows) == 2401 and "sim-" not in "".join(rows)  # pseudonyms, never the raw rater id
    assert json.loads((tmp_path / "out" / "mos_analysis.json").read_text())["simulated"] is True


def test_simulation_never_mixes_with_real_votes(tmp_path):
    db = tmp_path / "db.sqlite3"
    store = Store(db, 0)
    stimuli = synthetic_study(store, "real")
    session = store.create_session("sess", "human", "real", [s.id for s in stimuli])
    store.mark_served(session.id, stimuli[1].id, 0)
    store.record_vote("human", session.id, stimuli[1].id, 4)
    refused = _cli(db, "simulate", "--study", "real", "--mode", "acr", "--raters", "3", "--votes-per-rater", "5",
                   "--truth", "bicubic=2,srgan=4")
    assert refused.returncode == 2 and "holds real votes" in refused.stderr
    assert len(store.votes()) == 1
    ok = _cli(db, "simulate", "--study", "sim-acr", "--mode", "acr", "--raters", "30", "--votes-per-rater", "10",
              "--truth", "bicubic=2,srgan=4", "--seed", "1")
    assert ok.returncode == 0, ok.stderr
    everything = json.loads(_cli(db, "summary", "--json").stdout)  # across studies: real votes only
    assert everything["n_votes"] == 1 and everything["simulated"] is False
    simulated = json.loads(_cli(db, "summary", "--study", "sim-acr", "--json").stdout)
    assert simulated["simulated"] is True and simulated["n_votes"] + simulated["excluded_votes"] == 300
    assert simulated["krippendorff_alpha"] is not None and 0 < simulated["krippendorff_alpha"] < 1


def test_expected_interval_width_shrinks_with_more_raters():
    truth = {"a": -0.5, "b": 0.0, "c": 0.5}
    widths = [expected_ci_width("pairwise", truth, n, 30, studies=8, rounds=300).mean_ci_width for n in (10, 40)]
    assert widths[1] < 0.7 * widths[0]  # ~1/sqrt(4) = 0.5 expected
    acr = [expected_ci_width("acr", {"a": 2.0, "b": 4.0}, n, 10, studies=5).mean_ci_width for n in (5, 20)]
    assert acr[1] < 0.7 * acr[0]
    with pytest.raises(SimulationRefused):
        expected_ci_width("pairwise", {"a": 1.0}, 10, 10)


def test_results_tab_plan_table_shows_narrower_intervals_for_more_raters():
    from sr_arena.ui.battle_results import plan_table

    table = plan_table("pairwise", {"a": -0.5, "b": 0.0, "c": 0.5}, "40, 10, x, 1", 30)
    assert list(table["raters"]) == [10, 40]  # sorted, junk and fewer than 2 raters dropped
    widths = list(table["expected 95% CI width"])
    assert widths[1] < 0.7 * widths[0]
