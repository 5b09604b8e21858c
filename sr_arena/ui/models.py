"""The methods the app runs: loaded and warmed up once at start-up in a background thread, with a status line."""
from __future__ import annotations

import atexit
import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

from sr_models.inference import prepare
from sr_models.loader import LoadedModel, ModelUnavailableError, load_model
from sr_models.registry import CARDS
from sr_models.schedule import Profile, profile


@dataclass(frozen=True)
class Unavailable:
    """Why a method cannot run here and how to fix it (shown in its panel)."""

    model_id: str
    reason: str
    fix: str


class ModelPool:
    """Loads every method once (in registry order), warms each up with
    :func:`sr_models.inference.prepare`, and hands out the loaded models.

    Warming up also measures each method's throughput on this machine in the precision a
    "fast" request runs (:func:`sr_models.schedule.profile`; ``profile(model_id)``), which the
    time estimates use. Tasks added with :meth:`after_load` (e.g. caching the examples' outputs)
    run in the same thread once every method is ready; ``done`` waits for them too.
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
        self._profiles: dict[str, Profile] = {}
        self._after: list[tuple[Callable[["ModelPool"], None], Callable[[], str]]] = []
        self._settled = threading.Event()
        self._after_closed = False  # the loader thread has taken the task list
        self.closing = threading.Event()  # set at interpreter exit: background work stops between items
        self._background: list[threading.Thread] = []

    def start(self) -> "ModelPool":
        """Begin loading in a daemon thread (idempotent)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._load_all, name="sr-arena-loader", daemon=True)
                self._background.append(self._thread)
                self._thread.start()
                atexit.register(self.shutdown)
        return self

    def shutdown(self, timeout: float = 300.0) -> None:
        """Stop background work between items and wait for it: an interpreter that exits while a
        daemon thread is inside a torch kernel aborts ("terminate called without an active exception")."""
        self.closing.set()
        with self._lock:
            threads = list(self._background)
        deadline = time.monotonic() + timeout
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))

    def _load_all(self) -> None:
        start = time.perf_counter()
        for model_id in self.model_ids:
            if self.closing.is_set():
                break
            self._current, self._phase = model_id, "loading"
            result = self._load_one(model_id)
            if isinstance(result, LoadedModel):
                self._phase = "warming up"
                self._prepared[model_id] = self._prepare_one(result)
                self._phase = "measuring"
                self._profile_one(result)
            self._results[model_id] = result
        self._current = None
        self._seconds = time.perf_counter() - start
        self._done.set()
        with self._lock:
            self._after_closed = True
            tasks = [task for task, _status in self._after]
        for task in tasks:
            if not self.closing.is_set():
                self._run_task(task)
        self._settled.set()

    def _run_task(self, task: Callable[["ModelPool"], None]) -> None:
        try:
            task(self)
        except Exception:  # noqa: BLE001 — a failed background task must not take the app down
            logging.getLogger(__name__).exception("background task after loading failed")

    def _profile_one(self, model: LoadedModel) -> None:
        """Measure ``model``'s throughput in the precision a "fast" request runs (for estimates)."""
        ran = self._prepared.get(model.id, "exact")
        ran = ran if ran in ("exact", "fast") else "exact"
        try:
            self._profiles[model.id] = profile(model, ran)
        except Exception:  # noqa: BLE001 — no measurement only costs the estimate its accuracy
            logging.getLogger(__name__).exception("measuring %s failed", model.id)

    def profile(self, model_id: str) -> Profile | None:
        """The method's FLOP model and measured speeds (``None`` before it is measured)."""
        return self._profiles.get(model_id)

    def after_load(self, task: Callable[["ModelPool"], None], status: Callable[[], str] = lambda: "") -> None:
        """Run ``task(pool)`` in the loader thread after every method is ready (in a thread of its own
        when loading has already finished); ``status()`` adds to the status line."""
        with self._lock:
            self._after.append((task, status))
            if not self._after_closed or self.closing.is_set():
                return
            thread = threading.Thread(target=self._run_task, args=(task,), name="sr-arena-after-load", daemon=True)
            self._background.append(thread)
            thread.start()

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
        """Every method loaded and every :meth:`after_load` task finished."""
        return self._settled.is_set()

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

    def loaded_now(self, model_id: str) -> LoadedModel | Unavailable | None:
        """The loaded model or why it is unavailable, or ``None`` while it is still loading (no wait)."""
        return self._results.get(model_id)

    def status_markdown(self) -> str:
        """One line: loading progress, then which methods are ready and which are not."""
        names = {m: CARDS[m].display_name for m in self.model_ids}
        if not self._done.is_set():
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
        extra = " ".join(text for text in (status() for _task, status in self._after) if text)
        return f"{line} {extra}" if extra else line
