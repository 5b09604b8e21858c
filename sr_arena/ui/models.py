"""The methods the app runs: loaded and warmed up once at start-up in a background thread, with a status line."""
from __future__ import annotations

import atexit
import threading
import time
from dataclasses import dataclass

from sr_models.inference import prepare
from sr_models.loader import LoadedModel, ModelUnavailableError, load_model
from sr_models.registry import CARDS


@dataclass(frozen=True)
class Unavailable:
    """Why a method cannot run here and how to fix it (shown in its panel)."""

    model_id: str
    reason: str
    fix: str


class ModelPool:
    """Loads every method once (in registry order), warms each up with
    :func:`sr_models.inference.prepare`, and hands out the loaded models.

    All of it runs in a background thread, so start-up does not block the page.
    ``get`` waits for a method still loading; ``status_markdown`` is the page's status line.
    """

    def __init__(self, model_ids: list[str] | None = None) -> None:
        self.model_ids = list(model_ids or CARDS)
        self._results: dict[str, LoadedModel | Unavailable] = {}
        self._current: str | None = None
        self._phase = "loading"
        self._prepared: dict[str, str] = {}  # model id → precision a "fast" request will run
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._seconds = 0.0

    def start(self) -> "ModelPool":
        """Begin loading in a daemon thread (idempotent)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._load_all, name="sr-arena-loader", daemon=True)
                self._thread.start()
                atexit.register(self._thread.join)  # never let the interpreter exit mid-load (torch aborts)
        return self

    def _load_all(self) -> None:
        start = time.perf_counter()
        for model_id in self.model_ids:
            self._current, self._phase = model_id, "loading"
            result = self._load_one(model_id)
            if isinstance(result, LoadedModel):
                self._phase = "warming up"
                self._prepared[model_id] = self._prepare_one(result)
            self._results[model_id] = result
        self._current = None
        self._seconds = time.perf_counter() - start
        self._done.set()

    @staticmethod
    def _load_one(model_id: str) -> LoadedModel | Unavailable:
        try:
            return load_model(model_id)
        except ModelUnavailableError as error:
            return Unavailable(model_id, error.reason, error.fix)
        except Exception as error:  # a broken checkpoint must not take the app down
            return Unavailable(model_id, f"loading failed: {error}", "check the checkpoint file named above")

    @staticmethod
    def _prepare_one(model: LoadedModel) -> str:
        """Warm ``model`` up for requests; a failed warm-up only costs the first request time."""
        try:
            return prepare(model)
        except Exception as error:  # noqa: BLE001 — the model still runs; say why it was not prepared
            return f"not prepared ({type(error).__name__}: {error})"

    @property
    def prepared(self) -> dict[str, str]:
        """``{model id: precision a "fast" request will run}`` for every method warmed up so far."""
        return dict(self._prepared)

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every method is loaded (or ``timeout``); returns whether all are done."""
        self.start()
        return self._done.wait(timeout)

    def get(self, model_id: str) -> LoadedModel | Unavailable:
        """The loaded model, or why it is unavailable (waits while it is still loading)."""
        self.start()
        while model_id not in self._results and not self._done.is_set():
            time.sleep(0.05)
        return self._results.get(model_id) or self._load_one(model_id)

    def status_markdown(self) -> str:
        """One line: loading progress, then which methods are ready and which are not."""
        names = {m: CARDS[m].display_name for m in self.model_ids}
        if not self.done:
            ready = len(self._results)
            current = names.get(self._current or "", "…")
            return f"Loading methods ({ready}/{len(self.model_ids)} ready; now {self._phase} **{current}**)…"
        ready = [names[m] for m, r in self._results.items() if isinstance(r, LoadedModel)]
        missing = [names[m] for m, r in self._results.items() if isinstance(r, Unavailable)]
        line = f"Ready: {', '.join(ready)} (loaded and warmed up in {self._seconds:.0f} s)."
        fast = [names[m] for m, ran in self._prepared.items()
                if ran == "fast" and isinstance(self._results.get(m), LoadedModel) and self._results[m].descriptor]
        if fast:
            line += f" Fast precision (quality-guarded) prepared for: {', '.join(fast)}."
        if missing:
            line += f" Unavailable here (no weights): {', '.join(missing)} — see the Models tab."
        return line
