"""The Gradio demo answers a real client on localhost with probabilities, a reliability panel, an overlay video and a
curve."""
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from lab import sources
from lab.gradio_app import build_demo
from model.config import CLASSES


@pytest.mark.timeout(240)
def test_gradio_client_gets_label_video_and_plot(lab_env):
    demo = build_demo(sources.checkpoint_choices()["two_stream_attention"])
    demo.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    try:
        client = Client(demo.local_url, verbose=False)
        label, reliability, video, plot = client.predict(handle_file(str(sources.sample_clips()[0])), False,
                                                         "Grad-CAM", api_name="/recognize")
    finally:
        demo.close()
    assert label["label"] in CLASSES
    assert {c["label"] for c in label["confidences"]} == set(CLASSES)
    assert "| Face found by the detector |" in reliability  # the reliability panel beside the label
    assert ("Unreliable" in reliability) != ("nothing in the clip argues" in reliability)
    video_path = video["video"] if isinstance(video, dict) else video
    assert Path(video_path).stat().st_size > 0
    assert plot is not None


def test_video_input_offers_upload_and_webcam_without_the_microphone(lab_env):
    """The browser test records from a fake camera; this one checks the offer where Chromium is missing."""
    demo = build_demo(sources.checkpoint_choices()["two_stream_attention"])
    props = next(c["props"] for c in demo.config["components"] if c["props"].get("label") == "Face video")
    assert props["sources"] == ["upload", "webcam"]
    assert props["webcam_options"]["constraints"] == {"audio": False}  # no microphone prompt, none needed
