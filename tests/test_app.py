"""The app as a server: start ``python app.py`` and call its API through gradio_client."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sr_models.paths import REPO_ROOT


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def app_url():
    port = _free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False"}
    process = subprocess.Popen([sys.executable, "app.py"], cwd=REPO_ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"app.py exited early:\n{process.stdout.read()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail("app.py did not start listening within 120 s")
    yield url
    process.terminate()
    process.wait(timeout=30)


def test_enlarge_through_the_api(app_url: str, tmp_path: Path):
    from gradio_client import Client, handle_file

    source = tmp_path / "lr.png"
    lr = np.random.default_rng(5).integers(0, 256, (12, 10, 3), dtype=np.uint8)
    Image.fromarray(lr).save(source)
    client = Client(app_url, verbose=False)
    image_path, info = client.predict(handle_file(str(source)), "bicubic", api_name="/enlarge")
    assert Image.open(image_path).size == (40, 48)
    assert Path(image_path).suffix == ".png"
    assert "Bicubic" in info


def test_bad_upload_is_a_clear_error_and_the_app_keeps_serving(app_url: str, tmp_path: Path):
    from gradio_client import Client, handle_file

    bad = tmp_path / "bad.png"
    bad.write_bytes(b"definitely not a png")
    client = Client(app_url, verbose=False)
    with pytest.raises(Exception, match="not a readable image"):
        client.predict(handle_file(str(bad)), "bicubic", api_name="/enlarge")
    good = tmp_path / "good.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(good)
    image_path, _ = client.predict(handle_file(str(good)), "bicubic", api_name="/enlarge")
    assert Image.open(image_path).size == (32, 32)
