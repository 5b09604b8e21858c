"""MATLAB-exact bicubic (``sr_models.imresize``) speed against Pillow's C bicubic and the machine's memory ceiling.

    python benchmarks/bench_imresize.py [--runs 15] [--json]

Rows (medians over ``--runs`` after one warm-up, alternating ours/Pillow so both see the same load):
a 512²×3 uint8 image shrunk ×1/4 and a 128²×3 one grown ×4, the two the app does per comparison.
Ratios: ours/Pillow (Pillow's bicubic differs from MATLAB's, so it is a speed baseline only), and
the fraction of a measured ceiling: a plain float64 copy of the same output size (memory bandwidth).
This replaces the old unit test's "< 1 s" wall-clock assertion.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sr_models.imresize import bicubic_downscale, bicubic_upscale  # noqa: E402


def paired(ours: Callable[[], object], baseline: Callable[[], object], runs: int) -> tuple[float, float, float]:
    """(median ours s, median baseline s, median of per-pair ratios ours/baseline)."""
    ours(), baseline()
    a, b = [], []
    for _ in range(runs):
        for fn, times in ((ours, a), (baseline, b)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return statistics.median(a), statistics.median(b), statistics.median(x / y for x, y in zip(a, b))


def copy_ceiling_s(shape: tuple[int, ...], runs: int) -> float:
    """Median seconds to copy a float64 array of ``shape`` (the memory-bandwidth floor for that output)."""
    src, dst = np.ones(shape), np.empty(shape)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        np.copyto(dst, src)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(4)
    hr = rng.integers(0, 256, size=(512, 512, 3), dtype=np.uint8)
    lr = rng.integers(0, 256, size=(128, 128, 3), dtype=np.uint8)
    cases = {
        "downscale 512²→128²": (lambda: bicubic_downscale(hr),
                                lambda: Image.fromarray(hr).resize((128, 128), Image.BICUBIC), (128, 128, 3)),
        "upscale 128²→512²": (lambda: bicubic_upscale(lr),
                              lambda: Image.fromarray(lr).resize((512, 512), Image.BICUBIC), (512, 512, 3)),
    }
    rows = []
    for name, (ours, baseline, out_shape) in cases.items():
        ours_s, pil_s, ratio = paired(ours, baseline, args.runs)
        ceiling = copy_ceiling_s(out_shape, args.runs)
        rows.append({"case": name, "ours_s": ours_s, "pillow_s": pil_s, "ours_over_pillow": ratio,
                     "copy_ceiling_s": ceiling, "ceiling_over_ours": ceiling / ours_s})
    if args.json:
        print(json.dumps({"runs": args.runs, "rows": rows}, indent=1))
    else:
        for r in rows:
            print(f"{r['case']:<22} ours {r['ours_s'] * 1e3:7.1f} ms  Pillow {r['pillow_s'] * 1e3:6.1f} ms  "
                  f"ours/Pillow {r['ours_over_pillow']:5.1f}×  copy ceiling {r['ceiling_over_ours']:.3f} of ours")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
