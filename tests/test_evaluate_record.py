"""``evaluate --record``: one measurement store keyed by checkpoint sha256 (real models, a tiny real dataset)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from sr_models.checkpoint_io import sha256_file
from sr_models.evaluate import evaluate, read_measured, record
from sr_models.imresize import imresize
from sr_models.paths import CHECKPOINTS_DIR, REPO_ROOT

HOUSE_AWSRN = CHECKPOINTS_DIR / "house" / "awsrn_x4.safetensors"


def make_dataset(root: Path, name: str, seed: int, count: int = 2) -> Path:
    """``root/name`` with ``HR/`` and ``LR_bicubic/X4/``: smooth random images, LR by MATLAB-exact bicubic."""
    rng = np.random.default_rng(seed)
    (root / name / "HR").mkdir(parents=True)
    (root / name / "LR_bicubic" / "X4").mkdir(parents=True)
    for i in range(count):
        coarse = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
        hr = imresize(coarse, output_shape=(48, 56))
        Image.fromarray(hr).save(root / name / "HR" / f"img_{i}.png")
        Image.fromarray(imresize(hr, scale=0.25)).save(root / name / "LR_bicubic" / "X4" / f"img_{i}.png")
    return root / name


def test_record_files_scores_under_the_checkpoint_sha256_and_replaces_only_its_own(tmp_path: Path):
    store = tmp_path / "measured.json"
    tiny = make_dataset(tmp_path, "Tiny", seed=1)
    report = evaluate(tiny, ["bicubic", "awsrn"])
    keys = record(report, store, date="2026-01-01")
    sha = sha256_file(HOUSE_AWSRN)
    assert keys == ["bicubic", sha]
    entry = read_measured(store)[sha]
    assert entry["model"] == "awsrn" and entry["checkpoint"] == "checkpoints/house/awsrn_x4.safetensors"
    assert entry["kind"] == "trained by this project"
    scores = entry["datasets"]["Tiny"]
    assert scores["n"] == 2 and scores["precision"] == "exact" and scores["lr"] == "LR_bicubic/X4"
    assert abs(scores["psnr"] - report["results"]["awsrn"]["psnr"]) < 1e-4

    other = make_dataset(tmp_path, "Other", seed=2)
    record(evaluate(other, ["bicubic"]), store, date="2026-01-02")
    again = evaluate(tiny, ["bicubic"], lr_from_hr=True)
    record(again, store, date="2026-01-03")
    bicubic = read_measured(store)["bicubic"]["datasets"]
    assert set(bicubic) == {"Tiny", "Other"}
    assert bicubic["Tiny"]["date"] == "2026-01-03" and bicubic["Tiny"]["lr"].startswith("from HR")
    assert bicubic["Other"]["date"] == "2026-01-02"
    assert read_measured(store)[sha]["datasets"]["Tiny"]["date"] == "2026-01-01"  # another checkpoint: kept


def test_cli_evaluate_record_measures_several_sets_into_the_store(tmp_path: Path):
    store = tmp_path / "store.json"
    first, second = make_dataset(tmp_path, "A", seed=3), make_dataset(tmp_path, "B", seed=4, count=1)
    result = subprocess.run(
        [sys.executable, "-m", "sr_models", "evaluate", "--data", str(first), str(second), "--models", "bicubic",
         "--record", str(store)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, env=dict(os.environ),
    )
    assert result.returncode == 0, result.stderr
    assert f"recorded A for 1 checkpoint(s) in {store}" in result.stdout and "recorded B" in result.stdout
    datasets = json.loads(store.read_text())["bicubic"]["datasets"]
    assert datasets["A"]["n"] == 2 and datasets["B"]["n"] == 1
