"""Training pipeline: data from training folders only, project bicubic LR, a tiny run that learns,
bit-exact resume, and export -> registry/loader round-trip with house provenance."""
from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sr_models.imresize import imresize, modcrop
from sr_models.loader import load_from_card
from sr_models.paths import REPO_ROOT
from sr_models.registry import CARDS, WeightsKind, get_card
from sr_models.train.config import TrainConfig, load_config
from sr_models.train.rrdb_finetune import load_finetune_config
from sr_models.train.data import (BenchmarkDataError, PatchSampler, dihedral, load_training_pairs, make_pair,
                                  training_files)
from sr_models.train.loop import Trainer, learning_rate, make_trainer
from sr_models.train.validate import mean_gradient_magnitude
from tests.conftest import shared_path

CONFIGS = REPO_ROOT / "configs" / "train"


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    """Three T91 training images in a temporary folder."""
    t91 = shared_path("data", "train", "T91")
    folder = tmp_path_factory.mktemp("train_images")
    for name in ("t1.bmp", "t2.bmp", "t3.bmp"):
        shutil.copy(t91 / name, folder / name)
    return folder


def tiny_config(data: Path, **changes) -> TrainConfig:
    base = TrainConfig(name="tiny", model_id="awsrn", arch="awsrn",
                       arch_args={"n_resblocks": 1, "n_feats": 8, "block_feats": 16, "n_awru": 1, "scale": 4},
                       lr_patch=8, batch_size=4, steps=40, lr=3e-3, lr_min=3e-3, val_every=0, save_every=0,
                       data_dirs=[str(data)], val_set="", threads=2, export="house/pytest_tiny_awsrn.safetensors")
    return dataclasses.replace(base, **changes)


# ------------------------------------------------------------------ data


def test_every_shipped_config_loads_and_trains_on_training_folders_only():
    bench = shared_path("data", "benchmark").resolve()
    for path in sorted(CONFIGS.glob("*.toml")):
        # the house ESRGAN stages are fine-tunes on top of a base: their own config type
        config = load_finetune_config(path) if path.stem.startswith("esrgan_") else load_config(path)
        files = training_files(config.data_dirs)
        assert len(files) == 301, path
        assert not any(bench in f.resolve().parents for f in files)
    assert {p.stem for p in CONFIGS.glob("*.toml")} == {
        "awsrn", "awsrn_full", "san_house", "srresnet", "srgan", "esrgan_psnr", "esrgan_gan"}


def test_benchmark_folders_are_refused():
    with pytest.raises(BenchmarkDataError):
        training_files([str(shared_path("data", "benchmark", "Set5", "HR"))])
    with pytest.raises(BenchmarkDataError):
        training_files([str(shared_path("data", "benchmark"))])


def test_unknown_config_keys_are_an_error(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('name = "x"\nmodel_id = "awsrn"\narch = "awsrn"\nlearning_rate = 1\n')
    with pytest.raises(ValueError, match="learning_rate"):
        load_config(path)


def test_lr_is_the_project_bicubic_and_patches_are_aligned(tiny_data):
    hr_full, lr_full = load_training_pairs([str(tiny_data)], 4, cache=False)[0]
    from sr_models.image_io import read_image

    original = read_image(sorted(tiny_data.iterdir())[0])
    np.testing.assert_array_equal(hr_full, modcrop(original, 4))
    np.testing.assert_array_equal(lr_full, imresize(modcrop(original, 4), scale=0.25))
    sampler = PatchSampler([(hr_full, lr_full)], lr_patch=16, scale=4, rng=np.random.default_rng(0))
    for _ in range(6):
        lr, hr = sampler.sample(4)
        assert lr.shape == (4, 16, 16, 3) and hr.shape == (4, 64, 64, 3)
        for a, b in zip(lr, hr):
            # away from the patch border the LR patch is the bicubic LR of its HR patch
            diff = np.abs(a[3:-3, 3:-3].astype(int) - imresize(np.ascontiguousarray(b), scale=0.25)[3:-3, 3:-3])
            assert diff.max() <= 1  # rot90 swaps MATLAB's pass order (uint8 rounding in between)
    lr0 = lr_full[:16, :16]
    np.testing.assert_array_equal(imresize(hr_full[:64, :64], scale=0.25)[3:-3, 3:-3], lr0[3:-3, 3:-3])


def test_make_pair_reads_alpha_and_grey_as_the_app_does():
    """Training images go through the app's own to_rgb: opaque alpha is dropped, partial alpha is
    flattened onto white (what a viewer shows), grey is replicated."""
    rgba = np.random.default_rng(0).integers(0, 256, (21, 18, 4), dtype=np.uint8)
    rgba[:, :, 3] = 255
    hr, lr = make_pair(rgba, 4)
    assert hr.shape == (20, 16, 3) and lr.shape == (5, 4, 3)
    np.testing.assert_array_equal(hr, rgba[:20, :16, :3])
    rgba[:, :, 3] = 0
    np.testing.assert_array_equal(make_pair(rgba, 4)[0], np.full((20, 16, 3), 255, np.uint8))
    grey_hr, _ = make_pair(rgba[:, :, 0], 4)
    assert grey_hr.shape == (20, 16, 3)
    assert hr.flags["C_CONTIGUOUS"] and lr.flags["C_CONTIGUOUS"]  # the layout a cache read gives back


def test_dihedral_gives_eight_distinct_transforms():
    x = np.arange(12).reshape(3, 4, 1)
    assert len({dihedral(x, k).tobytes() + bytes(dihedral(x, k).shape) for k in range(8)}) == 8


def test_learning_rate_schedule():
    cfg = TrainConfig(name="s", model_id="awsrn", arch="awsrn", steps=100, lr=1e-3, lr_min=1e-5, warmup_steps=10)
    assert learning_rate(cfg, 0) == pytest.approx(1e-4)
    assert learning_rate(cfg, 10) == pytest.approx(1e-3)
    assert learning_rate(cfg, 100) == pytest.approx(1e-5)


def test_sharpness_measure_orders_blur_below_the_original():
    hr = shared_path("data", "benchmark", "Set5", "HR", "butterfly.png")
    from sr_models.image_io import read_image

    image = read_image(hr)
    blurred = imresize(imresize(image, scale=0.25), scale=4.0)
    assert mean_gradient_magnitude(blurred) < 0.8 * mean_gradient_magnitude(image)


# ------------------------------------------------------------------ training


def _fixed_batch_loss(trainer: Trainer, seed: int = 123) -> float:
    sampler = PatchSampler(trainer.pairs, trainer.config.lr_patch, 4, np.random.default_rng(seed))
    lr, hr = sampler.sample(8)
    to = lambda a: torch.from_numpy(a).permute(0, 3, 1, 2).float() / 255  # noqa: E731
    with torch.no_grad():
        sr = trainer.model(to(lr) * trainer.value_range) / trainer.value_range
    return float(torch.nn.functional.l1_loss(sr, to(hr)))


def test_a_tiny_run_decreases_the_loss(tiny_data, tmp_path):
    trainer = make_trainer(tiny_config(tiny_data), out_dir=tmp_path / "run", cache=False, quiet=True)
    before = _fixed_batch_loss(trainer)
    summary = trainer.run()
    after = _fixed_batch_loss(trainer)
    assert summary["step"] == 40 and summary["finished"]
    assert after < 0.6 * before, (before, after)
    records = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert records[0]["event"] == "start" and records[-1]["step"] == 40
    assert json.loads((tmp_path / "run" / "status.json").read_text())["finished"]


def _states_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], torch.Tensor):
            assert torch.equal(a[key], b[key]), key
        elif isinstance(a[key], dict):
            _states_equal(a[key], b[key])
        elif isinstance(a[key], list):
            assert len(a[key]) == len(b[key])
            for x, y in zip(a[key], b[key]):
                _states_equal({"v": x}, {"v": y}) if isinstance(x, (dict, torch.Tensor)) else None
        elif key not in ("train_seconds", "wall_seconds"):
            assert a[key] == b[key], key


def test_resume_continues_bit_for_bit_with_the_adversarial_stage(tiny_data, tmp_path):
    config = tiny_config(tiny_data, model_id="srgan", arch="srgan", arch_args={"num_blocks": 1, "num_feat": 8},
                         loss="mse", adversarial_weight=1e-3, steps=4, save_every=2)
    straight = make_trainer(config, out_dir=tmp_path / "a", cache=False, quiet=True)
    straight.run()
    first = make_trainer(config, out_dir=tmp_path / "b", cache=False, quiet=True)
    assert first.run(max_steps=2)["step"] == 2
    with pytest.raises(FileExistsError):
        make_trainer(config, out_dir=tmp_path / "b", cache=False, quiet=True)
    resumed = make_trainer(config, resume=True, out_dir=tmp_path / "b", cache=False, quiet=True)
    assert resumed.step == 2
    resumed.run()
    assert resumed.step == straight.step == 4
    _states_equal(straight.state(), resumed.state())


# ------------------------------------------------------------------ export and registry


def test_export_round_trips_through_the_registry_with_house_provenance(tiny_data, tmp_path, env):
    config = tiny_config(tiny_data, steps=5)
    make_trainer(config, out_dir=tmp_path / "run", cache=False, quiet=True).run()
    from sr_models.train.export import export_run

    card = export_run(config, out_dir=tmp_path / "run", checkpoints_dir=tmp_path / "ckpt", sets=("Set5",))
    weights = tmp_path / "ckpt" / config.export
    assert weights.is_file() and weights.stat().st_size <= 10 * 1024 * 1024
    assert card["steps"] == 5 and card["kind"] == "trained by this project" and 5 < card["results"]["Set5"]["psnr"] < 40
    assert json.loads(weights.with_suffix(".json").read_text())["sha256"] == card["sha256"]
    assert "Set5" in weights.with_suffix(".md").read_text()

    house = get_card("awsrn").sources[-1]
    test_card = dataclasses.replace(get_card("awsrn"), sources=(dataclasses.replace(house, filename=config.export),))
    env("SR_ARENA_WEIGHTS_PATH", str(tmp_path / "ckpt"))
    loaded = load_from_card(test_card, torch.device("cpu"))
    assert loaded.provenance.kind == "trained by this project"
    assert loaded.provenance.file == str(weights)
    assert loaded.descriptor.config["n_feats"] == 8
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=True)["ema"]
    for key, value in loaded.descriptor.model.state_dict().items():
        torch.testing.assert_close(value, state[key].float(), atol=1e-2, rtol=1e-3)


def test_house_sources_come_last_and_srresnet_is_an_extra_card():
    for model_id, name in (("awsrn", "awsrn"), ("san", "san"), ("srgan", "srgan")):
        sources = get_card(model_id).sources
        assert sources[-1].kind is WeightsKind.HOUSE and sources[-1].filename == f"house/{name}_x4.safetensors"
        assert all(s.kind is not WeightsKind.HOUSE for s in sources[:-1]) and len(sources) >= 2
    assert "4/20 groups" in get_card("san").sources[-1].description
    assert get_card("srresnet").sources[-1].filename == "house/srresnet_x4.safetensors"
    assert CARDS["srresnet"].twin_of == "srgan"  # a method of its own, SRGAN's PSNR-oriented twin (issue 13)


def test_train_cli_runs_steps_and_resumes(tiny_data):
    name = "pytest_cli_tiny"
    run = REPO_ROOT / "runs" / name
    shutil.rmtree(run, ignore_errors=True)
    config = Path(run / "cfg.toml")
    run.mkdir(parents=True)
    config.write_text(f'name = "{name}"\nmodel_id = "awsrn"\narch = "awsrn"\nsteps = 4\nlr_patch = 8\nbatch_size = 2\n'
                      f'arch_args = {{ n_resblocks = 1, n_feats = 8, block_feats = 16, n_awru = 1 }}\n'
                      f'data_dirs = ["{tiny_data}"]\nval_set = ""\nsave_every = 1\nthreads = 2\n')
    try:
        cmd = [sys.executable, "-m", "sr_models", "train", str(config), "--quiet"]
        first = subprocess.run(cmd + ["--max-steps", "2"], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
        assert first.returncode == 0, first.stderr
        assert json.loads(first.stdout.strip().splitlines()[-1])["step"] == 2
        second = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
        assert second.returncode == 0, second.stderr
        assert json.loads(second.stdout.strip().splitlines()[-1])["step"] == 4
    finally:
        shutil.rmtree(run, ignore_errors=True)


def test_curves_count_training_compute_and_compare_at_equal_budget(tmp_path):
    from sr_models.train.curves import psnr_at_compute, training_flops_per_step, validation_curve

    small, full = load_config(CONFIGS / "awsrn.toml"), load_config(CONFIGS / "awsrn_full.toml")
    small_flops, full_flops = training_flops_per_step(small), training_flops_per_step(full)
    assert 2.5 < full_flops / small_flops < 2.9  # 4 LFBs vs 1: the body dominates the cost
    log = tmp_path / "log.jsonl"
    rows = [{"event": "start"}, {"step": 10, "loss": 1.0}, {"step": 500, "val": {"psnr": 29.0}},
            {"step": 1000, "val": {"psnr": 29.5}}, {"step": 1000, "val": {"psnr": 29.6}}]
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    curve = validation_curve(log, flops_per_step=1e12)
    assert [(p.step, p.psnr) for p in curve] == [(500, 29.0), (1000, 29.6)]
    assert curve[1].pflop == pytest.approx(1.0)
    assert psnr_at_compute(curve, 0.9).step == 500 and psnr_at_compute(curve, 1.0).step == 1000
    assert psnr_at_compute(curve, 0.1) is None and psnr_at_compute(curve, 1.5) is None  # before / beyond the run
    assert validation_curve(tmp_path / "missing.jsonl", 1.0) == []


def test_threads_can_be_overridden_per_invocation():
    assert load_config(CONFIGS / "srresnet.toml", threads=1).threads == 1
    assert load_config(CONFIGS / "srresnet.toml", threads=None).threads == load_config(CONFIGS / "srresnet.toml").threads


def test_config_edits_during_a_run_are_named_in_the_card():
    from sr_models.train.export import config_changes

    started = dataclasses.asdict(load_config(CONFIGS / "san_house.toml", steps=20000, threads=2))
    now = load_config(CONFIGS / "san_house.toml", steps=10000, threads=1).as_dict()
    assert config_changes(started, now) == ["steps: 20000 → 10000"]  # threads are not a training setting
    assert config_changes(now, now) == []


def test_export_re_estimates_batch_norm_statistics_for_averaged_weights(tiny_data, tmp_path):
    from sr_models.train.validate import recalibrate_batch_norm

    config = tiny_config(tiny_data, arch="srgan", model_id="srgan", arch_args={"num_blocks": 1, "num_feat": 8},
                         loss="mse", steps=3)
    trainer = make_trainer(config, out_dir=tmp_path / "run", cache=False, quiet=True)
    trainer.run()
    ema = {k: v.clone() for k, v in trainer.ema.state_dict().items()}
    new = recalibrate_batch_norm(ema, config, batches=4)
    assert new.keys() == ema.keys()
    changed = {k for k in ema if not torch.equal(ema[k], new[k])}
    assert changed and all("running_" in k or "num_batches" in k for k in changed)  # only BN statistics move
    assert new["block2.bn1.num_batches_tracked"].dtype == torch.int64
    assert recalibrate_batch_norm(ema, config, batches=4)["block2.bn1.running_mean"].equal(new["block2.bn1.running_mean"])
    awsrn = tiny_config(tiny_data)
    weights = make_trainer(awsrn, out_dir=tmp_path / "aw", cache=False, quiet=True).ema.state_dict()
    assert recalibrate_batch_norm(weights, awsrn) is weights  # no BN: unchanged


def test_training_validation_scores_the_averaged_weights_with_re_estimated_batch_norm(tiny_data, tmp_path):
    from sr_models.train.nets import build_generator
    from sr_models.train.validate import recalibrate_batch_norm, validate

    config = tiny_config(tiny_data, arch="srgan", model_id="srgan", arch_args={"num_blocks": 1, "num_feat": 8},
                         loss="mse", steps=6, val_set="Set5")
    trainer = make_trainer(config, out_dir=tmp_path / "run", cache=False, quiet=True)
    trainer.run()
    ema = {k: v.clone() for k, v in trainer.ema.state_dict().items()}
    scored = trainer.run_validation()
    shipped, value_range = build_generator(config.arch, config.arch_args)
    shipped.load_state_dict(recalibrate_batch_norm(ema, config))  # what export_run ships (pairs loaded afresh)
    assert scored == validate(shipped, trainer.val_pairs, value_range, torch.device("cpu"))
    copied = validate(trainer.ema, trainer.val_pairs, value_range, torch.device("cpu"))
    assert scored["psnr"] != pytest.approx(copied["psnr"], rel=1e-6)
    assert all(torch.equal(v, ema[k]) for k, v in trainer.ema.state_dict().items())  # the EMA itself is untouched


def test_a_gan_stage_without_its_psnr_run_starts_from_the_shipped_psnr_checkpoint(tiny_data, tmp_path):
    """A fresh checkout has no runs/: SRGAN's init_from run falls back to the house SRResNet it exported."""
    from sr_models.checkpoint_io import read_state_dict
    from sr_models.paths import CHECKPOINTS_DIR

    shipped = CHECKPOINTS_DIR / "house" / "srresnet_x4.safetensors"
    if not shipped.is_file():
        pytest.skip("the shipped house SRResNet is absent")
    config = dataclasses.replace(load_config(CONFIGS / "srgan.toml"), data_dirs=[str(tiny_data)], val_set="", threads=2)
    trainer = make_trainer(config, out_dir=tmp_path / "srgan", cache=False, quiet=True)
    for name, value in read_state_dict(shipped).items():
        assert torch.equal(trainer.model.state_dict()[name].float(), value.float()), name


def test_gan_stage_validation_keeps_each_snapshot_with_its_artefact_score(tiny_data, tmp_path):
    config = tiny_config(tiny_data, model_id="srgan", arch="srgan", arch_args={"num_blocks": 1, "num_feat": 8},
                         loss="mse", adversarial_weight=1e-3, steps=2, val_every=2, val_set="Set5")
    trainer = make_trainer(config, out_dir=tmp_path / "gan", cache=False, quiet=True)
    trainer.run()
    assert 0.0 <= trainer.last_val["artefacts"] <= 100.0
    snapshot = torch.load(tmp_path / "gan" / "ema_000002.pt", weights_only=True)
    assert snapshot.keys() == trainer.ema.state_dict().keys()


def test_spectral_penalty_is_zero_for_identical_images_and_positive_for_stripes():
    """The GAN stage's frequency-domain penalty (at the artefact score's period-2/4 bins) sees upsampler stripes."""
    from sr_models.train.loop import spectral_penalty

    torch.manual_seed(0)
    hr = 0.5 + 0.1 * torch.rand(2, 3, 32, 32)
    assert float(spectral_penalty(hr, hr)) == 0.0
    rows = torch.arange(32).float().view(1, 1, 32, 1)
    for period in (2, 4):
        striped = hr + (2 / 255) * torch.cos(2 * torch.pi * rows / period)
        assert float(spectral_penalty(striped, hr)) > 1e-4
    smooth = hr + (2 / 255) * torch.cos(2 * torch.pi * rows / 32)  # a period the upsampler does not make
    assert float(spectral_penalty(smooth, hr)) < 1e-6


def test_the_spectral_penalty_is_a_strict_config_key_and_trains(tiny_data, tmp_path):
    config = tiny_config(tiny_data, model_id="srgan", arch="srgan", arch_args={"num_blocks": 1, "num_feat": 8},
                         loss="mse", adversarial_weight=1e-3, spectral_weight=10.0, steps=1)
    trainer = make_trainer(config, out_dir=tmp_path / "spectral", cache=False, quiet=True)
    assert trainer.train_step()["spectral"] > 0.0
    assert load_config(CONFIGS / "srgan.toml").spectral_weight >= 0.0
