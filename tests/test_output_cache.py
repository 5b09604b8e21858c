"""Output cache: hits return the identical array; the byte bound evicts least recently used entries."""
from __future__ import annotations

import numpy as np

from sr_models import inference
from sr_models.loader import load_model
from sr_models.output_cache import OutputCache, image_sha256


def _array(value: int, n: int = 1000) -> np.ndarray:
    return np.full(n, value, dtype=np.uint8)


def test_lru_eviction_by_bytes():
    cache: OutputCache[str] = OutputCache(max_bytes=3000)
    for key in "abc":
        cache.put(key, key.upper(), _array(1))
    assert cache.get("a") == "A"  # a is now the most recently used
    cache.put("d", "D", _array(2))
    assert "b" not in cache and {"a", "c", "d"} <= {k for k in "abcd" if k in cache}
    assert cache.nbytes == 3000 and len(cache) == 3
    cache.put("huge", "H", _array(3, 5000))  # larger than the bound: not stored, nothing evicted
    assert "huge" not in cache and len(cache) == 3


def test_stored_arrays_are_read_only():
    cache: OutputCache[str] = OutputCache(max_bytes=10_000)
    array = _array(5)
    cache.put("k", "v", array)
    assert not array.flags.writeable


def test_image_sha256_depends_on_pixels_and_shape():
    a = np.zeros((4, 6, 3), np.uint8)
    assert image_sha256(a) == image_sha256(a.copy())
    assert image_sha256(a) != image_sha256(a.reshape(6, 4, 3))
    b = a.copy()
    b[0, 0, 0] = 1
    assert image_sha256(a) != image_sha256(b)


def test_upscale_with_info_hits_return_identical_arrays():
    model = load_model("srgan", "cpu")
    image = np.random.default_rng(0).integers(0, 256, (20, 24, 3), dtype=np.uint8)
    cache: OutputCache = OutputCache(max_bytes=10 * 2**20)
    first = inference.upscale_with_info(model, image, "exact", cache=cache)
    second = inference.upscale_with_info(model, image.copy(), "exact", cache=cache)
    assert not first.cached and second.cached
    assert second.image is first.image and second.seconds == first.seconds
    assert cache.hits == 1 and cache.misses == 1
    other = inference.upscale_with_info(model, image[:, :20].copy(), "exact", cache=cache)
    assert not other.cached and other.image.shape == (80, 80, 3)


def test_cache_key_separates_models_and_precisions():
    srgan, bicubic = load_model("srgan", "cpu"), load_model("bicubic", "cpu")
    image = np.zeros((8, 8, 3), np.uint8)
    keys = {inference.cache_key(srgan, image, "exact"), inference.cache_key(srgan, image, "fast"),
            inference.cache_key(bicubic, image, "exact")}
    assert len(keys) == 3
    assert inference.cache_key(srgan, image, "exact")[2] == srgan.provenance.sha256


def test_bounded_cache_evicts_lru_upscales():
    bicubic = load_model("bicubic", "cpu")
    images = [np.full((16, 16, 3), v, np.uint8) for v in (10, 20, 30)]
    cache: OutputCache = OutputCache(max_bytes=2 * 64 * 64 * 3)  # room for two outputs
    results = [inference.upscale_with_info(bicubic, im, "exact", cache=cache) for im in images]
    assert len(cache) == 2
    assert not inference.upscale_with_info(bicubic, images[0], "exact", cache=cache).cached  # evicted
    assert inference.upscale_with_info(bicubic, images[2], "exact", cache=cache).image is results[2].image


def test_cache_hit_note_answers_the_request_not_the_first_caller():
    from sr_models.inference import upscale_with_info

    bicubic = load_model("bicubic")
    image = np.zeros((8, 8, 3), np.uint8)
    cache = OutputCache(max_bytes=1 << 20)
    exact = upscale_with_info(bicubic, image, "exact", cache=cache)
    fast = upscale_with_info(bicubic, image, "fast", cache=cache)
    assert fast.cached and fast.precision == exact.precision == "exact"
    assert fast.note != exact.note and "interpolation" in fast.note
