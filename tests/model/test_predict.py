"""The Predictor on real clip files: what processing and the network give, nothing else; every mode in one call; the
no-face policy."""
from pathlib import Path

import numpy as np
import pytest
import torch

from model import locations
from model.checkpoint import load_checkpoint
from model.config import CLASSES, AttentionMode
from model.data.processing import NoFaceError, process_video, to_tensors
from model.predict import CENTRE_WARNING, NoFace, Predictor
from tests.model.data.test_video import write_video

SAMPLE = Path(__file__).resolve().parents[2] / "assets" / "samples" / "happy_test_00012.avi"


def network_probabilities(clip: Path, checkpoint: Path, attention: AttentionMode) -> np.ndarray:
    """The clip processed with the checkpoint's settings and passed through its network, by hand."""
    model, process, _ = load_checkpoint(checkpoint)
    rgb, flow = to_tensors(process_video(clip, process, cache_dir=None))
    with torch.inference_mode():
        return model(rgb[None], flow[None], attention=attention).softmax(1)[0].numpy()


def test_predict_file_gives_what_processing_and_the_network_give(tiny_corpus, tiny_checkpoint):
    clip = sorted((tiny_corpus / "Val" / "Happy").glob("*.avi"))[0]
    prediction = Predictor.load(tiny_checkpoint).predict_file(clip)
    result = prediction.to_dict()
    assert list(prediction.probabilities) == [AttentionMode.ON, AttentionMode.BYPASSED]  # every mode, its own first
    np.testing.assert_allclose(prediction.probabilities[AttentionMode.BYPASSED],
                               network_probabilities(clip, tiny_checkpoint, AttentionMode.BYPASSED), rtol=1e-5)
    assert prediction.attention is not None  # the weights of the pass with the module on
    expected = network_probabilities(clip, tiny_checkpoint, AttentionMode.ON)
    assert list(result["probabilities"]) == list(CLASSES)
    np.testing.assert_allclose(list(result["probabilities"].values()), expected, rtol=1e-5)
    assert result["prediction"] == CLASSES[expected.argmax()]
    assert result["reliability"]["confidence"] == pytest.approx(expected.max())
    assert result["reliability"]["unfamiliarity"] is None  # the tiny checkpoint has no calibration


@pytest.mark.parametrize("attention", [AttentionMode.ON, AttentionMode.BYPASSED])
def test_the_shipped_model_is_the_default_and_the_attention_switch_reaches_it(attention, monkeypatch):
    monkeypatch.delenv("LAB_ASSETS", raising=False)  # the lab tests' session fixture points it at tiny assets
    predictor = Predictor.load()
    result = predictor.predict_file(SAMPLE, modes=(attention,)).to_dict()
    assert result["attention"] == attention
    expected = network_probabilities(SAMPLE, locations.default_checkpoint(), attention)
    np.testing.assert_allclose(list(result["probabilities"].values()), expected, rtol=1e-5)
    the_other_mode = AttentionMode.BYPASSED if attention is AttentionMode.ON else AttentionMode.ON
    other = network_probabilities(SAMPLE, locations.default_checkpoint(), the_other_mode)
    assert not np.allclose(expected, other, rtol=0.01, atol=0), "the switch changes the shipped model's probabilities"
    assert result["prediction"] == "Happy"
    unfamiliarity = result["reliability"]["unfamiliarity"]
    if attention is AttentionMode.ON:
        assert 0.0 <= unfamiliarity <= 1.0  # the shipped checkpoint is calibrated, in its own mode
    else:
        assert unfamiliarity is None  # the calibration describes the features of the model's own mode only


def test_the_no_face_policy_refuses_or_reads_the_frame_centre_and_says_so(tmp_path, tiny_checkpoint):
    stripes = np.zeros((30, 120, 160, 3), np.uint8)
    for i in range(30):
        stripes[i, :, ((np.arange(160) + 3 * i) // 8) % 2 == 0] = 255  # moving stripes, no face anywhere
    path = tmp_path / "stripes.mp4"
    write_video(path, stripes)
    predictor = Predictor.load(tiny_checkpoint)
    with pytest.raises(NoFaceError, match="no face was found"):
        predictor.predict_file(path)  # NoFace.REFUSE by default: the caller decides
    centre = predictor.predict_file(path, NoFace.CENTRE)
    assert centre.clip.stats["center_crop"] and centre.warnings[-1] == CENTRE_WARNING
    asked = predictor.predict_file(path, center_crop=True)  # what the page's "use the frame centre" runs
    assert CENTRE_WARNING not in asked.warnings
    np.testing.assert_array_equal(asked.probabilities[AttentionMode.ON], centre.probabilities[AttentionMode.ON])
