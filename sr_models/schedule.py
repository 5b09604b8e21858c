"""Time estimates before a run, cheapest-first ordering, and progress/time left during it.

An estimate is FLOPs for this input divided by the throughput measured on this machine:

* **FLOPs** are counted from the architecture (:func:`sr_models.cost.count_flops`, fake tensors)
  at a few sizes once per model (:func:`flop_model`). Every layer of these networks costs a
  fixed amount per pixel, so a forward's FLOPs are ``a·N + b·N²`` in its pixel count ``N``
  (``b`` is SAN's non-local attention; 0 for the others, where the fit is exact). A tiled run
  costs its tile count times one tile (overlaps included); SAN on images above its
  whole-image limit (the authors' chop) is counted exactly for that size.
* **Throughput** (FLOP/s) is measured at start-up on a small input in the precision that will
  run (:func:`measure_speed`) and then follows the runs this process makes (:meth:`Speed.update`).
  Interpolation has no FLOPs counted this way; it is timed per output pixel instead.

:func:`cheapest_first` orders methods by estimate; :class:`RunClock` turns the convolution
FLOPs counted while a network runs (:mod:`sr_models.progress`) into a fraction and time left.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from .imresize import imresize
from .loader import LoadedModel
from .progress import Step

#: Assumed speed before anything is measured (a 2-core CPU runs these networks at 20–40 GFLOP/s).
DEFAULT_FLOPS_PER_SECOND = 20e9
DEFAULT_BICUBIC_SECONDS_PER_PIXEL = 2e-7
#: FLOPs of the start-up measurement forward (sized per model; ~0.5–3 s on a 2-core CPU). Smaller
#: inputs stay in cache and run up to 4× faster per FLOP than real ones (ESRGAN, SAN), so not tiny.
MEASURE_FLOPS = 30e9
MEASURE_SIDES = (48, 128)
#: Below this fraction done, time left comes from the estimate alone (the rate is not known yet).
MIN_OBSERVED_FRACTION = 0.05
#: Weight of a new run in the running throughput (exponential average).
UPDATE_WEIGHT = 0.5


@dataclass(frozen=True)
class FlopModel:
    """FLOPs of one forward on ``N`` LR pixels: ``linear·N + quadratic·N²`` (from exact counts)."""

    linear: float
    quadratic: float
    sizes: tuple[int, ...]  # the square sides that were counted

    def flops(self, height: int, width: int) -> int:
        pixels = height * width
        return int(round(self.linear * pixels + self.quadratic * pixels * pixels))


def _fit(loaded: LoadedModel, sides: tuple[int, ...]) -> FlopModel:
    from .cost import count_flops

    pixels = np.array([s * s for s in sides], dtype=np.float64)
    per_pixel = np.array([count_flops(loaded.descriptor, s, s) for s in sides], dtype=np.float64) / pixels
    if np.allclose(per_pixel, per_pixel[0], rtol=1e-9):
        return FlopModel(float(per_pixel[0]), 0.0, sides)
    quadratic, linear = np.polyfit(pixels, per_pixel, 1)  # per pixel = linear + quadratic·N
    return FlopModel(float(linear), float(max(quadratic, 0.0)), sides)


def flop_model(loaded: LoadedModel) -> FlopModel | None:
    """Fit :class:`FlopModel` to exact counts (``None`` for interpolation).

    A tileable network (every layer a fixed cost per pixel) is counted at 32² and 48²: equal FLOPs
    per pixel make the model exact at every size. SAN (non-local attention) is counted at 64², 128²
    and 192², and the quadratic fit is within a few tenths of a per cent at request sizes. Counting
    is pure Python (it holds the GIL), so it is kept to these few sizes.
    """
    if loaded.descriptor is None:
        return None
    return _fit(loaded, (32, 48) if loaded.descriptor.tileable else (64, 128, 192))


@dataclass
class Speed:
    """Throughput of one method in one precision: FLOP/s (networks) or seconds per output pixel."""

    value: float
    runs: int = 0  # real runs folded in since the start-up measurement
    measured: str = "default"

    def update(self, value: float) -> None:
        """Fold in one run's measured value (exponential average)."""
        if value > 0 and math.isfinite(value):
            self.value = value if self.runs == 0 and self.measured == "default" else \
                (1 - UPDATE_WEIGHT) * self.value + UPDATE_WEIGHT * value
            self.runs += 1


def measure_side(model: FlopModel) -> int:
    """Square side (multiple of 8) whose forward costs about :data:`MEASURE_FLOPS`."""
    side = math.sqrt(MEASURE_FLOPS / max(model.linear, 1.0))
    return int(min(max(side, MEASURE_SIDES[0]), MEASURE_SIDES[1]) // 8 * 8)


def measure_speed(loaded: LoadedModel, precision: str, model: FlopModel | None) -> tuple[Speed, float]:
    """``(speed, conv share)`` measured now: one warm-up and one timed forward on random pixels.

    Networks: FLOP/s, and the share of counted FLOPs that are convolutions (what
    :class:`RunClock` sees while a run goes). Interpolation: seconds per output pixel, share 1.
    """
    from .inference import run_network

    rng = np.random.default_rng(0)
    if loaded.descriptor is None or model is None:
        image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        imresize(image, scale=loaded.card.scale)
        start = time.perf_counter()
        imresize(image, scale=loaded.card.scale)
        pixels = image.shape[0] * image.shape[1] * loaded.card.scale ** 2
        return Speed((time.perf_counter() - start) / pixels, measured="start-up"), 1.0
    side = max(measure_side(model), loaded.descriptor.min_size)
    image = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
    warm = max(32, loaded.descriptor.min_size)
    run_network(loaded.descriptor, image[:warm, :warm], loaded.device, precision, tile=0)
    steps: list[Step] = []
    start = time.perf_counter()
    run_network(loaded.descriptor, image, loaded.device, precision, tile=0, progress=steps.append)
    seconds = time.perf_counter() - start
    flops = model.flops(side, side)
    share = steps[-1].conv_flops / flops if steps and flops else 1.0
    return Speed(flops / seconds, measured="start-up"), min(max(share, 0.05), 1.0)


@dataclass
class Profile:
    """What estimates need about one method: its FLOP model, speeds by precision, conv share."""

    model_id: str
    flops: FlopModel | None
    speeds: dict[str, Speed] = field(default_factory=dict)
    conv_share: float = 1.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def speed(self, precision: str) -> Speed:
        """The speed for ``precision`` (a new one starts from any other precision's measurement)."""
        with self.lock:
            if precision not in self.speeds:
                known = next(iter(self.speeds.values()), None)
                default = DEFAULT_BICUBIC_SECONDS_PER_PIXEL if self.flops is None else DEFAULT_FLOPS_PER_SECOND
                self.speeds[precision] = Speed(known.value if known else default,
                                               measured=known.measured if known else "default")
            return self.speeds[precision]

    def record(self, precision: str, work: float, seconds: float) -> None:
        """Fold one finished run (``work`` FLOPs, or output pixels for interpolation) into the speed."""
        if seconds <= 0 or work <= 0:
            return
        speed = self.speed(precision)
        with self.lock:
            speed.update(seconds / work if self.flops is None else work / seconds)


def profile(loaded: LoadedModel, precision: str) -> Profile:
    """Count ``loaded``'s FLOP model and measure its speed in ``precision`` (start-up, once)."""
    model = flop_model(loaded)
    speed, share = measure_speed(loaded, precision, model)
    return Profile(loaded.id, model, {precision: speed}, share)


@dataclass(frozen=True)
class Estimate:
    """How long one method should take on this input, and the work it is based on."""

    model_id: str
    seconds: float
    work: float  # FLOPs (networks) or output pixels (interpolation)
    tiles: int
    precision: str


def job_work(loaded: LoadedModel, flops: FlopModel | None, height: int, width: int,
             precision: str) -> tuple[float, int]:
    """``(FLOPs or output pixels, tiles)`` of enlarging an LR ``height``×``width`` as inference runs it."""
    if loaded.descriptor is None or flops is None:
        return float(height * width * loaded.card.scale ** 2), 1
    from .archs import get_architecture
    from .cost import count_flops
    from .precision import fast_mode_for
    from .tiling import plan_tiles

    descriptor = loaded.descriptor
    if get_architecture(descriptor.arch).tiling == "internal":  # its own forward (SAN: whole or chop), counted exactly
        return float(count_flops(descriptor, height, width)), 1
    reduced = precision == "fast" and fast_mode_for(loaded.device).reduced
    plan = plan_tiles(descriptor.arch, height, width, loaded.device, reduced=reduced)
    if plan.tile is None:
        return float(flops.flops(height, width)), 1
    return float(plan.count * flops.flops(plan.tile, plan.tile)), plan.count


def estimate(loaded: LoadedModel, prof: Profile, height: int, width: int, precision: str) -> Estimate:
    """Seconds ``loaded`` should take on an LR ``height``×``width`` in ``precision`` (the one that runs)."""
    work, tiles = job_work(loaded, prof.flops, height, width, precision)
    speed = prof.speed(precision).value
    seconds = work * speed if prof.flops is None else work / speed
    return Estimate(loaded.id, seconds, work, tiles, precision)


def cheapest_first(estimates: dict[str, float], order: list[str]) -> list[str]:
    """Method ids by estimated seconds (methods with no estimate last), ties in ``order``."""
    rank = {m: i for i, m in enumerate(order)}
    return sorted(estimates, key=lambda m: (estimates[m] is None, estimates[m] or 0.0, rank.get(m, len(rank))))


class RunClock:
    """Progress of one running method: fraction done and seconds left, updated from :class:`Step`s.

    Networks: the fraction is convolution FLOPs counted so far over those the estimate
    expects; interpolation (no layers to count) uses elapsed time over the estimate, held
    below 1 until it finishes. Time left starts as the estimate minus the time elapsed and
    moves to the rate observed so far as the run advances.
    """

    def __init__(self, estimate: Estimate, conv_share: float = 1.0) -> None:
        self.estimate = estimate
        self.expected_conv = estimate.work * conv_share if estimate.work else 0.0
        self.started = time.perf_counter()
        self.step = Step(0, 0, estimate.tiles)
        self._shown = 0.0

    def update(self, step: Step) -> None:
        """Record the latest :class:`Step` (called from the run's thread)."""
        self.step = step

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def fraction(self) -> float:
        """Fraction done in [0, 0.99] while running (never goes back)."""
        if self.step.conv_flops > 0 and self.expected_conv > 0:
            value = self.step.conv_flops / self.expected_conv
        else:
            value = self.elapsed / self.estimate.seconds if self.estimate.seconds > 0 else 0.0
        self._shown = max(self._shown, min(max(value, 0.0), 0.99))
        return self._shown

    def seconds_left(self) -> float | None:
        """The estimate minus elapsed at first, then the rate observed so far (weighted by progress);
        ``None`` when the run has outlasted its estimate before its progress says anything."""
        elapsed, done = self.elapsed, self.fraction()
        planned = self.estimate.seconds - elapsed
        if done < MIN_OBSERVED_FRACTION or self.step.conv_flops == 0:
            return planned if planned > 0 else None
        observed = elapsed * (1.0 - done) / done
        weight = min(1.0, done / 0.3)
        return (1.0 - weight) * max(planned, 0.0) + weight * observed
