"""House weights stored as fine-tuned tensors on top of a packaged base (the house ESRGAN on Real-ESRGAN
x4plus): the loader merges them only onto the base whose sha256 the card names; Real-ESRGAN is its own
method, ticked by default only where its inputs are (low-resolution photos)."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from sr_models.archs.rrdbnet_arch import RRDBNet
from sr_models.checkpoint_io import CheckpointError, save_safetensors_atomic, sha256_file
from sr_models.loader import load_from_card, merged_state_dict
from sr_models.registry import ESRGAN, ESRGAN_HOUSE_PSNR, REALESRGAN, REALESRGAN_X4PLUS, REALESRGAN_X4PLUS_SHA256, CARDS

CPU = torch.device("cpu")


def _small_base(tmp_path):
    torch.manual_seed(0)
    net = RRDBNet(nb=2, nf=8, gc=4)
    base = tmp_path / REALESRGAN_X4PLUS.filename
    base.parent.mkdir(parents=True)
    save_safetensors_atomic({k: v.contiguous() for k, v in net.state_dict().items()}, base, {})
    return net, base


def _card_with_delta(tmp_path, base_sha):
    source = dataclasses.replace(ESRGAN_HOUSE_PSNR, filename="house/delta.safetensors", base_sha256=base_sha)
    return dataclasses.replace(ESRGAN, id="esrgan_delta_test", sources=(source,)), tmp_path / source.filename


def test_delta_tensors_replace_the_base_ones_and_nothing_else(env, tmp_path):
    net, base = _small_base(tmp_path)
    card, delta = _card_with_delta(tmp_path, sha256_file(base))
    delta.parent.mkdir(parents=True)
    tuned = {"conv_last.weight": torch.full_like(net.conv_last.weight, 0.5), "conv_last.bias": torch.zeros(3)}
    save_safetensors_atomic(tuned, delta, {})
    env("SR_ARENA_CHECKPOINTS", str(tmp_path))
    model = load_from_card(card, CPU)
    state = model.descriptor.model.state_dict()
    assert torch.equal(state["conv_last.weight"], tuned["conv_last.weight"])
    assert torch.equal(state["conv_first.weight"], net.state_dict()["conv_first.weight"])
    assert model.provenance.sha256 == sha256_file(delta) and model.provenance.kind == "trained by this project"


def test_delta_on_another_base_is_refused_and_said_why(env, tmp_path):
    _, base = _small_base(tmp_path)
    card, delta = _card_with_delta(tmp_path, "0" * 64)
    delta.parent.mkdir(parents=True)
    save_safetensors_atomic({"conv_last.bias": torch.zeros(3)}, delta, {})
    env("SR_ARENA_CHECKPOINTS", str(tmp_path))
    with pytest.raises(Exception) as info:
        load_from_card(card, CPU)
    assert "sha256" in str(info.value) and str(base) in str(info.value)


def test_delta_tensor_not_in_base_is_an_error(tmp_path):
    _, base = _small_base(tmp_path)
    delta = tmp_path / "bad.safetensors"
    save_safetensors_atomic({"conv_last.weight": torch.zeros(3, 8, 5, 5)}, delta, {})
    with pytest.raises(CheckpointError, match="conv_last.weight"):
        merged_state_dict(delta, base)


def test_realesrgan_is_its_own_method_and_esrgan_never_falls_back_to_it():
    assert CARDS["realesrgan"] is REALESRGAN and REALESRGAN.sources == (REALESRGAN_X4PLUS,)
    assert "Wang, L. Xie, C. Dong, Y. Shan" in REALESRGAN.paper.authors and REALESRGAN.paper.year == 2021
    assert REALESRGAN_X4PLUS not in ESRGAN.sources
    assert all(s.base in (None, REALESRGAN_X4PLUS) for s in ESRGAN.sources)
    assert [s.base_sha256 for s in ESRGAN.sources if s.base] == [REALESRGAN_X4PLUS_SHA256] * 2
    assert ESRGAN.sources[0].kind.value == "official"  # the authors' files still win


def test_realesrgan_ticked_by_default_for_low_res_photos_only():
    from sr_arena.ui.compare_tab import default_methods, retick_for_mode
    from sr_arena.ui.uploads import LOW_RES, ORIGINAL

    assert "realesrgan" in default_methods(LOW_RES) and "realesrgan" not in default_methods(ORIGINAL)
    assert set(default_methods(ORIGINAL)) == set(CARDS) - {"realesrgan", "srresnet", "esrgan_psnr"}  # twins: opt-in
    assert retick_for_mode(LOW_RES, ["bicubic", "san"]) == ["bicubic", "san", "realesrgan"]
    assert retick_for_mode(ORIGINAL, ["bicubic", "realesrgan"]) == ["bicubic"]


def test_models_tab_says_which_model_suits_which_input():
    from sr_arena.ui.model_cards import all_cards_markdown

    cards = dict(zip(CARDS, all_cards_markdown({}, {})))
    assert "phone pictures" in cards["realesrgan"] and "Suits:" in cards["esrgan"]
    assert "bicubic ×1/4" in cards["esrgan"] and "NIQE" in cards["realesrgan"]
