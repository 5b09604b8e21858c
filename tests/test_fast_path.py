"""Fast path (channels_last + bf16 autocast): close to exact on real weights; the quality guard decides."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sr_models import guard, inference, precision, settings
from sr_models.image_io import read_image
from sr_models.loader import load_model
from sr_models.metrics import calculate_psnr
from sr_models.precision import FastMode, guard_verdict, is_image_facing, keep_image_layers_fp32

from conftest import shared_path

CPU = torch.device("cpu")


def _lr(size: int) -> np.ndarray:
    return read_image(shared_path("data", "benchmark", "Set5", "LR_bicubic", "X4", "baby.png"))[:size, :size]


@pytest.mark.parametrize("model_id,size,min_psnr", [("srgan", 64, 50.0), ("esrgan", 48, 48.0)])
def test_fast_output_close_to_exact(model_id, size, min_psnr, cpu_fast_mode):
    """Real weights (SRGAN from ../shared, ESRGAN converted), each CPU fast mode on every CPU:
    bf16 differs from exact yet stays > 48 dB close; float32 channels_last differs only by summation order."""
    model = load_model(model_id, "cpu")
    lr = _lr(size)
    exact = inference.upscale(model, lr, "exact")
    fast = inference.upscale(model, lr, "fast", force_fast=True)
    assert fast.shape == exact.shape == (4 * size, 4 * size, 3)
    psnr = calculate_psnr(fast, exact, 0)
    if cpu_fast_mode.reduced:
        assert min_psnr < psnr < float("inf")  # bf16 really ran, and stayed close
    else:
        assert psnr > 60  # float32 channels_last: summation order only


def test_fast_model_is_a_channels_last_copy_with_fp32_image_layers(cpu_fast_mode):
    model = load_model("esrgan", "cpu")
    fast = precision.fast_model(model.descriptor, CPU)
    assert fast is not model.descriptor.model
    assert model.descriptor.model.conv_first.weight.is_contiguous()  # exact model untouched (NCHW)
    kernels = [p for p in fast.parameters() if p.dim() == 4]
    assert kernels and all(p.is_contiguous(memory_format=torch.channels_last) for p in kernels)
    assert fast is precision.fast_model(model.descriptor, CPU)  # made once per mode
    islands = [m for m in fast.modules() if isinstance(m, precision.Float32Island)]
    # bf16: conv_first reads the image, conv_last writes it; float32 needs no islands
    assert len(islands) == (2 if cpu_fast_mode.reduced else 0)


def test_fast_mode_detection_follows_settings_and_the_onednn_isa_cap(env):
    """SR_ARENA_CPU_BF16 forces the CPU fast mode either way; an ONEDNN_MAX_CPU_ISA cap below
    AVX512_CORE_BF16 turns native detection off (oneDNN would emulate bf16 there)."""
    env("SR_ARENA_CPU_BF16", "1")
    assert precision.fast_mode_for(CPU) == BF16
    env("SR_ARENA_CPU_BF16", "0")
    assert precision.fast_mode_for(CPU) == FastMode("cpu-fp32", "cpu", None)
    env("SR_ARENA_CPU_BF16", "auto")
    env("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert not precision.cpu_bf16_native() and precision.fast_mode_for(CPU).name == "cpu-fp32"
    env("ONEDNN_MAX_CPU_ISA", "avx512_core_bf16")
    assert precision.cpu_bf16_native() == bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    with pytest.raises(ValueError, match="SR_ARENA_CPU_BF16"):
        settings.from_environ({"SR_ARENA_CPU_BF16": "maybe"})


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


def test_unguarded_checkpoint_runs_exact_and_says_why(tmp_path, env, cpu_fast_mode):
    """bf16 needs a passing guard record for this checkpoint; float32 channels_last needs none."""
    env("SR_ARENA_GUARD_FILE", str(tmp_path / "empty.json"))
    model = load_model("srgan", "cpu")
    lr = _lr(24)
    result = inference.upscale_with_info(model, lr, "fast", cache=None)
    if cpu_fast_mode.reduced:
        assert result.precision == "exact" and "no quality-guard record" in result.note
        assert np.array_equal(result.image, inference.upscale(model, lr, "exact"))
    else:
        assert result.precision == "fast" and "float32 channels_last" in result.note
    failed = _record(model.provenance.sha256, False, 0.3)
    failed["key"] = precision.guard_key(model.provenance.sha256, cpu_fast_mode)
    precision.save_guard_record(failed)
    assert inference.resolve_precision(model, "fast")[0] == ("exact" if cpu_fast_mode.reduced else "fast")


@pytest.mark.parametrize("model_id", ["srgan", "esrgan", "awsrn", "san"])
def test_shipped_guard_records_pass_for_the_weights_the_app_runs(model_id, env):
    """The packaged bf16 records cover every checkpoint the app runs here (re-run: python -m sr_models guard).

    Checked on every CPU: the record is data about the checkpoint, not about this machine.
    """
    env("SR_ARENA_CPU_BF16", "1")
    model = load_model(model_id, "cpu")
    key = precision.guard_key(model.provenance.sha256, precision.fast_mode_for(CPU))
    record = precision.load_guard_records(precision.DEFAULT_GUARD_FILE).get(key)
    assert record is not None, f"no packaged cpu-bf16 guard record for {model_id}'s checkpoint {key[:12]}"
    assert record["passed"] and record["delta_db"] <= 0.05 and record["n"] == 5
    assert record["model"] == model_id and record["dataset"] == "Set5"


def test_run_guard_on_a_small_dataset(tmp_path, cpu_fast_mode):
    """run_guard measures exact vs fast PSNR on a dataset directory and makes a keyed record; the
    unrounded |ΔPSNR| decides, so a threshold of 0 passes only when the paths agree exactly."""
    from sr_models.image_io import write_png

    src = shared_path("data", "benchmark", "Set5")
    (tmp_path / "HR").mkdir()
    (tmp_path / "LR_bicubic" / "X4").mkdir(parents=True)
    write_png(tmp_path / "HR" / "b.png", read_image(src / "HR" / "baby.png")[:96, :96])
    write_png(tmp_path / "LR_bicubic" / "X4" / "b.png", read_image(src / "LR_bicubic" / "X4" / "baby.png")[:24, :24])
    model = load_model("srgan", "cpu")
    record = guard.run_guard(model, tmp_path)
    assert record["key"] == precision.guard_key(model.provenance.sha256, cpu_fast_mode)
    assert record["mode"] == cpu_fast_mode.name and record["n"] == 1
    assert record["delta_db"] == abs(record["psnr_fast"] - record["psnr_exact"])
    assert record["passed"] == (record["delta_db"] <= 0.05)
    if cpu_fast_mode.reduced:
        assert 0 < record["delta_db"] <= 0.05  # bf16 really ran
    strict = guard.run_guard(model, tmp_path, threshold_db=0.0)
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
