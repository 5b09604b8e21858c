"""NIQE (``sr_models.niqe``) equals BasicSR 1.4.2's ``calculate_niqe`` on Set5, and says when it cannot run.

BasicSR's own ``basicsr/metrics/niqe.py`` is read from the sdist that ``python -m sr_models fetch-niqe``
keeps in ``<checkpoints>/niqe/`` and loaded as a single file (``importlib``), its ``basicsr.*`` imports
satisfied by the sdist's own ``color_util.py``, ``registry.py``, ``matlab_functions.py`` and
``metric_util.py`` — the ``basicsr`` package itself (which pulls torchvision) is never imported.
"""
from __future__ import annotations

import importlib.util
import sys
import tarfile
import types
import warnings
from pathlib import Path

import numpy as np
import pytest

from sr_models import niqe
from sr_models.image_io import read_image
from sr_models.imresize import bicubic_upscale
from sr_models.niqe_fetch import SDIST_NAME, NiqeFetchError, fetch_niqe
from mos_support import noisy_stimuli
from tests.conftest import shared_path

SDIST = niqe.params_dir() / SDIST_NAME
NEEDS_PARAMS = pytest.mark.skipif(not niqe.available(), reason="NIQE parameters not installed: run "
                                  "`python -m sr_models fetch-niqe` (.ci/setup_niqe.sh)")
#: The sdist files BasicSR's niqe.py needs, and the module names they stand in for.
REFERENCE_FILES = {
    "basicsr.utils.color_util": "basicsr/utils/color_util.py",
    "basicsr.utils.registry": "basicsr/utils/registry.py",
    "basicsr.utils.matlab_functions": "basicsr/utils/matlab_functions.py",
    "basicsr.metrics.metric_util": "basicsr/metrics/metric_util.py",
}


def _exec(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_basicsr_niqe(sdist: Path, tmp: Path) -> types.ModuleType:
    """BasicSR's niqe.py as a module, its imports served by the sdist's own files (sys.modules restored after)."""
    pytest.importorskip("cv2", reason="BasicSR's niqe.py imports cv2 (opencv)")
    root = tmp / "basicsr-1.4.2"
    with tarfile.open(sdist, "r:gz") as archive:
        for rel in [*REFERENCE_FILES.values(), "basicsr/metrics/niqe.py", "basicsr/metrics/niqe_pris_params.npz"]:
            archive.extract(f"basicsr-1.4.2/{rel}", tmp, filter="data")
    names = ["basicsr", "basicsr.utils", "basicsr.metrics", *REFERENCE_FILES]
    saved = {name: sys.modules.get(name) for name in names}
    try:
        for package in ("basicsr", "basicsr.utils", "basicsr.metrics"):
            sys.modules[package] = types.ModuleType(package)  # empty: no basicsr/__init__.py runs
        for name, rel in REFERENCE_FILES.items():
            module = _exec(name, root / rel)
            if name == "basicsr.utils.color_util":
                sys.modules["basicsr.utils"].bgr2ycbcr = module.bgr2ycbcr  # metric_util: from basicsr.utils import
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # its scipy.ndimage.filters import
            return _exec("basicsr_reference_niqe", root / "basicsr/metrics/niqe.py")
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
        sys.modules.pop("basicsr_reference_niqe", None)


@NEEDS_PARAMS
def test_niqe_equals_basicsr_on_set5_hr_and_bicubic(tmp_path):
    if not SDIST.is_file():
        pytest.skip(f"{SDIST} absent: run `python -m sr_models fetch-niqe` (BasicSR's code is read from it)")
    set5 = shared_path("data", "benchmark", "Set5")
    reference = load_basicsr_niqe(SDIST, tmp_path)
    worst, scores = 0.0, {}
    for hr_path in sorted((set5 / "HR").glob("*.png")):
        hr = read_image(hr_path)
        bicubic = bicubic_upscale(read_image(set5 / "LR_bicubic" / "X4" / hr_path.name))
        for kind, image in (("HR", hr), ("bicubic", bicubic)):
            ours = niqe.calculate_niqe(image, crop_border=4)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # its nan-mean of texture-free patches
                theirs = reference.calculate_niqe(image[..., ::-1], crop_border=4)  # BasicSR reads BGR
            scores[f"{hr_path.stem} {kind}"] = (ours, theirs)
            worst = max(worst, abs(ours - theirs))
    assert len(scores) == 10
    assert worst < 1e-3, scores
    assert all(hr < bic for (hr, _), (bic, _) in zip(list(scores.values())[::2], list(scores.values())[1::2]))


@NEEDS_PARAMS
def test_niqe_input_orders_agree_and_small_or_flat_images_are_explained():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (200, 210, 3), dtype=np.uint8)
    hwc = niqe.calculate_niqe(image, 0)
    assert np.isfinite(hwc) and niqe.calculate_niqe(image.transpose(2, 0, 1), 0, input_order="CHW") == hwc
    grey = image[..., 1]
    assert niqe.calculate_niqe(grey, 0, input_order="HW") == niqe.calculate_niqe(grey[..., None], 0)
    assert niqe.fits((192, 96)) and not niqe.fits((191, 96)) and niqe.fits((200, 104), crop_border=4) and not niqe.fits((200, 103), crop_border=4)
    with pytest.raises(ValueError, match="two whole 96×96 patches|2 whole 96×96"):
        niqe.calculate_niqe(image[:100, :150], 0)
    assert np.isnan(niqe.calculate_niqe(np.full((192, 192, 3), 128, np.uint8), 0))  # no texture: no score


def test_missing_parameters_raise_an_error_that_says_how_to_fetch(env, tmp_path):
    env("SR_ARENA_CHECKPOINTS", str(tmp_path))
    env("SR_ARENA_WEIGHTS_PATH", "")
    assert not niqe.available()
    with pytest.raises(niqe.NiqeUnavailableError, match="fetch-niqe"):
        niqe.calculate_niqe(np.zeros((200, 200, 3), np.uint8), 4)


def test_fetch_extracts_only_the_verified_npz_and_rejects_another_file(tmp_path):
    if not SDIST.is_file():
        pytest.skip(f"{SDIST} absent: run `python -m sr_models fetch-niqe`")
    params, sdist = fetch_niqe(tmp_path / "niqe", sdist=SDIST)
    assert sorted(p.name for p in (tmp_path / "niqe").iterdir()) == [SDIST_NAME, niqe.PARAMS_NAME]
    assert niqe._load(params).cov.shape == (36, 36) and sdist.name == SDIST_NAME
    forged = tmp_path / SDIST_NAME
    forged.write_bytes(b"not basicsr")
    with pytest.raises(NiqeFetchError, match="sha256"):
        fetch_niqe(tmp_path / "other", sdist=forged)


@NEEDS_PARAMS
def test_evaluate_reports_the_mean_niqe_per_model_beside_psnr_and_ssim():
    from sr_models.evaluate import evaluate, format_table

    set5 = shared_path("data", "benchmark", "Set5")
    report = evaluate(set5, ["bicubic"])
    result = report["results"]["bicubic"]
    outputs = [bicubic_upscale(read_image(p)) for p in sorted((set5 / "LR_bicubic" / "X4").glob("*.png"))]
    assert result["niqe"] == pytest.approx(np.mean([niqe.calculate_niqe(o, 4) for o in outputs]), abs=1e-9)
    assert set(result) >= {"psnr", "ssim", "niqe", "n", "per_image"} and "niqe_note" not in report
    assert "NIQE" in format_table(report).splitlines()[1]


@NEEDS_PARAMS
def test_perception_distortion_reports_niqe_and_plots_psnr_against_it_as_in_pirm(tmp_path):
    from PIL import Image
    from skimage import data as skdata

    from sr_arena.mos.battle_stats import perception_distortion
    from sr_arena.ui.battle_results import PD_AXES, correlation_table, perception_distortion_figure

    crops = [skdata.astronaut()[i * 100: i * 100 + 200, 150:350] for i in range(3)]
    rows = noisy_stimuli(tmp_path, crops, {"bicubic": 3, "srgan": 20}, seed=1)
    votes = [{"blinded": 1, "kind": "method", "method": method, "stimulus_id": f"{i}-{method}", "rater_id": f"r{r}",
              "score": 4 - (method == "srgan") - (i + r) % 2} for i in range(3) for method in ("bicubic", "srgan")
             for r in range(3)]
    result = perception_distortion(rows, votes, None)
    by_method = {m["method"]: m for m in result["methods"]}
    expected = np.mean([niqe.calculate_niqe(np.asarray(Image.open(tmp_path / f"srgan{i}.png")), 4) for i in range(3)])
    assert by_method["srgan"]["niqe"] == pytest.approx(expected)
    assert by_method["srgan"]["niqe"] > by_method["bicubic"]["niqe"]  # heavy noise: less natural
    assert result["correlations"]["niqe"]["stimuli"] == 6 and "NIQE" in set(correlation_table({"perception_distortion": result})["metric"])
    extra = {"perception_distortion": result}
    figure = perception_distortion_figure(extra, {}, x_axis=list(PD_AXES)[1])
    assert [ax.get_ylabel() for ax in figure.axes] == ["mean PSNR of the study stimuli (dB)", "MOS (1–5)"]
    assert all("NIQE" in ax.get_xlabel() for ax in figure.axes)
    assert "NIQE" not in perception_distortion_figure(extra, {}).axes[0].get_xlabel()  # the default: PSNR/SSIM


def test_evaluate_without_niqe_parameters_says_why_and_keeps_psnr_ssim(env, tmp_path):
    from sr_models.evaluate import evaluate, format_table

    set5 = shared_path("data", "benchmark", "Set5")
    env("SR_ARENA_CHECKPOINTS", str(tmp_path))
    env("SR_ARENA_WEIGHTS_PATH", "")
    report = evaluate(set5, ["bicubic"])
    assert report["results"]["bicubic"]["niqe"] is None and abs(report["results"]["bicubic"]["psnr"] - 28.43) < 0.02
    assert "fetch-niqe" in report["niqe_note"] and "fetch-niqe" in format_table(report)


@NEEDS_PARAMS
def test_cli_evaluate_json_has_a_niqe_mean_per_model():
    import json
    import subprocess

    from sr_models.paths import REPO_ROOT

    set5 = shared_path("data", "benchmark", "Set5")
    done = subprocess.run([sys.executable, "-m", "sr_models", "evaluate", "--data", str(set5), "--models", "bicubic",
                           "--json"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    bicubic = json.loads(done.stdout)["results"]["bicubic"]
    assert 5 < bicubic["niqe"] < 12 and all("niqe" in s for s in bicubic["per_image"].values())
