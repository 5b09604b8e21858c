"""SRGAN generator against ../shared/conformance/srgan_leftthomas (leftthomas/SRGAN @ b0323c6)."""
from __future__ import annotations

import hashlib

import pytest
import torch

from conformance import (
    assert_outputs_match,
    assert_same_layout,
    full_state_dict,
    load_keys,
    load_params,
    load_vectors,
)
from conftest import shared_path
from sr_models.archs import srgan_arch
from sr_models.archs.srgan_arch import SRGANGenerator


@pytest.fixture
def case(conformance_dir):
    return conformance_dir("srgan_leftthomas")


def test_five_block_model_has_leftthomas_state_dict_layout(case):
    assert_same_layout(SRGANGenerator(num_blocks=5), load_keys(case))


def test_parameter_count_matches_official(case):
    model = SRGANGenerator()
    assert sum(p.numel() for p in model.parameters()) == load_params(case)["param_count"] == 734_092


def test_small_state_dict_reproduces_official_outputs(case):
    small = load_vectors(case, "small.pt")
    descriptor = srgan_arch.ARCH.load(small["state_dict"])
    assert descriptor is not None
    assert dict(descriptor.config) == {"num_blocks": 5, "num_feat": 64, "scale": 4}
    assert (descriptor.arch, descriptor.scale, descriptor.input_range) == ("srgan", 4, 1.0)
    assert not descriptor.model.training  # BN must use its running statistics
    assert_outputs_match(descriptor.model, small["inputs"], small["outputs"], load_params(case)["output_range_for_tolerance"])


def test_full_recipe_weights_reproduce_official_outputs(case):
    full = load_vectors(case, "full.pt")
    descriptor = srgan_arch.ARCH.load(full_state_dict(case))
    assert_outputs_match(descriptor.model, full["inputs"], full["outputs"], load_params(case)["output_range_for_tolerance"])


def test_released_checkpoint_reproduces_official_outputs(case):
    real = load_vectors(case, "real.pt")
    path = shared_path("weights", "srgan", "netG_epoch_4_100.pth")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == real["weights_sha256"]
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    assert not any(k.endswith("num_batches_tracked") for k in checkpoint)  # pre-0.4.1 checkpoint: 79 tensors
    assert len(checkpoint) == 79
    descriptor = srgan_arch.ARCH.load(checkpoint)
    assert descriptor is not None and dict(descriptor.config)["num_blocks"] == 5
    assert_outputs_match(descriptor.model, real["inputs"], real["outputs"], 1.0)


def test_load_is_strict_about_every_other_key(case):
    state_dict = dict(load_vectors(case, "small.pt")["state_dict"])
    del state_dict["block3.bn2.running_var"]
    with pytest.raises(RuntimeError, match="running_var"):
        srgan_arch.ARCH.load(state_dict)


def test_deeper_generator_keeps_the_numbering_and_round_trips():
    """B blocks: residual blocks block2..block{B+1}, conv+PReLU block{B+2}, upsampling+tail block{B+3}."""
    model = SRGANGenerator(num_blocks=16)
    keys = list(model.state_dict())
    assert "block17.conv1.weight" in keys and "block18.0.weight" in keys and "block19.2.weight" in keys
    assert not any(k.startswith("block20") for k in keys)
    descriptor = srgan_arch.ARCH.load(model.state_dict())
    assert dict(descriptor.config) == {"num_blocks": 16, "num_feat": 64, "scale": 4}
    x = torch.rand(1, 3, 12, 10)
    with torch.no_grad():
        assert torch.equal(descriptor.model(x), model.eval()(x))
    assert descriptor.model(x).shape == (1, 3, 48, 40)


def test_other_layouts_are_not_srgan(conformance_dir):
    esrgan = load_vectors(conformance_dir("esrgan"), "small.pt")["state_dict"]
    assert srgan_arch.ARCH.load(esrgan) is None
    assert srgan_arch.ARCH.load({}) is None
