"""Every environment variable the engine reads, parsed in one place.

``current()`` is parsed from the environment once (at first use) and handed to the code
that needs it; nothing else in ``sr_models`` reads ``os.environ``. Tests that change a
variable call :func:`reload` afterwards (``tests/conftest.py``'s ``env`` fixture does both).

| variable | default | meaning |
|---|---|---|
| ``SR_ARENA_CHECKPOINTS`` | ``checkpoints/`` | first directory searched for checkpoints; ``fetch`` writes there |
| ``SR_ARENA_WEIGHTS_PATH`` | empty | more checkpoint directories (``os.pathsep``-separated), searched next |
| ``SR_ARENA_SHARED`` | ``../shared`` | the data folder beside the repo (benchmarks, conformance, weights) |
| ``SR_ARENA_DEVICE`` | CUDA if present, else CPU | torch device the models run on |
| ``SR_ARENA_THREADS`` | measured (``runtime_tuning.json``) | torch CPU intra-op threads |
| ``SR_ARENA_GUARD_FILE`` | ``sr_models/precision_guard.json`` | quality-guard records |
| ``SR_ARENA_CACHE_MB`` | 512 | in-memory output cache bound |
| ``SR_ARENA_TILE_BUDGET_MB`` | measured free memory | activation budget of one forward (forces tiling when small) |
| ``SR_ARENA_CPU_BF16`` | ``auto`` | ``auto``: detect native CPU bf16 (oneDNN's AVX512-BF16/AMX check, capped by ``ONEDNN_MAX_CPU_ISA``); ``1``: use the bf16 fast mode even without native support (emulated: slow, but it runs the reduced-precision code on every CPU, for tests); ``0``: never |
| ``SR_ARENA_CPU_BACKEND`` | ``torch`` | ``openvino``: the float32 CPU fast path of ESRGAN and SRGAN runs on OpenVINO (``pip install openvino``; 1.15–1.8× faster measured, outputs within 1e-4 of range, but converting ESRGAN costs 20–60 s at start-up); ``torch``: PyTorch channels_last |
| ``ONEDNN_MAX_CPU_ISA`` | unset | oneDNN's own cap on the kernels it uses (e.g. ``AVX2`` on an AVX-512 CPU); read here only so that a cap below ``AVX512_CORE_BF16`` also turns native-bf16 detection off |
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Generic, Mapping, TypeVar

REPO_ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")

#: oneDNN ISA caps (``ONEDNN_MAX_CPU_ISA``) under which its bf16 kernels are native.
BF16_NATIVE_ISAS = frozenset({
    "AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX512_CORE_AMX", "AVX512_CORE_AMX_FP16",
    "AVX10_1_512", "AVX10_1_512_AMX", "AVX10_1_512_AMX_FP16", "AVX10_2_512", "AVX10_2_512_AMX_2", "ALL", "DEFAULT",
})


@dataclass(frozen=True)
class Settings:
    """The engine's configuration (see the module docstring for each variable)."""

    checkpoints_dir: Path
    weights_path: tuple[Path, ...]
    shared_dir: Path
    device: str | None
    threads: int | None
    guard_file: Path
    cache_mb: float
    tile_budget_mb: float | None
    cpu_bf16: bool | None  # None: detect
    cpu_backend: str
    onednn_max_cpu_isa: str | None

    @property
    def isa_allows_native_bf16(self) -> bool:
        """Whether ``ONEDNN_MAX_CPU_ISA`` (if set) leaves oneDNN's native bf16 kernels on."""
        return self.onednn_max_cpu_isa is None or self.onednn_max_cpu_isa.upper() in BF16_NATIVE_ISAS


def _optional(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    return value or None


def _tristate(value: str | None, name: str) -> bool | None:
    """``auto``/unset -> None; 1/true/on -> True; 0/false/off -> False."""
    if value is None or value.lower() == "auto":
        return None
    if value.lower() in {"1", "true", "on", "yes"}:
        return True
    if value.lower() in {"0", "false", "off", "no"}:
        return False
    raise ValueError(f"{name} must be auto, 1 or 0; got {value!r}")


def _choice(value: str, name: str, allowed: tuple[str, ...]) -> str:
    if value.lower() not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return value.lower()


def from_environ(environ: Mapping[str, str] | None = None) -> Settings:
    """Parse the settings from ``environ`` (default: the process environment)."""
    env = os.environ if environ is None else environ
    threads, tile_budget = _optional(env, "SR_ARENA_THREADS"), _optional(env, "SR_ARENA_TILE_BUDGET_MB")
    return Settings(
        checkpoints_dir=Path(_optional(env, "SR_ARENA_CHECKPOINTS") or REPO_ROOT / "checkpoints"),
        weights_path=tuple(Path(p) for p in env.get("SR_ARENA_WEIGHTS_PATH", "").split(os.pathsep) if p),
        shared_dir=Path(_optional(env, "SR_ARENA_SHARED") or REPO_ROOT.parent / "shared"),
        device=_optional(env, "SR_ARENA_DEVICE"),
        threads=int(threads) if threads else None,
        guard_file=Path(_optional(env, "SR_ARENA_GUARD_FILE") or Path(__file__).with_name("precision_guard.json")),
        cache_mb=float(_optional(env, "SR_ARENA_CACHE_MB") or 512),
        tile_budget_mb=float(tile_budget) if tile_budget else None,
        cpu_bf16=_tristate(_optional(env, "SR_ARENA_CPU_BF16"), "SR_ARENA_CPU_BF16"),
        cpu_backend=_choice(_optional(env, "SR_ARENA_CPU_BACKEND") or "torch", "SR_ARENA_CPU_BACKEND",
                            ("torch", "openvino")),
        onednn_max_cpu_isa=_optional(env, "ONEDNN_MAX_CPU_ISA"),
    )


class ParsedOnce(Generic[T]):
    """Settings parsed from the environment at first use, then kept; ``reload`` parses again
    (tests). Each package's ``settings`` module holds one."""

    def __init__(self, parse: Callable[[], T]) -> None:
        self._parse = parse
        self._value: T | None = None

    def current(self) -> T:
        """The settings in force (parsed once)."""
        if self._value is None:
            self._value = self._parse()
        return self._value

    def reload(self, **overrides: object) -> T:
        """Parse the environment again (after a test changed it), then apply ``overrides``."""
        self._value = replace(self._parse(), **overrides) if overrides else self._parse()
        return self._value


_STATE = ParsedOnce(from_environ)
current = _STATE.current
reload = _STATE.reload
