"""``python -m sr_models`` as a person runs it: list, upscale, evaluate (real processes, real data)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from conftest import shared_path
from sr_models.registry import CARDS
from sr_models.paths import REPO_ROOT


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sr_models", *args],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})},
    )


def test_list_shows_provenance_and_unavailable_reasons():
    result = run_cli("list", "--json")
    assert result.returncode == 0, result.stderr
    statuses = {s["id"]: s for s in json.loads(result.stdout)}
    assert list(statuses) == list(CARDS)  # every method, in registry order (SRResNet and RRDB-PSNR included)
    assert {"bicubic", "srresnet", "srgan", "esrgan_psnr", "esrgan", "awsrn", "san", "realesrgan"} == set(statuses)
    assert statuses["realesrgan"]["available"] is False or statuses["realesrgan"]["weights"]["kind"] == "converted"
    assert statuses["bicubic"]["available"]
    for status in statuses.values():
        if status["available"] and status["id"] != "bicubic":
            assert {"kind", "file", "sha256", "origin", "licence"} <= set(status["weights"])
        elif not status["available"]:
            assert status["reason"] and status["fix"]


def test_upscale_writes_a_4x_png(tmp_path: Path):
    source = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (9, 11, 3), dtype=np.uint8)).save(source)
    result = run_cli("upscale", str(source), str(tmp_path / "out.png"), "--model", "bicubic")
    assert result.returncode == 0, result.stderr
    assert Image.open(tmp_path / "out.png").size == (44, 36)


def test_upscale_runs_the_guarded_fast_path_by_default_and_exact_when_asked(tmp_path: Path):
    """fast is the default (the house AWSRN's bf16 record passes; float32 CPUs run channels_last
    float32, which needs none); --precision exact is one flag away and says so. Same pixels to 1 level."""
    source = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(5).integers(0, 256, (24, 20, 3), dtype=np.uint8)).save(source)
    fast = run_cli("upscale", str(source), str(tmp_path / "fast.png"), "--model", "awsrn")
    exact = run_cli("upscale", str(source), str(tmp_path / "exact.png"), "--model", "awsrn", "--precision", "exact")
    assert fast.returncode == 0 and exact.returncode == 0, fast.stderr + exact.stderr
    assert ", fast precision (" in fast.stdout and ", exact precision (float32" in exact.stdout
    difference = np.abs(np.asarray(Image.open(tmp_path / "fast.png"), dtype=int)
                        - np.asarray(Image.open(tmp_path / "exact.png"), dtype=int))
    assert difference.shape == (96, 80, 3) and difference.max() <= 2


def test_upscale_unreadable_input_is_a_clear_error(tmp_path: Path):
    source = tmp_path / "in.png"
    source.write_text("not an image")
    result = run_cli("upscale", str(source), str(tmp_path / "out.png"), "--model", "bicubic")
    assert result.returncode == 2 and "not a readable image" in result.stderr


def test_evaluate_json_reproduces_the_bicubic_row_and_runs_srgan():
    set5 = shared_path("data", "benchmark", "Set5")
    srgan_dir = shared_path("weights", "srgan")
    result = run_cli("evaluate", "--data", str(set5), "--models", "bicubic,srgan", "--json",
                     env={"SR_ARENA_WEIGHTS_PATH": str(srgan_dir)})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["dataset"] == "Set5"
    bicubic = report["results"]["bicubic"]
    assert bicubic["n"] == 5 and abs(bicubic["psnr"] - 28.42) <= 0.015 and abs(bicubic["ssim"] - 0.8104) <= 0.001
    srgan = report["results"]["srgan"]
    assert srgan["checkpoint"]["kind"] == "public re-implementation"
    assert srgan["checkpoint"]["sha256"].startswith("f4c38164")
    assert 24.0 < srgan["psnr"] < 32.0  # a GAN-trained generator: below bicubic-PSNR-optimised nets, far above noise


def test_evaluate_lr_from_hr_uses_the_project_bicubic():
    set5 = shared_path("data", "benchmark", "Set5")
    result = run_cli("evaluate", "--data", str(set5), "--models", "bicubic", "--lr-from-hr", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["lr"].startswith("from HR")
    # MATLAB-made LR (LR_matlab) gives Set5 bicubic 28.43 dB; the project's LR is pixel-identical to it
    assert abs(report["results"]["bicubic"]["psnr"] - 28.42) <= 0.015


def test_fetch_unknown_model_is_a_clear_error():
    result = run_cli("fetch", "no-such-model")
    assert result.returncode == 2 and "unknown model 'no-such-model'" in result.stderr
