"""The shipped examples' outputs, computed once in the background and kept on disk.

:class:`ExampleCache` knows the examples' LR inputs (by pixel sha256) and fills a
:class:`~sr_models.disk_cache.DiskCache` under the data directory (``<data dir>/output_cache``,
see :func:`sr_arena.mos.storage.data_dir`) with every available method's output in the default
precision, after the models are loaded (``ModelPool.after_load``). A comparison of an example
then reads every panel from disk; one in another precision is computed on first use and stored.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from sr_models.disk_cache import DiskCache
from sr_models.inference import cache_key, resolve_precision
from sr_models.loader import LoadedModel
from sr_models.output_cache import image_sha256

from .examples import available
from .models import ModelPool
from .pipeline import DEFAULT_PRECISION, Comparison, enlarge_method, prepare
from .uploads import UploadError, load_upload

log = logging.getLogger(__name__)


def default_directory() -> Path:
    """``<data dir>/output_cache`` (``SR_ARENA_DATA_DIR``, else ``data/``; on a Space, a mounted bucket keeps it)."""
    from sr_arena.mos.storage import data_dir

    return data_dir() / "output_cache"


class ExampleCache:
    """Disk cache of the examples' outputs, and which comparisons are examples."""

    def __init__(self, directory: str | Path | None = None, example_dir: Path | None = None) -> None:
        self.disk = DiskCache(directory or default_directory())
        self._examples = available(example_dir) if example_dir else available()
        self._inputs: dict[str, Comparison] | None = None
        self._lock = threading.Lock()
        self.filled = 0
        self.total = 0
        self.finished = False

    def inputs(self) -> dict[str, Comparison]:
        """``{LR sha256: comparison}`` for every shipped example, as the Compare tab prepares it."""
        with self._lock:
            if self._inputs is None:
                self._inputs = {}
                for example, path in self._examples:
                    try:
                        upload = load_upload(path, example.mode)
                    except UploadError:
                        continue
                    comparison = prepare(upload.image, example.mode, upload.name, upload.notes)
                    self._inputs[image_sha256(comparison.lr)] = comparison
            return self._inputs

    def is_example(self, comparison: Comparison) -> bool:
        """Whether ``comparison``'s LR input is one of the shipped examples'."""
        return image_sha256(comparison.lr) in self.inputs()

    def missing(self, pool: ModelPool, precision: str) -> list[tuple[Comparison, str]]:
        """(example, method) pairs whose output in ``precision`` is not on disk yet."""
        pairs = []
        for comparison in self.inputs().values():
            for model_id in pool.model_ids:
                loaded = pool.loaded_now(model_id)
                if isinstance(loaded, LoadedModel):
                    key = cache_key(loaded, comparison.lr, resolve_precision(loaded, precision)[0])
                    if key not in self.disk:
                        pairs.append((comparison, model_id))
        return pairs

    def fill(self, pool: ModelPool, precision: str = DEFAULT_PRECISION) -> int:
        """Compute and store every missing example output (stops between outputs once ``pool.closing``
        is set, at interpreter exit: :meth:`ModelPool.shutdown`); returns how many."""
        todo = self.missing(pool, precision)
        self.total, self.filled = len(todo), 0
        for comparison, model_id in todo:
            if pool.closing.is_set():
                break
            fresh = Comparison(comparison.mode, comparison.lr, comparison.original, comparison.name)
            run = enlarge_method(fresh, model_id, pool, precision, disk=self.disk, persist=True)
            if run.error:
                log.warning("example %s with %s failed: %s", comparison.name, model_id, run.error)
            self.filled += 1
        self.finished = True
        return self.filled

    def status(self) -> str:
        """A phrase for the status line."""
        if self.finished:
            return f"Examples: outputs cached on disk ({len(self.inputs())} examples, instant)."
        if self.total:
            return f"Examples: caching outputs in the background ({self.filled}/{self.total})…"
        return ""
