"""Estimates, cheapest-first order, progress and cancellation, with the real networks (no mocks)."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from sr_models import schedule
from sr_models.cost import count_flops
from sr_models.inference import OUTPUT_CACHE, cache_key, run_network, upscale_with_info
from sr_models.loader import load_model
from sr_models.progress import Cancelled, ConvMeter, Step
from sr_models.tiling import tiled_forward

from browser_support import has_weights

pytestmark = pytest.mark.timeout(900)


def need(model_id: str):
    if not has_weights(model_id):
        pytest.skip(f"no {model_id} weights here")
    return load_model(model_id)


def noise(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize("model_id", ["awsrn", "srgan"])
def test_flop_model_of_a_per_pixel_network_is_exact_at_any_size(model_id):
    loaded = need(model_id)
    model = schedule.flop_model(loaded)
    assert model.quadratic == 0.0
    for height, width in ((37, 53), (256, 256), (100, 300)):
        assert model.flops(height, width) == count_flops(loaded.descriptor, height, width)


def test_flop_model_of_san_follows_its_attention_within_a_percent():
    loaded = need("san")
    model = schedule.flop_model(loaded)
    assert model.quadratic > 0  # the non-local attention grows with the square of the pixels
    for height, width in ((64, 96), (256, 256), (120, 200)):
        assert model.flops(height, width) == pytest.approx(count_flops(loaded.descriptor, height, width), rel=0.01)


def test_conv_meter_counts_every_convolution_flop_of_a_real_forward():
    loaded = need("awsrn")
    steps: list[Step] = []
    run_network(loaded.descriptor, noise(40, 48), loaded.device, "exact", progress=steps.append)
    assert steps and steps[-1].conv_flops == count_flops(loaded.descriptor, 40, 48)  # AWSRN: convolutions only
    fractions = [s.conv_flops for s in steps]
    assert fractions == sorted(fractions) and len(set(fractions)) > 10  # reported layer by layer


def test_estimates_order_cheapest_first_and_a_finished_run_teaches_the_speed():
    models = {m: load_model(m) for m in ("bicubic", "awsrn", "srgan") if m == "bicubic" or has_weights(m)}
    if len(models) < 3:
        pytest.skip("needs AWSRN and SRGAN weights")
    profiles = {m: schedule.profile(loaded, "fast" if loaded.descriptor else "exact") for m, loaded in models.items()}
    for prof in profiles.values():  # the same machine speed for both networks: the order is the FLOPs'
        if prof.flops is not None:
            prof.speeds["fast"].value = 30e9
    estimates = {m: schedule.estimate(models[m], profiles[m], 256, 256, "fast" if models[m].descriptor else "exact")
                 for m in models}
    assert estimates["awsrn"].work == count_flops(models["awsrn"].descriptor, 256, 256)
    assert estimates["awsrn"].seconds == pytest.approx(estimates["awsrn"].work / 30e9)
    order = schedule.cheapest_first({m: e.seconds for m, e in estimates.items()}, ["bicubic", "srgan", "awsrn"])
    assert order == ["bicubic", "awsrn", "srgan"]
    assert schedule.cheapest_first({"b": 1.0, "a": 1.0, "c": None}, ["a", "b", "c"]) == ["a", "b", "c"]
    start = time.perf_counter()
    result = upscale_with_info(models["awsrn"], noise(64, 64), "fast", cache=None)
    profiles["awsrn"].record("fast", count_flops(models["awsrn"].descriptor, 64, 64), result.seconds)
    measured = count_flops(models["awsrn"].descriptor, 64, 64) / result.seconds
    assert profiles["awsrn"].speeds["fast"].value == pytest.approx((30e9 + measured) / 2)
    assert time.perf_counter() - start < 120


def test_tiled_forward_stops_between_tiles_and_reports_each():
    loaded = need("srgan")
    x = np.asarray(noise(96, 96), dtype=np.float32)
    import torch

    tensor = torch.from_numpy(x).permute(2, 0, 1)[None] / 255.0
    cancel, seen = threading.Event(), []

    def on_tile(done: int, total: int) -> None:
        seen.append((done, total))
        if done == 2:
            cancel.set()

    with torch.inference_mode(), pytest.raises(Cancelled):
        tiled_forward(loaded.descriptor.model, tensor, 48, 8, 4, on_tile=on_tile, cancel=cancel)
    assert seen == [(1, 9), (2, 9)]  # the third tile never ran
    with torch.inference_mode():
        whole = tiled_forward(loaded.descriptor.model, tensor, 48, 8, 4, on_tile=lambda d, t: seen.append((d, t)))
    assert whole.shape == (1, 3, 384, 384) and seen[-1] == (9, 9)


def test_a_stopped_run_raises_between_layers_and_caches_nothing():
    loaded = need("srgan")
    image = noise(80, 80, seed=7)
    cancel = threading.Event()
    steps: list[Step] = []

    def progress(step: Step) -> None:
        steps.append(step)
        if len(steps) == 3:
            cancel.set()

    with pytest.raises(Cancelled):
        upscale_with_info(loaded, image, "exact", progress=progress, cancel=cancel)
    assert len(steps) == 3  # stopped at the next convolution, not at the end
    assert cache_key(loaded, image, "exact") not in OUTPUT_CACHE


def test_run_clock_is_monotonic_and_admits_an_overrun():
    est = schedule.Estimate("x", seconds=0.2, work=1000.0, tiles=1, precision="fast")
    clock = schedule.RunClock(est, conv_share=1.0)
    assert clock.seconds_left() == pytest.approx(0.2, abs=0.05) and clock.fraction() < 0.5
    clock.update(Step(500, 0, 1))
    assert clock.fraction() == pytest.approx(0.5)
    clock.update(Step(100, 0, 1))  # a smaller count (a new tile's layers) never moves the bar back
    assert clock.fraction() == pytest.approx(0.5)
    time.sleep(0.25)
    stuck = schedule.RunClock(est, conv_share=1.0)
    stuck.started -= 1.0
    stuck.update(Step(10, 0, 1))  # 1 % done after 5× the estimate: no made-up time left
    assert stuck.seconds_left() is None
