"""The house ESRGAN: the packaged Real-ESRGAN x4plus RRDBNet fine-tuned on bicubic ×4 inputs, both of
the paper's stages (Wang et al., "ESRGAN", ECCVW 2018, Sec. 4.1): RRDB-PSNR with L1, then the
relativistic average GAN (Sec. 3.2) with the VGG-style 128² discriminator.

Only the last ``trainable_blocks`` RRDBs and everything after the trunk (``trunk_conv``, the two
upsampling convs, ``HRconv``, ``conv_last``) are trained. The frozen front (``conv_first`` and the
first ``23 - k`` RRDBs) is run once, in float32, on a fixed set of training patches and its two
outputs are cached (``conv_first``'s, for the long skip, and block ``23 - k``'s); every step then
costs only the trainable part. The exported file holds only the trained tensors; the loader puts
them on top of the base whose sha256 it checks (``registry.ESRGAN_HOUSE_*``).

    python -m sr_models.train.rrdb_finetune configs/train/esrgan_psnr.toml [--max-minutes M]   # resumes
    python -m sr_models.train.rrdb_finetune configs/train/esrgan_psnr.toml --export
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import signal
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sr_models.archs.rrdbnet_arch import RRDBNet
from sr_models.checkpoint_io import read_state_dict, sha256_file
from sr_models.metrics import calculate_psnr
from sr_models.paths import REPO_ROOT
from sr_models.precision import fast_mode_for
from sr_models.registry import REALESRGAN_X4PLUS, REALESRGAN_X4PLUS_SHA256

from .config import read_config
from .data import PatchSampler, load_training_pairs
from .loop import hardware_summary, select_device
from .validate import gradient_ratio, load_val_pairs

NUM_BLOCKS = 23
TAIL_MODULES = ("trunk_conv", "upconv1", "upconv2", "HRconv", "conv_last")
CHUNK = 64


@dataclass
class FinetuneConfig:
    """One stage of the house ESRGAN (``configs/train/esrgan_*.toml``)."""

    name: str
    model_id: str
    description: str = ""
    trainable_blocks: int = 4
    patches: int = 3000
    lr_patch: int = 32
    batch_size: int = 8
    steps: int = 4000
    lr: float = 2e-4
    lr_min: float = 1e-6
    l1_weight: float = 1.0
    adversarial_weight: float = 0.0
    d_lr: float = 1e-4
    init_from: str = ""
    ema_decay: float = 0.999
    seed: int = 0
    val_every: int = 250
    save_every: int = 50
    export: str = ""
    data_dirs: list[str] = field(default_factory=lambda: ["T91", "BSDS300_train", "DIV2K_train_HR", "IBM_MAX_samples_CC"])
    threads: int = 1
    bf16: bool = True
    device: str = "auto"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_finetune_config(path: str | Path) -> FinetuneConfig:
    """Read a stage config; unknown keys are an error."""
    return read_config(path, FinetuneConfig)


# ---------------------------------------------------------------------------------------- base


def base_path() -> Path:
    """The converted Real-ESRGAN x4plus file (made from the package on first use)."""
    from sr_models.loader import build_packaged, candidates

    found = candidates("realesrgan", REALESRGAN_X4PLUS)
    return found[0] if found else build_packaged(REALESRGAN_X4PLUS)


def load_base() -> tuple[RRDBNet, str]:
    """The base RRDBNet (float32, eval) and its verified sha256."""
    path = base_path()
    digest = sha256_file(path)
    if digest != REALESRGAN_X4PLUS_SHA256:
        raise ValueError(f"{path}: sha256 {digest} is not the base's {REALESRGAN_X4PLUS_SHA256}")
    net = RRDBNet()
    net.load_state_dict(read_state_dict(path))
    return net.eval(), digest


def trainable_names(k: int, blocks: int = NUM_BLOCKS) -> list[str]:
    """Parameter-name prefixes of the trained part: the last ``k`` RRDBs and the tail."""
    return [f"RRDB_trunk.{i}." for i in range(blocks - k, blocks)] + [f"{m}." for m in TAIL_MODULES]


def is_trainable(name: str, k: int, blocks: int = NUM_BLOCKS) -> bool:
    return any(name.startswith(prefix) for prefix in trainable_names(k, blocks))


@torch.no_grad()
def front(net: RRDBNet, x: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """``(conv_first(x), output of block 23-k)`` of the frozen part."""
    f0 = net.conv_first(x)
    return f0, net.RRDB_trunk[: len(net.RRDB_trunk) - k](f0)


def back(net: RRDBNet, f0: Tensor, fk: Tensor, k: int) -> Tensor:
    """The trainable part: the last ``k`` RRDBs, the long skip and the upsampler, as ``RRDBNet.forward``."""
    fea = f0 + net.trunk_conv(net.RRDB_trunk[len(net.RRDB_trunk) - k:](fk))
    fea = net.lrelu(net.upconv1(F.interpolate(fea, scale_factor=2, mode="nearest")))
    fea = net.lrelu(net.upconv2(F.interpolate(fea, scale_factor=2, mode="nearest")))
    return net.conv_last(net.lrelu(net.HRconv(fea)))


# ---------------------------------------------------------------------------------------- cache


def cache_dir(config: FinetuneConfig, base_sha: str) -> Path:
    key = json.dumps([base_sha, config.trainable_blocks, config.lr_patch, config.patches, config.seed, config.data_dirs])
    return REPO_ROOT / "runs" / "cache" / f"rrdb_front_{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def build_cache(config: FinetuneConfig, net: RRDBNet, base_sha: str, log=print) -> list[dict[str, Tensor]]:
    """Fixed training patches with the frozen front's outputs (float32 compute, float16 storage);
    chunk files are written as they are made, so an interrupted cache resumes."""
    folder = cache_dir(config, base_sha)
    folder.mkdir(parents=True, exist_ok=True)
    sampler = PatchSampler(load_training_pairs(config.data_dirs, 4), config.lr_patch, 4,
                           np.random.default_rng(config.seed + 12345))
    chunks = []
    for index in range(math.ceil(config.patches / CHUNK)):
        lr, hr = sampler.sample(CHUNK)  # drawn even when cached, so the patches do not depend on resumption
        path = folder / f"chunk_{index:04d}.pt"
        if not path.is_file():
            start = time.perf_counter()
            x = torch.from_numpy(lr).permute(0, 3, 1, 2).float().div(255).contiguous(memory_format=torch.channels_last)
            f0, fk = front(net, x, config.trainable_blocks)
            for t in (f0, fk):
                if t.abs().max() > 60000:
                    raise ValueError("front features exceed float16 range")
            chunk = {"hr": torch.from_numpy(np.ascontiguousarray(hr)), "f0": f0.half().contiguous(), "fk": fk.half().contiguous()}
            tmp = path.with_suffix(".tmp")
            torch.save(chunk, tmp)
            os.replace(tmp, path)
            log(json.dumps({"event": "cache", "chunk": index, "seconds": round(time.perf_counter() - start, 2)}))
        chunks.append(torch.load(path, weights_only=True))
    return chunks


# ---------------------------------------------------------------------------------------- GAN


class VGG128Discriminator(nn.Module):
    """ESRGAN's discriminator for 128×128 inputs (the SRGAN/VGG-style one used in the paper's code):
    five stages of (3×3 conv, 4×4 stride-2 conv), 64-128-256-512-512 channels, BatchNorm after all
    but the first conv, LeakyReLU 0.2, then dense 100, LeakyReLU, dense 1 (a logit)."""

    def __init__(self, nf: int = 64) -> None:
        super().__init__()
        widths = [nf, 2 * nf, 4 * nf, 8 * nf, 8 * nf]
        layers: list[nn.Module] = []
        cin = 3
        for stage, width in enumerate(widths):
            layers += [nn.Conv2d(cin, width, 3, 1, 1, bias=stage == 0)]
            if stage:
                layers += [nn.BatchNorm2d(width)]
            layers += [nn.LeakyReLU(0.2, True), nn.Conv2d(width, width, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(width), nn.LeakyReLU(0.2, True)]
            cin = width
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(8 * nf * 4 * 4, 100), nn.LeakyReLU(0.2, True),
                                        nn.Linear(100, 1))

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-2:] != (128, 128):
            raise ValueError(f"the VGG-128 discriminator takes 128×128 inputs, not {tuple(x.shape[-2:])}")
        return self.classifier(self.features(x)).squeeze(1)


def ragan_losses(real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
    """Relativistic average GAN (ESRGAN Eq. 1-2): ``(discriminator loss, generator loss)`` from logits
    ``C(x_r)``, ``C(x_f)``; D_Ra(a, b) = σ(C(a) − E[C(b)])."""
    rel_real, rel_fake = real - fake.mean(), fake - real.mean()
    ones, zeros = torch.ones_like(real), torch.zeros_like(real)
    d = 0.5 * (F.binary_cross_entropy_with_logits(rel_real, ones) + F.binary_cross_entropy_with_logits(rel_fake, zeros))
    g = 0.5 * (F.binary_cross_entropy_with_logits(rel_real, zeros) + F.binary_cross_entropy_with_logits(rel_fake, ones))
    return d, g


# ---------------------------------------------------------------------------------------- trainer


def stage_weights(run: str, base_sha: str, runs_dir: Path = REPO_ROOT / "runs") -> dict[str, Tensor]:
    """The trained tensors of stage ``run``: the EMA of ``runs/<run>/last.pt``, else the shipped export
    named by ``configs/train/<run>.toml`` (whose recorded base sha256 must be ``base_sha``)."""
    last = runs_dir / run / "last.pt"
    if last.is_file():
        return torch.load(last, map_location="cpu", weights_only=True)["ema"]
    from safetensors import safe_open

    from sr_models.paths import CHECKPOINTS_DIR

    export = CHECKPOINTS_DIR / load_finetune_config(REPO_ROOT / "configs" / "train" / f"{run}.toml").export
    with safe_open(str(export), "pt") as handle:
        recorded = (handle.metadata() or {}).get("base_sha256")
        if recorded != base_sha:
            raise ValueError(f"{export}: trained on base {recorded}, not {base_sha}")
        return {name: handle.get_tensor(name).float() for name in handle.keys()}


def interpolate(psnr: dict[str, Tensor], gan: dict[str, Tensor], alpha: float) -> dict[str, Tensor]:
    """ESRGAN's network interpolation (Sec. 3.4, Eq. 7): θ = (1 − α) θ_PSNR + α θ_GAN, tensor by tensor,
    trading the GAN stage's sharpness against the PSNR stage's fidelity without retraining."""
    if not 0.0 <= alpha <= 1.0 or psnr.keys() != gan.keys():
        raise ValueError(f"interpolation needs 0 ≤ α ≤ 1 and the same tensors (α = {alpha})")
    return {n: psnr[n].float().lerp(gan[n].float(), alpha) for n in gan}



def cosine_lr(config: FinetuneConfig, step: int, base: float) -> float:
    progress = min(1.0, step / max(1, config.steps))
    floor = min(config.lr_min, base)
    return floor + 0.5 * (base - floor) * (1 + math.cos(math.pi * progress))


class Finetuner:
    """One stage: cached front, trainable back, EMA, Set5 validation through the whole network."""

    def __init__(self, config: FinetuneConfig, artefacts: bool = True) -> None:
        self.config = config
        self.out_dir = REPO_ROOT / "runs" / config.name
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if config.threads:
            torch.set_num_threads(config.threads)
        torch.manual_seed(config.seed)
        self.device = select_device(config.device)
        self.net, self.base_sha = load_base()
        self.k = config.trainable_blocks
        self.chunks = build_cache(config, self.net, self.base_sha, self._log)
        self.net.requires_grad_(False)
        self.params = [p for n, p in self.net.named_parameters() if is_trainable(n, self.k)]
        for p in self.params:
            p.requires_grad_(True)
        if config.init_from:
            self.net.load_state_dict(self._stage_weights(config.init_from), strict=False)
        self.net.to(self.device, memory_format=torch.channels_last)
        self.optimizer = torch.optim.Adam(self.params, lr=config.lr, betas=(0.9, 0.99))
        self.ema = {n: p.detach().clone() for n, p in self.net.named_parameters() if is_trainable(n, self.k)}
        self.disc = self.d_opt = None
        if config.adversarial_weight > 0:
            self.disc = VGG128Discriminator().to(self.device, memory_format=torch.channels_last)
            self.d_opt = torch.optim.Adam(self.disc.parameters(), lr=config.d_lr, betas=(0.9, 0.99))
        self.rng = np.random.default_rng(config.seed)
        self.step, self.train_seconds = 0, 0.0
        self.val_history: list[dict[str, Any]] = []
        self.val_features = self._val_features()
        self.art_features = self._art_features() if artefacts and config.adversarial_weight > 0 else []

    def _stage_weights(self, run: str) -> dict[str, Tensor]:
        """The EMA of run ``run``; without its run folder (a fresh checkout), the stage's shipped export."""
        return stage_weights(run, self.base_sha)

    def _log(self, line: str) -> None:
        with open(self.out_dir / "log.jsonl", "a") as handle:
            handle.write(line + "\n")

    @torch.no_grad()
    def _val_features(self) -> list[tuple[np.ndarray, Tensor, Tensor]]:
        """Set5 (evaluation only) through the frozen front once, float32 as ``evaluate`` runs it."""
        out = []
        for _, hr, lr in load_val_pairs("Set5"):
            rgb = np.repeat(lr[:, :, None], 3, axis=2) if lr.ndim == 2 else lr[:, :, :3]
            x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float().div(255)
            f0, fk = front(self.net, x.to(self.device), self.k)
            out.append((hr, f0, fk))
        return out

    @torch.no_grad()
    def _art_features(self) -> list[tuple[np.ndarray, Tensor, Tensor]]:
        """The artefact measurement's inputs (Set14 LR and the examples) through the frozen front once."""
        from sr_models.artefacts import measurement_inputs

        from .validate import BENCHMARK_DIR

        out = []
        for _, lr in measurement_inputs(BENCHMARK_DIR / "Set14" / "LR_bicubic" / "X4", REPO_ROOT / "examples"):
            rgb = np.repeat(lr[:, :, None], 3, axis=2) if lr.ndim == 2 else lr[:, :, :3]
            x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float().div(255)
            out.append((lr, *front(self.net, x.to(self.device), self.k)))
        return out

    # ------------------------------------------------------------ state

    def state(self) -> dict[str, Any]:
        state = {"config": self.config.as_dict(), "step": self.step, "train_seconds": self.train_seconds,
                 "base_sha256": self.base_sha, "model": {n: p.detach().clone() for n, p in self.net.named_parameters()
                                                         if is_trainable(n, self.k)},
                 "ema": self.ema, "optimizer": self.optimizer.state_dict(), "rng": json.dumps(self.rng.bit_generator.state),
                 "torch_rng": torch.get_rng_state(), "val_history": self.val_history}
        if self.disc is not None:
            state["disc"], state["d_opt"] = self.disc.state_dict(), self.d_opt.state_dict()
        return state

    def save(self, path: Path | None = None) -> None:
        path = path or self.out_dir / "last.pt"
        tmp = path.with_suffix(".tmp")
        torch.save(self.state(), tmp)
        os.replace(tmp, path)

    def resume(self) -> bool:
        path = self.out_dir / "last.pt"
        if not path.is_file():
            return False
        state = torch.load(path, map_location=self.device, weights_only=True)
        self.net.load_state_dict(state["model"], strict=False)
        self.ema = state["ema"]
        self.optimizer.load_state_dict(state["optimizer"])
        self.step, self.train_seconds = int(state["step"]), float(state["train_seconds"])
        self.rng.bit_generator.state = json.loads(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        self.val_history = list(state.get("val_history", []))
        if self.disc is not None and "disc" in state:
            self.disc.load_state_dict(state["disc"])
            self.d_opt.load_state_dict(state["d_opt"])
        return True

    # ------------------------------------------------------------ steps

    def _autocast(self):
        if not self.config.bf16 or fast_mode_for(self.device).dtype != torch.bfloat16:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def batch(self) -> tuple[Tensor, Tensor, Tensor]:
        total = sum(len(c["hr"]) for c in self.chunks)
        picks = self.rng.choice(total, size=self.config.batch_size, replace=False)
        f0, fk, hr = [], [], []
        for i in picks:
            c = self.chunks[i // CHUNK]
            f0.append(c["f0"][i % CHUNK])
            fk.append(c["fk"][i % CHUNK])
            hr.append(c["hr"][i % CHUNK])
        cl = torch.channels_last
        to = lambda ts: torch.stack(ts).to(self.device).float().contiguous(memory_format=cl)  # noqa: E731
        hr_t = torch.stack(hr).to(self.device).permute(0, 3, 1, 2).float().div(255).contiguous(memory_format=cl)
        return to(f0), to(fk), hr_t

    def train_step(self) -> dict[str, float]:
        cfg = self.config
        for g in self.optimizer.param_groups:
            g["lr"] = cosine_lr(cfg, self.step, cfg.lr)
        f0, fk, hr = self.batch()
        with self._autocast():
            sr = back(self.net, f0, fk, self.k).float()
        l1 = F.l1_loss(sr, hr)
        loss = cfg.l1_weight * l1
        record = {"l1": float(l1.detach())}
        if self.disc is not None:
            for g in self.d_opt.param_groups:
                g["lr"] = cosine_lr(cfg, self.step, cfg.d_lr)
            self.disc.requires_grad_(True)
            with self._autocast():
                d_real, d_fake = self.disc(hr).float(), self.disc(sr.detach()).float()
            d_loss, _ = ragan_losses(d_real, d_fake)
            self.d_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            self.d_opt.step()
            self.disc.requires_grad_(False)
            with self._autocast():
                g_real, g_fake = self.disc(hr).float().detach(), self.disc(sr).float()
            _, g_adv = ragan_losses(g_real, g_fake)
            loss = loss + cfg.adversarial_weight * g_adv
            record.update(d=float(d_loss.detach()), adv=float(g_adv.detach()))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.step += 1
        decay = min(cfg.ema_decay, (1 + self.step) / (10 + self.step))
        with torch.no_grad():
            for n, p in self.net.named_parameters():
                if n in self.ema:
                    self.ema[n].lerp_(p.detach(), 1 - decay)
        return record

    @torch.no_grad()
    def validate(self, weights: dict[str, Tensor] | None = None) -> dict[str, float]:
        """Set5 PSNR (Y, crop 4) and gradient ratio of ``weights`` (the EMA by default), float32."""
        live = {n: p.detach().clone() for n, p in self.net.named_parameters() if n in self.ema}
        self.net.load_state_dict(weights or self.ema, strict=False)
        psnrs, outs, refs = [], [], []
        for hr, f0, fk in self.val_features:
            out = back(self.net, f0, fk, self.k)
            sr = out[0].mul(255).clamp(0, 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
            if hr.ndim == 2:
                sr = np.clip(np.rint(sr.astype(np.float32).mean(axis=2)), 0, 255).astype(np.uint8)
            sr = sr[: hr.shape[0], : hr.shape[1]]
            psnrs.append(calculate_psnr(sr, hr, crop_border=4, test_y_channel=True))
            outs.append(sr)
            refs.append(hr)
        result = {"psnr": float(np.mean(psnrs)), "grad_ratio": gradient_ratio(outs, refs, 4)}
        if self.art_features:
            from sr_models.artefacts import artefact_score

            images = []
            for lr, f0, fk in self.art_features:
                sr = back(self.net, f0, fk, self.k)[0].mul(255).clamp(0, 255).round().to(torch.uint8)
                sr = sr.permute(1, 2, 0).cpu().numpy()
                images.append(np.clip(np.rint(sr.astype(np.float32).mean(axis=2)), 0, 255).astype(np.uint8)
                              if lr.ndim == 2 else sr)
            result["artefacts"] = artefact_score(images, [lr for lr, _, _ in self.art_features]).percent
        self.net.load_state_dict(live, strict=False)
        return result

    def run(self, max_minutes: float | None = None) -> None:
        deadline = time.monotonic() + 60 * max_minutes if max_minutes else float("inf")
        stop = {"flag": False}
        signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__("flag", True))
        self._log(json.dumps({"event": "start" if self.step == 0 else "resume", "step": self.step,
                              "config": self.config.as_dict(), "hardware": hardware_summary(self.device),
                              "trainable_parameters": sum(p.numel() for p in self.params)}))
        if self.step == 0:
            self.val_history.append({"step": 0, **self.validate()})
            self._log(json.dumps({"val": self.val_history[-1]}))
        try:
            while self.step < self.config.steps and not stop["flag"] and time.monotonic() < deadline:
                start = time.perf_counter()
                record = self.train_step()
                elapsed = time.perf_counter() - start
                self.train_seconds += elapsed
                record.update(step=self.step, step_s=round(elapsed, 3))
                if self.step % self.config.val_every == 0 or self.step == self.config.steps:
                    self.val_history.append({"step": self.step, **self.validate()})
                    record["val"] = self.val_history[-1]
                    if self.disc is not None:  # GAN stages keep every validated snapshot to choose from
                        torch.save({n: t.clone() for n, t in self.ema.items()}, self.out_dir / f"ema_{self.step:06d}.pt")
                self._log(json.dumps(record))
                if self.step % self.config.save_every == 0:
                    self.save()
        finally:
            self.save()


# ---------------------------------------------------------------------------------------- export

def stage_model(config: FinetuneConfig, path: Path):
    """The exported stage as the app loads it: its tensors on top of the verified base."""
    from sr_models.loader import LoadedModel, Provenance, load_checkpoint
    from sr_models.registry import WeightsKind, get_card

    card = get_card(config.model_id)
    source = next(s for s in card.sources if s.filename == config.export)
    descriptor = load_checkpoint(path, "esrgan", base=base_path())
    provenance = Provenance(kind=WeightsKind.HOUSE.value, file=str(path), sha256=sha256_file(path),
                            origin=source.origin, licence=source.licence, description=source.description)
    return LoadedModel(card=card, descriptor=descriptor, provenance=provenance, device=torch.device("cpu"))


def artefacts_of(model) -> dict[str, Any]:
    """Artefact score of ``model`` on flat regions of Set14 and the examples (:mod:`sr_models.artefacts`)."""
    from sr_models.artefacts import artefact_score, measurement_inputs
    from sr_models.inference import upscale

    from .validate import BENCHMARK_DIR

    inputs = measurement_inputs(BENCHMARK_DIR / "Set14" / "LR_bicubic" / "X4", REPO_ROOT / "examples")
    return artefact_score([upscale(model, lr) for _, lr in inputs], [lr for _, lr in inputs]).as_dict()


def export_stage(config: FinetuneConfig, snapshot: Path | None = None, sets: tuple[str, ...] = ("Set5", "Set14", "B100"),
                 force: bool = False, alpha: float | None = None) -> dict[str, Any]:
    """Write the trained tensors (EMA of ``last.pt``, or a validated ``snapshot``) to ``checkpoints/<export>``
    (float16 when that changes Set5 PSNR by ≤ 0.01 dB), read them back through the loader on top of the
    verified base, evaluate, measure sharpness and artefacts, and write the card (``.json``/``.md``).
    With ``alpha`` the exported tensors are the network interpolation (:func:`interpolate`) of the
    ``init_from`` stage and the chosen GAN weights. A GAN stage whose artefact score exceeds ``MAX_ARTEFACT_RATIO`` × its PSNR stage's is refused."""
    from sr_models.checkpoint_io import save_safetensors_atomic
    from sr_models.evaluate import evaluate_model, iter_pairs
    from sr_models.paths import CHECKPOINTS_DIR

    from .export import MAX_ARTEFACT_RATIO, MAX_BYTES, read_log, sharpness, step_time_stats, write_card
    from .validate import BENCHMARK_DIR

    run = REPO_ROOT / "runs" / config.name
    state = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
    weights = torch.load(snapshot, map_location="cpu", weights_only=True) if snapshot else state["ema"]
    step = int(snapshot.stem.split("_")[1]) if snapshot else int(state["step"])
    if alpha is not None:
        weights = interpolate(stage_weights(config.init_from, state["base_sha256"]), weights, alpha)
    target = CHECKPOINTS_DIR / config.export
    meta = {"sr_arena": "house", "model_id": config.model_id, "arch": "esrgan", "base": REALESRGAN_X4PLUS.filename,
            "base_sha256": state["base_sha256"], "step": str(step), "config": json.dumps(config.as_dict())}
    if alpha is not None:
        meta["interpolation_alpha"] = f"{alpha:g}"
    set5 = list(iter_pairs(BENCHMARK_DIR / "Set5"))
    fp32 = target.with_name(target.stem + ".fp32.tmp.safetensors")
    save_safetensors_atomic({n: t.float().contiguous() for n, t in weights.items()}, fp32, {**meta, "dtype": "float32"})
    psnr32 = evaluate_model(stage_model(config, fp32), set5).psnr
    save_safetensors_atomic({n: t.half().contiguous() for n, t in weights.items()}, target, {**meta, "dtype": "float16"})
    psnr16 = evaluate_model(stage_model(config, target), set5).psnr
    dtype = "float16"
    if abs(psnr16 - psnr32) > 0.01:
        fp32.replace(target)
        dtype = "float32"
    fp32.unlink(missing_ok=True)
    if target.stat().st_size > MAX_BYTES:
        raise ValueError(f"{target} is {target.stat().st_size} bytes, over {MAX_BYTES}")
    model = stage_model(config, target)
    results = {}
    for name in sets:
        r = evaluate_model(model, set5 if name == "Set5" else list(iter_pairs(BENCHMARK_DIR / name)))
        results[name] = {"psnr": round(r.psnr, 4), "ssim": round(r.ssim, 5), "n": r.n, "seconds": round(r.seconds, 1)}
    artefacts = artefacts_of(model)
    card: dict[str, Any] = {
        "model_id": config.model_id, "title": config.description, "file": config.export,
        "sha256": sha256_file(target), "bytes": target.stat().st_size, "storage_dtype": dtype,
        "set5_psnr_fp32_vs_stored": [round(psnr32, 4), round(psnr16 if dtype == "float16" else psnr32, 4)],
        "kind": "trained by this project", "licence": "MIT (SR Arena)",
        "origin": model.provenance.origin,
        "base": {"file": REALESRGAN_X4PLUS.filename, "sha256": state["base_sha256"], "what": REALESRGAN_X4PLUS.description,
                 "licence": REALESRGAN_X4PLUS.licence},
        "trained_tensors": sorted({n.rsplit(".", 2)[0] if n.startswith("RRDB_trunk") else n.rsplit(".", 1)[0]
                                   for n in weights}),
        "parameters": sum(t.numel() for t in weights.values()),
        "config": config.as_dict(),
        "data": {"folders": config.data_dirs, "images": len(load_training_pairs(config.data_dirs, 4)),
                 "patches": config.patches, "degradation": "MATLAB-exact bicubic x1/4 (sr_models.imresize), whole image, aligned crops",
                 "augmentation": "fixed random crops with flips/rot90 (drawn once: the frozen front is cached per patch)",
                 "benchmark images": "none"},
        "steps": step, "planned_steps": config.steps,
        "interpolation": ({"alpha": alpha, "rule": f"(1 - α) · {config.init_from} + α · GAN step {step} (ESRGAN Sec. 3.4)"}
                          if alpha is not None else None),
        "train_seconds": round(float(state["train_seconds"]), 1),
        "steps_per_second": round(int(state["step"]) / max(float(state["train_seconds"]), 1e-9), 4),
        "step_times": step_time_stats(read_log(run / "log.jsonl")),
        "hardware": "; ".join(dict.fromkeys(r["hardware"] for r in read_log(run / "log.jsonl") if r.get("hardware"))),
        "results": results,
        "sharpness_set5": sharpness(model, set5),
        "artefacts": artefacts,
        "validation": state.get("val_history", []),
        "perceptual_loss": ("none: the paper's VGG19 perceptual loss needs a VGG19 checkpoint and none is available "
                            "offline" if config.adversarial_weight else "not used in this stage"),
        "commands": {"train": f"python -m sr_models.train.rrdb_finetune configs/train/{config.name}.toml",
                     "export": f"python -m sr_models.train.rrdb_finetune configs/train/{config.name}.toml --export"
                               + (f" --snapshot {snapshot.relative_to(REPO_ROOT) if snapshot.is_absolute() else snapshot}"
                                  if snapshot else "") + (f" --alpha {alpha:g}" if alpha is not None else ""),
                     "evaluate": [f"python -m sr_models evaluate --data ../shared/data/benchmark/{s} --models bicubic,"
                                  f"{config.model_id}" for s in sets]},
        "exported_at": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }
    if config.init_from:
        psnr_card = json.loads((CHECKPOINTS_DIR / load_finetune_config(
            REPO_ROOT / "configs" / "train" / f"{config.init_from}.toml").export).with_suffix(".json").read_text())
        ratio = artefacts["percent"] / max(psnr_card["artefacts"]["percent"], 1e-9)
        card["psnr_stage"] = {"file": psnr_card["file"], "sha256": psnr_card["sha256"], "results": psnr_card["results"],
                              "sharpness_set5": psnr_card["sharpness_set5"], "artefacts": psnr_card["artefacts"]}
        card["artefact_ratio_to_psnr_stage"] = round(ratio, 3)
        card["artefact_check"] = "passed" if ratio <= MAX_ARTEFACT_RATIO else "over the limit"
    write_card(card, target, markdown=stage_markdown(card))
    if card.get("artefact_check") == "over the limit" and not force:
        raise ValueError(f"{target}: artefact score {artefacts['percent']:.2f} % is {card['artefact_ratio_to_psnr_stage']:.1f}× "
                         f"the PSNR stage's (limit {MAX_ARTEFACT_RATIO:g}×); the card says so: choose an earlier snapshot or retrain")
    return card


def stage_markdown(card: dict[str, Any]) -> str:
    """The model card of a house ESRGAN stage."""
    from .export import MAX_ARTEFACT_RATIO

    cfg = card["config"]
    rows = "\n".join(f"| {n} | {r['psnr']:.2f} | {r['ssim']:.4f} | {r['n']} |" for n, r in card["results"].items())
    art = card["artefacts"]
    psnr_stage = card.get("psnr_stage")
    comparison = ""
    if psnr_stage:
        comparison = (f"\n| | this stage | PSNR stage (`{psnr_stage['file']}`, sha256 `{psnr_stage['sha256'][:12]}…`) |\n"
                      f"|---|---|---|\n"
                      + "".join(f"| {n} PSNR / SSIM | {card['results'][n]['psnr']:.2f} / {card['results'][n]['ssim']:.4f} | "
                                f"{r['psnr']:.2f} / {r['ssim']:.4f} |\n" for n, r in psnr_stage["results"].items()
                                if n in card["results"])
                      + f"| gradient ratio (Set5) | {card['sharpness_set5']['model']:.3f} | {psnr_stage['sharpness_set5']['model']:.3f} |\n"
                      f"| artefact score | {art['percent']:.2f} % | {psnr_stage['artefacts']['percent']:.2f} % |\n\n"
                      f"Artefact score ratio to the PSNR stage: {card['artefact_ratio_to_psnr_stage']:.2f} (limit {MAX_ARTEFACT_RATIO:g}: "
                      f"{card['artefact_check']}).\n")
    mix = card.get("interpolation")
    interpolation = (f"\n- network interpolation (ESRGAN Sec. 3.4): the file is {mix['rule']} with α = {mix['alpha']:g}"
                     if mix else "")
    loss = f"L1 × {cfg['l1_weight']:g}" + (f" + RaGAN adversarial × {cfg['adversarial_weight']:g} (VGG-style 128² discriminator, "
                                             f"Adam {cfg['d_lr']:g})" if cfg["adversarial_weight"] else "")
    return f"""# {card['title']} — SR Arena house weights

- **trained by this project from Real-ESRGAN x4plus**: only {card['parameters']:,} parameters were trained (the last {cfg['trainable_blocks']} RRDBs and the tail: {', '.join(card['trained_tensors'][-5:])}); the file holds only them and is loaded on top of the base `{card['base']['file']}` ({card['base']['licence']}), sha256 `{card['base']['sha256']}`, checked before loading
- file: `checkpoints/{card['file']}` ({card['bytes']:,} bytes, {card['storage_dtype']} storage; Set5 PSNR fp32 → stored: {card['set5_psnr_fp32_vs_stored'][0]:.4f} → {card['set5_psnr_fp32_vs_stored'][1]:.4f} dB)
- sha256: `{card['sha256']}`; kind: {card['kind']}; licence: {card['licence']}
- training: {card['steps']:,} of {card['planned_steps']:,} planned steps, batch {cfg['batch_size']}, HR patch {4 * cfg['lr_patch']}² ({cfg['patches']:,} fixed patches), loss {loss}, Adam lr {cfg['lr']:g} (cosine to {cfg['lr_min']:g}), EMA {cfg['ema_decay']:g}, bf16 autocast {cfg['bf16']}{', initialised from run ' + cfg['init_from'] if cfg['init_from'] else ''}
- perceptual loss: {card['perceptual_loss']}{interpolation}
- data: {', '.join(card['data']['folders'])} ({card['data']['images']} images from ../shared/data/train); {card['data']['degradation']}; {card['data']['augmentation']}; no benchmark image
- time: {card['train_seconds'] / 3600:.2f} h of training steps, {card['steps_per_second']:.3f} steps/s on a CPU shared with other work
- hardware: {card['hardware']}
- exported: {card['exported_at']}

## Results (×4, Y channel, crop 4, LR_bicubic/X4 from ../shared)

| set | PSNR | SSIM | images |
|---|---|---|---|
{rows}

Sharpness on Set5 (mean Sobel gradient magnitude, output / HR): {card['sharpness_set5']['model']:.3f} (bicubic {card['sharpness_set5']['bicubic']:.3f}).

Artefact score (share of the detrended spectral energy of flat regions at the ×4 upsampler's period-2/period-4 frequencies, `sr_models/artefacts.py`; white noise ≈ 1.47 %): {art['percent']:.2f} % on {art['flat_blocks']} flat 32² blocks of {art['images']} images (Set14 and the app's examples).
{comparison}
## Reproduce

```bash
{card['commands']['train']}
{card['commands']['export']}
{chr(10).join(card['commands']['evaluate'])}
```
"""


def scan(trainer: Finetuner, snapshots: list[Path], alphas: list[float]) -> None:
    """Print Set5 PSNR, gradient ratio and artefact score of every snapshot × α blend with the init stage."""
    psnr = stage_weights(trainer.config.init_from, trainer.base_sha)
    for path in snapshots:
        gan = torch.load(path, map_location="cpu", weights_only=True)
        gan = gan.get("ema", gan)  # a run's last.pt holds its EMA beside the optimiser state
        for alpha in alphas:
            print(json.dumps({"snapshot": str(path), "alpha": alpha,
                              **trainer.validate(interpolate(psnr, gan, alpha))}), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--max-minutes", type=float, default=None)
    parser.add_argument("--export", action="store_true", help="export (no training) and write the card")
    parser.add_argument("--snapshot", type=Path, default=None, help="export this validated EMA snapshot (GAN stages)")
    parser.add_argument("--sets", default="Set5,Set14,B100")
    parser.add_argument("--force", action="store_true", help="export even over the artefact limit (card says so)")
    parser.add_argument("--alpha", type=float, default=None,
                        help="export the network interpolation (1-α)·init_from stage + α·GAN weights (ESRGAN Sec. 3.4)")
    parser.add_argument("--scan", type=Path, nargs="+", default=None,
                        help="validate these snapshots (no training), blended with --alphas")
    parser.add_argument("--alphas", default="1", help="comma-separated α values for --scan")
    parser.add_argument("--no-artefacts", action="store_true", help="--scan: Set5 PSNR and gradient ratio only")
    args = parser.parse_args(argv)
    config = load_finetune_config(args.config)
    if args.export:
        torch.set_num_threads(config.threads or torch.get_num_threads())
        card = export_stage(config, args.snapshot, tuple(args.sets.split(",")), args.force, args.alpha)
        print(json.dumps({k: card.get(k) for k in ("file", "steps", "interpolation", "results", "sharpness_set5",
                                                   "artefacts", "artefact_ratio_to_psnr_stage")}, indent=1))
        return 0
    if args.scan:
        scan(Finetuner(config, artefacts=not args.no_artefacts), args.scan, [float(a) for a in args.alphas.split(",")])
        return 0
    trainer = Finetuner(config)
    trainer.resume()
    trainer.run(args.max_minutes)
    print(json.dumps({"step": trainer.step, "val": trainer.val_history[-1:]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
