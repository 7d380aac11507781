"""A small Gradio demo on the same lab core (``python -m cli.demo`` serves it).

One video in; the class probabilities, the reliability panel, the real-face network's own reading, a saliency overlay
video and the temporal importance curve out.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import gradio as gr
import pandas as pd

from lab import analysis, explain, figures, trust
from lab.attribution import offered
from model.config import CLASSES, AttentionMode
from model.data.video import ClipError
from model.predict import NoFace, Predictor

LAUNCH_OPTIONS = {"server_name": "127.0.0.1", "max_file_size": f"{analysis.MAX_UPLOAD_MB}mb"}  # local by default
KEEP_SECONDS = 3600  # overlay videos and Gradio's copies of uploads are deleted after an hour


def _prune(folder: Path, max_age: float = KEEP_SECONDS) -> None:
    """Delete the overlays older than max_age: the demo may run for weeks on a shared machine."""
    for path in folder.glob("*.webm"):
        if time.time() - path.stat().st_mtime > max_age:
            path.unlink(missing_ok=True)


def build_demo(checkpoint: Path) -> gr.Blocks:
    predictor = Predictor.load(checkpoint)
    model = predictor.model
    output_folder = Path(tempfile.mkdtemp(prefix="lab-gradio-"))

    def recognize(video: str | None, attention_on: bool, method: str):
        if not video:
            raise gr.Error("No video: upload an mp4, avi, mov, mkv or webm clip.")
        mode = model.modes[0] if attention_on else AttentionMode.BYPASSED
        try:
            analysis.check_upload_size(Path(video).stat().st_size, Path(video).name)
            result = predictor.predict_file(Path(video), NoFace.CENTRE, modes=(mode,))  # the warnings say so
        except ClipError as error:
            raise gr.Error(str(error)) from None
        probabilities = pd.Series(result.probabilities[mode], index=CLASSES)
        shown = explain.explain(model, result, method, CLASSES.index(result.label), mode)
        _prune(output_folder)
        overlay = Path(tempfile.mkstemp(dir=output_folder, prefix=f"{method.split()[0]}-", suffix=".webm")[1])
        overlay.write_bytes(explain.overlay_video(shown, result.clip.stats.get("duration", 1.0)))
        reading = result.real_face
        notes = "".join(f"\n\n*{warning}*" for warning in result.warnings)  # what the Analyze page lists too
        return (probabilities.to_dict(),
                trust.markdown(result.reliability, result.label, probabilities.max()) + notes,
                "" if reading is None else reading.note(result.label),
                None if reading is None else figures.real_face_curves(reading.per_frame),
                str(overlay), figures.importance_curves(shown.importance))

    with gr.Blocks(title="Expression explainability lab", delete_cache=(KEEP_SECONDS, KEEP_SECONDS)) as demo:
        gr.Markdown("## Dynamic facial expression recognition, explained\nA two-stream network (face crops + "
                    "optical flow) with inter-stream attention. Upload or record a short face video; the panel below "
                    "the label says whether the answer can be trusted.")
        with gr.Row():
            with gr.Column():
                video = gr.Video(label="Face video", sources=["upload", "webcam"],  # webcam: video only, no mic asked
                                 webcam_options=gr.WebcamOptions(constraints={"audio": False}))
                attention_on = gr.Checkbox(value=True, label="Inter-stream attention",
                                           interactive=len(model.modes) > 1)
                method = gr.Dropdown(list(offered()), value=offered()[0], label="Saliency method")
                run = gr.Button("Recognize", variant="primary")
            with gr.Column():
                label = gr.Label(num_top_classes=len(CLASSES), label="Expression")
                reliability = gr.Markdown(label="Reliability")
                real_face_note = gr.Markdown(label="The real-face network alone")
                real_face_curve = gr.Plot(label="The real-face network alone, frame by frame")
                overlay = gr.Video(label="Saliency: face crops | motion")
                curve = gr.Plot(label="Share of relevance per frame")
        run.click(recognize, [video, attention_on, method],
                  [label, reliability, real_face_note, real_face_curve, overlay, curve],
                  api_name="recognize")
    return demo
