"""NIQE for the page: the engine's no-reference score (Mittal, Soundararajan & Bovik 2013, "Making a
'completely blind' image quality analyzer", IEEE SPL 20(3)), when :mod:`sr_models.niqe` and its
pristine-model parameters are installed; otherwise ``None`` and a reason the page shows.

Nothing is computed here: :func:`sr_models.niqe.calculate_niqe` is called as ``evaluate`` calls it
(Y channel; a 4-pixel border for whole images, none for a crop, which is the region). Scores are kept
per image content (a few hundred, least recently used out) so a table redrawn while a comparison
streams, and the download built after it, do not compute a score twice.
"""
from __future__ import annotations

import functools
import hashlib
import html
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from sr_models import niqe as engine

#: NIQE's patch side (the pristine model's 96×96 blocks): a smaller image has no patch to score.
MIN_SIDE = engine.BLOCK
#: Border shaved off a whole output (the benchmarks' crop for ×4, as ``evaluate`` uses).
IMAGE_BORDER = 4
_CACHE_SIZE = 512


@dataclass(frozen=True)
class NiqeStatus:
    """Whether NIQE can be computed in this process, and why not."""

    available: bool
    reason: str = ""


@functools.lru_cache(maxsize=1)
def status() -> NiqeStatus:
    """Score one test image once: missing parameters or a broken install are found here, not in the
    middle of a comparison."""
    if not engine.available():
        return NiqeStatus(False, f"the NIQE pristine-model parameters ({engine.PARAMS_NAME}) are not installed")
    try:
        test = np.random.default_rng(0).integers(0, 256, (MIN_SIDE * 2, MIN_SIDE * 2, 3), dtype=np.uint8)
        value = float(engine.calculate_niqe(test, 0, input_order="HWC", convert_to="y"))
    except Exception as error:  # noqa: BLE001 - any failure means "not available", with its message
        return NiqeStatus(False, f"NIQE could not run ({type(error).__name__}: {error})")
    if not math.isfinite(value):
        return NiqeStatus(False, "NIQE gave a non-finite score on a test image")
    return NiqeStatus(True)


_scores: OrderedDict[tuple, float | None] = OrderedDict()
_lock = threading.Lock()


def smallest_square() -> int:
    """The smallest square crop side NIQE can score (two 96×96 patches need 192×192)."""
    return next(side for side in range(MIN_SIDE, 4097, 8) if engine.fits((side, side)))


def niqe(image: np.ndarray | None, crop_border: int = IMAGE_BORDER) -> float | None:
    """NIQE of an RGB uint8 image (lower = more natural), or ``None`` when it cannot be computed
    (no module or parameters, or the image is under :data:`MIN_SIDE` pixels after the border)."""
    if image is None or not status().available:
        return None
    if not engine.fits(image.shape, crop_border):
        return None
    key = (hashlib.blake2b(np.ascontiguousarray(image).data, digest_size=16).hexdigest(), image.shape, crop_border)
    with _lock:
        if key in _scores:
            _scores.move_to_end(key)
            return _scores[key]
    value = float(engine.calculate_niqe(image, crop_border, input_order="HWC", convert_to="y"))
    score = value if math.isfinite(value) else None
    with _lock:
        _scores[key] = score
        while len(_scores) > _CACHE_SIZE:
            _scores.popitem(last=False)
    return score


def cell(score: float | None, side: int) -> str:
    """An HTML table cell for a crop's NIQE: the score, or "—" with a tooltip saying why."""
    if score is not None:
        return f"<td>{score:.2f}</td>"
    state = status()
    smallest = smallest_square() if state.available else 0
    why = state.reason if not state.available else \
        f"NIQE needs a crop of at least {smallest}×{smallest} px (its 96×96 patches); this one is {side}×{side}"
    return f'<td title="{html.escape(why)}">—</td>'
