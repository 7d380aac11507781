"""face-api's expression network, ported: converted from the npm package's files, refused when they are altered, and
reading real faces; the two-stream model's evidence is the mean of its real-face networks, and a still face is read by
them alone."""
import shutil

import pytest
import torch

from cli import convert_faceapi
from model import faceapi_backbone, fer_backbone, locations
from model.config import CLASSES, ModelConfig, ProcessConfig
from model.data.processing import process_video, to_tensors
from model.fer_backbone import WeightsError
from model.network import TwoStreamNet
from tests.model.test_network import clip

SAMPLE = locations.REPO_ROOT / "assets" / "samples" / "happy_test_00012.avi"


def test_command_converts_the_package_into_safetensors_and_json(tmp_path):
    assert convert_faceapi.main(["--out", str(tmp_path / "w")]) == 0
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == ["config.json", "model.safetensors"]
    converted, shipped = faceapi_backbone.load(tmp_path / "w"), faceapi_backbone.load()
    assert all(torch.equal(a, b) for a, b in zip(converted.state_dict().values(), shipped.state_dict().values()))


def test_an_altered_weight_file_is_refused_in_one_line(tmp_path, capsys):
    package = tmp_path / "node_modules" / faceapi_backbone.PACKAGE
    shutil.copytree(faceapi_backbone.package_folder(), package)
    weights = package / faceapi_backbone.WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\0")
    assert convert_faceapi.main(["--out", str(tmp_path / "w"), "--node-modules", str(tmp_path / "node_modules")]) == 2
    error = capsys.readouterr().err.strip()
    assert "sha256 differs" in error and len(error.splitlines()) == 1
    assert not (tmp_path / "w").exists()
    with pytest.raises(WeightsError, match="python -m cli.convert_faceapi"):
        faceapi_backbone.load(tmp_path / "w")


def test_tensorflow_same_padding_keeps_the_grid_of_the_package():
    network = faceapi_backbone.load()
    features = network.features(network.prepare(torch.rand(2, 3, 64, 64)))
    assert features.shape == (2, 256, 7, 7)  # 112 -> 56 -> 28 -> 14 -> 7, as face-api.js's 7x7 average pool expects


def test_it_reads_the_smile_of_a_real_happy_face():
    photo = locations.REPO_ROOT / "assets" / "realfaces" / "media" / "faceapijs-happy.jpg"
    crops = process_video(photo, ProcessConfig()).rgb  # a still image decodes as a one-frame video
    rgb01 = torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        probabilities = faceapi_backbone.load()(rgb01).softmax(1).mean(0)
    assert faceapi_backbone.CLASSES[int(probabilities.argmax())] == "Happy" and probabilities.max() > 0.8


def test_the_evidence_is_the_mean_of_both_networks_in_class_order():
    rgb, flow = to_tensors(process_video(SAMPLE, ProcessConfig()))
    model = TwoStreamNet(ModelConfig(width=4, attention_dim=8), ProcessConfig()).eval()
    with torch.no_grad():
        evidence = model.outputs(rgb[None], flow[None]).real_face[0]
        frames01 = rgb.transpose(0, 1) * torch.tensor(ProcessConfig().rgb_std).view(1, 3, 1, 1) \
            + torch.tensor(ProcessConfig().rgb_mean).view(1, 3, 1, 1)
        each = []
        for module in (faceapi_backbone, fer_backbone):
            network = module.load()
            log_probs = network(frames01).log_softmax(1) if module is faceapi_backbone else \
                network(network.prepare(frames01)).log_softmax(1)
            each.append(log_probs[:, [network.classes.index(c) for c in CLASSES]].mean(0))
    assert torch.allclose(evidence, (each[0] + each[1]) / 2, atol=1e-5)


def test_a_still_face_is_read_by_the_real_face_networks_alone():
    """No motion, no correction: the fused logits equal the networks' evidence; with motion they depart from it."""
    torch.manual_seed(0)
    model = TwoStreamNet(ModelConfig(width=4, attention_dim=8), ProcessConfig(frames=8, size=32)).eval()
    rgb, flow = clip()
    with torch.no_grad():
        torch.nn.init.normal_(model.classifier.weight, std=1.0)  # a correction that is not zero
        still = model.outputs(rgb, torch.zeros_like(flow))
        moving = model.outputs(rgb, flow)
    assert torch.allclose(still.logits, still.real_face, atol=1e-4)
    assert (moving.logits - moving.real_face).abs().max() > 0.1
