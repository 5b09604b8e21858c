"""What a forward pass costs: FLOPs counted from the architecture itself.

``count_flops(descriptor, height, width)`` runs the network on fake tensors (shapes only, no
arithmetic) under ``torch.utils.flop_counter`` and returns 2 FLOPs per multiply-add, for the
exact input size, so global operations (SAN's non-local attention, quadratic in the pixel
count) are counted as they run. Benchmarks (GFLOP/s) and the app's time estimates read it.
"""
from __future__ import annotations

import torch

from .descriptor import ModelDescriptor
from .archs import get_architecture
from .tiling import memory_budget


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
        spec = get_architecture(descriptor.arch)
        if spec.forward is None:
            descriptor.model(x)
        else:  # the architecture's own whole-image forward (SAN: whole image or the authors' chop)
            spec.forward(descriptor.model, x, memory_budget(torch.device("cpu"))[0])
    flops = int(counter.get_total_flops())
    if len(_CACHE) < 1024:
        _CACHE[(key, height, width)] = flops
    return flops
