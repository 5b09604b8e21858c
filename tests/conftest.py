"""Shared fixtures. Tests that need ../shared skip with a clear reason when it is absent."""
from __future__ import annotations

from pathlib import Path

import pytest

from sr_models.paths import SHARED_DIR


def shared_path(*parts: str) -> Path:
    """Path under ../shared, or skip the calling test when it is absent."""
    path = SHARED_DIR.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not found: {path} (set SR_ARENA_SHARED or place ../shared beside the repo)")
    return path


@pytest.fixture
def conformance_dir():
    """Return a function name -> ../shared/conformance/<name> (skips when absent)."""
    return lambda name: shared_path("conformance", name)


@pytest.fixture
def benchmark_dir():
    """Return a function set_name -> ../shared/data/benchmark/<set_name> (skips when absent)."""
    return lambda name: shared_path("data", "benchmark", name)
