"""Study preparation with the real engine (tiny images), per-rater order, serving and scoring,
gold-item screening, the CLI, and quick ratings from the Compare tab."""
from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from sr_arena.mos.storage import StimulusRow, Store, VoteRejected
from sr_arena.mos.study import StudyConfig, StudyService, make_sequence, prepare_study
from sr_arena.ui.pipeline import MethodRun
from sr_models.image_io import image_sha256, read_image
from sr_models.imresize import bicubic_downscale

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """Two 128×128 HR images (32×32 LR), bicubic + SRGAN + an unknown method, prepared once."""
    root = tmp_path_factory.mktemp("study")
    folder = root / "images"
    folder.mkdir()
    Image.fromarray(skdata.astronaut()[30:286, 130:386]).save(folder / "a.png")
    Image.fromarray(skdata.chelsea()[20:276, 100:356]).save(folder / "b.png")
    Image.fromarray(skdata.astronaut()[:40, :40]).save(folder / "tiny.png")  # below min_side: left out
    config = StudyConfig("t", folder, crop=128, methods=("bicubic", "srgan", "no-such-method"),
                         cache_root=root / "cache", gold_max_fail_share=0.25)
    store = Store(root / "db.sqlite3", min_vote_interval_s=0)
    rows, notes = prepare_study(store, config)
    return store, config, rows, notes


def test_prepare_makes_every_stimulus_and_anchors(prepared):
    store, config, rows, notes = prepared
    assert len(rows) == 2 * 4 and Counter(r.method for r in rows) == {"nn": 2, "hr": 2, "bicubic": 2, "srgan": 2}
    assert any("no-such-method skipped" in n for n in notes) and any("tiny.png left out" in n for n in notes)
    from sr_models.loader import load_model

    srgan_sha = load_model("srgan").provenance.sha256
    for r in rows:
        image = np.asarray(Image.open(r.file))
        assert image.shape == (128, 128, 3) and (r.width, r.height) == (128, 128)
        assert Path(r.file).name == f"{r.id}.png"  # the file name says nothing about the method
        source = config.folder / r.image_name
        assert r.image_sha256 == image_sha256(read_image(source))  # decoded pixels, as everywhere
        hr = np.asarray(Image.open(source))[64:192, 64:192]  # centre 128×128 crop of the 256×256 image
        if r.method == "hr":
            np.testing.assert_array_equal(image, hr)
        if r.method == "nn":
            lr = bicubic_downscale(hr, 4)
            np.testing.assert_array_equal(image, np.repeat(np.repeat(lr, 4, 0), 4, 1))
        assert r.checkpoint_sha256 == (srgan_sha if r.method == "srgan" else "")
        assert (r.precision == "-") == (r.kind != "method")
    assert {r.id for r in store.stimuli("t")} == {r.id for r in rows}


def test_prepare_reuses_the_cache(prepared):
    store, config, rows, _ = prepared
    mtimes = {r.file: os.stat(r.file).st_mtime_ns for r in rows}
    again, _ = prepare_study(store, config)
    assert [r.id for r in again] == [r.id for r in rows]
    assert all(os.stat(r.file).st_mtime_ns == mtimes[r.file] for r in again)


def _rows(images: int, methods: int) -> list[StimulusRow]:
    return [StimulusRow(f"{i}-{m}", "s", f"img{i}", f"{i}.png", f"m{m}", "", "exact", "method", "", 1, 1)
            for i in range(images) for m in range(methods)]


def test_sequences_are_random_per_rater_and_interleave_images():
    rows = _rows(6, 7)
    orders = [make_sequence(rows, random.Random(seed)) for seed in range(20)]
    for order in orders:
        assert sorted(order) == sorted(r.id for r in rows)
        images = [sid.split("-")[0] for sid in order]
        assert sum(a == b for a, b in zip(images, images[1:])) <= 2  # almost never the same image twice
    assert len({tuple(o) for o in orders}) == 20
    firsts = Counter(o[0].split("-")[1] for o in orders)
    assert len(firsts) >= 3  # the first stimulus is not always the same method


def test_service_serves_scores_and_summarises(prepared):
    store, config, rows, _ = prepared
    service = StudyService(store, config)
    service.prepare()
    nn, hr = service.calibration()
    assert (nn.kind, hr.kind) == ("anchor_nn", "anchor_hr") and nn.image_sha256 == hr.image_sha256
    rater = "a" * 32
    assert service.progress(rater) == (0, 8)
    with pytest.raises(VoteRejected, match="not shown"):
        service.vote(rater, service.session(rater).sequence[1], 3)  # not served yet
    seen = []
    while (served := service.next(rater)) is not None:
        assert service.next(rater).stimulus.id == served.stimulus.id  # a reload serves the same one again
        seen.append(served.stimulus)
        assert (served.done, served.total) == (len(seen) - 1, 8)
        score = {"nn": 5, "hr": 1}.get(served.stimulus.method, 3)  # an inattentive rater: anchors reversed
        service.vote(rater, served.stimulus.id, score)
    assert [s.id for s in seen] == list(service.session(rater).sequence)
    summary = service.rater_summary(rater)
    assert summary["n_votes"] == 8 and summary["n_gold"] == 4 and summary["n_gold_failed"] == 4
    assert summary["flagged"] and summary["mean_by_method"]["nn"] == 5.0
    other = "b" * 32
    assert sorted(service.session(other).sequence) == sorted(service.session(rater).sequence)


def test_cli_summary_and_export(tmp_path):
    db = tmp_path / "cli.sqlite3"
    store = Store(db, 0)
    from mos_support import synthetic_study

    stimuli = synthetic_study(store, n_images=3)
    session = store.create_session("s1", "r1", "s", [s.id for s in stimuli])
    for i, s in enumerate(stimuli):
        store.mark_served(session.id, s.id, i)
        store.record_vote("r1", session.id, s.id, {"nn": 1, "hr": 5}.get(s.method, 3 + i % 2))
    env = {**os.environ, "SR_ARENA_DB": str(db), "DATABASE_URL": "", "PYTHONPATH": str(REPO)}
    run = lambda *args: subprocess.run([sys.executable, "-m", "sr_arena.mos", *args], env=env, cwd=tmp_path,
                                       capture_output=True, text=True, timeout=120, check=True).stdout
    table = run("summary", "--study", "s")
    assert "15 votes analysed" in table and "HR anchor" in table and "Wilcoxon" in table
    data = json.loads(run("summary", "--study", "s", "--json"))
    hr = next(c for c in data["conditions"] if c["method"] == "hr")
    assert hr["mos"] == 5 and hr["n_votes"] == 3 and len(data["tests"]) == 10
    paths = run("export", "--study", "s", "--out", str(tmp_path / "out")).split()
    assert sorted(Path(p).name for p in paths) == ["mos_analysis.json", "mos_battles.csv", "mos_battles.json",
                                                   "mos_bradley_terry.csv", "mos_summary.csv", "mos_summary.json",
                                                   "mos_votes.csv", "mos_votes.json"]
    votes = json.loads((tmp_path / "out" / "mos_votes.json").read_text())
    assert len(votes) == 15 and {v["blinded"] for v in votes} == {1} and votes[0]["app_version"]
    assert (tmp_path / "out" / "mos_votes.csv").read_text().count("\n") == 16


def test_quick_rating_from_a_comparison(tmp_path, monkeypatch):
    from sr_arena.ui import quick_rating, rating_session
    from sr_arena.ui.pipeline import Comparison, MethodRun

    store = Store(tmp_path / "q.sqlite3", 0)
    monkeypatch.setattr(rating_session, "_service", StudyService(store, StudyConfig("q", tmp_path)))
    lr = np.zeros((8, 8, 3), np.uint8)
    comparison = Comparison(mode="lowres", lr=lr, original=None, name="mine.png")
    comparison.runs["srgan"] = MethodRun("srgan", "SRGAN", image=np.zeros((32, 32, 3), np.uint8),
                                         precision="exact", provenance={"sha256": "abc123"})
    rater = "a" * 32
    store.ensure_rater(rater)
    assert quick_rating.record_quick_rating(rater, comparison, "srgan", 4).startswith("Stored")
    again = quick_rating.record_quick_rating(rater, comparison, "srgan", 2)
    assert again.startswith("Not stored") and "already rated" in again
    votes = store.votes()
    assert [(v["blinded"], v["study_id"], v["method"], v["checkpoint_sha256"], v["score"]) for v in votes] == [
        (0, "quick", "srgan", "abc123", 4)]


def test_a_quick_rating_and_a_study_name_the_same_image_by_the_same_hash(prepared, tmp_path, monkeypatch):
    """votes.image_sha256 has one meaning: the decoded pixels of the image the person gave
    (before: a pixel hash of the LR in quick ratings, a file-bytes hash in studies)."""
    from sr_arena.ui import quick_rating, rating_session
    from sr_arena.ui.pipeline import prepare
    from sr_arena.ui.uploads import ORIGINAL

    store, config, rows, _ = prepared
    path = config.folder / "a.png"
    study_hashes = {row.image_sha256 for row in rows if row.image_name == "a.png"}
    assert study_hashes == {image_sha256(read_image(path))}
    assert study_hashes != {hashlib.sha256(path.read_bytes()).hexdigest()}
    quick_store = Store(tmp_path / "q.sqlite3", 0)
    monkeypatch.setattr(rating_session, "_service", StudyService(quick_store, StudyConfig("q", tmp_path)))
    comparison = prepare(read_image(path), ORIGINAL, "a.png")
    comparison.runs["srgan"] = MethodRun("srgan", "SRGAN", image=np.zeros((256, 256, 3), np.uint8),
                                         precision="exact", provenance={"sha256": "abc123"})
    quick_rating.record_quick_rating("a" * 32, comparison, "srgan", 4)
    assert {v["image_sha256"] for v in quick_store.votes()} == study_hashes


def test_a_quick_rating_of_an_uncropped_upload_names_it_like_the_study(tmp_path, monkeypatch):
    """An original whose sides are not multiples of 4 is cropped for the comparison, but votes
    still name the image the person gave (its decoded pixels), as the study does for its files."""
    from sr_arena.ui import quick_rating, rating_session
    from sr_arena.ui.pipeline import prepare
    from sr_arena.ui.uploads import ORIGINAL

    image = skdata.astronaut()[:130, :97]
    store = Store(tmp_path / "q.sqlite3", 0)
    monkeypatch.setattr(rating_session, "_service", StudyService(store, StudyConfig("q", tmp_path)))
    comparison = prepare(image, ORIGINAL, "odd.png")
    assert comparison.original.shape == (128, 96, 3)
    comparison.runs["srgan"] = MethodRun("srgan", "SRGAN", image=np.zeros((128, 96, 3), np.uint8),
                                         precision="exact", provenance={"sha256": "abc123"})
    quick_rating.record_quick_rating("a" * 32, comparison, "srgan", 3)
    assert [v["image_sha256"] for v in store.votes()] == [image_sha256(image)]
