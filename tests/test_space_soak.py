"""Bounded disk over a long run, against the real server over HTTP (issue 11).

200 comparisons (a 64×64 original, the smallest allowed; bicubic: the disk traffic of a comparison without the compute)
through the Compare tab's ``/compare`` event. Every comparison writes its panels (original, low-res,
bicubic) and a zip into its request folder under the app's scratch root, which lives in Gradio's
cache (``GRADIO_TEMP_DIR``) and is served in place. With ``SR_ARENA_TEMP_MAX_AGE=4`` a served file
lives at most 1.25 × 4 s, so the app's temporary disk use (everything under ``TMPDIR`` and
``GRADIO_TEMP_DIR``) stays under the bound documented in the README's Space section: the files of
the comparisons served in the last 1.25 × ``SR_ARENA_TEMP_MAX_AGE`` seconds — asserted as under a
quarter of what 200 comparisons write while they run, and nothing but the uploads' empty folders
once the app has been idle for that long. Before the fix the low-res panel of every comparison but
the first stayed in Gradio's cache for good (its component's session copy is not swept).
"""
from __future__ import annotations

import os
import time
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

from browser_support import serve_app
from ui_images import pattern

COMPARISONS = 200
MAX_AGE_S = 4


def _files(*roots: Path) -> list[Path]:
    """Every non-empty file under ``roots`` (os.walk skips folders a sweep removes meanwhile)."""
    found = []
    for root in roots:
        for folder, _dirs, names in os.walk(root):
            for name in names:
                path = Path(folder) / name
                try:
                    if path.stat().st_size:
                        found.append(path)
                except FileNotFoundError:
                    continue
    return found


def _usage(*roots: Path) -> int:
    total = 0
    for path in _files(*roots):
        try:
            total += path.stat().st_size
        except FileNotFoundError:
            continue
    return total


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("soak")
    roots = {"tmp": base / "tmp", "gradio": base / "gradio"}
    for root in roots.values():
        root.mkdir()
    env = {"TMPDIR": str(roots["tmp"]), "GRADIO_TEMP_DIR": str(roots["gradio"]),
           "SR_ARENA_DATA_DIR": str(base / "data"), "SR_ARENA_STORAGE_EPHEMERAL": "1",
           "SR_ARENA_TEMP_MAX_AGE": str(MAX_AGE_S)}
    with serve_app(env, log_name="soak-app-server") as url:
        yield url, roots


def test_two_hundred_comparisons_keep_temp_disk_bounded(server, tmp_path: Path):
    from gradio_client import Client, handle_file

    url, roots = server
    source = tmp_path / "original.png"
    Image.fromarray(pattern(64, 64)).save(source)
    client = Client(url, verbose=False, download_files=False)
    peak, written_before = 0, _usage(*roots.values())
    kept = set(_files(*roots.values()))  # the examples Gradio keeps in its cache for good (keep_in_cache)
    per_comparison = None
    for index in range(COMPARISONS):
        before = _usage(*roots.values())
        client.predict(handle_file(str(source)), None, "original", ["bicubic"], "fast", api_name="/compare")
        usage = _usage(*roots.values())
        if index == 0:
            per_comparison = usage - before
        peak = max(peak, usage)
    assert per_comparison and per_comparison > 0
    written, held = COMPARISONS * per_comparison, peak - written_before
    print(f"soak: {COMPARISONS} comparisons wrote {written} B ({per_comparison} B each); peak temporary disk "
          f"{held} B above the {written_before} B of examples Gradio keeps")
    assert held < written / 4, f"peak {held} B of {written} B written: temp files are not being removed"
    time.sleep(1.25 * MAX_AGE_S + 2)
    # the app's scratch root (one, inside Gradio's cache) is empty, and nothing the app served is left
    scratch_roots = list(roots["gradio"].glob("sr-arena-*"))
    assert len(scratch_roots) == 1 and not any(scratch_roots[0].iterdir()), list(scratch_roots[0].iterdir())
    left = [p for p in _files(*roots.values()) if p not in kept and p.name != source.name]
    assert not left, f"kept past SR_ARENA_TEMP_MAX_AGE: {left[:5]}"


def test_status_line_warns_when_votes_are_on_ephemeral_disk(server):
    url, _roots = server
    with urllib.request.urlopen(url + "config", timeout=30) as response:
        config = response.read().decode()
    assert "Votes are stored on ephemeral disk" in config
