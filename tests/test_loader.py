"""From a model id to a network with provenance; unavailable models say why and how to fix it."""
from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest
import torch

from conftest import shared_path
from sr_models.checkpoint_io import CheckpointError, read_state_dict, save_safetensors_atomic
from sr_models.inference import upscale
from sr_models.loader import ModelUnavailableError, load_checkpoint, load_from_card, load_model, recognise
from sr_models.registry import AWSRN, SRGAN, WeightsKind

SRGAN_SHA256 = "f4c381640826a48d2440583e4920c6bb4041804f4e285c3c6d585f03961fe87c"
CPU = torch.device("cpu")


def _srgan_checkpoint():
    return shared_path("weights", "srgan", "netG_epoch_4_100.pth")


def test_bicubic_needs_no_weights():
    model = load_model("bicubic")
    assert model.descriptor is None and model.provenance is None
    image = np.random.default_rng(1).integers(0, 256, (10, 12, 3), dtype=np.uint8)
    assert upscale(model, image).shape == (40, 48, 3)


def test_srgan_loads_with_provenance(env, tmp_path):
    checkpoint = _srgan_checkpoint()
    env("SR_ARENA_WEIGHTS_PATH", str(checkpoint.parent))
    model = load_from_card(SRGAN, CPU)
    assert model.provenance.kind == WeightsKind.REIMPLEMENTATION.value == "public re-implementation"
    assert model.provenance.sha256 == SRGAN_SHA256
    assert model.provenance.licence == "MIT"
    assert "b0323c6ca4ca920f7daa41ba05f44bd220557cd9" in model.provenance.origin
    assert model.descriptor.arch == "srgan" and model.descriptor.scale == 4
    out = upscale(model, np.full((8, 8, 3), 128, np.uint8))
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8


def test_load_model_is_cached():
    assert load_model("bicubic") is load_model("bicubic")


def test_bad_file_is_skipped_loudly_then_next_candidate_used(env, tmp_path):
    checkpoint = _srgan_checkpoint()
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    (bad_dir / checkpoint.name).write_bytes(b"not the right file")
    env("SR_ARENA_WEIGHTS_PATH", f"{bad_dir}:{checkpoint.parent}")
    model = load_from_card(SRGAN, CPU)
    assert model.provenance.sha256 == SRGAN_SHA256
    assert len(model.provenance.skipped) == 1 and str(bad_dir) in model.provenance.skipped[0]


def test_unavailable_model_reports_reason_and_fix():
    official_only = dataclasses.replace(AWSRN, sources=AWSRN.sources[:1])
    with pytest.raises(ModelUnavailableError) as info:
        load_from_card(official_only, CPU)
    assert info.value.reason == "no checkpoint file found"
    assert "ChaofWang/AWSRN" in info.value.fix and "checkpoints/AWSRN_x4.pt" in info.value.fix


def test_wrong_architecture_names_file_and_expectation(tmp_path):
    state_dict = read_state_dict(_srgan_checkpoint())
    path = tmp_path / "srgan_as_esrgan.safetensors"
    save_safetensors_atomic(state_dict, path, None)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, "esrgan")
    assert str(path) in str(info.value) and "esrgan" in str(info.value)
    assert recognise(state_dict).arch == "srgan"


def test_checkpoint_of_the_wrong_model_is_not_taken_for_another(env, tmp_path):
    """An SRGAN file placed under SAN's file name is refused by the SAN loader, not run."""
    target = tmp_path / "SAN_BI4X.pt"
    shutil.copy(_srgan_checkpoint(), target)
    env("SR_ARENA_WEIGHTS_PATH", str(tmp_path))
    from sr_models.registry import SAN

    no_checksum = dataclasses.replace(SAN, sources=(dataclasses.replace(SAN.sources[0], sha256=None, size=None),))
    with pytest.raises(ModelUnavailableError) as info:
        load_from_card(no_checksum, CPU)
    assert str(target) in info.value.reason and "san" in info.value.reason


def _awsrn_with_one_wrong_shape(directory) -> str:
    """The house AWSRN's tensors saved as the official AWSRN_x4.pt, one bias one element short:
    every key matches AWSRN's layout, so the architecture recognises it, but it cannot load."""
    from sr_models.paths import CHECKPOINTS_DIR

    state = read_state_dict(CHECKPOINTS_DIR / "house" / "awsrn_x4.safetensors")
    key = next(k for k in state if k.endswith("bias"))
    state[key] = state[key][:-1].clone()
    path = directory / "AWSRN_x4.pt"
    torch.save(state, path)
    return key


def test_checkpoint_that_matches_keys_but_not_shapes_is_skipped_with_the_reason(env, tmp_path):
    """Before: a raw ``RuntimeError: size mismatch`` escaped load_model, so the house weights never ran."""
    _awsrn_with_one_wrong_shape(tmp_path)
    with pytest.raises(CheckpointError, match=r"AWSRN_x4\.pt: has the key layout of a AWSRN .* does not load"):
        load_checkpoint(tmp_path / "AWSRN_x4.pt", "awsrn")
    env("SR_ARENA_WEIGHTS_PATH", str(tmp_path))
    model = load_from_card(AWSRN, CPU)
    assert model.provenance.kind == WeightsKind.HOUSE.value  # the next source ran
    assert len(model.provenance.skipped) == 1
    assert "AWSRN_x4.pt" in model.provenance.skipped[0] and "size mismatch" in model.provenance.skipped[0]


def test_cli_list_and_upscale_survive_a_checkpoint_with_a_wrong_shape(tmp_path):
    """``python -m sr_models list`` / ``upscale --model awsrn`` skip the broken file and run the house weights."""
    import json
    import os
    import subprocess
    import sys

    from PIL import Image

    from sr_models.paths import REPO_ROOT

    weights = tmp_path / "weights"
    weights.mkdir()
    _awsrn_with_one_wrong_shape(weights)
    env = {**os.environ, "SR_ARENA_WEIGHTS_PATH": str(weights)}
    listed = subprocess.run([sys.executable, "-m", "sr_models", "list", "--json"], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert listed.returncode == 0, listed.stderr
    awsrn = next(s for s in json.loads(listed.stdout) if s["id"] == "awsrn")
    assert awsrn["available"] and awsrn["weights"]["kind"] == WeightsKind.HOUSE.value
    source = tmp_path / "in.png"
    Image.fromarray(np.zeros((12, 12, 3), dtype=np.uint8)).save(source)
    done = subprocess.run([sys.executable, "-m", "sr_models", "upscale", str(source), str(tmp_path / "out.png"),
                           "--model", "awsrn"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert Image.open(tmp_path / "out.png").size == (48, 48)
