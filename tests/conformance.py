"""Helpers for checking an implementation against ../shared/conformance vectors.

The vectors were produced by the official implementations (see
``../shared/conformance/README.md``). Tolerances are the README's float32 ones:
``max|Δ| <= 1e-4·R`` and ``mean|Δ| <= 1e-5·R`` with ``R = output_range_for_tolerance``.

``SR_ARENA_TEST_DEVICE=cuda`` (a test-only variable, used by ``benchmarks/gpu_check.sh``)
runs every network forward of these checks on that device in float32 (TF32 off).
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
from pathlib import Path
from typing import Callable

import torch
from torch import nn

TOL_MAX = 1e-4
TOL_MEAN = 1e-5
TEST_DEVICE = torch.device(os.environ.get("SR_ARENA_TEST_DEVICE", "cpu"))
if TEST_DEVICE.type == "cuda":
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


def on_test_device(forward: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    """``forward`` run on :data:`TEST_DEVICE` (a module is copied there; outputs come back to the CPU)."""
    if TEST_DEVICE.type == "cpu" or not isinstance(forward, nn.Module):
        return forward
    module = copy.deepcopy(forward).to(TEST_DEVICE)
    return lambda x: module(x.to(TEST_DEVICE)).cpu()


def load_keys(case_dir: Path) -> list[list]:
    """``keys.json``: ``[[key, shape, dtype], ...]`` in the official state_dict order."""
    return json.loads((case_dir / "keys.json").read_text())


def load_params(case_dir: Path) -> dict:
    """``params.json``: constructor args, conventions, parameter count."""
    return json.loads((case_dir / "params.json").read_text())


def load_vectors(case_dir: Path, name: str) -> dict:
    """One of ``small.pt``, ``full.pt``, ``real.pt``, ``small_chop.pt`` (no pickled code)."""
    return torch.load(case_dir / name, weights_only=True)


def state_dict_sha256(state_dict: dict, keys: list[list]) -> str:
    """The README's digest: sha256 over ``key.encode()`` then the tensor bytes, in keys.json order."""
    digest = hashlib.sha256()
    for key, _shape, _dtype in keys:
        digest.update(key.encode())
        digest.update(state_dict[key].contiguous().numpy().tobytes())
    return digest.hexdigest()


def full_state_dict(case_dir: Path) -> dict:
    """Regenerate the synthetic full-size weights from ``full.pt``'s recipe and check their hash."""
    full = load_vectors(case_dir, "full.pt")
    keys = load_keys(case_dir)
    namespace: dict = {}
    exec(full["recipe"], namespace)  # the recipe is plain data-generation code shipped with the vectors
    state_dict = namespace["build_state_dict"](keys, full["seed"])
    assert state_dict_sha256(state_dict, keys) == full["state_dict_sha256"], "recipe did not regenerate the weights"
    return state_dict


def assert_same_layout(model: nn.Module, keys: list[list]) -> None:
    """The model's state_dict has exactly the official keys, order, shapes and dtypes."""
    ours = [[k, list(v.shape), str(v.dtype)] for k, v in model.state_dict().items()]
    theirs = [[k, list(shape), dtype] for k, shape, dtype in keys]
    assert [k for k, _, _ in ours] == [k for k, _, _ in theirs], "keys differ from keys.json"
    assert ours == theirs, "shapes or dtypes differ from keys.json"


def assert_outputs_match(
    forward: Callable[[torch.Tensor], torch.Tensor],
    inputs: list[torch.Tensor],
    outputs: list[torch.Tensor],
    output_range: float,
) -> None:
    """Every output within ``1e-4·R`` (max) and ``1e-5·R`` (mean) of the official one."""
    assert len(inputs) == len(outputs)
    forward = on_test_device(forward)
    with torch.no_grad():
        for x, expected in zip(inputs, outputs):
            got = forward(x)
            assert got.shape == expected.shape, (got.shape, expected.shape)
            diff = (got - expected).abs()
            assert diff.max().item() <= TOL_MAX * output_range, f"max |Δ| {diff.max().item():.3g} for input {tuple(x.shape)}"
            assert diff.mean().item() <= TOL_MEAN * output_range, f"mean |Δ| {diff.mean().item():.3g} for input {tuple(x.shape)}"
