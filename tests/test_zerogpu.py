"""ZeroGPU wrapping (issue 11): the heavy forward goes through ``spaces.GPU`` with a duration
booked from the schedule's FLOP estimate, and off ZeroGPU it runs on this CPU as before."""
from __future__ import annotations

import numpy as np
import pytest

from sr_arena import settings
from sr_arena.ui import zerogpu
from sr_arena.ui.models import ModelPool, Unavailable
from sr_arena.ui.pipeline import lr_consistency, prepare, run_method
from sr_models.schedule import estimate
from ui_images import pattern

NETWORK = "awsrn"  # the cheapest learned method; its house weights ship in checkpoints/house/


@pytest.fixture(scope="module")
def pool() -> ModelPool:
    pool = ModelPool(["bicubic", NETWORK]).start()
    assert pool.wait(300), "the models did not load"
    return pool


def test_spaces_is_the_decorator_and_an_identity_off_zero_gpu():
    spaces = pytest.importorskip("spaces", reason="spaces (requirements.txt) is not installed")
    assert zerogpu.GPU is spaces.GPU
    assert not zerogpu.on_zero_gpu()  # SPACES_ZERO_GPU is the platform's; not set here

    def forward(x):
        return x

    assert spaces.GPU(duration=7)(forward) is forward  # off ZeroGPU spaces hands the function back


def test_decorated_path_runs_on_cpu_and_returns_a_real_image(pool):
    loaded = pool.get(NETWORK)
    assert not isinstance(loaded, Unavailable), f"{NETWORK} has no weights: {loaded}"
    comparison = prepare(pattern(256, 256), "original")  # a 64² LR input
    run = run_method(comparison, NETWORK, pool, "exact")  # Compare tab and API path: pipeline -> zerogpu.upscale
    assert run.error is None and run.ok, run.error
    assert run.image.shape == (256, 256, 3) and run.image.dtype == np.uint8
    assert run.psnr is not None and run.psnr > 22, f"not a real enlargement: PSNR {run.psnr}"
    direct = zerogpu.upscale(loaded, pool.profile(NETWORK), comparison.lr, "exact")
    assert np.array_equal(direct.image, run.image)
    assert lr_consistency(direct.image, comparison.lr) > 30


def test_duration_follows_the_estimate(pool):
    loaded, prof = pool.get(NETWORK), pool.profile(NETWORK)
    assert prof is not None, "the start-up measurement did not run"
    open_ended = settings.Settings(gpu_duration_min_s=0, gpu_duration_max_s=10_000, gpu_duration_factor=2)
    small, large = np.zeros((64, 64, 3), np.uint8), np.zeros((512, 512, 3), np.uint8)
    seconds = {side: estimate(loaded, prof, side, side, "exact").seconds for side in (64, 512)}
    booked = {64: zerogpu.duration_for(loaded, prof, small, "exact", open_ended),
              512: zerogpu.duration_for(loaded, prof, large, "exact", open_ended)}
    assert booked[512] > booked[64]
    for side, value in booked.items():  # factor × estimate + overhead, rounded up
        assert value == int(np.ceil(2 * seconds[side] + zerogpu.OVERHEAD_S))


def test_duration_is_clamped_and_unknown_speed_books_the_maximum():
    config = settings.Settings(gpu_duration_min_s=5, gpu_duration_max_s=120, gpu_duration_factor=2)
    assert zerogpu.gpu_seconds(0.01, config) == 5
    assert zerogpu.gpu_seconds(20.0, config) == 43
    assert zerogpu.gpu_seconds(1e6, config) == 120
    assert zerogpu.gpu_seconds(None, config) == 120
    assert zerogpu.gpu_seconds(float("nan"), config) == 120


def test_settings_parse_the_gpu_bounds(env):
    env("SR_ARENA_GPU_DURATION_MIN", "2")
    env("SR_ARENA_GPU_DURATION_MAX", "60")
    env("SR_ARENA_GPU_DURATION_FACTOR", "1.5")
    config = settings.current()
    assert (config.gpu_duration_min_s, config.gpu_duration_max_s, config.gpu_duration_factor) == (2, 60, 1.5)
