"""The Gradio demo answers a real client on localhost with the library's prediction, the reliability panel in words,
a saliency overlay video and the per-frame relevance curve."""
import base64
import json

import av
import numpy as np
import pytest
from gradio_client import Client, handle_file

from app.gradio_app import build_demo
from lab import sources
from lab.explain import VIDEO_SIDE
from model.config import CLASSES
from model.predict import Predictor
from tests.lab_env import TINY_PROCESS


def video_frames(answer) -> np.ndarray:
    """The overlay video Gradio sent back, decoded: (frames, height, width, 3)."""
    with av.open(str(answer["video"] if isinstance(answer, dict) else answer)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


def curve_values(values) -> np.ndarray:
    """A plotted trace's values: Plotly's JSON sends numeric arrays as base64 bytes with their dtype."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), values["dtype"]).astype(float)
    return np.asarray(values, float)


@pytest.mark.timeout(240)
def test_gradio_client_gets_the_library_prediction_its_reliability_and_saliency(lab_env):
    checkpoint = sources.checkpoint_choices()["two_stream_attention"]
    sample = sources.sample_clips()[0]
    demo = build_demo(checkpoint)
    demo.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    try:
        client = Client(demo.local_url, verbose=False)
        answers = {method: client.predict(handle_file(str(sample)), True, method, api_name="/recognize")
                   for method in ("Grad-CAM", "Integrated Gradients")}
    finally:
        demo.close()
    label, reliability, real_face_note, real_face_plot, video, plot = answers["Grad-CAM"]
    library = Predictor.load(checkpoint).predict_file(sample).to_dict()
    assert real_face_note == library["real_face"]["note"]
    real_face_curves = {trace["name"]: curve_values(trace["y"]) for trace in json.loads(real_face_plot["plot"])["data"]}
    assert list(real_face_curves) == list(CLASSES)
    per_frame = np.array(library["real_face"]["per_frame"])
    assert np.column_stack(list(real_face_curves.values())) == pytest.approx(per_frame, abs=1e-4)
    assert label["label"] == library["prediction"]
    assert {c["label"]: c["confidence"] for c in label["confidences"]} == pytest.approx(library["probabilities"])

    assert ("**Unreliable" in reliability) == (not library["reliable"])
    assert all(reason in reliability for reason in library["reliability"]["reasons"])
    assert ("| Unlike the clips the model was checked on | not calibrated for this checkpoint | more usual than 99% of "
            "them | ok |") in reliability

    frames = video_frames(video)  # each frame: the face crops | the motion, enlarged to VIDEO_SIDE
    assert frames.shape == (TINY_PROCESS.frames, VIDEO_SIDE, 2 * VIDEO_SIDE + 4, 3)
    other_method = video_frames(answers["Integrated Gradients"][4])
    assert np.abs(frames.astype(int) - other_method).mean() > 1, "the overlay shows the chosen method's saliency"

    curves = {trace["name"]: curve_values(trace["y"]) for trace in json.loads(plot["plot"])["data"]}
    assert set(curves) == {"spatial stream", "temporal stream"}
    assert all(len(curve) == TINY_PROCESS.frames for curve in curves.values())
    assert np.isnan(curves["temporal stream"][0])  # no motion leads into the first frame
    assert np.nansum(curves["spatial stream"]) + np.nansum(curves["temporal stream"]) == pytest.approx(1, abs=1e-5)


def test_video_input_offers_upload_and_webcam_without_the_microphone(lab_env):
    """The browser test records from a fake camera; this one checks the offer where Chromium is missing."""
    demo = build_demo(sources.checkpoint_choices()["two_stream_attention"])
    props = next(c["props"] for c in demo.config["components"] if c["props"].get("label") == "Face video")
    assert props["sources"] == ["upload", "webcam"]
    assert props["webcam_options"]["constraints"] == {"audio": False}  # no microphone prompt, none needed
