"""What an architecture module exports: one :class:`Architecture` (spandrel's ``Architecture`` idea).

Everything the engine needs to know about a network family lives in its spec: how to
recognise its checkpoints (``detect`` on the canonical key layout), how to build it from one
(``build``, strict), its value range, what one forward costs in memory, whether and how it
may be tiled, its own forward wrapper when it tiles itself, and the constructor training
uses. The loader, tiling, inference, training and the benchmark read these fields; nothing
else keeps a per-architecture table.

Canonicalisation happens once: :func:`sr_models.checkpoint_io.unwrap_state_dict` removes
training containers and ``module.``; the spec's ``canonicalize`` then renames any public
layout of its own family to the one ``build`` expects (e.g. BasicSR's RRDBNet keys to the
ESRGAN authors').
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal, Mapping

from torch import Tensor, nn

from sr_models.checkpoint_io import unwrap_state_dict
from sr_models.descriptor import ModelDescriptor

#: ``supported``: overlapping blended tiles give the whole-image result up to the overlap;
#: ``discouraged``: tiles change the output (global operations), use only when memory forces it;
#: ``internal``: never blended-tiled; the spec's ``forward`` decides (SAN: whole image or the authors' chop).
TilingPolicy = Literal["supported", "discouraged", "internal"]

#: ``forward(network_forward, x, memory_budget_bytes) -> (y, how)`` for ``internal`` tiling.
InternalForward = Callable[[Callable[[Tensor], Tensor], Tensor, int], tuple[Tensor, str]]


@dataclass(frozen=True)
class Architecture:
    """One network family: recognition, construction and the facts needed to run it.

    Attributes:
        id: the architecture id cards name (``"esrgan"`` for RRDBNet, ...).
        name: human name with its paper.
        detect: whether an unwrapped state dict has one of this family's key layouts (keys only, cheap).
        build: network + descriptor from a canonical state dict; raises if keys or shapes do not fit.
        canonicalize: family-specific renaming of an unwrapped state dict (identity by default).
        value_range: nominal input/output range (1.0 for [0, 1], 255.0 for [0, 255]).
        bytes_per_lr_pixel: measured peak activation bytes per LR pixel of a float32 forward.
        fast_bytes_per_lr_pixel: the same for the bf16/fp16 fast path.
        tiling: see :data:`TilingPolicy`.
        forward: the family's own whole-image forward for ``internal`` tiling.
        generator: the constructor training builds from keyword arguments (``None``: not trainable here).
        supports_reduced_precision: whether bf16/fp16 inference is meaningful (still quality-guarded).
    """

    id: str
    name: str
    detect: Callable[[Mapping[str, Tensor]], bool]
    build: Callable[[Mapping[str, Tensor]], ModelDescriptor]
    value_range: float
    bytes_per_lr_pixel: int
    fast_bytes_per_lr_pixel: int
    canonicalize: Callable[[Mapping[str, Tensor]], dict[str, Tensor]] = dict
    tiling: TilingPolicy = "supported"
    forward: InternalForward | None = None
    generator: Callable[..., nn.Module] | None = None
    supports_reduced_precision: bool = True

    def load(self, state_dict: Mapping[str, Any]) -> ModelDescriptor | None:
        """Descriptor for a state dict of this family (eval mode, strict), ``None`` if it is another's.

        Raises whatever ``canonicalize``/``build`` raise when the keys look like this family's
        but do not fit (the loader turns that into a :class:`~sr_models.checkpoint_io.CheckpointError`).
        """
        if not state_dict:  # an empty dict holds no layout at all
            return None
        unwrapped = unwrap_state_dict(state_dict)
        if not self.detect(unwrapped):
            return None
        return self.build(self.canonicalize(unwrapped))
