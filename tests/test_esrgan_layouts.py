"""Every public RRDBNet key layout converts to the authors' state dict and gives the official outputs.

The BasicSR and old ``model.N.sub`` dicts are built here from the conformance weights with mappings
written out independently of ``rrdbnet_arch`` (BasicSR's ``rrdbnet_arch.py`` names; the old arch's
indices as in the authors' ``transer_RRDB_models.py``).
"""
from __future__ import annotations

import re

import pytest
import torch

from conformance import assert_outputs_match, full_state_dict, load_vectors
from conftest import shared_path
from sr_models.archs import rrdbnet_arch, srgan_arch
from sr_models.archs.rrdbnet_arch import to_authors_layout

_BASICSR_TOP = {"conv_first": "conv_first", "trunk_conv": "conv_body", "upconv1": "conv_up1",
                "upconv2": "conv_up2", "HRconv": "conv_hr", "conv_last": "conv_last"}
_OLD_TOP = {"conv_first": "model.0", "upconv1": "model.3", "upconv2": "model.6",
            "HRconv": "model.8", "conv_last": "model.10"}


def as_basicsr(authors: dict) -> dict:
    out = {}
    for key, value in authors.items():
        module, kind = key.rsplit(".", 1)
        if m := re.fullmatch(r"RRDB_trunk\.(\d+)\.RDB(\d)\.(conv\d)", module):
            out[f"body.{m[1]}.rdb{m[2]}.{m[3]}.{kind}"] = value.clone()
        else:
            out[f"{_BASICSR_TOP[module]}.{kind}"] = value.clone()
    return out


def as_old_arch(authors: dict) -> dict:
    nb = len({k.split(".")[1] for k in authors if k.startswith("RRDB_trunk.")})
    out = {}
    for key, value in reversed(list(authors.items())):  # order must not matter either
        module, kind = key.rsplit(".", 1)
        if m := re.fullmatch(r"RRDB_trunk\.(\d+)\.RDB(\d)\.(conv\d)", module):
            out[f"model.1.sub.{m[1]}.RDB{m[2]}.{m[3]}.0.{kind}"] = value.clone()
        elif module == "trunk_conv":
            out[f"model.1.sub.{nb}.{kind}"] = value.clone()
        else:
            out[f"{_OLD_TOP[module]}.{kind}"] = value.clone()
    return out


LAYOUTS = {
    "authors": lambda sd: dict(sd),
    "basicsr": as_basicsr,
    # the decoy "params" must lose against "params_ema"
    "basicsr_params_ema": lambda sd: {"params": {k: torch.zeros_like(v) for k, v in as_basicsr(sd).items()},
                                      "params_ema": as_basicsr(sd)},
    "basicsr_params": lambda sd: {"params": as_basicsr(sd)},
    "old": as_old_arch,
    "old_dataparallel": lambda sd: {f"module.{k}": v for k, v in as_old_arch(sd).items()},
}


@pytest.fixture(scope="module")
def vectors():
    case = shared_path("conformance", "esrgan")
    small = load_vectors(case, "small.pt")
    full = load_vectors(case, "full.pt")
    return {
        "small": (small["state_dict"], small["inputs"], small["outputs"]),
        "full": (full_state_dict(case), full["inputs"], full["outputs"]),
    }


@pytest.mark.parametrize("size", ["small", "full"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_layout_converts_to_the_authors_state_dict_and_outputs(vectors, size, layout):
    authors, inputs, outputs = vectors[size]
    checkpoint = LAYOUTS[layout](authors)
    if layout != "authors":
        assert "conv_first.weight" not in checkpoint or "RRDB_trunk.0.RDB1.conv1.weight" not in checkpoint
    converted = to_authors_layout(checkpoint)
    assert list(converted) == list(authors)
    assert all(torch.equal(converted[k], authors[k]) for k in authors)
    descriptor = rrdbnet_arch.ARCH.load(checkpoint)
    assert descriptor is not None and descriptor.config["nb"] == (2 if size == "small" else 23)
    assert_outputs_match(descriptor.model, inputs, outputs, 1.0)


def test_all_layouts_give_bit_identical_outputs(vectors):
    authors, inputs, _ = vectors["small"]
    with torch.no_grad():
        results = [rrdbnet_arch.ARCH.load(make(authors)).model(inputs[0]) for make in LAYOUTS.values()]
    assert all(torch.equal(results[0], r) for r in results[1:])


def test_config_is_read_from_the_shapes():
    model = rrdbnet_arch.RRDBNet(in_nc=1, out_nc=1, nf=16, nb=3, gc=8)
    for make in (dict, as_basicsr, as_old_arch):
        descriptor = rrdbnet_arch.ARCH.load(make(model.state_dict()))
        assert dict(descriptor.config) == {"in_nc": 1, "out_nc": 1, "nf": 16, "nb": 3, "gc": 8}


def test_non_rrdbnet_dicts_return_none(conformance_dir):
    srgan = load_vectors(conformance_dir("srgan_leftthomas"), "small.pt")["state_dict"]
    awsrn = load_vectors(conformance_dir("awsrn_s"), "small.pt")["state_dict"]
    for state_dict in (srgan, awsrn, {}, {"params": srgan}):
        assert rrdbnet_arch.ARCH.load(state_dict) is None
    with pytest.raises(ValueError, match="not an RRDBNet"):
        to_authors_layout(srgan)
    assert srgan_arch.ARCH.load(as_basicsr(rrdbnet_arch.RRDBNet(nb=1).state_dict())) is None


def test_pixel_unshuffle_x2_variant_is_refused_with_a_reason():
    """BasicSR / Real-ESRGAN x2 (RealESRGAN_x2plus) feeds 2x2 pixel-unshuffled input: in_nc = 12."""
    x2 = as_basicsr(rrdbnet_arch.RRDBNet(in_nc=12, out_nc=3, nf=16, nb=1, gc=8).state_dict())
    with pytest.raises(ValueError, match=r"in_nc=12.*pixel-unshuffle.*x2"):
        rrdbnet_arch.ARCH.load({"params_ema": x2})


def test_other_upsampling_depths_are_refused():
    sd = as_old_arch(rrdbnet_arch.RRDBNet(nf=16, nb=1, gc=8).state_dict())
    x2 = {k.replace("model.8.", "model.5.").replace("model.10.", "model.7."): v
          for k, v in sd.items() if not k.startswith("model.6.")}
    with pytest.raises(ValueError, match="x2"):
        rrdbnet_arch.ARCH.load(x2)
    x8 = as_basicsr(rrdbnet_arch.RRDBNet(nf=16, nb=1, gc=8).state_dict())
    x8["conv_up3.weight"], x8["conv_up3.bias"] = x8["conv_up2.weight"], x8["conv_up2.bias"]
    with pytest.raises(ValueError, match="x8"):
        rrdbnet_arch.ARCH.load(x8)


def test_incomplete_checkpoint_is_refused():
    sd = as_basicsr(rrdbnet_arch.RRDBNet(nf=16, nb=2, gc=8).state_dict())
    del sd["body.1.rdb2.conv3.bias"]
    with pytest.raises(ValueError, match="RRDB_trunk.1.RDB2.conv3.bias"):
        to_authors_layout(sd)
