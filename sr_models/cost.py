"""What a forward pass costs: FLOPs counted from the architecture itself.

``count_flops(descriptor, height, width)`` runs the network on fake tensors (shapes only, no
arithmetic) under ``torch.utils.flop_counter`` and returns 2 FLOPs per multiply-add, for the
exact input size, so global operations (SAN's non-local attention, quadratic in the pixel
count) are counted as they run. Benchmarks (GFLOP/s) and the app's time estimates read it.
"""
from __future__ import annotations

import torch

from .descriptor import ModelDescriptor
from .inference import _san_forward


def count_flops(descriptor: ModelDescriptor | None, height: int, width: int) -> int:
    """FLOPs of one exact forward on an LR ``height``×``width`` (0 for interpolation)."""
    if descriptor is None:
        return 0
    return _count(id(descriptor.model), descriptor, height, width)


_CACHE: dict[tuple[int, int, int], int] = {}


def _count(key: int, descriptor: ModelDescriptor, height: int, width: int) -> int:
    cached = _CACHE.get((key, height, width))
    if cached is not None:
        return cached
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with FakeTensorMode(allow_non_fake_inputs=True) as fake, counter, torch.no_grad():
        x = fake.from_tensor(torch.empty(1, 3, height, width))
        if descriptor.tileable:
            descriptor.model(x)
        else:  # SAN: whole image or the authors' chop, exactly as inference runs it
            _san_forward(descriptor.model, x, torch.device("cpu"))
    flops = int(counter.get_total_flops())
    if len(_CACHE) < 1024:
        _CACHE[(key, height, width)] = flops
    return flops
