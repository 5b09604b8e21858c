"""Helpers for the MOS tests: a throw-away PostgreSQL server and tiny synthetic studies."""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from sr_arena.mos.storage import StimulusRow, Store


def postgres_bindir() -> Path | None:
    """Debian's PostgreSQL server binaries (newest version), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(args: list[str]) -> list[str]:
    """Run as the ``postgres`` user when we are root (PostgreSQL refuses to run as root)."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def start_postgres() -> Iterator[str]:
    """Start a private PostgreSQL server on a free loopback port; yield its admin URL; stop it."""
    bindir = postgres_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not found (apt-get install postgresql)")
    base = Path(tempfile.mkdtemp(prefix="sr-arena-pg-"))
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    data, sockets, port = base / "data", base / "sock", _free_port()
    run = lambda args: subprocess.run(_as_postgres(args), check=True, capture_output=True, text=True, timeout=120)
    run(["mkdir", "-p", str(sockets)])
    run([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c max_connections=60"
    run([str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "-t", "60", "start"])
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
                       capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def fresh_database(admin_url: str) -> str:
    """Create an empty database on the test server; return its URL."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return admin_url.rsplit("/", 1)[0] + "/" + name


def synthetic_study(store: Store, study_id: str = "s", n_images: int = 5,
                    methods: tuple[str, ...] = ("nn", "bicubic", "srgan", "esrgan", "hr")) -> list[StimulusRow]:
    """A study whose stimuli exist only in the database (storage tests never open the files)."""
    rows = []
    for i in range(n_images):
        for method in methods:
            kind = {"nn": "anchor_nn", "hr": "anchor_hr"}.get(method, "method")
            ckpt = "" if kind != "method" or method == "bicubic" else f"{method}-sha"
            precision = "-" if kind != "method" else "exact"
            rows.append(StimulusRow(f"{study_id}-{i}-{method}", study_id, f"img{i:03d}", f"img{i}.png", method,
                                    ckpt, precision, kind, f"/nonexistent/{i}-{method}.png", 64, 64))
    store.save_study(study_id, "test study", "synthetic", {}, rows)
    return rows


class StepClock:
    """A clock the test moves by hand (vote times are then exact, whatever the machine's load)."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def noisy_stimuli(directory: Path, crops: list, noise: dict[str, float], seed: int) -> list:
    """Study stimuli of ``crops`` (HR arrays): per crop ``i`` an HR anchor ``hr{i}.png`` and per
    method a copy with Gaussian noise of ``noise[method]`` (``{method}{i}.png``), as
    :class:`sr_arena.mos.storage.StimulusRow` rows of study ``s`` (for perception-distortion tests)."""
    import numpy as np
    from PIL import Image

    from sr_arena.mos.storage import StimulusRow

    rng = np.random.default_rng(seed)
    rows = []
    for i, hr in enumerate(crops):
        side = hr.shape[0]
        Image.fromarray(hr).save(directory / f"hr{i}.png")
        rows.append(StimulusRow(f"{i}-hr", "s", f"img{i}", f"{i}.png", "hr", "", "-", "anchor_hr",
                                str(directory / f"hr{i}.png"), side, side))
        for method, level in noise.items():
            noisy = np.clip(hr + rng.normal(0, level, hr.shape), 0, 255).astype(np.uint8)
            Image.fromarray(noisy).save(directory / f"{method}{i}.png")
            rows.append(StimulusRow(f"{i}-{method}", "s", f"img{i}", f"{i}.png", method, "", "exact", "method",
                                    str(directory / f"{method}{i}.png"), side, side))
    return rows
