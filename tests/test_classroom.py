"""Classroom studies on real SQLite and PostgreSQL: built from uploaded images, joined by code,
scoped to their own votes, "too few votes" below the minimum, reset, close and archive."""
from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from skimage import data as skdata

from browser_support import has_weights
from sr_arena.mos import classroom
from sr_arena.mos.battles import BattleService
from sr_arena.mos.storage import Store
from sr_arena.mos.study import StudyConfig, StudyService, prepare_study


def _uploads(folder: Path) -> list[Path]:
    """Two uploaded pictures, one with a name that must not reach the file system as is."""
    folder.mkdir(parents=True)
    a, b = folder / "astronaut.png", folder / "=cat photo!.png"
    Image.fromarray(skdata.astronaut()[30:158, 130:258]).save(a)
    Image.fromarray(skdata.chelsea()[20:148, 100:228]).save(b)
    return [a, b]


def _vote_all(service: StudyService, rater: str, score: int = 3) -> int:
    """Score every stimulus: the anchors as an attentive rater does (NN 1, HR 5), methods ``score``."""
    n = 0
    while (served := service.next(rater)) is not None:
        service.vote(rater, served.stimulus.id, {"nn": 1, "hr": 5}.get(served.stimulus.method, score))
        n += 1
    return n


def test_a_class_is_its_own_study_joined_by_code(target, tmp_path):
    store = Store(target, 0)
    # Another study in the same database, with votes: they must never show in the class.
    other_dir = tmp_path / "other"
    _uploads(other_dir)
    other = StudyConfig("other-study", other_dir, crop=128, methods=("bicubic",), cache_root=tmp_path / "stimuli")
    prepare_study(store, other)
    other_service = StudyService(store, other)
    _vote_all(other_service, "f" * 32, score=1)

    study, notes = classroom.create_class(store, _uploads(tmp_path / "up"), "Lecture 3", ["bicubic"], "acr",
                                          data_root=tmp_path / "data", crop=128)
    assert notes == []
    assert study.study_id.startswith("class-") and study.state == "open" and not study.revealed
    assert len(study.code) == classroom.CODE_LENGTH and set(study.code) <= set(classroom.CODE_ALPHABET)
    assert classroom.find_class(store, f" {study.code.lower()[:3]}-{study.code.lower()[3:]} ") == study
    assert classroom.find_class(store, "NOPE00") is None
    names = sorted(p.name for p in (tmp_path / "data" / "classes" / study.study_id / "images").iterdir())
    assert names == ["astronaut.png", "cat_photo.png"]
    stimuli = store.stimuli(study.study_id)
    assert sorted(s.method for s in stimuli) == ["bicubic", "bicubic", "hr", "hr", "nn", "nn"]

    # The calibration examples are not among the stimuli (no calibration picture is ever rated).
    nn, hr = classroom.calibration_pair(store, study.study_id, tmp_path / "data", 128)
    from sr_models.image_io import image_sha256, read_checked

    assert image_sha256(read_checked(hr)[0]) not in {s.image_sha256 for s in stimuli}
    assert nn.exists()

    view = classroom.live_view(store, study.study_id)
    assert (view.raters, view.votes, view.methods) == (0, 0, ())
    service = classroom.acr_service(store, study)
    raters = [f"{k:032x}" for k in range(1, 4)]
    for k, rater in enumerate(raters):
        assert _vote_all(service, rater, score=2 + k) == 6
    view = classroom.live_view(store, study.study_id)
    assert (view.raters, view.finished, view.votes, view.expected) == (3, 3, 18, 18)
    assert view.per_rater == ((6, 6),) * 3
    by_method = {m.method: m for m in view.methods}
    assert set(by_method) == {"nn", "bicubic", "hr"}  # no method of the other study
    assert by_method["bicubic"].n == 6 and by_method["bicubic"].value == pytest.approx(3.0)
    assert not by_method["bicubic"].enough  # 6 < MIN_VOTES_PER_METHOD: "too few votes", not an interval

    more = [f"{k:032x}" for k in range(4, 6)]
    for rater in more:
        _vote_all(service, rater, score=3)
    line = {m.method: m for m in classroom.live_view(store, study.study_id).methods}["bicubic"]
    assert line.n == 10 and line.enough and 1.0 <= line.ci[0] <= 3.0 <= line.ci[1] <= 5.0

    assert classroom.set_revealed(store, study.study_id).revealed
    assert classroom.set_state(store, study.study_id, "closed").state == "closed"
    assert classroom.reset_votes(store, study.study_id) == 30
    view = classroom.live_view(store, study.study_id)
    assert (view.raters, view.votes, view.study.revealed) == (0, 0, False)
    assert len(store.votes("other-study")) == 6  # the other study is untouched
    classroom.set_state(store, study.study_id, "archived")
    assert study.study_id not in {c.study_id for c in classroom.classes(store)}
    assert study.study_id in {c.study_id for c in classroom.classes(store, include_archived=True)}
    with pytest.raises(ValueError):
        classroom.set_state(store, study.study_id, "deleted")


def test_a_battle_class_counts_battles_and_refuses_bad_input(target, tmp_path):
    store = Store(target, 0)
    with pytest.raises(ValueError, match="image"):
        classroom.create_class(store, [], "x", ["bicubic"], "acr", data_root=tmp_path / "data")
    with pytest.raises(ValueError, match="method"):
        classroom.create_class(store, _uploads(tmp_path / "a"), "x", [], "acr", data_root=tmp_path / "data")
    with pytest.raises(ValueError, match="two methods"):
        classroom.create_class(store, _uploads(tmp_path / "b"), "x", ["bicubic"], "battle", data_root=tmp_path / "d")
    assert classroom.classes(store) == []
    if not has_weights("srgan"):
        pytest.skip("no SRGAN checkpoint: a battle needs two methods")
    study, _ = classroom.create_class(store, _uploads(tmp_path / "up"), "Battles", ["bicubic", "srgan"], "battle",
                                      data_root=tmp_path / "data", crop=128)
    service = BattleService(store, study.study_id, battles_per_rater=4)
    for rater in ("a" * 32, "b" * 32):
        while (pair := service.next(rater)) is not None:
            service.vote(rater, pair.position, "tie")
    view = classroom.live_view(store, study.study_id)
    assert (view.raters, view.finished, view.votes, view.expected) == (2, 2, 8, 8)
    assert view.minimum == classroom.MIN_BATTLES
    assert all(not m.enough for m in view.methods)  # a handful of battles: too few for an interval
