"""checkpoint_io: safe reading (no pickled code runs), clear errors, unwrapping, checksums, atomic writes."""
from __future__ import annotations

import os
import pickle
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from sr_models.checkpoint_io import (
    CheckpointError,
    ChecksumMismatchError,
    CorruptCheckpointError,
    UnsafeCheckpointError,
    read_safetensors_metadata,
    read_state_dict,
    save_safetensors_atomic,
    sha256_file,
    verify_checksum,
)
from conftest import shared_path

SRGAN_SHA256 = "f4c381640826a48d2440583e4920c6bb4041804f4e285c3c6d585f03961fe87c"
SRGAN_SIZE = 2_952_717


class _CreatesMarker:
    """Unpickling this runs ``open(marker, 'w')``: a harmless stand-in for an attack."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


class _CallsSystem:
    """Unpickling this runs ``os.system('touch marker')``."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _small_sd() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return {"conv.weight": torch.randn(4, 3, 3, 3), "conv.bias": torch.randn(4)}


# ----------------------------------------------------------------------- real checkpoint


def test_real_srgan_checkpoint_reads_and_verifies():
    path = shared_path("weights", "srgan", "netG_epoch_4_100.pth")
    assert sha256_file(path) == SRGAN_SHA256
    assert verify_checksum(path, sha256=SRGAN_SHA256, size=SRGAN_SIZE) == SRGAN_SHA256
    sd = read_state_dict(path)
    assert len(sd) == 79
    assert all(isinstance(v, torch.Tensor) and v.device.type == "cpu" for v in sd.values())
    assert "block1.0.weight" in sd and tuple(sd["block1.0.weight"].shape) == (64, 3, 9, 9)


# ----------------------------------------------------------------------- malicious pickles


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize("payload", [_CreatesMarker, _CallsSystem], ids=["open", "os.system"])
def test_malicious_pickle_is_refused_and_never_runs(tmp_path, payload, legacy):
    marker = tmp_path / "PWNED"
    path = tmp_path / "evil.pth"
    obj = {"conv.weight": torch.zeros(1), "conv.bias": payload(marker)}
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    assert not marker.exists()
    with pytest.raises(UnsafeCheckpointError) as info:
        read_state_dict(path)
    assert not marker.exists(), "pickled code was executed"
    message = str(info.value)
    assert str(path) in message
    assert "open" in message or "system" in message  # names the offending global
    assert "arbitrary code" in message


def test_raw_pickle_protocol_5_with_reduce_is_unsafe(tmp_path):
    """A plain ``pickle.dump`` (not torch.save) file with a payload: torch fails on an
    opcode before reaching the global; the static scan still calls it unsafe."""
    marker = tmp_path / "PWNED"
    path = tmp_path / "evil.pkl"
    with open(path, "wb") as handle:
        pickle.dump({"w": _CallsSystem(marker)}, handle, protocol=5)
    with pytest.raises(UnsafeCheckpointError, match="system"):
        read_state_dict(path)
    assert not marker.exists()


# ----------------------------------------------------------------------- corrupt files


def test_truncated_zip_checkpoint_is_corrupt(tmp_path):
    good = tmp_path / "good.pth"
    torch.save(_small_sd(), good)
    data = good.read_bytes()
    path = tmp_path / "truncated.pth"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptCheckpointError) as info:
        read_state_dict(path)
    assert str(path) in str(info.value) and "state_dict" in str(info.value)


def test_truncated_legacy_checkpoint_is_corrupt(tmp_path):
    good = tmp_path / "good.pth"
    torch.save(_small_sd(), good, _use_new_zipfile_serialization=False)
    path = tmp_path / "truncated.pth"
    path.write_bytes(good.read_bytes()[:-40])
    with pytest.raises(CorruptCheckpointError, match="truncated.pth"):
        read_state_dict(path)


@pytest.mark.parametrize("prefix", [b"", b"\x80\x02", b"PK\x03\x04"], ids=["random", "pickle-magic", "zip-magic"])
def test_random_bytes_are_corrupt_not_unsafe(tmp_path, prefix):
    path = tmp_path / "noise.pth"
    path.write_bytes(prefix + os.urandom(4096))
    with pytest.raises(CorruptCheckpointError, match="noise.pth"):
        read_state_dict(path)


def test_empty_file_is_corrupt(tmp_path):
    path = tmp_path / "empty.pth"
    path.write_bytes(b"")
    with pytest.raises(CorruptCheckpointError, match=r"empty\.pth.*empty \(0 bytes\)"):
        read_state_dict(path)


@pytest.mark.parametrize("obj", [[torch.zeros(1)], torch.zeros(3), 42], ids=["list", "tensor", "int"])
def test_pickle_of_non_dict_is_corrupt(tmp_path, obj):
    path = tmp_path / "notadict.pth"
    torch.save(obj, path)
    with pytest.raises(CorruptCheckpointError) as info:
        read_state_dict(path)
    assert "notadict.pth" in str(info.value) and type(obj).__name__ in str(info.value)


def test_dict_with_non_tensor_values_is_corrupt(tmp_path):
    path = tmp_path / "mixed.pth"
    torch.save({"conv.weight": torch.zeros(1), "epoch": 7, "note": "hello"}, path)
    with pytest.raises(CorruptCheckpointError) as info:
        read_state_dict(path)
    message = str(info.value)
    assert "mixed.pth" in message and "'epoch': int" in message and "'note': str" in message


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.pth"):
        read_state_dict(tmp_path / "nothere.pth")


def test_all_errors_share_the_base_class():
    for cls in (UnsafeCheckpointError, CorruptCheckpointError, ChecksumMismatchError):
        assert issubclass(cls, CheckpointError)


# ----------------------------------------------------------------------- containers / prefixes


@pytest.mark.parametrize("key", ["params", "state_dict", "model"])
def test_single_container_is_unwrapped(tmp_path, key):
    sd = _small_sd()
    path = tmp_path / f"{key}.pth"
    torch.save({key: sd, "iteration": 5}, path)  # non-tensor siblings of the container are ignored
    loaded = read_state_dict(path)
    assert loaded.keys() == sd.keys()
    assert all(torch.equal(loaded[k], sd[k]) for k in sd)


def test_params_ema_preferred_over_params(tmp_path):
    ema = {"w": torch.ones(2)}
    raw = {"w": torch.zeros(2)}
    path = tmp_path / "basicsr.pth"
    torch.save({"params": raw, "params_ema": ema}, path)
    assert torch.equal(read_state_dict(path)["w"], torch.ones(2))


def test_data_parallel_prefix_is_stripped(tmp_path):
    sd = _small_sd()
    path = tmp_path / "dp.pth"
    torch.save({"state_dict": OrderedDict((f"module.{k}", v) for k, v in sd.items())}, path)
    loaded = read_state_dict(path)
    assert list(loaded) == list(sd)
    assert torch.equal(loaded["conv.weight"], sd["conv.weight"])


def test_parameters_become_plain_tensors(tmp_path):
    path = tmp_path / "module.pth"
    torch.save(torch.nn.Conv2d(3, 4, 3).state_dict(keep_vars=True), path)
    loaded = read_state_dict(path)
    assert set(loaded) == {"weight", "bias"}
    assert not any(isinstance(v, torch.nn.Parameter) for v in loaded.values())


# ----------------------------------------------------------------------- safetensors


def test_safetensors_roundtrip_with_metadata(tmp_path):
    sd = _small_sd()
    sd["noncontiguous"] = torch.arange(12.0).reshape(3, 4).t()  # stride != contiguous
    path = tmp_path / "sub" / "model.safetensors"
    metadata = {"source": "unit test", "arch": "esrgan"}
    assert save_safetensors_atomic(sd, path, metadata) == path
    loaded = read_state_dict(path)
    assert loaded.keys() == sd.keys()
    assert all(torch.equal(loaded[k], sd[k]) for k in sd)
    assert read_safetensors_metadata(path) == metadata
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.safetensors"]  # no temp file left


def test_safetensors_atomic_write_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "model.safetensors"
    save_safetensors_atomic({"w": torch.ones(2)}, path, None)
    before = path.read_bytes()
    with pytest.raises(Exception):
        save_safetensors_atomic({"w": torch.ones(2)}, path, {"bad": 3})  # metadata values must be str
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]
    assert torch.equal(load_file(str(path))["w"], torch.ones(2))


def test_truncated_safetensors_is_corrupt(tmp_path):
    path = tmp_path / "model.safetensors"
    save_safetensors_atomic(_small_sd(), path, None)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 20])
    with pytest.raises(CorruptCheckpointError, match=r"model\.safetensors"):
        read_state_dict(path)


# ----------------------------------------------------------------------- checksums


def test_checksum_mismatch_shows_expected_and_actual(tmp_path):
    path = tmp_path / "blob.bin"
    path.write_bytes(b"hello")
    actual = sha256_file(path)
    assert actual == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    wrong = "0" * 64
    with pytest.raises(ChecksumMismatchError) as info:
        verify_checksum(path, sha256=wrong)
    message = str(info.value)
    assert str(path) in message and wrong in message and actual in message
    assert info.value.expected == wrong and info.value.actual == actual


def test_checksum_prefix_and_size(tmp_path):
    path = tmp_path / "blob.bin"
    path.write_bytes(b"hello")
    assert verify_checksum(path, sha256_prefix="2cf24dba", size=5).startswith("2cf24dba")
    assert verify_checksum(path) is None  # nothing to check
    with pytest.raises(ChecksumMismatchError, match=r"expected prefix ff704c30"):
        verify_checksum(path, sha256_prefix="ff704c30")
    with pytest.raises(ChecksumMismatchError, match=r"expected 6 bytes, got 5 bytes"):
        verify_checksum(path, sha256="2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", size=6)


def test_sha256_file_small_chunks_agree(tmp_path):
    path = tmp_path / "blob.bin"
    path.write_bytes(os.urandom(10_000))
    assert sha256_file(path, chunk=7) == sha256_file(path)


def test_safetensors_bytes_do_not_depend_on_the_process(tmp_path):
    """safetensors keeps header metadata in a per-process hash map; we sort it, so the same
    weights always have the same sha256 (the name SR Arena gives a checkpoint)."""
    import subprocess
    import sys

    script = (
        "import sys, torch; from pathlib import Path; from sr_models.checkpoint_io import save_safetensors_atomic\n"
        "save_safetensors_atomic({'w': torch.arange(6.).view(2, 3), 'b': torch.ones(2, dtype=torch.float16)},"
        " Path(sys.argv[1]), {k: k * 3 for k in 'abcdefghij'})\n"
    )
    paths = [tmp_path / f"{i}.safetensors" for i in range(4)]
    for path in paths:
        subprocess.run([sys.executable, "-c", script, str(path)], check=True, cwd=Path(__file__).parent.parent)
    digests = {sha256_file(path) for path in paths}
    assert len(digests) == 1
    assert read_safetensors_metadata(paths[0]) == {k: k * 3 for k in "abcdefghij"}
