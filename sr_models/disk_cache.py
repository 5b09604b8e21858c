"""Upscaled outputs kept on disk: one PNG plus a JSON sidecar per (image, model, checkpoint, precision).

The key is the in-memory cache's (:func:`sr_models.inference.cache_key`): the input's pixel
sha256 (:func:`sr_models.output_cache.image_sha256`), the model id, the checkpoint's sha256 and
the precision that ran. Files are named by a digest of the key and written atomically
(temporary file, then rename), so a reader never sees half a file; the sidecar repeats the key
and is checked on every read. The app stores the shipped examples' outputs here
(``<data dir>/output_cache``), so clicking an example needs no computation.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

Key = tuple[str, str, str, str]  # (image sha256, model id, checkpoint sha256, precision)
KEY_FIELDS = ("image_sha256", "model", "checkpoint_sha256", "precision")


@dataclass(frozen=True)
class CachedOutput:
    """One stored output: the PNG's path and the sidecar's data (seconds, precision, note, …)."""

    png: Path
    meta: dict

    def image(self) -> np.ndarray:
        """The stored pixels (uint8, the layout the method returned)."""
        with Image.open(self.png) as picture:
            return np.asarray(picture.convert(picture.mode)).copy()


class DiskCache:
    """PNG + JSON outputs in ``directory`` (created on first write)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def _stem(self, key: Key) -> Path:
        digest = hashlib.sha256("|".join(key).encode()).hexdigest()[:40]
        return self.directory / digest

    def get(self, key: Key) -> CachedOutput | None:
        """The stored output for ``key``, or ``None`` (also when its files are incomplete or disagree)."""
        stem = self._stem(key)
        png, sidecar = stem.with_suffix(".png"), stem.with_suffix(".json")
        try:
            meta = json.loads(sidecar.read_text())
        except (OSError, ValueError):
            return None
        if tuple(meta.get(name) for name in KEY_FIELDS) != tuple(key) or not png.is_file():
            return None
        return CachedOutput(png, meta)

    def put(self, key: Key, image: np.ndarray, **meta: object) -> CachedOutput:
        """Store ``image`` (uint8) under ``key`` with ``meta`` (JSON-serialisable) in the sidecar."""
        self.directory.mkdir(parents=True, exist_ok=True)
        stem = self._stem(key)
        png, sidecar = stem.with_suffix(".png"), stem.with_suffix(".json")
        record = {**dict(zip(KEY_FIELDS, key)), **meta, "shape": list(image.shape)}
        suffix = f".{os.getpid()}.{threading.get_ident()}.tmp"
        Image.fromarray(np.ascontiguousarray(image)).save(str(png) + suffix, format="PNG")
        os.replace(str(png) + suffix, png)
        Path(str(sidecar) + suffix).write_text(json.dumps(record, indent=1))
        os.replace(str(sidecar) + suffix, sidecar)
        return CachedOutput(png, record)

    def __contains__(self, key: Key) -> bool:
        return self.get(key) is not None
