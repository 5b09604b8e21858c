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

from sr_models import cost, inference  # noqa: E402
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


def paired_medians(plain: Callable[[], object], fast: Callable[[], object], runs: int) -> dict:
    """Alternate plain and fast runs (after one warm-up each) so both see the same machine load.

    Returns the two medians, the median of the per-pair ratios, and the last outputs.
    """
    plain_out, fast_out = plain(), fast()
    plain_times, fast_times = [], []
    for _ in range(runs):
        start = time.perf_counter()
        plain_out = plain()
        plain_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        fast_out = fast()
        fast_times.append(time.perf_counter() - start)
    ratios = [p / f for p, f in zip(plain_times, fast_times)]
    return {"plain_s": statistics.median(plain_times), "fast_s": statistics.median(fast_times),
            "paired_ratio": statistics.median(ratios), "plain_out": plain_out, "fast_out": fast_out}


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
# Sections
# ----------------------------------------------------------------------------------------------


def bench_rows(models: dict, sizes: list[int], runs: int) -> list[dict]:
    """Plain vs fast per model and size."""
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
            row = {
                "model": model_id, "weights": label, "lr": size, "runs": runs,
                "plain_s": round(plain_s, 4), "fast_s": round(fast_s, 4),
                "speedup": round(plain_s / fast_s, 2),
                "paired_speedup": round(timed["paired_ratio"], 2),
                "gflop": round(flops / 1e9, 2),
                "plain_gflops": round(flops / plain_s / 1e9, 1) if flops else None,
                "fast_gflops": round(flops / fast_s / 1e9, 1) if flops else None,
                "fast_peak_rss_mib": round(rss),
                "psnr_fast_vs_plain_db": None if same else round(calculate_psnr(fast_out, plain_out, 0), 2),
            }
            rows.append(row)
            print(format_row(row), file=sys.stderr, flush=True)
    return rows


def format_row(r: dict) -> str:
    """One table line."""
    gf = f"{r['plain_gflops'] or 0:7.1f} {r['fast_gflops'] or 0:7.1f}"
    psnr = "identical" if r["psnr_fast_vs_plain_db"] is None else f"{r['psnr_fast_vs_plain_db']:.2f} dB"
    return (f"{r['model']:<8} {r['lr']:>4}²  plain {r['plain_s']:8.3f}s  fast {r['fast_s']:8.3f}s  "
            f"×{r['speedup']:5.2f} (paired ×{r['paired_speedup']:5.2f})  {r['gflop']:8.1f} GFLOP  GFLOP/s {gf}  RSS {r['fast_peak_rss_mib']:6d} MiB  "
            f"fast-vs-plain {psnr}")


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
    report: dict = {
        "machine": {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "fast_mode": fast_mode_for(CPU).name, "torch": torch.__version__,
                    "loadavg_1min_at_start": os.getloadavg()[0]},
        "rows": bench_rows(models, sizes, runs),
    }
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
    report["guard"] = guard_summary(models)
    report["machine"]["loadavg_1min_at_end"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
