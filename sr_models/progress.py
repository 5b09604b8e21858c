"""Progress and cancellation of one forward pass: counted convolution FLOPs, checked between layers.

A :class:`ConvMeter` puts a forward hook on every 2-D convolution of a network (``Conv2d`` or a
weight-normalised one) for the length of a
``with`` block. After each convolution it adds that layer's FLOPs (2 per multiply-add, from its
output shape) to a running total, reports it, and checks the cancellation flag, so a run can be
stopped between layers (and, in :func:`sr_models.tiling.tiled_forward`, between tiles) by
raising :class:`Cancelled`. Hooks only count calls made on the thread that opened the block, so
two requests running the same network at once do not see each other's work.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Union

from torch import nn

#: Something that says whether to stop: an Event, a callable returning True, or None (never).
CancelFlag = Union[threading.Event, Callable[[], bool], None]


class Cancelled(Exception):
    """The run was stopped on request before it finished (nothing is returned or cached)."""


@dataclass(frozen=True)
class Step:
    """Where a run is: convolution FLOPs done so far, and tiles done of the total (1 when untiled)."""

    conv_flops: int
    tiles_done: int
    tiles_total: int


#: Receives a :class:`Step` after every convolution and every finished tile.
ProgressFn = Callable[[Step], None]


def is_cancelled(cancel: CancelFlag) -> bool:
    """Whether ``cancel`` asks to stop now."""
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())


def check_cancel(cancel: CancelFlag) -> None:
    """Raise :class:`Cancelled` when ``cancel`` is set."""
    if is_cancelled(cancel):
        raise Cancelled("stopped on request")


def kernel_shape(module: nn.Module) -> tuple[int, ...] | None:
    """(out, in per group, kh, kw) of a 2-D convolution (plain, or weight-normalised with ``weight_v``)."""
    if isinstance(module, nn.Conv2d):
        return tuple(module.weight.shape)
    weight = getattr(module, "_parameters", {}).get("weight_v")
    return tuple(weight.shape) if weight is not None and weight.dim() == 4 else None


def conv_flops(kernel: tuple[int, ...], output) -> int:
    """FLOPs of one 2-D convolution call, from its kernel and output shape (2 per multiply-add)."""
    out_channels, in_per_group, kh, kw = kernel
    batch, _, height, width = output.shape
    return 2 * batch * out_channels * in_per_group * kh * kw * height * width


class ConvMeter:
    """Counts convolution FLOPs of one network's forward passes on this thread; checks ``cancel``.

    ``with ConvMeter(model, on_step, cancel) as meter:`` … ``meter.tile_done()`` after each tile.
    """

    def __init__(self, model: nn.Module, on_step: ProgressFn | None = None, cancel: CancelFlag = None,
                 tiles_total: int = 1) -> None:
        self.model, self.on_step, self.cancel = model, on_step, cancel
        self.flops, self.tiles_done, self.tiles_total = 0, 0, tiles_total
        self._thread = threading.get_ident()
        self._handles: list = []

    def __enter__(self) -> "ConvMeter":
        self._thread = threading.get_ident()
        if self.on_step is None and self.cancel is None:
            return self  # nothing to report or check: no hooks, no overhead
        for module in self.model.modules():
            kernel = kernel_shape(module)
            if kernel is not None:
                self._handles.append(module.register_forward_hook(self._hook_for(kernel)))
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _hook_for(self, kernel: tuple[int, ...]) -> Callable:
        def hook(_module: nn.Module, _inputs, output) -> None:
            if threading.get_ident() != self._thread:
                return
            self.flops += conv_flops(kernel, output)
            self._report()
            check_cancel(self.cancel)
        return hook

    def tile_done(self, done: int, total: int) -> None:
        """Record a finished tile (``tiled_forward``'s ``on_tile``); checks ``cancel``."""
        self.tiles_done, self.tiles_total = done, total
        self._report()
        check_cancel(self.cancel)

    def _report(self) -> None:
        if self.on_step is not None:
            self.on_step(Step(self.flops, self.tiles_done, self.tiles_total))
