"""OpenVINO CPU float32 backend: the same outputs as PyTorch float32 on real weights, within the
conformance tolerance (max |Δ| ≤ 1e-4 × output range); SAN is refused with a reason."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from sr_models import openvino_backend
from sr_models.image_io import read_image
from sr_models.loader import ModelUnavailableError, load_model

from conftest import shared_path

pytestmark = pytest.mark.skipif(not openvino_backend.available(),
                                reason="openvino is not installed (pip install -r requirements-dev.txt)")

TOLERANCE = 1e-4  # of the float32 output's range, as the conformance tests


def _model(model_id: str):
    try:
        return load_model(model_id, "cpu")
    except ModelUnavailableError as error:
        pytest.skip(f"{model_id}: no weights here ({error})")


def _input(size: int, input_range: float) -> torch.Tensor:
    """A natural LR crop (Set5 baby) as a (1, 3, size, size) float32 tensor in the network's range."""
    lr = read_image(shared_path("data", "benchmark", "Set5", "LR_bicubic", "X4", "baby.png"))[:size, :size, :3]
    x = torch.from_numpy(np.ascontiguousarray(lr)).permute(2, 0, 1).unsqueeze(0).float()
    return x * (input_range / 255.0)


def _assert_close(model, x: torch.Tensor) -> None:
    with torch.inference_mode():
        reference = model.descriptor.model(x)
    out = openvino_backend.run(model.descriptor, x)
    assert out.shape == reference.shape and out.dtype == torch.float32
    span = float(reference.max() - reference.min())
    assert float((out - reference).abs().max()) <= TOLERANCE * span


@pytest.mark.parametrize("model_id,sizes", [("esrgan", (32, 40)), ("srgan", (48, 36)), ("awsrn", (48, 36))])
def test_outputs_match_pytorch_float32(model_id, sizes):
    """Real weights (ESRGAN converted from the ncnn files, SRGAN, the house AWSRN), two input
    shapes each: one conversion with dynamic height/width, one compiled model per shape."""
    model = _model(model_id)
    for size in sizes:
        _assert_close(model, _input(size, model.descriptor.input_range))


def test_compiled_model_cached_per_shape_and_threads():
    model = _model("srgan")
    first = openvino_backend.compiled_model(model.descriptor, 24, 32, threads=1)
    assert openvino_backend.compiled_model(model.descriptor, 24, 32, threads=1) is first
    assert openvino_backend.compiled_model(model.descriptor, 32, 24, threads=1) is not first
    assert openvino_backend.compiled_model(model.descriptor, 24, 32, threads=2) is not first


def test_concurrent_calls_give_the_single_call_result():
    """Two threads on one compiled model (each call has its own infer request)."""
    model = _model("srgan")
    x = _input(32, model.descriptor.input_range)
    expected = openvino_backend.run(model.descriptor, x)
    results: list[torch.Tensor] = []
    threads = [threading.Thread(target=lambda: results.append(openvino_backend.run(model.descriptor, x)))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 3 and all(torch.equal(r, expected) for r in results)


def test_san_is_refused_with_a_reason():
    model = _model("san")
    ok, why = openvino_backend.supports(model.descriptor)
    assert not ok and "san" in why
    with pytest.raises(openvino_backend.UnsupportedModelError, match="san"):
        openvino_backend.run(model.descriptor, torch.zeros(1, 3, 48, 48))


def test_bad_input_rejected():
    model = _model("srgan")
    with pytest.raises(ValueError, match=r"\(1, 3, H, W\)"):
        openvino_backend.run(model.descriptor, torch.zeros(3, 16, 16))
    with pytest.raises(ValueError, match="float32"):
        openvino_backend.run(model.descriptor, torch.zeros(1, 3, 16, 16, dtype=torch.float64))


def test_the_fast_path_runs_on_openvino_only_when_opted_in(env):
    """SR_ARENA_CPU_BACKEND=openvino moves the float32 CPU fast path of SRGAN onto OpenVINO (same
    pixels within one level); by default, and in a bf16 fast mode, PyTorch runs it."""
    from sr_models import inference

    model = _model("srgan")
    lr = read_image(shared_path("data", "benchmark", "Set5", "LR_bicubic", "X4", "baby.png"))[:24, :20, :3]
    env("SR_ARENA_CPU_BF16", "0")
    assert not inference.uses_openvino(model.descriptor, model.device)
    torch_fast = inference.upscale(model, lr, "fast", force_fast=True)
    env("SR_ARENA_CPU_BACKEND", "openvino")
    assert inference.uses_openvino(model.descriptor, model.device)
    openvino_backend.clear()
    assert not openvino_backend._ENGINES
    ov_fast = inference.upscale(model, lr, "fast", force_fast=True)
    assert len(openvino_backend._ENGINES) == 1  # that call converted SRGAN for OpenVINO and ran it there
    assert np.abs(ov_fast.astype(int) - torch_fast.astype(int)).max() <= 1
    env("SR_ARENA_CPU_BF16", "1")
    assert not inference.uses_openvino(model.descriptor, model.device)  # bf16 is PyTorch's, guarded
    with pytest.raises(ValueError, match="SR_ARENA_CPU_BACKEND"):
        from sr_models import settings

        settings.from_environ({"SR_ARENA_CPU_BACKEND": "tensorrt"})
