"""fetch: downloads from a real HTTP server on 127.0.0.1 (no mocks): success, bad hash,
truncation, 404, stalls, refused connections, and the registry-level helpers."""
from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sr_models.checkpoint_io import ChecksumMismatchError, sha256_file
from sr_models.fetch import (
    FetchError,
    FetchTimeoutError,
    HTTPStatusError,
    OfflineError,
    download,
    fetch_model,
    fetch_source,
)
from sr_models.registry import CheckpointSource, ModelCard, Paper, WeightsKind, get_card

PAYLOAD = os.urandom(300_000)  # several read chunks
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()
TIMEOUT = 1.0
STALL_S = 8.0  # the server stalls far longer than the client timeout


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        self.server.hits.append(self.path)
        route = getattr(self, "_" + self.path.strip("/").replace("-", "_").split(".")[0], None)
        if route is None:
            self.send_error(404, "Not Found")
            return
        route()

    def _headers(self, length: int | None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def _good(self) -> None:
        self._headers(len(PAYLOAD))
        self.wfile.write(PAYLOAD)

    def _no_length(self) -> None:  # HTTP/1.0 style: body ends when the connection closes
        self._headers(None)
        self.wfile.write(PAYLOAD)

    def _redirect(self) -> None:  # GitHub release assets redirect to a CDN
        self.send_response(302)
        self.send_header("Location", "/good.bin")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _truncated(self) -> None:
        self._headers(len(PAYLOAD))
        self.wfile.write(PAYLOAD[: len(PAYLOAD) // 3])
        self.wfile.flush()
        self.close_connection = True

    def _stall_body(self) -> None:
        self._headers(len(PAYLOAD))
        self.wfile.write(PAYLOAD[:1000])
        self.wfile.flush()
        self.server.release.wait(STALL_S)

    def _stall_headers(self) -> None:
        self.server.release.wait(STALL_S)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hits: list[str] = []
        self.release = threading.Event()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


@pytest.fixture(scope="module")
def server():
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.release.set()
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def hits(server):
    server.hits.clear()
    return server.hits


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if ".part-" in p.name)


def _refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/file.bin"  # nothing listens there any more


# ----------------------------------------------------------------------- download()


@pytest.mark.parametrize("path", ["/good.bin", "/no-length.bin", "/redirect.bin"])
def test_good_download_lands_verified(server, hits, tmp_path, path):
    dest = tmp_path / "deep" / "file.bin"
    result = download(server.url(path), dest, sha256=PAYLOAD_SHA, size=len(PAYLOAD), timeout=TIMEOUT, progress=False)
    assert result == dest
    assert dest.read_bytes() == PAYLOAD
    assert sha256_file(dest) == PAYLOAD_SHA
    assert _leftovers(dest.parent) == []
    assert hits[-1] == "/good.bin" if path == "/redirect.bin" else hits == [path]


def test_prefix_check_and_progress_bar_to_stderr(server, tmp_path, capsys):
    dest = tmp_path / "file.bin"
    download(server.url("/good.bin"), dest, sha256_prefix=PAYLOAD_SHA[:8], timeout=TIMEOUT, progress=True)
    captured = capsys.readouterr()
    assert dest.read_bytes() == PAYLOAD
    assert "file.bin" in captured.err and captured.out == ""


def test_wrong_hash_leaves_nothing(server, tmp_path):
    dest = tmp_path / "file.bin"
    wrong = "0" * 64
    with pytest.raises(ChecksumMismatchError) as info:
        download(server.url("/good.bin"), dest, sha256=wrong, timeout=TIMEOUT, progress=False)
    message = str(info.value)
    assert wrong in message and PAYLOAD_SHA in message and "/good.bin" in message
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []


def test_wrong_hash_keeps_previous_file(server, tmp_path):
    dest = tmp_path / "file.bin"
    dest.write_bytes(b"previous")
    with pytest.raises(ChecksumMismatchError):
        download(server.url("/good.bin"), dest, sha256_prefix="ffffffff", timeout=TIMEOUT, progress=False)
    assert dest.read_bytes() == b"previous"
    assert _leftovers(tmp_path) == []


def test_wrong_size_is_rejected_before_download(server, hits, tmp_path):
    dest = tmp_path / "file.bin"
    with pytest.raises(FetchError, match=r"announces 300,000 bytes.*should have 12 bytes"):
        download(server.url("/good.bin"), dest, size=12, timeout=TIMEOUT, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_wrong_size_without_content_length(server, tmp_path):
    dest = tmp_path / "file.bin"
    with pytest.raises((ChecksumMismatchError, FetchError)):
        download(server.url("/no-length.bin"), dest, size=len(PAYLOAD) + 1, timeout=TIMEOUT, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_truncated_body(server, tmp_path):
    dest = tmp_path / "file.bin"
    with pytest.raises(FetchError, match=r"truncated: received 100,000 of 300,000 bytes"):
        download(server.url("/truncated.bin"), dest, timeout=TIMEOUT, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_http_404(server, tmp_path):
    dest = tmp_path / "file.bin"
    url = server.url("/missing.bin")
    with pytest.raises(HTTPStatusError) as info:
        download(url, dest, timeout=TIMEOUT, progress=False)
    assert info.value.status == 404
    assert "404" in str(info.value) and url in str(info.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.timeout(60)  # a download that never gives up fails here instead of hanging the suite
@pytest.mark.parametrize("path", ["/stall-body.bin", "/stall-headers.bin"])
def test_stalled_server_times_out(server, tmp_path, path):
    """A server that stops sending ends in FetchTimeoutError, no sooner than the timeout, with no file left."""
    dest = tmp_path / "file.bin"
    start = time.monotonic()
    with pytest.raises(FetchTimeoutError) as info:
        download(server.url(path), dest, timeout=TIMEOUT, progress=False)
    assert time.monotonic() - start >= TIMEOUT * 0.9  # it waited (a lower bound: load only lengthens it)
    assert "1 s" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_connection_refused_is_offline(tmp_path):
    dest = tmp_path / "file.bin"
    with pytest.raises(OfflineError) as info:
        download(_refused_url(), dest, timeout=TIMEOUT, progress=False)
    message = str(info.value)
    assert "offline or host unreachable" in message
    assert str(dest) in message and "by hand" in message
    assert list(tmp_path.iterdir()) == []


def test_unresolvable_host_is_offline(tmp_path):
    dest = tmp_path / "file.bin"
    try:
        socket.getaddrinfo("sr-arena-test.invalid", 80)
        pytest.skip("this resolver answers for .invalid names")
    except socket.gaierror:
        pass
    with pytest.raises(OfflineError, match="offline or host unreachable"):
        download("http://sr-arena-test.invalid/file.bin", dest, timeout=TIMEOUT, progress=False)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------- fetch_source / fetch_model


def _source(urls: tuple[str, ...], **kwargs) -> CheckpointSource:
    fields = dict(
        kind=WeightsKind.REIMPLEMENTATION, filename="net.bin", description="test weights",
        licence="MIT", origin="unit test", urls=urls, sha256=PAYLOAD_SHA, size=len(PAYLOAD),
    )
    fields.update(kwargs)
    return CheckpointSource(**fields)


def test_fetch_source_uses_existing_verified_file_without_network(server, hits, tmp_path):
    (tmp_path / "net.bin").write_bytes(PAYLOAD)
    notes: list[str] = []
    path = fetch_source(_source((server.url("/good.bin"),)), tmp_path, timeout=TIMEOUT, progress=False, note=notes.append)
    assert path == tmp_path / "net.bin"
    assert hits == []
    assert any("already present" in n for n in notes)


def test_fetch_source_replaces_bad_existing_file(server, hits, tmp_path):
    (tmp_path / "net.bin").write_bytes(b"garbage")
    path = fetch_source(_source((server.url("/good.bin"),)), tmp_path, timeout=TIMEOUT, progress=False)
    assert path.read_bytes() == PAYLOAD and hits == ["/good.bin"]


def test_fetch_source_tries_urls_in_order(server, hits, tmp_path):
    source = _source((server.url("/missing.bin"), _refused_url(), server.url("/good.bin")))
    path = fetch_source(source, tmp_path, timeout=TIMEOUT, progress=False)
    assert path.read_bytes() == PAYLOAD
    assert hits == ["/missing.bin", "/good.bin"]
    assert _leftovers(tmp_path) == []


def test_fetch_source_all_fail_reports_each_and_manual_hint(server, tmp_path):
    source = _source((server.url("/missing.bin"), _refused_url()), manual="Ask the authors by e-mail.")
    with pytest.raises(OfflineError) as info:
        fetch_source(source, tmp_path, timeout=TIMEOUT, progress=False)
    message = str(info.value)
    assert "404" in message and "offline or host unreachable" in message
    assert "Ask the authors by e-mail." in message and PAYLOAD_SHA in message
    assert list(tmp_path.iterdir()) == []


def test_fetch_source_manual_only(tmp_path):
    manual = "Download net.bin from the link in the authors' README and put it in checkpoints/."
    with pytest.raises(FetchError) as info:
        fetch_source(_source((), manual=manual), tmp_path, progress=False)
    assert manual in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_fetch_source_manual_only_but_present(tmp_path):
    (tmp_path / "net.bin").write_bytes(PAYLOAD)
    path = fetch_source(_source((), manual="by hand"), tmp_path, progress=False, note=lambda _: None)
    assert path == tmp_path / "net.bin"


def test_fetch_model_fetches_url_sources_and_notes_the_rest(server, hits, tmp_path):
    card = ModelCard(
        id="toy", display_name="Toy", paper=Paper("t", "a", "v", 2024, "u"), arch="toy", scale=4,
        value_range="[0,1]",
        sources=(
            _source((), filename="official.pth", manual="Get official.pth from the authors' drive."),
            _source((server.url("/good.bin"),), filename="sub/public.bin"),
            _source((), filename="converted/x.safetensors", package="some-package"),
        ),
    )
    notes: list[str] = []
    fetched = fetch_model(card, tmp_path, timeout=TIMEOUT, progress=False, note=notes.append)
    assert fetched == [tmp_path / "sub" / "public.bin"]
    assert fetched[0].read_bytes() == PAYLOAD
    assert hits == ["/good.bin"]
    joined = "\n".join(notes)
    assert "official.pth" in joined and "authors' drive" in joined and "some-package" in joined


def test_fetch_model_bicubic_needs_nothing(tmp_path):
    notes: list[str] = []
    assert fetch_model(get_card("bicubic"), tmp_path, note=notes.append) == []
    assert notes and list(tmp_path.iterdir()) == []
