"""OpenVINO CPU float32 as an alternative engine for the fast path (same precision as exact).

``run(descriptor, x)`` takes an NCHW float32 tensor in the network's input range and returns
the network's output tensor, computed by OpenVINO's CPU plugin in float32
(``INFERENCE_PRECISION_HINT=f32``: no reduced precision, so no quality guard is involved;
outputs differ from PyTorch's float32 only by summation order, ~5e-6 of the output range on
the real ESRGAN weights).

Costs, measured on the 2-core Zen 3 (``benchmarks/bench_inference.py``, ``backends`` section):

* converting a network (``openvino.convert_model`` traces it once, with dynamic height and
  width) takes seconds to about a minute (ESRGAN: 22-51 s on the shared CPU); it happens once
  per model per process;
* compiling for one input shape takes 0.1-2 s; compiled models are cached per
  ``(model, shape, threads)`` (tiles have a fixed shape, so a tiled image compiles at most a
  few shapes), bounded by :data:`MAX_COMPILED` (least recently used dropped first).

Supported: networks whose traced graph does not depend on the input size and uses only ops
OpenVINO converts (RRDBNet/ESRGAN, SRGAN, AWSRN). SAN is refused (:class:`UnsupportedModelError`):
its forward branches on the input size and uses ``aten::diagonal``, which OpenVINO 2026.4
does not convert. Thread-safe: conversion and compilation are serialised per model and each
call uses its own infer request.
"""
from __future__ import annotations

import importlib.util
import threading
from collections import OrderedDict
from typing import Any

import numpy as np
import torch

from .descriptor import ModelDescriptor

#: Compiled (model, shape, threads) entries kept; each holds its own copy of the weights.
MAX_COMPILED = 8
#: Architectures known to convert and run exactly (tested in ``tests/test_openvino_backend.py``).
SUPPORTED_ARCHS = frozenset({"esrgan", "srgan", "awsrn"})


class UnsupportedModelError(RuntimeError):
    """This network cannot run on the OpenVINO backend (the message says why)."""


def available() -> bool:
    """Whether the ``openvino`` package is importable."""
    return importlib.util.find_spec("openvino") is not None


def version() -> str | None:
    """The installed OpenVINO version, or ``None``."""
    if not available():
        return None
    import openvino as ov

    return ov.get_version()


def supports(descriptor: ModelDescriptor) -> tuple[bool, str]:
    """``(supported, why)`` for one network, without converting it."""
    if not available():
        return False, "openvino is not installed (pip install openvino)"
    if not descriptor.tileable:
        return False, f"{descriptor.arch}: global operations that branch on the input size (stays on PyTorch)"
    if descriptor.arch not in SUPPORTED_ARCHS:
        return False, f"{descriptor.arch}: not converted and checked on OpenVINO"
    return True, f"{descriptor.arch}: OpenVINO CPU float32"


class _Engine:
    """The converted network (dynamic H×W) and its compiled static-shape variants."""

    def __init__(self, network: torch.nn.Module, model: Any) -> None:
        self.network = network  # keeps id(network), the cache key, from being reused
        self.model = model
        self.compiled: OrderedDict[tuple[int, int, int], Any] = OrderedDict()
        self.lock = threading.Lock()


_ENGINES: dict[int, _Engine] = {}
_ENGINES_LOCK = threading.Lock()
_CORE: Any = None


def _core() -> Any:
    global _CORE
    if _CORE is None:
        import openvino as ov

        _CORE = ov.Core()
    return _CORE


def _engine(descriptor: ModelDescriptor) -> _Engine:
    """Convert ``descriptor.model`` once (traced on a small input, height and width left dynamic)."""
    ok, why = supports(descriptor)
    if not ok:
        raise UnsupportedModelError(why)
    key = id(descriptor.model)
    with _ENGINES_LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            import openvino as ov

            size = max(32, descriptor.min_size)
            example = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0)) * descriptor.input_range
            with torch.no_grad():
                model = ov.convert_model(descriptor.model.eval(), example_input=example, input=[(1, 3, -1, -1)])
            engine = _ENGINES[key] = _Engine(descriptor.model, model)
        return engine


def compiled_model(descriptor: ModelDescriptor, height: int, width: int, threads: int | None = None) -> Any:
    """The OpenVINO ``CompiledModel`` for one input shape (converted and compiled on first use)."""
    threads = threads or torch.get_num_threads()
    engine = _engine(descriptor)
    key = (height, width, threads)
    with engine.lock:
        compiled = engine.compiled.get(key)
        if compiled is not None:
            engine.compiled.move_to_end(key)
            return compiled
        static = engine.model.clone()
        static.reshape({0: [1, 3, height, width]})
        compiled = _core().compile_model(static, "CPU", {
            "INFERENCE_PRECISION_HINT": "f32",
            "INFERENCE_NUM_THREADS": threads,
            "PERFORMANCE_HINT": "LATENCY",
            "NUM_STREAMS": 1,
        })
        engine.compiled[key] = compiled
        while len(engine.compiled) > MAX_COMPILED:
            engine.compiled.popitem(last=False)
        return compiled


def run(descriptor: ModelDescriptor, x: torch.Tensor, threads: int | None = None) -> torch.Tensor:
    """``descriptor.model(x)`` computed by OpenVINO (CPU, float32) for an NCHW float32 ``x`` (batch 1).

    ``threads`` defaults to torch's intra-op thread count. Raises :class:`UnsupportedModelError`
    for networks this backend does not run, ``ValueError`` for a bad input.
    """
    if x.dim() != 4 or x.shape[0] != 1 or x.shape[1] != 3:
        raise ValueError(f"expected a (1, 3, H, W) tensor; got {tuple(x.shape)}")
    if x.dtype != torch.float32:
        raise ValueError(f"expected float32; got {x.dtype}")
    height, width = int(x.shape[2]), int(x.shape[3])
    compiled = compiled_model(descriptor, height, width, threads)
    data = np.ascontiguousarray(x.detach().cpu().numpy())
    request = compiled.create_infer_request()  # one per call: infer requests are not thread-safe
    result = request.infer({0: data})
    return torch.from_numpy(np.array(result[0], copy=True))


def clear() -> None:
    """Drop every converted and compiled network (tests; frees their weights)."""
    with _ENGINES_LOCK:
        _ENGINES.clear()
