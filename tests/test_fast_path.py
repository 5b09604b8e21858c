"""Fast path (channels_last + bf16 autocast): close to exact on real weights; the quality guard decides."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sr_models import inference, precision
from sr_models.image_io import read_image
from sr_models.loader import load_model
from sr_models.metrics import calculate_psnr
from sr_models.precision import FastMode, guard_verdict, is_image_facing, keep_image_layers_fp32

from conftest import shared_path

CPU = torch.device("cpu")


def _lr(size: int) -> np.ndarray:
    return read_image(shared_path("data", "benchmark", "Set5", "LR_bicubic", "X4", "baby.png"))[:size, :size]


@pytest.mark.parametrize("model_id,size,min_psnr", [("srgan", 64, 50.0), ("esrgan", 48, 48.0)])
def test_fast_output_close_to_exact(model_id, size, min_psnr):
    """Real weights (SRGAN from ../shared, ESRGAN converted): fast vs exact outputs agree to > 48 dB."""
    model = load_model(model_id, "cpu")
    lr = _lr(size)
    exact = inference.upscale(model, lr, "exact")
    fast = inference.upscale(model, lr, "fast", force_fast=True)
    assert fast.shape == exact.shape == (4 * size, 4 * size, 3)
    psnr = calculate_psnr(fast, exact, 0)
    if precision.fast_mode_for(CPU).reduced:
        assert min_psnr < psnr < float("inf")  # bf16 really ran, and stayed close
    else:
        assert psnr > 60  # float32 channels_last: summation order only


def test_fast_model_is_a_channels_last_copy_with_fp32_image_layers():
    model = load_model("esrgan", "cpu")
    fast = precision.fast_model(model.descriptor, CPU)
    assert fast is not model.descriptor.model
    assert model.descriptor.model.conv_first.weight.is_contiguous()  # exact model untouched (NCHW)
    assert fast is precision.fast_model(model.descriptor, CPU)  # made once
    if precision.fast_mode_for(CPU).reduced:
        islands = [m for m in fast.modules() if isinstance(m, precision.Float32Island)]
        assert len(islands) == 2  # conv_first reads the image, conv_last writes it


def test_image_facing_rule():
    assert is_image_facing(torch.nn.Conv2d(3, 64, 3))
    assert is_image_facing(torch.nn.Conv2d(64, 3, 3))
    assert is_image_facing(torch.nn.Conv2d(32, 48, 3))  # 3·4² channels before PixelShuffle(4)
    assert not is_image_facing(torch.nn.Conv2d(64, 64, 3))
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.Conv2d(8, 8, 3), torch.nn.Conv2d(8, 3, 3))
    assert keep_image_layers_fp32(net) == 2
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert net(torch.rand(1, 3, 16, 16)).dtype == torch.float32


BF16 = FastMode("cpu-bf16", "cpu", torch.bfloat16)


def _record(sha: str, passed: bool, delta: float) -> dict:
    return {"key": f"{sha}:cpu-bf16", "checkpoint_sha256": sha, "mode": "cpu-bf16", "dataset": "Set5",
            "delta_db": delta, "threshold_db": 0.05, "passed": passed}


def test_guard_verdicts(tmp_path):
    path = tmp_path / "guard.json"
    assert guard_verdict("a" * 64, BF16, path)[0] is False  # no record: exact, and says why
    assert "no quality-guard record" in guard_verdict("a" * 64, BF16, path)[1]
    precision.save_guard_record(_record("a" * 64, True, 0.01), path)
    precision.save_guard_record(_record("b" * 64, False, 0.2), path)
    assert guard_verdict("a" * 64, BF16, path)[0] is True
    allowed, reason = guard_verdict("b" * 64, BF16, path)
    assert not allowed and "failed" in reason and "0.200" in reason
    assert guard_verdict("b" * 64, FastMode("cpu-fp32", "cpu", None), path)[0] is True  # fp32: no guard needed
    assert set(json.loads(path.read_text())) == {f"{'a' * 64}:cpu-bf16", f"{'b' * 64}:cpu-bf16"}


def test_unguarded_checkpoint_runs_exact_and_says_why(tmp_path, monkeypatch):
    monkeypatch.setenv("SR_ARENA_GUARD_FILE", str(tmp_path / "empty.json"))
    model = load_model("srgan", "cpu")
    lr = _lr(24)
    result = inference.upscale_with_info(model, lr, "fast", cache=None)
    if precision.fast_mode_for(CPU).reduced:
        assert result.precision == "exact" and "no quality-guard record" in result.note
        assert np.array_equal(result.image, inference.upscale(model, lr, "exact"))
    failed = _record(model.provenance.sha256, False, 0.3)
    failed["key"] = precision.guard_key(model.provenance.sha256, precision.fast_mode_for(CPU))
    precision.save_guard_record(failed)
    assert inference.resolve_precision(model, "fast")[0] == ("exact" if precision.fast_mode_for(CPU).reduced else "fast")


def test_shipped_guard_records_pass_for_default_weights():
    """The packaged records cover the weights the app runs here (re-run: python -m sr_models guard)."""
    mode = precision.fast_mode_for(CPU)
    if not mode.reduced:
        pytest.skip("no reduced-precision mode on this CPU")
    for model_id in ("srgan", "esrgan"):
        model = load_model(model_id, "cpu")
        record = precision.load_guard_records(precision.DEFAULT_GUARD_FILE).get(
            precision.guard_key(model.provenance.sha256, mode))
        if record is None:
            pytest.skip(f"no packaged guard record for {model_id}'s checkpoint {model.provenance.sha256[:12]}")
        assert record["passed"] and record["delta_db"] <= 0.05 and record["n"] == 5


def test_run_guard_on_a_small_dataset(tmp_path):
    """run_guard measures exact vs fast PSNR on a dataset directory and makes a keyed record."""
    from sr_models.image_io import write_png

    src = shared_path("data", "benchmark", "Set5")
    (tmp_path / "HR").mkdir()
    (tmp_path / "LR_bicubic" / "X4").mkdir(parents=True)
    write_png(tmp_path / "HR" / "b.png", read_image(src / "HR" / "baby.png")[:96, :96])
    write_png(tmp_path / "LR_bicubic" / "X4" / "b.png", read_image(src / "LR_bicubic" / "X4" / "baby.png")[:24, :24])
    model = load_model("srgan", "cpu")
    record = precision.run_guard(model, tmp_path)
    assert record["key"] == precision.guard_key(model.provenance.sha256, precision.fast_mode_for(CPU))
    assert record["n"] == 1 and record["delta_db"] == round(abs(record["psnr_fast"] - record["psnr_exact"]), 4)
    assert record["passed"] == (record["delta_db"] <= 0.05)
    strict = precision.run_guard(model, tmp_path, threshold_db=0.0)
    assert strict["passed"] == (strict["delta_db"] == 0.0)


def test_benchmark_quick_mode_runs():
    """CI smoke: the benchmark's quick mode prints one JSON document with plain/fast rows."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_inference.py"
    proc = subprocess.run([sys.executable, str(script), "--quick", "--json"], capture_output=True, text=True,
                          timeout=600, check=True)
    report = json.loads(proc.stdout)
    rows = {row["model"]: row for row in report["rows"]}
    assert "bicubic" in rows and all(r["plain_s"] > 0 and r["fast_s"] > 0 for r in rows.values())
    if "srgan" in rows:
        assert rows["srgan"]["gflop"] > 0 and rows["srgan"]["fast_peak_rss_mib"] > 0
    assert report["total_all_methods"]["median_total_s"] > 0
