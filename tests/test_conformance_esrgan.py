"""ESRGAN's RRDBNet against ../shared/conformance/esrgan (vectors from xinntao/ESRGAN @ 73e9b63)."""
from __future__ import annotations

import pytest

from conformance import (
    assert_outputs_match,
    assert_same_layout,
    full_state_dict,
    load_keys,
    load_params,
    load_vectors,
)
from sr_models.archs import rrdbnet_arch
from sr_models.archs.rrdbnet_arch import RRDBNet


@pytest.fixture
def case(conformance_dir):
    return conformance_dir("esrgan")


def test_full_model_has_the_authors_state_dict_layout(case):
    assert_same_layout(RRDBNet(**load_params(case)["constructor_args"]), load_keys(case))
    assert_same_layout(RRDBNet(), load_keys(case))  # defaults are the x4 paper config


def test_parameter_count_matches_official(case):
    params = load_params(case)
    model = RRDBNet(**params["constructor_args"])
    assert sum(p.numel() for p in model.parameters()) == params["param_count"] == 16_697_987


def test_small_config_reproduces_official_outputs(case):
    small = load_vectors(case, "small.pt")
    descriptor = rrdbnet_arch.ARCH.load(small["state_dict"])
    assert descriptor is not None
    assert dict(descriptor.config) == small["config"]["constructor_args"] == load_params(case)["small_config"]
    assert (descriptor.arch, descriptor.scale, descriptor.input_range) == ("esrgan", 4, 1.0)
    assert not descriptor.model.training
    assert_outputs_match(descriptor.model, small["inputs"], small["outputs"], load_params(case)["output_range_for_tolerance"])


def test_full_config_reproduces_official_outputs_under_the_recipe(case):
    full = load_vectors(case, "full.pt")
    descriptor = rrdbnet_arch.ARCH.load(full_state_dict(case))
    assert descriptor is not None
    assert dict(descriptor.config) == load_params(case)["constructor_args"]
    assert_outputs_match(descriptor.model, full["inputs"], full["outputs"], load_params(case)["output_range_for_tolerance"])


def test_a_wrong_residual_scale_is_caught(case, monkeypatch):
    """The vectors are sensitive to the 0.2 residual scaling inside the RDBs (Sec. 3.1)."""
    small = load_vectors(case, "small.pt")
    model = rrdbnet_arch.ARCH.load(small["state_dict"]).model
    block = model.RRDB_trunk[0].RDB1
    monkeypatch.setattr(block, "forward", lambda x: x + 0.25 * (type(block).forward(block, x) - x) / 0.2)
    with pytest.raises(AssertionError):
        assert_outputs_match(model, small["inputs"][:1], small["outputs"][:1], 1.0)
