"""PSNR-oriented twins (issue 13): SRResNet beside SRGAN (Ledig et al. 2017, §3.2/§4.3) and RRDB-PSNR
beside ESRGAN (Wang et al. 2018, §4.1) are methods of their own, left out of the default ticks, ticked by
the "paper comparison" preset, and each says in one line what differs from its GAN — and whether the
checkpoints that ran here really are the same network."""
from __future__ import annotations

import subprocess
import sys

import numpy as np

from sr_arena.ui import presentation
from sr_arena.ui.compare_tab import default_methods, retick_for_mode
from sr_arena.ui.pipeline import MethodRun, prepare
from sr_arena.ui.uploads import LOW_RES, ORIGINAL
from sr_models.paths import REPO_ROOT
from sr_models.registry import CARDS, paper_comparison, twins


def test_twins_are_methods_next_to_their_gans_and_the_preset_ticks_the_pairs():
    assert twins() == {"srresnet": "srgan", "esrgan_psnr": "esrgan"}
    order = list(CARDS)
    for twin, gan in twins().items():
        assert order.index(gan) == order.index(twin) + 1  # shown right before its GAN
        assert CARDS[twin].arch == CARDS[gan].arch and CARDS[twin].loss in ("MSE", "L1")
    assert paper_comparison() == ["bicubic", "srresnet", "srgan", "esrgan_psnr", "esrgan"]


def test_twins_are_not_ticked_by_default_and_the_mode_keeps_a_preset():
    for mode in (ORIGINAL, LOW_RES):
        assert not set(twins()) & set(default_methods(mode))
    assert retick_for_mode(LOW_RES, paper_comparison()) == [*paper_comparison(), "realesrgan"]
    assert retick_for_mode(ORIGINAL, [*paper_comparison(), "realesrgan"]) == paper_comparison()


def _run(model_id: str, sha: str, parameters: int, file_name: str = "w.safetensors") -> MethodRun:
    return MethodRun(model_id, CARDS[model_id].display_name, image=np.zeros((8, 8, 3), np.uint8), seconds=0.1,
                     provenance={"sha256": sha, "file_name": file_name, "kind": "trained by this project"},
                     parameters=parameters)


def test_twin_note_says_what_differs_and_what_ran():
    comparison = prepare(np.zeros((64, 64, 3), np.uint8), ORIGINAL)
    assert presentation.twin_note(comparison, "srgan") == ""  # only the twin's panel carries the line
    general = presentation.twin_note(comparison, "srresnet")
    assert "Same network as SRGAN" in general and "MSE loss alone" in general and "adversarial" in general
    comparison.runs = {"srresnet": _run("srresnet", "a" * 64, 1_549_335), "srgan": _run("srgan", "b" * 64, 1_549_335),
                       "esrgan_psnr": _run("esrgan_psnr", "c" * 64, 16_697_987),
                       "esrgan": _run("esrgan", "c" * 64, 16_697_987)}
    assert "other weights" not in presentation.twin_note(comparison, "srresnet")  # same network, other loss
    assert "same image" in presentation.twin_note(comparison, "esrgan_psnr")  # the GAN runs the PSNR stage
    comparison.runs["srgan"] = _run("srgan", "d" * 64, 734_092, "netG_epoch_4_100.pth")
    note = presentation.twin_note(comparison, "srresnet")
    assert "netG_epoch_4_100.pth" in note and "734,092" in note and "different network" in note
    assert "sr-twin" in presentation.method_caption(comparison, "srresnet")


def test_sr_models_list_shows_srresnet_as_a_method():
    result = subprocess.run([sys.executable, "-m", "sr_models", "list"], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [line.split()[:2] for line in result.stdout.splitlines() if line and not line[0].isspace()]
    assert ["srresnet", "SRResNet"] in lines and ["esrgan_psnr", "RRDB-PSNR"] in lines
