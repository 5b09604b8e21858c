"""Overlapping tiles with seam-free blending, and tile sizes chosen from free memory.

A large LR image is cut into overlapping square tiles; each tile's ×``scale`` output is
weighted by a mask that is zero for the outermost quarter of the overlap (where the
network sees zero padding instead of real neighbours) and then ramps linearly to one,
so that in every overlap the two neighbours' weights sum to one. Accumulating
``weight · output`` and dividing by the accumulated weight gives an output with no
visible seams (``tests/test_tiling.py`` and ``benchmarks/README.md`` measure it).

The tile side is the largest that keeps the network's activations within a memory
budget: a fraction of the memory available now (``/proc/meminfo`` and the cgroup limit on
CPU, ``torch.cuda.mem_get_info`` on CUDA), capped so that a CPU process stays well below
3 GiB. The per-architecture activation cost (bytes per LR pixel) lives in each
architecture's spec (:mod:`sr_models.archs`), measured as the slope of peak-RSS growth
between a 96² and a 160² LR forward (VmHWM reset before each; fresh process), rounded up.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from . import settings
from .archs import get_architecture
from .progress import CancelFlag, check_cancel

log = logging.getLogger(__name__)

#: On CPU the activations of one tile may use at most this much (keeps ESRGAN on a
#: 1024² LR below 3 GiB peak RSS with room for the weights and the output).
CPU_BUDGET_CAP = 1024 * 2**20
#: Fraction of the available memory one forward may use.
BUDGET_FRACTION = 0.5
MIN_TILE, MAX_TILE, TILE_MULTIPLE = 64, 1024, 8
#: LR pixels shared by neighbouring tiles.
DEFAULT_OVERLAP = 16


@dataclass(frozen=True)
class TilePlan:
    """How one image is run: ``tile`` is ``None`` for the whole image at once."""

    tile: int | None
    overlap: int
    budget_bytes: int
    available_bytes: int
    count: int = 1

    def describe(self, width: int, height: int) -> str:
        """One log line: the choice and the memory it was made from."""
        mib = 2**20
        memory = f"budget {self.budget_bytes // mib} MiB of {self.available_bytes // mib} MiB available"
        if self.tile is None:
            return f"{width}×{height} LR as one piece ({memory})"
        return (f"{width}×{height} LR in {self.count} tiles of {self.tile}×{self.tile} "
                f"(overlap {self.overlap}; {memory})")


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def available_memory(device: torch.device) -> int:
    """Bytes this process may still allocate on ``device`` (CPU: min of MemAvailable and cgroup room)."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    available = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
    except OSError:
        pass
    limit = _read_int(Path("/sys/fs/cgroup/memory.max"))
    current = _read_int(Path("/sys/fs/cgroup/memory.current"))
    if limit is not None and current is not None:
        room = max(limit - current, 0)
        available = room if available is None else min(available, room)
    return available if available is not None else 4 * 2**30


def memory_budget(device: torch.device) -> tuple[int, int]:
    """``(budget, available)`` bytes for one forward; ``SR_ARENA_TILE_BUDGET_MB`` overrides the budget."""
    available = available_memory(device)
    override = settings.current().tile_budget_mb
    if override:
        return int(override * 2**20), available
    budget = int(available * BUDGET_FRACTION)
    if device.type != "cuda":
        budget = min(budget, CPU_BUDGET_CAP)
    return budget, available


def bytes_per_pixel(arch: str, reduced: bool = False) -> int:
    """Measured activation bytes per LR pixel of ``arch`` (``reduced``: bf16/fp16 fast path)."""
    spec = get_architecture(arch)
    return spec.fast_bytes_per_lr_pixel if reduced else spec.bytes_per_lr_pixel


def even_tile(length: int, height: int, tile: int, overlap: int) -> int:
    """Shrink ``tile`` to the smallest side that still needs no more tiles (less overlap waste)."""
    longest = max(length, height)
    if longest <= tile:
        return tile
    count = math.ceil((longest - overlap) / (tile - overlap))
    side = math.ceil((longest - overlap) / count) + overlap
    return min(tile, -(-side // TILE_MULTIPLE) * TILE_MULTIPLE)


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of ``tile`` pixels covering ``length`` with at least ``overlap`` shared."""
    if length <= tile:
        return [0]
    count = math.ceil((length - overlap) / (tile - overlap))
    step = (length - tile) / (count - 1)
    return [round(i * step) for i in range(count)]


def plan_tiles(arch: str, height: int, width: int, device: torch.device,
               tile: int | None = None, overlap: int = DEFAULT_OVERLAP, reduced: bool = False) -> TilePlan:
    """Whole image when its activations fit the budget, else the fewest tiles that fit, evenly sized.

    ``tile`` forces a tile side (``0`` forces the whole image); ``reduced``: the bf16/fp16 path.
    """
    budget, available = memory_budget(device)
    if tile is None:
        per_pixel = bytes_per_pixel(arch, reduced)
        if height * width * per_pixel <= budget:
            return TilePlan(None, overlap, budget, available)
        side = int(math.sqrt(budget / per_pixel))
        tile = max(MIN_TILE, min(MAX_TILE, side // TILE_MULTIPLE * TILE_MULTIPLE))
        tile = max(MIN_TILE, even_tile(width, height, tile, min(overlap, tile // 4)))
    if tile == 0 or (height <= tile and width <= tile):
        return TilePlan(None, overlap, budget, available)
    overlap = min(overlap, tile // 4)
    count = len(tile_starts(height, tile, overlap)) * len(tile_starts(width, tile, overlap))
    return TilePlan(tile, overlap, budget, available, count)


def _edge_weights(size: int, ramp_in: bool, ramp_out: bool, overlap: int, device: torch.device) -> torch.Tensor:
    """1-D blending weights of one tile side: 0 on the outer quarter of the overlap, then a linear ramp."""
    position = torch.arange(size, device=device, dtype=torch.float32) + 0.5
    margin, ramp = overlap / 4, overlap / 2
    weights = torch.ones(size, device=device)
    if ramp_in:
        weights = torch.minimum(weights, ((position - margin) / ramp).clamp(0, 1))
    if ramp_out:
        weights = torch.minimum(weights, ((size - position - margin) / ramp).clamp(0, 1))
    return weights


def tiled_forward(forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, tile: int,
                  overlap: int, scale: int, on_tile: Callable[[int, int], None] | None = None,
                  cancel: CancelFlag = None) -> torch.Tensor:
    """Run ``forward`` on overlapping ``tile``² pieces of ``x`` (B, C, H, W) and blend the outputs.

    Returns a float32 tensor (B, C_out, scale·H, scale·W) on ``x``'s device. ``on_tile(done, total)``
    is called after each tile; ``cancel`` (an Event or a callable) is checked before each tile and
    raises :class:`sr_models.progress.Cancelled` when set (an ``on_tile`` may raise it too).
    """
    _, _, height, width = x.shape
    rows, cols = tile_starts(height, tile, overlap), tile_starts(width, tile, overlap)
    output = weight_sum = None
    total, done = len(rows) * len(cols), 0
    for top in rows:
        for left in cols:
            check_cancel(cancel)
            piece = x[:, :, top:top + tile, left:left + tile]
            result = forward(piece).float()
            if output is None:
                output = x.new_zeros(x.shape[0], result.shape[1], height * scale, width * scale, dtype=torch.float32)
                weight_sum = x.new_zeros(1, 1, height * scale, width * scale, dtype=torch.float32)
            ph, pw = result.shape[-2:]
            wy = _edge_weights(ph, top > 0, top + tile < height, overlap * scale, x.device)
            wx = _edge_weights(pw, left > 0, left + tile < width, overlap * scale, x.device)
            mask = (wy[:, None] * wx[None, :])[None, None]
            region = (slice(None), slice(None), slice(top * scale, top * scale + ph), slice(left * scale, left * scale + pw))
            output[region] += result * mask
            weight_sum[region] += mask
            del result
            done += 1
            if on_tile is not None:
                on_tile(done, total)
    return output.div_(weight_sum)
