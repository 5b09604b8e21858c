"""The Compare tab's job: cheapest first in a worker thread, progress views, Stop; the examples' disk cache."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest

from sr_arena.ui import jobs, presentation
from sr_arena.ui.example_cache import ExampleCache
from sr_arena.ui.export import metrics_json
from sr_arena.ui.models import ModelPool
from sr_arena.ui.pipeline import DEFAULT_PRECISION, prepare, run_method
from sr_models.disk_cache import DiskCache
from sr_models.inference import cache_key

from browser_support import has_weights
from ui_images import pattern

pytestmark = pytest.mark.timeout(900)
NETWORKS = [m for m in ("awsrn", "srgan") if has_weights(m)]


@pytest.fixture(scope="module")
def pool() -> ModelPool:
    if len(NETWORKS) < 2:
        pytest.skip("needs AWSRN and SRGAN weights")
    pool = ModelPool(["bicubic", "srgan", "awsrn"]).start()
    assert pool.wait(600)
    return pool


def test_job_runs_cheapest_first_shows_estimates_and_progress(pool):
    comparison = prepare(pattern(512, 512), "original", name="pattern512")
    job = jobs.Job(comparison, ["srgan", "awsrn", "bicubic"], pool, "fast")
    assert job.order == ["bicubic", "awsrn", "srgan"]  # registry order was bicubic, srgan, awsrn
    views = {v.model_id: v for v in job.view()}
    assert all(v.state == jobs.PENDING and v.estimate_s and v.estimate_s > 0 for v in views.values())
    assert views["srgan"].estimate_s > views["awsrn"].estimate_s > views["bicubic"].estimate_s
    assert "queued, runs 3rd" in presentation.pending_caption("SRGAN", views["srgan"])
    job.start()
    ended, running = [], []
    while (batch := job.finished(0.01)) is not None:  # read often: on a bf16 CPU SRGAN runs 512² in ~0.4 s
        ended += batch
        running += [v for v in job.view() if v.state == jobs.RUNNING and v.fraction is not None]
    assert ended == ["bicubic", "awsrn", "srgan"]
    srgan = [v.fraction for v in running if v.model_id == "srgan"]
    assert len(set(srgan)) >= 2 and srgan == sorted(srgan)  # real progress, never backwards
    assert "% · " in presentation.running_caption("SRGAN", running[-1])
    assert all(comparison.runs[m].ok for m in ended)
    assert pool.profile("srgan").speeds["fast"].runs >= 1  # the run taught the estimate


def test_stop_keeps_what_finished_and_marks_the_rest_stopped(pool):
    comparison = prepare(pattern(1024, 1024), "original", name="stopme")  # SRGAN: seconds on a 256² LR
    job = jobs.Job(comparison, ["bicubic", "srgan", "awsrn"], pool, "fast").start()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # until SRGAN (last) has done some of its layers
        srgan = next(v for v in job.view() if v.model_id == "srgan")
        assert srgan.state in (jobs.PENDING, jobs.RUNNING), "SRGAN ended before Stop could be pressed"
        if srgan.state == jobs.RUNNING and (srgan.fraction or 0) > 0.02:
            break
        time.sleep(0.01)
    started = time.perf_counter()
    assert jobs.stop(comparison.request_id)
    assert job.join(30) and time.perf_counter() - started < 10  # stopped between layers, not at the end
    assert comparison.runs["srgan"].stopped and not comparison.runs["srgan"].ok
    assert comparison.runs["awsrn"].ok and comparison.runs["bicubic"].ok
    assert "stopped" in presentation.caption(comparison.runs["srgan"], "SRGAN")
    table = presentation.metric_table(comparison)
    assert list(table["Method"]) == ["Bicubic", "SRGAN", "AWSRN"]  # registry order, whatever ran first
    assert table.iloc[1]["Checkpoint"] == "stopped before it finished"
    assert metrics_json(comparison)["methods"]["srgan"]["stopped"] is True
    assert not jobs.stop(comparison.request_id)  # a finished job is no longer registered


def test_disk_cache_round_trip_and_refuses_a_mismatched_sidecar(tmp_path):
    disk = DiskCache(tmp_path / "cache")
    key = ("a" * 64, "awsrn", "b" * 64, "fast")
    image = pattern(20, 24)
    stored = disk.put(key, image, seconds=1.5)
    hit = disk.get(key)
    assert hit is not None and np.array_equal(hit.image(), image) and hit.meta["seconds"] == 1.5
    assert disk.get(("a" * 64, "awsrn", "b" * 64, "exact")) is None
    sidecar = stored.png.with_suffix(".json")
    record = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**record, "model": "srgan"}))
    assert disk.get(key) is None
    stored.png.unlink()
    assert disk.get(key) is None


def test_examples_are_computed_once_then_read_from_disk(pool, tmp_path):
    cache = ExampleCache(tmp_path / "output_cache")
    assert cache.inputs(), "no shipped examples found"
    assert cache.missing(pool, DEFAULT_PRECISION)
    filled = cache.fill(pool)
    assert filled == len(cache.inputs()) * 3 and not cache.missing(pool, DEFAULT_PRECISION)
    assert "cached on disk" in cache.status()
    comparison = next(iter(cache.inputs().values()))
    fresh = prepare(comparison.original if comparison.original is not None else comparison.lr, comparison.mode)
    assert cache.is_example(fresh)
    run = run_method(fresh, "awsrn", pool, disk=cache.disk)
    loaded = pool.get("awsrn")
    hit = cache.disk.get(cache_key(loaded, fresh.lr, run.precision))
    assert run.cached and run.png == str(hit.png) and np.array_equal(run.image, hit.image())
    assert run.psnr is not None and "(cached)" in presentation.caption(run, run.name)
    assert not cache.is_example(prepare(pattern(64, 64), "original"))
