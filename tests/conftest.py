"""Shared fixtures. Tests that need ../shared skip with a clear reason when it is absent."""
from __future__ import annotations

from pathlib import Path

import pytest

from mos_support import fresh_database, start_postgres
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


def _reload_settings() -> None:
    from sr_arena import settings as app_settings
    from sr_models import settings as engine_settings

    engine_settings.reload()
    app_settings.reload()


@pytest.fixture(autouse=True)
def _fresh_settings():
    """Each test starts and ends with the settings (engine and app) parsed from its environment."""
    _reload_settings()
    yield
    _reload_settings()


@pytest.fixture
def env(monkeypatch):
    """``env(NAME, value)``: set an environment variable for this test and re-parse the settings
    (an empty value counts as unset)."""

    def set_variable(name: str, value: str) -> None:
        monkeypatch.setenv(name, value)
        _reload_settings()

    return set_variable


@pytest.fixture(params=["bf16", "fp32"])
def cpu_fast_mode(request, env):
    """Run the test once in each CPU fast mode, whatever this CPU supports natively:
    ``bf16`` forces the reduced-precision path (``SR_ARENA_CPU_BF16=1``, emulated without
    native bf16), ``fp32`` forces float32 channels_last (``SR_ARENA_CPU_BF16=0``)."""
    from sr_models import precision

    env("SR_ARENA_CPU_BF16", "1" if request.param == "bf16" else "0")
    mode = precision.fast_mode_for(precision.torch.device("cpu"))
    assert mode.reduced == (request.param == "bf16")
    return mode


@pytest.fixture(scope="session")
def postgres_admin_url():
    """A private PostgreSQL server for the whole test session (started on first use): its admin URL."""
    yield from start_postgres()


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request, tmp_path):
    """A fresh database of each kind: a SQLite file path or a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(tmp_path / "votes.sqlite3")
    return fresh_database(request.getfixturevalue("postgres_admin_url"))
