"""One comparison's methods, run cheapest first in a worker thread, with estimates, progress and Stop.

Free of Gradio. :class:`Job` estimates every ticked method (FLOPs for this input over the
throughput measured at start-up, :mod:`sr_models.schedule`), orders them cheapest first, and
runs the networks one after another in a daemon thread (interpolation, single-threaded and well
under a second, runs beside them in a second thread rather than delaying the first network); each finished method is handed to the caller
(:meth:`Job.finished`) at once, and the caller asks :meth:`Job.view` for every slot's state
(pending with its estimate, running with its progress and time left, done, stopped) as often
as it likes. :meth:`Job.stop` sets the cancellation event: the running method stops at its next
layer or tile, the pending ones never start, and what finished stays.

Jobs are registered by the comparison's request id (:func:`register`, :func:`stop`), and each
browser session's newest job by session (:func:`stop_session`), so a Stop request that arrives
while the comparison's own event is still streaming can find it.
"""
from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass

from sr_models.disk_cache import DiskCache
from sr_models.inference import cache_key, resolve_precision
from sr_models.loader import LoadedModel
from sr_models.progress import Cancelled
from sr_models.registry import CARDS
from sr_models.schedule import Estimate, RunClock, cheapest_first, estimate

from .models import ModelPool, Unavailable
from .pipeline import Comparison, MethodRun, enlarge_method

log = logging.getLogger(__name__)

PENDING, RUNNING, DONE, STOPPED = "pending", "running", "done", "stopped"
#: Methods that end within this many seconds of each other are reported together (one page update).
GATHER_S = 0.03


@dataclass
class Slot:
    """One method's place in the job."""

    model_id: str
    position: int  # 1 = runs first
    estimate: Estimate | None
    cached: bool = False  # its output is already on disk or in memory
    state: str = PENDING
    clock: RunClock | None = None
    run: MethodRun | None = None


@dataclass(frozen=True)
class SlotView:
    """What a panel shows about its method right now."""

    model_id: str
    state: str
    position: int
    estimate_s: float | None
    fraction: float | None = None
    seconds_left: float | None = None
    tiles_done: int = 0
    tiles_total: int = 1
    cached: bool = False
    elapsed_s: float | None = None


def _is_cached(loaded: LoadedModel, comparison: Comparison, precision: str, disk: DiskCache | None) -> bool:
    from sr_models.inference import OUTPUT_CACHE

    key = cache_key(loaded, comparison.lr, resolve_precision(loaded, precision)[0])
    return key in OUTPUT_CACHE or (disk is not None and key in disk)


def plan(comparison: Comparison, chosen: list[str], pool: ModelPool, precision: str,
         disk: DiskCache | None = None) -> list[Slot]:
    """Estimate every chosen method and order them cheapest first (cached outputs cost nothing)."""
    height, width = comparison.lr.shape[:2]
    estimates: dict[str, Estimate | None] = {}
    cached: dict[str, bool] = {}
    for model_id in chosen:
        loaded, prof = pool.loaded_now(model_id), pool.profile(model_id)
        estimates[model_id], cached[model_id] = None, False
        if isinstance(loaded, LoadedModel):
            cached[model_id] = _is_cached(loaded, comparison, precision, disk)
            if prof is not None:
                estimates[model_id] = estimate(loaded, prof, height, width, resolve_precision(loaded, precision)[0])
    seconds = {m: (0.0 if cached[m] else (e.seconds if e else None)) for m, e in estimates.items()}
    order = cheapest_first(seconds, list(CARDS))
    return [Slot(m, i + 1, estimates[m], cached[m]) for i, m in enumerate(order)]


class Job:
    """The ticked methods of one comparison, run cheapest first in a worker thread."""

    def __init__(self, comparison: Comparison, chosen: list[str], pool: ModelPool, precision: str,
                 disk: DiskCache | None = None, persist: bool = False) -> None:
        self.comparison, self.pool, self.precision = comparison, pool, precision
        self.disk, self.persist = disk, persist
        self.slots = plan(comparison, chosen, pool, precision, disk)
        self.cancel = threading.Event()
        self._finished: queue.Queue[str | None] = queue.Queue()
        self._reported_all = False
        self._thread = threading.Thread(target=self._work, name=f"sr-job-{comparison.request_id}", daemon=True)
        self._side = threading.Thread(target=self._work_interpolation, name=f"sr-job-{comparison.request_id}-interp",
                                      daemon=True)

    @property
    def request_id(self) -> str:
        return self.comparison.request_id

    @property
    def order(self) -> list[str]:
        """Method ids in the order they run."""
        return [slot.model_id for slot in self.slots]

    def start(self) -> "Job":
        """Begin running in the worker threads; returns the job."""
        register(self)
        self._side.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Cancel what is left: the running method stops at its next layer or tile; finished ones stay."""
        self.cancel.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker; returns whether it has ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def finished(self, timeout: float) -> list[str] | None:
        """Method ids that ended (done or stopped) since the last call, waiting up to ``timeout`` for the
        first; ``None`` once every method has been reported."""
        if self._reported_all:
            return None
        ended: list[str] = []
        try:
            item = self._finished.get(timeout=timeout)
            while True:
                if item is None:
                    self._reported_all = True
                    return ended or None
                ended.append(item)
                item = self._finished.get(timeout=GATHER_S)  # others ending right now come in the same batch
        except queue.Empty:
            return ended

    def view(self) -> list[SlotView]:
        """Every slot's state now (schedule order)."""
        return [self._view(slot) for slot in self.slots]

    @staticmethod
    def _view(slot: Slot) -> SlotView:
        estimate_s = slot.estimate.seconds if slot.estimate else None
        base = SlotView(slot.model_id, slot.state, slot.position, 0.0 if slot.cached else estimate_s,
                        cached=slot.cached)
        clock = slot.clock
        if slot.state != RUNNING or clock is None:
            return base
        step = clock.step
        return SlotView(slot.model_id, RUNNING, slot.position, base.estimate_s, clock.fraction(),
                        clock.seconds_left(), step.tiles_done, step.tiles_total, slot.cached, clock.elapsed)

    # ---------------------------------------------------------------- the worker

    def _is_network(self, slot: Slot) -> bool:
        loaded = self.pool.loaded_now(slot.model_id)
        return not (isinstance(loaded, LoadedModel) and loaded.descriptor is None)

    def _work_interpolation(self) -> None:
        """Interpolation (single-threaded, well under a second) runs beside the networks, not before them."""
        for slot in self.slots:
            if not self._is_network(slot):
                self._run_slot(slot)
                self._finished.put(slot.model_id)

    def _work(self) -> None:
        try:
            for slot in self.slots:
                if self._is_network(slot):
                    self._run_slot(slot)
                    self._finished.put(slot.model_id)
            self._side.join()
        finally:
            self._finished.put(None)
            unregister(self)

    def _run_slot(self, slot: Slot) -> None:
        if self.cancel.is_set():
            self._mark_stopped(slot)
            return
        if slot.estimate is not None:
            prof = self.pool.profile(slot.model_id)
            slot.clock = RunClock(slot.estimate, prof.conv_share if prof else 1.0)
        slot.state = RUNNING
        try:
            slot.run = enlarge_method(self.comparison, slot.model_id, self.pool, self.precision,
                                      progress=slot.clock.update if slot.clock else None, cancel=self.cancel,
                                      disk=self.disk, persist=self.persist)
        except Cancelled:
            self._mark_stopped(slot)
            return
        except Exception as error:  # noqa: BLE001 — one method's failure must not end the job
            log.exception("%s failed", slot.model_id)
            slot.run = MethodRun(slot.model_id, CARDS[slot.model_id].display_name, requested=self.precision,
                                 error=f"{type(error).__name__}: {error}")
            self.comparison.runs[slot.model_id] = slot.run
        slot.state = DONE
        self._record_speed(slot)

    def _mark_stopped(self, slot: Slot) -> None:
        slot.run = MethodRun(slot.model_id, CARDS[slot.model_id].display_name, requested=self.precision,
                             stopped=True)
        self.comparison.runs[slot.model_id] = slot.run
        slot.state = STOPPED

    def _record_speed(self, slot: Slot) -> None:
        """A computed run teaches the estimate this machine's speed now."""
        run, prof = slot.run, self.pool.profile(slot.model_id)
        if run is None or not run.ok or run.cached or prof is None or slot.estimate is None or not run.seconds:
            return
        if run.precision == slot.estimate.precision:
            prof.record(run.precision, slot.estimate.work, run.seconds)


# -------------------------------------------------------------------- where Stop finds a job

_LOCK = threading.Lock()
_JOBS: dict[str, Job] = {}
_SESSIONS: dict[str, str] = {}


def register(job: Job, session: str | None = None) -> None:
    """Make ``job`` findable by its request id (and as ``session``'s newest job)."""
    with _LOCK:
        _JOBS[job.request_id] = job
        if session:
            _SESSIONS[session] = job.request_id


def unregister(job: Job) -> None:
    """Forget a finished job."""
    with _LOCK:
        _JOBS.pop(job.request_id, None)


def stop(request_id: str | None) -> bool:
    """Stop the running job with this request id; returns whether one was running."""
    with _LOCK:
        job = _JOBS.get(request_id or "")
    if job is None:
        return False
    job.stop()
    return True


def stop_session(session: str | None) -> bool:
    """Stop ``session``'s newest running job; returns whether one was running."""
    with _LOCK:
        request_id = _SESSIONS.get(session or "")
    return stop(request_id)
