"""Models tab text: published rows next to this project's stored measurements."""
from __future__ import annotations

import json

from sr_arena.published import PUBLISHED, rows_for
from sr_arena.ui.model_cards import RESULTS_DIR, all_cards_markdown, load_measured
from sr_arena.ui.models import Unavailable
from sr_models.registry import CARDS


def test_published_rows_cover_every_method_and_hold_the_papers_numbers():
    assert {row.model_id for row in PUBLISHED} == set(CARDS)
    san = rows_for("san")[0]
    assert san.scores["Set5"] == (32.64, 0.9003) and san.scores["B100"] == (27.78, 0.7436)
    assert rows_for("bicubic")[0].scores["Set14"] == (26.00, 0.7027)


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
