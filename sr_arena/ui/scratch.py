"""The app's own temporary files: one folder per request, written atomically, aged out by the app.

Every file the app hands Gradio (panel PNGs, the zip, the ``/enlarge`` output) is written under
one per-process root in a folder of its request's own, under a name unique to that request, and
renamed into place once complete, so no reader ever sees a partial file and two requests never
share a path.

The root lives inside Gradio's cache folder (``GRADIO_TEMP_DIR``, else ``<system temp>/gradio``),
so Gradio serves these files where they are instead of copying them, and the app alone decides when
they go: a sweeper thread removes every request folder untouched for ``SR_ARENA_TEMP_MAX_AGE``
seconds, checking every quarter of that age (so nothing outlives 1.25× the age). Relying on Gradio's
``delete_cache`` is not enough: Gradio 6.31 tracks a served file in the component's ``temp_files``,
but a component that a streamed update left unchanged (``gr.update()``) is replaced in the session
state by an unrendered copy whose ``temp_files`` no sweep reads, so every later file sent to it
(the low-res panel, one per comparison) was never deleted (issue 11). The root goes when the
process exits.
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

import gradio.utils
import numpy as np
from PIL import Image

from sr_arena import settings

#: The empty file whose mtime says when a request folder was made or released.
MARKER = ".last-used"
#: zlib level of the PNGs the app serves: 1 encodes a 1024² image ~3× faster than the default 6, still lossless.
PNG_LEVEL = 1


class Scratch:
    """A per-process root of per-request temporary folders (see the module docstring)."""

    def __init__(self, max_age_s: float, parent: str | Path | None = None, sweep_every_s: float | None = None) -> None:
        """``parent``: where the root is made (default: Gradio's cache folder); ``sweep_every_s``: how
        often the sweeper thread runs (default: a quarter of ``max_age_s``; ``0``: no thread)."""
        self.max_age_s = max_age_s
        parent = Path(parent if parent is not None else gradio.utils.get_upload_folder()).resolve()
        parent.mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix="sr-arena-", dir=parent))
        self._lock = threading.Lock()
        self._closed = threading.Event()
        every = max(1.0, max_age_s / 4) if sweep_every_s is None else sweep_every_s
        if every > 0:
            threading.Thread(target=self._sweep_forever, args=(every,), name="sr-scratch-sweep", daemon=True).start()
        atexit.register(self.close)

    def _sweep_forever(self, every: float) -> None:
        while not self._closed.wait(every):
            self.sweep()

    def close(self) -> None:
        """Stop the sweeper and remove the root with everything in it."""
        self._closed.set()
        shutil.rmtree(self.root, ignore_errors=True)

    def folder(self, tag: str) -> Path:
        """A new empty folder for one request (older abandoned folders are swept first)."""
        self.sweep()
        folder = Path(tempfile.mkdtemp(prefix=f"{tag}-", dir=self.root))
        (folder / MARKER).touch()
        return folder

    def sweep(self, now: float | None = None) -> int:
        """Remove request folders older than ``max_age_s``; returns how many went."""
        now = time.time() if now is None else now
        removed = 0
        with self._lock:
            for entry in list(os.scandir(self.root)):
                try:
                    old = now - _last_used(entry.path) > self.max_age_s
                except FileNotFoundError:
                    continue
                if old:
                    shutil.rmtree(entry.path, ignore_errors=True)
                    removed += 1
        return removed

    @staticmethod
    def release(folder: str | Path) -> None:
        """One request is done with its folder: its age counts from now (Gradio serves the files in
        place, so browsers still fetching them keep them for ``SR_ARENA_TEMP_MAX_AGE``)."""
        try:
            (Path(folder) / MARKER).touch()
        except FileNotFoundError:
            pass

    def usage_bytes(self) -> int:
        """Bytes of every file under the root (files the sweeper removes meanwhile count 0)."""
        total = 0
        for path in self.root.rglob("*"):
            try:
                total += path.stat().st_size if path.is_file() else 0
            except FileNotFoundError:
                continue
        return total


def _last_used(folder: str) -> float:
    """When a request folder was last written or released: its newest file's mtime (the marker's
    included). Not the folder's own mtime, which Gradio's ``delete_cache`` bumps when it removes a
    file it was tracking."""
    times = [entry.stat(follow_symlinks=False).st_mtime for entry in os.scandir(folder)]
    return max(times) if times else os.stat(folder).st_mtime


def _in_folder(folder: str | Path) -> Path:
    """``folder``, made again if the sweeper removed it (a request slower than the age limit)."""
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_png(folder: str | Path, stem: str, image: np.ndarray) -> str:
    """Write ``image`` as ``<folder>/<stem>-<unique>.png`` atomically (temporary name, then rename)."""
    path = _in_folder(folder) / f"{stem}-{uuid.uuid4().hex[:12]}.png"
    staging = path.with_name(f".{path.name}.part")
    Image.fromarray(np.ascontiguousarray(image)).save(staging, format="PNG", compress_level=PNG_LEVEL)
    os.replace(staging, path)
    return str(path)


def copy_file(folder: str | Path, stem: str, source: str | Path) -> str:
    """Copy ``source`` to a unique name in ``folder`` atomically."""
    path = _in_folder(folder) / f"{stem}-{uuid.uuid4().hex[:12]}{Path(source).suffix}"
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
