"""AWSRN, AWSRN-M, AWSRN-S, AWSRN-SD against the official code's vectors (../shared/conformance/awsrn*)."""
from __future__ import annotations

import pytest
import torch

from sr_models.archs import awsrn_arch
from sr_models.archs.awsrn_arch import ARCH, AWSRN
from tests.conformance import (
    assert_outputs_match,
    assert_same_layout,
    full_state_dict,
    load_keys,
    load_params,
    load_vectors,
)

# conformance case -> (factory, variant name, parameter count of the official x4 model)
CASES = {
    "awsrn": (awsrn_arch.awsrn, "AWSRN", 1_587_132),
    "awsrn_m": (awsrn_arch.awsrn_m, "AWSRN-M", 1_254_002),
    "awsrn_s": (awsrn_arch.awsrn_s, "AWSRN-S", 587_742),
    "awsrn_sd": (awsrn_arch.awsrn_sd, "AWSRN-SD", 443_894),
}

pytestmark = pytest.mark.parametrize("case", list(CASES))


def _small_model(config: dict) -> AWSRN:
    """Our model for a small.pt official constructor config (``awsrnd.py`` = 8 AWRUs per LFB)."""
    args = config["constructor_args"]
    return AWSRN(
        n_resblocks=args["n_resblocks"],
        n_feats=args["n_feats"],
        block_feats=args["block_feats"],
        scale=args["scale"][0],
        n_colors=args["n_colors"],
        n_awru=8 if config["source"]["path"].endswith("awsrnd.py") else 4,
    )


def test_layout_matches_official_keys(case, conformance_dir):
    keys = load_keys(conformance_dir(case))
    assert_same_layout(CASES[case][0](), keys)


def test_parameter_count(case, conformance_dir):
    factory, _, expected = CASES[case]
    params = load_params(conformance_dir(case))
    count = sum(p.numel() for p in factory().parameters())
    assert count == params["param_count"] == expected


def test_mean_is_not_in_state_dict(case):
    model = CASES[case][0]()
    assert not any("mean" in k for k in model.state_dict())
    assert torch.allclose(model.rgb_mean.flatten(), torch.tensor([0.4488, 0.4371, 0.4040]))


def test_small_vectors(case, conformance_dir):
    small = load_vectors(conformance_dir(case), "small.pt")
    model = _small_model(small["config"])
    model.load_state_dict(small["state_dict"], strict=True)
    model.eval()
    assert_outputs_match(model, small["inputs"], small["outputs"], 255.0)


def test_full_vectors(case, conformance_dir):
    case_dir = conformance_dir(case)
    full = load_vectors(case_dir, "full.pt")
    model = CASES[case][0]()
    model.load_state_dict(full_state_dict(case_dir), strict=True)
    model.eval()
    assert_outputs_match(model, full["inputs"], full["outputs"], 255.0)


def test_load_recognises_variant(case, conformance_dir):
    case_dir = conformance_dir(case)
    state_dict = full_state_dict(case_dir)
    descriptor = ARCH.load(state_dict)
    assert descriptor is not None
    assert descriptor.arch == "awsrn"
    assert descriptor.scale == 4 and descriptor.input_range == 255.0
    assert descriptor.config["variant"] == CASES[case][1]
    assert not descriptor.model.training
    # weights really loaded: the recognised model reproduces the official outputs
    full = load_vectors(case_dir, "full.pt")
    assert_outputs_match(descriptor.model, full["inputs"], full["outputs"], 255.0)
    # DataParallel prefixes and {"state_dict": ...} wrapping are accepted too
    wrapped = {"state_dict": {f"module.{k}": v for k, v in state_dict.items()}}
    assert ARCH.load(wrapped).config["variant"] == CASES[case][1]


def test_load_rejects_other_layouts(case, conformance_dir):
    state_dict = full_state_dict(conformance_dir(case))
    del state_dict["skip.0.weight_v"]
    assert ARCH.load(state_dict) is None
    assert ARCH.load({"conv_first.weight": torch.zeros(64, 3, 3, 3)}) is None
