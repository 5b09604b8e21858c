"""Run configurations, one TOML file per house model (``configs/train/*.toml``)."""
from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from sr_models.paths import REPO_ROOT

C = TypeVar("C")


@dataclass
class TrainConfig:
    """Everything that defines a training run (recorded in its log and model card).

    Attributes:
        name: run name; scratch output goes to ``runs/<name>/``.
        model_id: registry card the house weights serve (``awsrn``, ``san``, ``srgan``, ``srresnet``).
        arch: ``awsrn``, ``san`` or ``srgan`` (the SRGAN generator is SRResNet).
        arch_args: constructor arguments of the network.
        loss: ``l1`` or ``mse`` content loss.
        adversarial_weight: > 0 trains adversarially with the SRGAN discriminator (paper: 1e-3).
        spectral_weight: > 0 adds the GAN stage's spectral artefact penalty (:func:`loop.spectral_penalty`):
            L1 between the output's and the HR's 2-D DFT magnitudes at the upsampler's period-2/4 frequencies.
        init_from: a run name whose last checkpoint initialises the generator (SRGAN from SRResNet).
        lr_patch: LR patch side; the HR patch is ``scale`` times larger.
        steps: total optimiser steps.
        lr, lr_min: Adam learning rate, cosine-decayed to ``lr_min``.
        warmup_steps: linear learning-rate warm-up.
        val_every, save_every: validation / checkpoint period in steps.
        export: house file name under ``checkpoints/`` (e.g. ``house/awsrn_x4.safetensors``).
        threads: torch CPU threads (0 = torch default).
        bf16: bf16 autocast on the CPU (fp32 master weights).
        ema_decay: decay of the weights' moving average (validated and exported).
    """

    name: str
    model_id: str
    arch: str
    arch_args: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    loss: str = "l1"
    adversarial_weight: float = 0.0
    spectral_weight: float = 0.0
    d_lr: float = 1e-4
    init_from: str = ""
    scale: int = 4
    lr_patch: int = 32
    batch_size: int = 16
    steps: int = 10000
    lr: float = 5e-4
    lr_min: float = 1e-5
    warmup_steps: int = 0
    grad_clip: float = 0.0
    ema_decay: float = 0.999
    seed: int = 0
    val_every: int = 500
    save_every: int = 100
    export: str = ""
    data_dirs: list[str] = field(default_factory=lambda: ["T91", "BSDS300_train", "DIV2K_train_HR", "IBM_MAX_samples_CC"])
    val_set: str = "Set5"
    threads: int = 0
    bf16: bool = True
    device: str = "auto"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_config(path: str | Path, kind: type[C], **overrides: Any) -> C:
    """Read a TOML config into the dataclass ``kind``; unknown keys are an error (typos must not pass silently)."""
    with open(path, "rb") as handle:
        raw = tomllib.load(handle)
    raw.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in fields(kind)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"{path}: unknown config keys {unknown}; known: {sorted(known)}")
    return kind(**raw)


def load_config(path: str | Path, **overrides: Any) -> TrainConfig:
    """Read a TOML run config for the trainer."""
    return read_config(path, TrainConfig, **overrides)


def run_dir(config: TrainConfig) -> Path:
    """``runs/<name>/`` (scratch output, git-ignored)."""
    return REPO_ROOT / "runs" / config.name
