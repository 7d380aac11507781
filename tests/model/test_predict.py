"""The library path of ``model.predict`` on real clip files: what processing and the network give, nothing else."""
from pathlib import Path

import numpy as np
import pytest
import torch

from model import locations
from model.checkpoint import load_checkpoint
from model.config import CLASSES
from model.predict import predict_file
from model.processing import process_video, to_tensors

SAMPLE = Path(__file__).resolve().parents[2] / "assets" / "samples" / "happy_test_00012.avi"


def network_probabilities(clip: Path, checkpoint: Path, inter_stream_attention: bool) -> np.ndarray:
    """The clip processed with the checkpoint's settings and passed through its network, by hand."""
    model, process, _ = load_checkpoint(checkpoint)
    rgb, flow = to_tensors(process_video(clip, process, cache_dir=None))
    with torch.inference_mode():
        return model(rgb[None], flow[None], inter_stream_attention=inter_stream_attention).softmax(1)[0].numpy()


def test_predict_file_gives_what_processing_and_the_network_give(tiny_corpus, tiny_checkpoint):
    clip = sorted((tiny_corpus / "Val" / "Happy").glob("*.avi"))[0]
    result = predict_file(clip, tiny_checkpoint)
    expected = network_probabilities(clip, tiny_checkpoint, inter_stream_attention=True)
    assert list(result["probabilities"]) == list(CLASSES)
    np.testing.assert_allclose(list(result["probabilities"].values()), expected, rtol=1e-5)
    assert result["prediction"] == CLASSES[expected.argmax()]
    assert result["reliability"]["confidence"] == pytest.approx(expected.max())
    assert result["reliability"]["unfamiliarity"] is None  # the tiny checkpoint has no calibration


@pytest.mark.parametrize("inter_stream_attention", [True, False])
def test_the_shipped_model_is_the_default_and_the_attention_switch_reaches_it(inter_stream_attention, monkeypatch):
    monkeypatch.delenv("LAB_ASSETS", raising=False)  # the lab tests' session fixture points it at tiny assets
    result = predict_file(SAMPLE, inter_stream_attention=inter_stream_attention)
    expected = network_probabilities(SAMPLE, locations.default_checkpoint(), inter_stream_attention)
    np.testing.assert_allclose(list(result["probabilities"].values()), expected, rtol=1e-5)
    other = network_probabilities(SAMPLE, locations.default_checkpoint(), not inter_stream_attention)
    assert not np.allclose(expected, other, rtol=0.01, atol=0), "the switch changes the shipped model's probabilities"
    assert result["prediction"] == "Happy"
    assert 0.0 <= result["reliability"]["unfamiliarity"] <= 1.0  # the shipped checkpoint is calibrated
