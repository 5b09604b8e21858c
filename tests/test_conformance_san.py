"""SAN against ../shared/conformance/san (vectors from daitao/SAN @ 7c1e61f0, official forward + --chop)."""
from __future__ import annotations

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
from sr_models.archs import san_arch
from sr_models.archs.san_arch import (
    SAN,
    SOCA,
    covariance_pool,
    forward_chop,
    newton_schulz_sqrtm,
)

R = 255.0  # params.json output_range_for_tolerance


@pytest.fixture
def case(conformance_dir):
    return conformance_dir("san")


@pytest.fixture
def small(case):
    return load_vectors(case, "small.pt")


def _san_kwargs(constructor_args: dict) -> dict:
    """The authors' args namespace -> SAN(...) keywords (their ``scale`` is a list)."""
    return {**constructor_args, "scale": constructor_args["scale"][0]}


# ---------------------------------------------------------------------------------------------
# Layout
# ---------------------------------------------------------------------------------------------


def test_full_model_has_the_authors_state_dict_layout(case):
    assert_same_layout(SAN(**_san_kwargs(load_params(case)["constructor_args"])), load_keys(case))
    assert_same_layout(SAN(), load_keys(case))  # defaults are the x4 paper config


def test_parameter_count_matches_official(case):
    model = SAN(**_san_kwargs(load_params(case)["constructor_args"]))
    assert sum(p.numel() for p in model.parameters()) == load_params(case)["param_count"] == 15_860_512


# ---------------------------------------------------------------------------------------------
# Official outputs
# ---------------------------------------------------------------------------------------------


def test_small_config_reproduces_official_outputs_including_soca_crop_branches(case, small):
    descriptor = san_arch.ARCH.load(small["state_dict"])
    assert descriptor is not None
    expected_config = _san_kwargs(small["config"]["constructor_args"])
    expected_config.pop("res_scale")
    assert dict(descriptor.config) == expected_config
    assert (descriptor.arch, descriptor.scale, descriptor.input_range) == ("san", 4, 255.0)
    assert (descriptor.tileable, descriptor.min_size) == (False, 4)
    assert not descriptor.model.training
    shapes = [tuple(x.shape) for x in small["inputs"]]
    assert (1, 3, 6, 1003) in shapes and (1, 3, 1003, 5) in shapes  # SOCA's 1000-pixel crop branches
    assert_outputs_match(descriptor.model, small["inputs"], small["outputs"], R)


def test_forward_chop_reproduces_the_official_test_wrapper(case, small):
    chop = load_vectors(case, "small_chop.pt")
    assert chop["state_dict_from"] == "small.pt"
    wrapper = chop["wrapper"]
    model = san_arch.ARCH.load(small["state_dict"]).model

    def chopped(x):
        return forward_chop(model, x, shave=wrapper["shave"], min_size=wrapper["min_size"], scale=wrapper["scale"])

    assert_outputs_match(chopped, chop["inputs"], chop["outputs"], R)
    # The chop vectors really test the wrapper: the plain forward is far from them.
    with pytest.raises(AssertionError):
        assert_outputs_match(model, chop["inputs"][:1], chop["outputs"][:1], R)


@pytest.mark.slow
def test_full_config_reproduces_official_outputs_under_the_recipe(case):
    """Full 20x10 network with the recipe weights (also the only check that SOCA's crop matters)."""
    full = load_vectors(case, "full.pt")
    descriptor = san_arch.ARCH.load(full_state_dict(case))
    assert descriptor is not None
    expected_config = _san_kwargs(load_params(case)["constructor_args"])
    expected_config.pop("res_scale")
    assert dict(descriptor.config) == expected_config
    assert_outputs_match(descriptor.model, full["inputs"], full["outputs"], R)


# ---------------------------------------------------------------------------------------------
# The vectors catch the details that matter
# ---------------------------------------------------------------------------------------------


def _exact_sqrtm(cov: torch.Tensor, iterations: int = 5) -> torch.Tensor:
    eigvals, eigvecs = torch.linalg.eigh(cov.double())
    return (eigvecs @ torch.diag_embed(eigvals.clamp(min=0).sqrt()) @ eigvecs.transpose(1, 2)).to(cov.dtype)


def test_an_exact_matrix_square_root_is_caught(small, monkeypatch):
    """The released model uses a 5-step Newton-Schulz approximation, not the exact sqrt."""
    model = san_arch.ARCH.load(small["state_dict"]).model
    monkeypatch.setattr(san_arch, "newton_schulz_sqrtm", _exact_sqrtm)
    with pytest.raises(AssertionError):
        assert_outputs_match(model, small["inputs"][:1], small["outputs"][:1], R)


def test_a_whole_image_non_local_is_caught(small, monkeypatch):
    """The non-local runs on 4 quadrants independently, not on the whole map."""
    model = san_arch.ARCH.load(small["state_dict"]).model
    monkeypatch.setattr(model.non_local, "forward", lambda x: model.non_local.non_local(x))
    with pytest.raises(AssertionError):
        assert_outputs_match(model, small["inputs"][:1], small["outputs"][:1], R)


# ---------------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------------


def test_covariance_pool_is_the_official_x_ihat_xt():
    x = torch.randn(2, 8, 5, 7, dtype=torch.float64)
    m = 35
    i_hat = torch.full((m, m), -1.0 / m / m, dtype=torch.float64) + torch.eye(m, dtype=torch.float64) / m
    feats = x.reshape(2, 8, m)
    official = feats @ i_hat @ feats.transpose(1, 2)
    torch.testing.assert_close(covariance_pool(x), official)
    torch.testing.assert_close(covariance_pool(x)[0], torch.cov(feats[0], correction=0))


def test_newton_schulz_converges_to_the_square_root_with_many_iterations():
    a = torch.randn(1, 6, 40, dtype=torch.float64)
    cov = a @ a.transpose(1, 2) / 40 + 0.1 * torch.eye(6, dtype=torch.float64)
    root = newton_schulz_sqrtm(cov, iterations=40)
    torch.testing.assert_close(root @ root, cov)
    five = newton_schulz_sqrtm(cov, iterations=5)
    assert not torch.allclose(five @ five, cov, atol=1e-6)  # 5 steps are only an approximation


def test_second_order_statistics_stay_float32_under_autocast():
    x = torch.rand(1, 16, 6, 5)
    soca = SOCA(16, reduction=4).to(torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        cov = covariance_pool(x.to(torch.bfloat16))
        assert cov.dtype == torch.float32
        assert newton_schulz_sqrtm(cov).dtype == torch.float32
    out = soca(x.to(torch.bfloat16))
    assert out.dtype == torch.bfloat16 and torch.isfinite(out.float()).all()


def test_soca_statistics_are_differentiable():
    x = torch.rand(1, 4, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: newton_schulz_sqrtm(covariance_pool(t + 0.1 * t**2)), (x,))


@pytest.mark.parametrize(
    ("size", "crop"),
    [
        ((6, 1003), (slice(None), slice(1, 1001))),
        ((1003, 5), (slice(1, 1001), slice(None))),
        ((1004, 1002), (slice(2, 1002), slice(1, 1001))),
        ((1000, 500), (slice(0, 1000), slice(250, 500))),  # the authors' quirk: negative start
    ],
)
def test_soca_crop_follows_the_official_branches(size, crop):
    x = torch.arange(size[0] * size[1], dtype=torch.float32).view(1, 1, *size)
    torch.testing.assert_close(san_arch._soca_crop(x), x[:, :, crop[0], crop[1]], rtol=0, atol=0)


def test_size_limits_are_enforced():
    model = SAN(n_resgroups=1, n_resblocks=1, n_feats=16, reduction=4).eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, 4, 5) * 255).shape == (1, 3, 16, 20)
        with pytest.raises(ValueError):
            model(torch.rand(1, 3, 3, 9))
        with pytest.raises(ValueError):
            forward_chop(model, torch.rand(1, 3, 18, 30))
        assert forward_chop(model, torch.rand(1, 3, 19, 20)).shape == (1, 3, 76, 80)


# ---------------------------------------------------------------------------------------------
# Checkpoint recognition
# ---------------------------------------------------------------------------------------------


def test_load_accepts_wrapped_and_prefixed_checkpoints(small):
    sd = small["state_dict"]
    wrapped = {"state_dict": {f"module.{k}": v for k, v in sd.items()}, "epoch": 3}
    descriptor = san_arch.ARCH.load(wrapped)
    assert descriptor is not None
    loaded = descriptor.model.state_dict()
    assert list(loaded) == list(sd)
    assert all(torch.equal(loaded[k], v) for k, v in sd.items())


def test_load_rejects_other_layouts_and_infers_the_scale():
    assert san_arch.ARCH.load({"conv_first.weight": torch.zeros(64, 3, 3, 3)}) is None
    x2 = san_arch.ARCH.load(SAN(n_resgroups=1, n_resblocks=2, n_feats=16, reduction=4, scale=2).state_dict())
    assert dict(x2.config) == {
        "n_resgroups": 1, "n_resblocks": 2, "n_feats": 16, "reduction": 4, "scale": 2, "n_colors": 3, "rgb_range": 255,
    }
    x3 = san_arch.ARCH.load(SAN(n_resgroups=1, n_resblocks=1, n_feats=16, reduction=4, scale=3, rgb_range=1).state_dict())
    assert (x3.scale, x3.input_range) == (3, 1.0)
