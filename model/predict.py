"""Recognize the expression in one video file and judge whether the answer can be trusted (``python -m cli.predict``,
the Gradio demo and the real-face check all go through ``predict_file``)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from model import locations, real_face
from model.checkpoint import load_checkpoint
from model.config import CLASSES
from model.processing import process_video, to_tensors
from model.reliability import Calibration, judge


def predict_file(path: Path, checkpoint: Path | None = None, inter_stream_attention: bool = True,
                 center_crop: bool = False) -> dict:
    """The clip's prediction, probabilities, warnings, reliability panel (model/reliability.py) and the real-face
    network's own reading (model/real_face.py), by the shipped attention model unless ``checkpoint`` is given."""
    checkpoint = checkpoint or locations.default_checkpoint()
    model, process, _ = load_checkpoint(checkpoint)
    if center_crop:
        process = dataclasses.replace(process, center_crop=True)
    clip = process_video(Path(path), process, cache_dir=None)
    rgb, flow = to_tensors(clip)
    probs, reliability = judge(model, Calibration.read(checkpoint), rgb, flow, clip.stats,
                               inter_stream_attention=inter_stream_attention)
    probs = dict(zip(CLASSES, probs.tolist()))
    prediction = max(probs, key=probs.get)
    reading = real_face.read(model, rgb)
    return {"clip": str(path), "prediction": prediction, "reliable": reliability.reliable,
            "probabilities": probs, "reliability": reliability.to_dict(), "warnings": clip.stats.get("warnings", []),
            "real_face": None if reading is None else reading.to_dict(prediction)}
