"""The app's own temporary files: one folder per request, written atomically, removed when done.

Every file the app hands Gradio (panel PNGs, the zip, the ``/enlarge`` output) is written under
one per-process root (``<system temp>/sr-arena-<random>/``) in a folder of its request's own, under
a name unique to that request, and renamed into place once complete, so no reader ever sees a
partial file and two requests never share a path. Gradio copies what it serves into its own cache
(bounded by the Blocks' ``delete_cache``); a request's folder is removed as soon as Gradio has that
copy (:meth:`Scratch.release`), and any folder older than ``SR_ARENA_TEMP_MAX_AGE`` (a request
abandoned mid-way) on the next request. The root goes when the process exits.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
from PIL import Image

from sr_arena import settings

#: zlib level of the PNGs the app serves: 1 encodes a 1024² image ~3× faster than the default 6, still lossless.
PNG_LEVEL = 1


class Scratch:
    """A per-process root of per-request temporary folders (see the module docstring)."""

    def __init__(self, max_age_s: float, parent: str | None = None) -> None:
        self.max_age_s = max_age_s
        self.root = Path(tempfile.mkdtemp(prefix="sr-arena-", dir=parent))
        self._lock = threading.Lock()
        atexit.register(shutil.rmtree, self.root, True)

    def folder(self, tag: str) -> Path:
        """A new empty folder for one request (older abandoned folders are swept first)."""
        self.sweep()
        return Path(tempfile.mkdtemp(prefix=f"{tag}-", dir=self.root))

    def sweep(self, now: float | None = None) -> int:
        """Remove request folders older than ``max_age_s``; returns how many went."""
        now = time.time() if now is None else now
        removed = 0
        with self._lock:
            for entry in list(os.scandir(self.root)):
                try:
                    old = now - entry.stat(follow_symlinks=False).st_mtime > self.max_age_s
                except FileNotFoundError:
                    continue
                if old:
                    shutil.rmtree(entry.path, ignore_errors=True)
                    removed += 1
        return removed

    @staticmethod
    def release(folder: str | Path) -> None:
        """Remove one request's folder (Gradio has its own copy of what was served)."""
        shutil.rmtree(folder, ignore_errors=True)

    def usage_bytes(self) -> int:
        """Bytes of every file under the root."""
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())


def write_png(folder: str | Path, stem: str, image: np.ndarray) -> str:
    """Write ``image`` as ``<folder>/<stem>-<unique>.png`` atomically (temporary name, then rename)."""
    path = Path(folder) / f"{stem}-{uuid.uuid4().hex[:12]}.png"
    staging = path.with_name(f".{path.name}.part")
    Image.fromarray(np.ascontiguousarray(image)).save(staging, format="PNG", compress_level=PNG_LEVEL)
    os.replace(staging, path)
    return str(path)


def copy_file(folder: str | Path, stem: str, source: str | Path) -> str:
    """Copy ``source`` to a unique name in ``folder`` atomically."""
    path = Path(folder) / f"{stem}-{uuid.uuid4().hex[:12]}{Path(source).suffix}"
    staging = path.with_name(f".{path.name}.part")
    shutil.copyfile(source, staging)
    os.replace(staging, path)
    return str(path)


_DEFAULT: Scratch | None = None
_DEFAULT_LOCK = threading.Lock()


def default() -> Scratch:
    """The process's scratch root (made on first use; ages from ``SR_ARENA_TEMP_MAX_AGE``)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = Scratch(settings.current().temp_max_age_s)
        return _DEFAULT
