"""Concurrent users on one image, against the real server over HTTP (issue 11).

Ten gradio_client clients each call ``/enlarge`` five times on the same 16×16 image at the same
time. Before the fix the API returned a NumPy array, which Gradio writes to one content-hash path
in its cache (``<sha256>/image.png``) for every such request: a writer truncating that file while
another client downloads it gave truncated or failed outputs. Every one of the 50 outputs must
now decode to the same complete ×4 image.
"""
from __future__ import annotations

import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from browser_support import serve_app
from ui_images import pattern

CLIENTS, CALLS = 10, 5


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    data = tmp_path_factory.mktemp("concurrency-data")
    with serve_app({"SR_ARENA_DATA_DIR": str(data), "SR_ARENA_CONCURRENCY": "4"},
                   log_name="concurrency-app-server") as url:
        yield url


def _client_calls(url: str, source: Path, download: Path) -> list[np.ndarray | str]:
    """One user: five ``/enlarge`` calls in a row; each result is the decoded image or the error."""
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False, download_files=str(download))
    results: list[np.ndarray | str] = []
    for _ in range(CALLS):
        try:
            image_path, _info = client.predict(handle_file(str(source)), "bicubic", "low-res", api_name="/enlarge")
            with Image.open(image_path) as image:
                results.append(np.asarray(image.convert("RGB")))
        except Exception as error:  # noqa: BLE001 - every failure is counted, whatever its kind
            results.append(f"{type(error).__name__}: {error}")
    return results


def test_ten_clients_five_calls_same_image_all_complete(app_url, tmp_path: Path):
    source = tmp_path / "same.png"
    Image.fromarray(pattern(16, 16)).save(source)
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        futures = [pool.submit(_client_calls, app_url, source, tmp_path / f"client{i}") for i in range(CLIENTS)]
        results = [r for f in futures for r in f.result()]
    failures = [r for r in results if isinstance(r, str) or r.shape != (64, 64, 3)]
    assert len(results) == CLIENTS * CALLS
    assert not failures, f"{len(failures)} of {len(results)} failed: {failures[:3]}"
    first = results[0]
    assert all(np.array_equal(first, r) for r in results), "identical requests gave different pixels"


def test_no_ephemeral_warning_when_a_data_dir_is_set(app_url):
    with urllib.request.urlopen(app_url + "config", timeout=30) as response:
        assert "Votes are stored on ephemeral disk" not in response.read().decode()
