"""One module per architecture, each named after its paper, each exporting one
:class:`~sr_models.archs.spec.Architecture` as ``ARCH`` (spandrel's pattern).

:data:`ARCHITECTURES` is the only list of them: the loader, tiling, inference, training and
the benchmark look an architecture up here by the id a model card names.
"""
from __future__ import annotations

from .awsrn_arch import ARCH as AWSRN
from .rrdbnet_arch import ARCH as RRDBNET
from .san_arch import ARCH as SAN
from .spec import Architecture, TilingPolicy
from .srgan_arch import ARCH as SRGAN

ARCHITECTURES: dict[str, Architecture] = {spec.id: spec for spec in (SRGAN, RRDBNET, AWSRN, SAN)}


def get_architecture(arch_id: str) -> Architecture:
    """The spec of ``arch_id`` (``KeyError`` naming the known ones otherwise)."""
    try:
        return ARCHITECTURES[arch_id]
    except KeyError:
        raise KeyError(f"unknown architecture {arch_id!r}; known: {', '.join(ARCHITECTURES)}") from None


__all__ = ["ARCHITECTURES", "Architecture", "TilingPolicy", "get_architecture"]
