"""The resumable training loop behind ``python -m sr_models train CONFIG``.

One run = one config. State (generator, discriminator, optimisers, step, RNGs, timings) is
saved atomically to ``runs/<name>/last.pt`` every ``save_every`` steps, at the end and on
Ctrl-C/SIGTERM; ``--resume`` continues from it bit-for-bit (same data order, same
learning-rate schedule). Every step is logged to ``runs/<name>/log.jsonl``; validation on the
Set5 benchmark (evaluation only) every ``val_every`` steps.
"""
from __future__ import annotations

import json
import math
import os
import platform
import random
import signal
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sr_models.precision import fast_mode_for

from .config import TrainConfig, run_dir
from .data import PatchSampler, load_training_pairs
from .nets import Discriminator, build_generator, count_parameters
from .validate import has_batch_norm, load_val_pairs, recalibrate_batch_norm, validate


def select_device(name: str = "auto") -> torch.device:
    """``cuda`` when available for ``auto``, else the CPU; or the named device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def hardware_summary(device: torch.device) -> str:
    """One line on where a run trains (CPU model and threads, or the GPU name)."""
    if device.type == "cuda":
        return f"CUDA {torch.cuda.get_device_name(device)}"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    threads = torch.get_num_threads()
    return f"CPU {cpu}, {threads} thread{'' if threads == 1 else 's'}, torch {torch.__version__}"


def learning_rate(config: TrainConfig, step: int, base: float | None = None) -> float:
    """Linear warm-up, then cosine decay from ``lr`` to ``lr_min`` over ``steps``."""
    base = config.lr if base is None else base
    if config.warmup_steps and step < config.warmup_steps:
        return base * (step + 1) / config.warmup_steps
    progress = min(1.0, (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps))
    floor = min(config.lr_min, base)
    return floor + 0.5 * (base - floor) * (1 + math.cos(math.pi * progress))


def _atomic_torch_save(obj: Any, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


class Trainer:
    """A training run: build it from a config, ``run()`` it, ``save()``/``resume()`` it."""

    def __init__(self, config: TrainConfig, out_dir: Path | None = None, cache: bool = True,
                 validate_on: str | None = None, quiet: bool = False) -> None:
        self.config = config
        self.out_dir = Path(out_dir) if out_dir else run_dir(config)
        self.quiet = quiet
        if config.threads:
            torch.set_num_threads(config.threads)
        self.device = select_device(config.device)
        random.seed(config.seed)
        np.random.seed(config.seed)
        torch.manual_seed(config.seed)
        self.rng = np.random.default_rng(config.seed)
        self.model, self.value_range = build_generator(config.arch, config.arch_args)
        self.model.to(self.device, memory_format=torch.channels_last).train()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr, betas=(0.9, 0.999))
        self.ema = build_generator(config.arch, config.arch_args)[0].to(self.device, memory_format=torch.channels_last)
        self.ema.load_state_dict(self.model.state_dict())
        self.ema.eval().requires_grad_(False)
        self.disc: nn.Module | None = None
        self.d_optimizer: torch.optim.Optimizer | None = None
        if config.adversarial_weight > 0:
            self.disc = Discriminator().to(self.device, memory_format=torch.channels_last).train()
            self.d_optimizer = torch.optim.Adam(self.disc.parameters(), lr=config.d_lr, betas=(0.9, 0.999))
        self.step = 0
        self.train_seconds = 0.0
        self.wall_seconds = 0.0
        self.last_val: dict[str, float] = {}
        self.pairs = load_training_pairs(config.data_dirs, config.scale, cache=cache, progress=not quiet)
        self.sampler = PatchSampler(self.pairs, config.lr_patch, config.scale, self.rng)
        val = config.val_set if validate_on is None else validate_on
        self.val_pairs = load_val_pairs(val) if val else []

    # ------------------------------------------------------------------ state

    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / "last.pt"

    @property
    def log_path(self) -> Path:
        return self.out_dir / "log.jsonl"

    def state(self) -> dict[str, Any]:
        """Everything needed to continue bit-for-bit."""
        state: dict[str, Any] = {
            "config": self.config.as_dict(),
            "step": self.step,
            "train_seconds": self.train_seconds,
            "wall_seconds": self.wall_seconds,
            "last_val": dict(self.last_val),
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "numpy_rng": json.dumps(self.rng.bit_generator.state),
            "torch_rng": torch.get_rng_state(),
        }
        if self.disc is not None and self.d_optimizer is not None:
            state["disc"] = self.disc.state_dict()
            state["d_optimizer"] = self.d_optimizer.state_dict()
        return state

    def save(self) -> Path:
        """Write ``last.pt`` atomically."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        _atomic_torch_save(self.state(), self.checkpoint_path)
        status = {"step": self.step, "steps": self.config.steps, "finished": self.step >= self.config.steps,
                  "train_seconds": round(self.train_seconds, 1), "val": self.last_val}
        (self.out_dir / "status.json").write_text(json.dumps(status) + "\n")
        return self.checkpoint_path

    def load_state(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = int(state["step"])
        self.train_seconds = float(state["train_seconds"])
        self.wall_seconds = float(state["wall_seconds"])
        self.last_val = dict(state.get("last_val", {}))
        self.rng.bit_generator.state = json.loads(state["numpy_rng"])
        torch.set_rng_state(state["torch_rng"])
        if self.disc is not None and self.d_optimizer is not None and "disc" in state:
            self.disc.load_state_dict(state["disc"])
            self.d_optimizer.load_state_dict(state["d_optimizer"])

    def resume(self) -> bool:
        """Continue from ``last.pt`` when it exists; True if it did."""
        if not self.checkpoint_path.is_file():
            return False
        self.load_state(torch.load(self.checkpoint_path, map_location=self.device, weights_only=True))
        return True

    def init_generator_from(self, run_name: str) -> None:
        """Start the generator from another run's last checkpoint (SRGAN from SRResNet); without that
        run folder (a fresh checkout), from the house checkpoint its config exports."""
        path = self.out_dir.parent / run_name / "last.pt"
        if path.is_file():
            weights = torch.load(path, map_location=self.device, weights_only=True)["ema"]
        else:
            from sr_models.checkpoint_io import read_state_dict
            from sr_models.paths import CHECKPOINTS_DIR, REPO_ROOT

            from .config import load_config

            shipped = CHECKPOINTS_DIR / load_config(REPO_ROOT / "configs" / "train" / f"{run_name}.toml").export
            weights = {k: v.float() if v.is_floating_point() else v for k, v in read_state_dict(shipped).items()}
        self.model.load_state_dict(weights)
        self.ema.load_state_dict(weights)

    # ------------------------------------------------------------------ steps

    def _autocast(self):
        """bf16 autocast when the config asks for it and this device's fast mode is bf16
        (native CPU bf16, a bf16 GPU, or ``SR_ARENA_CPU_BF16=1``); float32 otherwise, since
        emulated bf16 (e.g. an AVX2-only CPU) is slower than float32."""
        if not self.config.bf16 or fast_mode_for(self.device).dtype != torch.bfloat16:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def batch(self) -> tuple[Tensor, Tensor]:
        """A training batch as float tensors in [0, 1], channels_last."""
        lr, hr = self.sampler.sample(self.config.batch_size)

        def to_tensor(a: np.ndarray) -> Tensor:
            t = torch.from_numpy(a).to(self.device).permute(0, 3, 1, 2).float().div_(255.0)
            return t.contiguous(memory_format=torch.channels_last)

        return to_tensor(lr), to_tensor(hr)

    def content_loss(self, sr: Tensor, hr: Tensor) -> Tensor:
        if self.config.loss == "l1":
            return F.l1_loss(sr, hr)
        if self.config.loss == "mse":
            return F.mse_loss(sr * 2 - 1, hr * 2 - 1)  # on [-1, 1] as in the SRGAN paper
        raise ValueError(f"unknown loss {self.config.loss!r}")

    def train_step(self) -> dict[str, float]:
        """One optimiser step (plus one discriminator step when adversarial)."""
        cfg = self.config
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(cfg, self.step)
        lr, hr = self.batch()
        with self._autocast():
            sr = self.model(lr * self.value_range).float() / self.value_range
        losses: dict[str, float] = {}
        loss = self.content_loss(sr, hr)
        losses["content"] = float(loss.detach())
        if self.disc is not None and self.d_optimizer is not None:
            for group in self.d_optimizer.param_groups:
                group["lr"] = learning_rate(cfg, self.step, cfg.d_lr)
            with self._autocast():
                d_real = self.disc(hr).float()
                d_fake = self.disc(sr.detach().clamp(0, 1)).float()
            d_loss = (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
                      + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
            self.d_optimizer.zero_grad(set_to_none=True)
            d_loss.backward()
            self.d_optimizer.step()
            with self._autocast():
                g_fake = self.disc(sr.clamp(0, 1)).float()
            adv = F.binary_cross_entropy_with_logits(g_fake, torch.ones_like(g_fake))
            loss = loss + cfg.adversarial_weight * adv
            if cfg.spectral_weight > 0:
                spectral = spectral_penalty(sr, hr)
                loss = loss + cfg.spectral_weight * spectral
                losses["spectral"] = float(spectral.detach())
            losses.update(d=float(d_loss.detach()), adv=float(adv.detach()),
                          d_real=float(torch.sigmoid(d_real.detach()).mean()),
                          d_fake=float(torch.sigmoid(d_fake.detach()).mean()))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.optimizer.step()
        self.update_ema()
        self.step += 1
        losses["loss"] = float(loss.detach())
        return losses

    @torch.no_grad()
    def update_ema(self) -> None:
        """Exponential moving average of the generator's parameters (buffers copied).

        The EMA is what is validated and exported: it gives good weights at any point of a
        run, before the learning rate has decayed. Warm-up: decay ``min(ema_decay, (1+t)/(10+t))``.
        """
        decay = min(self.config.ema_decay, (1 + self.step) / (10 + self.step))
        for e, p in zip(self.ema.parameters(), self.model.parameters()):
            e.lerp_(p.detach(), 1 - decay)
        for e, b in zip(self.ema.buffers(), self.model.buffers()):
            e.copy_(b)

    def run_validation(self) -> dict[str, float]:
        """Set5 PSNR and sharpness of the weights an export would ship: the EMA, with BatchNorm
        statistics re-estimated for it (the live network's, copied into the EMA, can be far off
        while the learning rate is high: Set5 28.0 copied vs 30.4 re-estimated at SRResNet step 9,600)."""
        if not self.val_pairs:
            return {}
        network = self.ema
        if has_batch_norm(self.ema):
            network, _ = build_generator(self.config.arch, self.config.arch_args)
            weights = {k: v.detach().cpu() for k, v in self.ema.state_dict().items()}
            network.load_state_dict(recalibrate_batch_norm(weights, self.config, pairs=self.sampler.pairs))
            network.to(self.device)
        self.last_val = validate(network, self.val_pairs, self.value_range, self.device, self.config.scale)
        if self.config.adversarial_weight > 0:  # GAN stages: keep the validated weights and their artefact score
            self.last_val["artefacts"] = artefact_percent(network, self.value_range, self.device)
            self.out_dir.mkdir(parents=True, exist_ok=True)
            _atomic_torch_save(network.state_dict(), self.out_dir / f"ema_{self.step:06d}.pt")
        return self.last_val

    def _log(self, record: dict[str, Any]) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "a") as handle:
            handle.write(json.dumps(record) + "\n")

    def run(self, max_steps: int | None = None, max_minutes: float | None = None) -> dict[str, Any]:
        """Train until ``min(steps, max_steps)`` (or ``max_minutes`` of wall time, then save and
        return); returns a summary (step, losses, speed, last val)."""
        deadline = time.monotonic() + 60 * max_minutes if max_minutes else float("inf")
        from tqdm import tqdm

        cfg = self.config
        target = cfg.steps if max_steps is None else min(cfg.steps, max_steps)
        if self.step == 0 and not self.log_path.exists():
            self._log({"event": "start", "config": cfg.as_dict(), "hardware": hardware_summary(self.device),
                       "parameters": count_parameters(self.model), "training_images": len(self.pairs)})
        else:
            self._log({"event": "resume", "step": self.step, "hardware": hardware_summary(self.device)})
        stop = {"flag": False}
        previous = signal.getsignal(signal.SIGTERM)
        if threading_is_main():
            signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__("flag", True))
        bar = tqdm(total=target, initial=self.step, desc=cfg.name, unit="step", disable=self.quiet,
                   mininterval=1.0 if sys.stderr.isatty() else 60.0, dynamic_ncols=True)
        losses: dict[str, float] = {}
        ema = None
        try:
            while self.step < target and not stop["flag"] and time.monotonic() < deadline:
                start = time.perf_counter()
                losses = self.train_step()
                elapsed = time.perf_counter() - start
                self.train_seconds += elapsed
                self.wall_seconds += elapsed
                ema = losses["loss"] if ema is None else 0.98 * ema + 0.02 * losses["loss"]
                record: dict[str, Any] = {"step": self.step, **losses, "lr": learning_rate(cfg, self.step - 1),
                                          "step_s": round(elapsed, 4), "wall": round(self.wall_seconds, 1)}
                if cfg.val_every and (self.step % cfg.val_every == 0 or self.step == target):
                    v_start = time.perf_counter()
                    record["val"] = self.run_validation()
                    self.wall_seconds += time.perf_counter() - v_start
                self._log(record)
                bar.update(1)
                bar.set_postfix(loss=f"{ema:.4f}", sps=f"{self.step / max(self.train_seconds, 1e-9):.3f}"[:6],
                                val=f"{self.last_val.get('psnr', float('nan')):.2f}")
                if cfg.save_every and self.step % cfg.save_every == 0:
                    self.save()
        except KeyboardInterrupt:
            pass
        finally:
            bar.close()
            self.save()
            if threading_is_main():
                signal.signal(signal.SIGTERM, previous)
        return {"step": self.step, "target": target, "losses": losses, "val": self.last_val,
                "steps_per_second": self.step / max(self.train_seconds, 1e-9) if self.step else 0.0,
                "finished": self.step >= cfg.steps}


def spectral_penalty(sr: Tensor, hr: Tensor) -> Tensor:
    """Mean L1 distance between the 2-D DFT magnitudes of the output's and the HR's Y channel (BT.601, on
    [0, 1]) at the period-2/period-4 frequencies of the ×4 sub-pixel upsampler — exactly the bins the
    artefact score counts (:func:`sr_models.artefacts.periodic_mask`) — with magnitudes over the patch's
    pixel count. A frequency-domain loss against sub-pixel checkerboard artefacts, whose cause (the
    upsampler's uneven overlap) is Odena, Dumoulin & Olah, "Deconvolution and checkerboard artifacts",
    Distill 2016: the GAN may paint texture, but not energy at those periods the HR does not have.
    Zero for identical images; the patch sides must be multiples of the scale."""
    from sr_models.artefacts import SCALE, periodic_mask

    h, w = sr.shape[-2:]
    if h != w:
        raise ValueError(f"spectral penalty needs square patches, got {h}x{w}")
    mask = torch.from_numpy(periodic_mask(h, SCALE)).to(sr.device)
    coef = torch.tensor([65.481, 128.553, 24.966], device=sr.device, dtype=torch.float32) / 255.0

    def magnitudes(x: Tensor) -> Tensor:
        y = (x.float() * coef.view(1, 3, 1, 1)).sum(1) if x.shape[1] == 3 else x.float()[:, 0]
        return torch.fft.fft2(y).abs()[:, mask] / (h * w)

    return (magnitudes(sr) - magnitudes(hr)).abs().mean()


def artefact_percent(network: nn.Module, value_range: float, device: torch.device) -> float:
    """The artefact score (:mod:`sr_models.artefacts`) of ``network`` on Set14 and the app's examples."""
    from sr_models.artefacts import artefact_score, measurement_inputs
    from sr_models.paths import REPO_ROOT

    from .validate import BENCHMARK_DIR, run_on_image

    network.eval()
    inputs = [lr for _, lr in measurement_inputs(BENCHMARK_DIR / "Set14" / "LR_bicubic" / "X4", REPO_ROOT / "examples")]
    return artefact_score([run_on_image(network, lr, value_range, device) for lr in inputs], inputs).percent


def threading_is_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def make_trainer(config: TrainConfig, resume: bool = False, **kwargs: Any) -> Trainer:
    """A trainer at its starting point: resumed from ``last.pt`` when asked and present,
    else fresh (initialised from ``init_from`` when set). Refuses to overwrite an existing
    run without ``resume``."""
    trainer = Trainer(config, **kwargs)
    if trainer.resume() if resume else False:
        return trainer
    if trainer.checkpoint_path.exists() and not resume:
        raise FileExistsError(f"{trainer.checkpoint_path} exists: pass --resume to continue it "
                              f"(or delete {trainer.out_dir} to start over)")
    if config.init_from:
        trainer.init_generator_from(config.init_from)
    return trainer
