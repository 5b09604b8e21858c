"""Models tab text: published rows next to this project's stored measurements."""
from __future__ import annotations

import json

import pytest

from sr_arena.published import PUBLISHED, rows_for
from sr_arena.ui.model_cards import RESULTS_DIR, all_cards_markdown, load_measured
from sr_arena.ui.models import Unavailable
from sr_models.registry import CARDS


def test_published_rows_cover_every_method_and_hold_the_papers_numbers():
    assert {row.model_id for row in PUBLISHED} == set(CARDS)
    san = rows_for("san")[0]
    assert san.scores["Set5"] == (32.64, 0.9003) and san.scores["B100"] == (27.78, 0.7436)
    assert rows_for("bicubic")[0].scores["Set14"] == (26.00, 0.7027)
    srresnet, srgan = rows_for("srgan")  # Ledig et al. 2017, Table 2
    assert srresnet.scores == {"Set5": (32.05, 0.9019), "Set14": (28.49, 0.8184), "B100": (27.58, 0.7620)}
    assert srgan.scores == {"Set5": (29.40, 0.8472), "Set14": (26.02, 0.7397), "B100": (25.16, 0.6688)}
    assert all(row.verified != "brief" for row in PUBLISHED)  # every row says how (or that it was not) checked


def test_stored_measurements_are_evaluate_json_with_checkpoints():
    report = json.loads((RESULTS_DIR / "evaluate_Set5.json").read_text())
    assert report["dataset"] == "Set5" and report["results"]["bicubic"]["n"] == 5
    assert abs(report["results"]["bicubic"]["psnr"] - 28.42) < 0.02  # bicubic reproduces the published row
    assert report["results"]["esrgan"]["checkpoint"]["sha256"]


def test_cards_show_measured_and_published_and_unavailable_fix():
    measured = load_measured()
    loaded = {"awsrn": Unavailable("awsrn", "no checkpoint file found", "save it as checkpoints/AWSRN_x4.pt")}
    cards = dict(zip(CARDS, all_cards_markdown(loaded, measured)))
    assert "28.43 / 0.8111" in cards["bicubic"] and "28.42 / 0.8104" in cards["bicubic"]
    assert "measured here" in cards["esrgan"] and "sha256" in cards["esrgan"]
    assert "Unavailable here" in cards["awsrn"] and "checkpoints/AWSRN_x4.pt" in cards["awsrn"]
    assert "32.27 / 0.8960" in cards["awsrn"]


def test_house_weights_card_is_labelled_and_says_how_far_training_got():
    from browser_support import has_weights
    from sr_models.loader import load_model

    if not has_weights("awsrn"):
        pytest.skip("no AWSRN checkpoint here")
    loaded = load_model("awsrn")
    card = dict(zip(CARDS, all_cards_markdown({"awsrn": loaded}, load_measured())))["awsrn"]
    assert loaded.provenance.sha256 in card and loaded.provenance.description in card
    assert f"{loaded.num_parameters:,}" in card
    if loaded.provenance.kind == "trained by this project":
        assert "trained by this project" in card and "planned training steps" in card and "Set5" in card
        assert "not directly comparable" in card or "not measured yet" in card
