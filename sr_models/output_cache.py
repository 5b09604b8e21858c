"""A bounded, thread-safe, in-memory LRU of upscaled outputs.

Keys are ``(image sha256, model id, checkpoint sha256, precision)`` so crops, difference
maps, ratings and re-runs of the same input never recompute. Stored arrays are made
read-only and returned as they are (a hit gives the identical array object). The size
bound is in bytes (``SR_ARENA_CACHE_MB``, default 512 MiB); the least recently used
entries are evicted first, and an entry larger than the whole bound is not stored.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, Hashable, TypeVar

import numpy as np

from .image_io import image_sha256
from .settings import current

__all__ = ["OutputCache", "image_sha256"]

DEFAULT_MAX_BYTES = int(current().cache_mb * 2**20)

V = TypeVar("V")


class OutputCache(Generic[V]):
    """LRU of values that each carry a numpy array; bounded by the arrays' total bytes."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Hashable) -> V | None:
        """The value for ``key`` (now most recently used), or ``None``."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[0]

    def put(self, key: Hashable, value: V, array: np.ndarray) -> None:
        """Store ``value`` whose payload is ``array`` (made read-only), evicting LRU entries to fit."""
        size = int(array.nbytes)
        if size > self.max_bytes:
            return
        array.setflags(write=False)
        with self._lock:
            if key in self._entries:
                self._bytes -= self._entries.pop(key)[1]
            self._entries[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._bytes -= evicted

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        """Bytes held now."""
        return self._bytes
