"""Models tab text: facts about the checkpoint that runs are derived from it (config, parameters) and
from the one measurement store keyed by its sha256; published rows are those of the same configuration.

The house checkpoints ship in ``checkpoints/house/``, so most of these run without ../shared. To run
the house SRGAN where ../shared holds the public one, the card is restricted to its house source
(what the loader does in a clone without ../shared) and loaded by the real loader.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from conftest import shared_path
from sr_arena.published import PUBLISHED, rows_for, rows_matching
from sr_arena.ui.model_cards import all_cards_markdown, config_words
from sr_arena.ui.models import Unavailable
from sr_models.checkpoint_io import sha256_file
from sr_models.evaluate import MEASURED_FILE, measure_command, read_measured
from sr_models.loader import LoadedModel, load_from_card, load_model
from sr_models.paths import CHECKPOINTS_DIR
from sr_models.registry import CARDS, WeightsKind

PUBLIC_SRGAN_SHA = "f4c381640826a48d2440583e4920c6bb4041804f4e285c3c6d585f03961fe87c"
HOUSE = CHECKPOINTS_DIR / "house"


def house_model(model_id: str) -> LoadedModel:
    """The real loader on the card's house source only (what runs when no other checkpoint is present)."""
    card = CARDS[model_id]
    house = tuple(s for s in card.sources if s.kind is WeightsKind.HOUSE)
    return load_from_card(replace(card, sources=house), torch.device("cpu"))


def card_for(model_id: str, loaded: LoadedModel | Unavailable | None, measured: dict | None = None) -> str:
    return dict(zip(CARDS, all_cards_markdown({model_id: loaded}, measured)))[model_id]


def cell(entry: dict, dataset: str) -> str:
    scores = entry["datasets"][dataset]
    return f"{scores['psnr']:.2f} / {scores['ssim']:.4f}"


def test_published_rows_cover_every_method_say_where_checked_and_hold_the_papers_numbers():
    assert {row.model_id for row in PUBLISHED} == set(CARDS)
    assert all(row.checked and "session" not in row.checked for row in PUBLISHED)  # words for a reader
    san = rows_for("san")[0]
    assert san.scores["Set5"] == (32.64, 0.9003) and san.scores["B100"] == (27.78, 0.7436)
    assert rows_for("bicubic")[0].scores["Set14"] == (26.00, 0.7027)
    (srresnet,), (srgan_mse, srgan_vgg54) = rows_for("srresnet"), rows_for("srgan")  # Ledig et al. 2017, Tables 2, 1
    assert [row.label for row in rows_for("esrgan_psnr")] == ["RRDB (ESRGAN's PSNR-oriented generator, 23 blocks)"]
    assert srresnet.scores == {"Set5": (32.05, 0.9019), "Set14": (28.49, 0.8184), "B100": (27.58, 0.7620)}
    assert srgan_mse.scores["Set5"] == (30.64, 0.8701) and srgan_mse.scores["B100"] is None
    assert srgan_vgg54.scores == {"Set5": (29.40, 0.8472), "Set14": (26.02, 0.7397), "B100": (25.16, 0.6688)}
    assert [row.label for row in rows_matching("awsrn", {"variant": "AWSRN-S"})] == ["AWSRN-S (1 local fusion block)"]
    assert rows_matching("san", {"n_resgroups": 4, "n_resblocks": 4, "n_feats": 64}) == []


def test_store_is_keyed_by_the_sha256_of_the_checkpoint_each_entry_names():
    measured = read_measured()
    assert measured, f"{MEASURED_FILE} is empty"
    assert not list(MEASURED_FILE.parent.glob("evaluate_*.json"))  # the one store replaced the per-set files
    bicubic = measured["bicubic"]["datasets"]
    assert abs(bicubic["Set5"]["psnr"] - 28.42) < 0.02 and bicubic["B100"]["n"] == 100
    for key, entry in measured.items():
        assert entry["model"] in CARDS and entry["kind"]
        assert all(s["precision"] == "exact" and s["lr"] == "LR_bicubic/X4" for s in entry["datasets"].values())
        if entry["checkpoint"].startswith("checkpoints/house/"):
            assert sha256_file(CHECKPOINTS_DIR.parent / entry["checkpoint"]) == key


def test_house_srgan_card_shows_its_own_measurement_never_the_public_checkpoints():
    loaded = house_model("srgan")
    measured = read_measured()
    own, public = measured[loaded.provenance.sha256], measured[PUBLIC_SRGAN_SHA]
    card = card_for("srgan", loaded, measured)
    for dataset in ("Set5", "Set14", "B100"):
        assert cell(own, dataset) in card
        assert cell(public, dataset) not in card
    assert cell(own, "Set5") == "30.28 / 0.8666"
    assert "(read from the checkpoint): 16 residual blocks, 64 features" in card
    assert "the public re-implementation is used" not in card  # the registry note describes the other weights
    assert "published, same configuration: SRGAN-MSE" in card and "not the paper's weights" in card


def test_a_checkpoint_without_a_record_says_so_with_the_command_to_measure_it():
    loaded = house_model("srgan")
    only_public = {PUBLIC_SRGAN_SHA: read_measured()[PUBLIC_SRGAN_SHA]}
    card = card_for("srgan", loaded, only_public)
    assert "Set5, Set14, B100 not measured for this checkpoint yet" in card
    assert f"`{measure_command('srgan', ['Set5', 'Set14', 'B100'])}`" in card
    assert "--models srgan --record" in card and loaded.provenance.sha256[:12] in card
    assert cell(only_public[PUBLIC_SRGAN_SHA], "Set5") not in card


def test_awsrn_card_compares_the_house_awsrn_s_with_the_papers_awsrn_s_row():
    loaded = house_model("awsrn")
    assert loaded.descriptor.config["variant"] == "AWSRN-S"
    card = card_for("awsrn", loaded, read_measured())
    assert "published, same configuration: AWSRN-S (1 local fusion block) | 31.77 / 0.8884" in card
    assert "32.27 / 0.8960" not in card  # the full 4-block AWSRN is another configuration
    assert "1 local fusion block, 4 AWRUs per block, 32 features" in card


def test_unavailable_method_shows_the_fix_every_published_row_and_no_measurement():
    loaded = Unavailable("awsrn", "no checkpoint file found", "save it as checkpoints/AWSRN_x4.pt")
    card = card_for("awsrn", loaded, read_measured())
    assert "Unavailable here" in card and "checkpoints/AWSRN_x4.pt" in card
    assert "32.27 / 0.8960" in card and "31.77 / 0.8884" in card
    assert "| **measured here** | — | — | — | no checkpoint runs here |" in card


@pytest.mark.parametrize("model_id", ["srgan", "awsrn", "san"])
def test_card_configuration_and_parameters_are_the_loaded_models(model_id: str):
    loaded = house_model(model_id)
    exported = json.loads((HOUSE / f"{model_id}_x4.json").read_text())
    card = card_for(model_id, loaded, {})
    assert loaded.num_parameters == exported["parameters"]  # the exporter counted the same network
    assert f"{loaded.num_parameters:,} parameters" in card
    assert config_words(model_id, loaded.descriptor.config) in card
    assert ", ".join(f"{k}={v}" for k, v in loaded.descriptor.config.items()) in card


def test_reduced_san_is_said_in_plain_words_and_has_no_same_configuration_row():
    card = card_for("san", house_model("san"), read_measured())
    assert "4 residual groups, 4 residual blocks per group" in card
    assert "4 of the paper's 20 residual groups and 4 of the paper's 10 residual blocks per group" in card
    assert "This is a smaller network than the paper's" in card
    assert "No published row of this configuration is on file here" in card
    assert "published, the paper's configuration (not the one that runs): SAN" in card


def test_public_srgan_card_derives_five_blocks_and_shows_its_own_measurement():
    srgan_dir = shared_path("weights", "srgan")
    loaded = load_model("srgan")
    if loaded.provenance.sha256 != PUBLIC_SRGAN_SHA:
        pytest.skip(f"the public SRGAN in {srgan_dir} is not the checkpoint that runs here")
    measured = read_measured()
    card = card_for("srgan", loaded, measured)
    assert "(read from the checkpoint): 5 residual blocks" in card and "5 of the paper's 16 residual blocks" in card
    assert f"{loaded.num_parameters:,} parameters" in card
    assert cell(measured[PUBLIC_SRGAN_SHA], "B100") in card
    assert cell(measured[house_model("srgan").provenance.sha256], "Set5") not in card


def test_models_intro_names_the_store():
    from sr_arena.ui.models_tab import INTRO

    assert "results/measured.json" in INTRO and Path(MEASURED_FILE).name == "measured.json"
