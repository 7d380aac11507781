"""One clip through the lab's lineup: the selected checkpoint's Prediction in every attention mode it runs in
(model/predict.py), the model trained without the module beside it, and the face track drawn for the page.

This is the core the "Analyze a clip" page, the What-if tab and the benchmarks call; the shared models are only ever
called, never changed.
"""
from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from lab import visuals
from model.config import CLASSES, ProcessConfig
from model.data.processing import ProcessedClip
from model.data.video import UPLOAD_HINT, VIDEO_EXTENSIONS, ClipError, Video, read_video
from model.network import AttentionWeights
from model.predict import NoFace, Prediction, Predictor
from model.real_face import RealFaceReading
from model.reliability import Reliability

UPLOAD_TYPES = ("mp4", "avi", "mov", "mkv", "webm")
MAX_UPLOAD_MB = 200  # the same as server.maxUploadSize in .streamlit/config.toml and the Gradio demo's max_file_size
TRACK_SIDE = 320  # long side of the face-track thumbnails


WITHOUT_MODULE = "trained without the module"  # the column of the companion model


@dataclass(frozen=True)
class Lineup:
    """What a clip is analysed with: the selected checkpoint in every attention mode it runs in and, to compare, the
    same recipe trained without the module (when that is another checkpoint)."""

    predictor: Predictor
    without_module: Predictor | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        """The probability table's columns: each mode's label, then WITHOUT_MODULE."""
        return (*(mode.label for mode in self.predictor.model.modes),
                *((WITHOUT_MODULE,) if self.without_module is not None else ()))


@dataclass(frozen=True)
class ClipAnalysis:
    name: str
    prediction: Prediction  # the selected checkpoint's, in every mode; its panel describes the model's own mode
    track_frames: np.ndarray  # (T, h, w, 3) the sampled original frames with face box and crop square drawn
    probabilities: pd.DataFrame  # index: classes, one column per Lineup column

    @property
    def label(self) -> str:
        """The predicted class of the first column: the model in its own mode."""
        return str(self.probabilities.iloc[:, 0].idxmax())

    @property
    def clip(self) -> ProcessedClip:
        return self.prediction.clip

    @property
    def attention(self) -> AttentionWeights | None:
        return self.prediction.attention

    @property
    def reliability(self) -> Reliability:
        return self.prediction.reliability

    @property
    def real_face(self) -> RealFaceReading | None:
        return self.prediction.real_face

    @property
    def warnings(self) -> list[str]:
        return self.prediction.warnings


def _track_thumbnails(frames: np.ndarray, clip: ProcessedClip, original_size: tuple[int, int]) -> np.ndarray:
    """The sampled frames, shrunk, with the face box (detected or tracked) and the crop square drawn on them."""
    height, width = frames.shape[1:3]
    scale = TRACK_SIDE / max(width, height)
    to_thumb = np.array([width / original_size[0], height / original_size[1]] * 2) * scale
    size = (round(width * scale), round(height * scale))
    thumbs = []
    for frame_index, corners in zip(clip.frame_indices, clip.crop_corners):
        thumb = cv2.resize(frames[frame_index], size, interpolation=cv2.INTER_AREA)
        thumbs.append(visuals.draw_track(thumb, clip.track_boxes[frame_index] * to_thumb,
                                         bool(clip.detected[frame_index]), corners * to_thumb[:2]))
    return np.stack(thumbs)


def analyze_file(path: Path, lineup: Lineup, center_crop: bool = False, name: str | None = None,
                 no_face: NoFace = NoFace.REFUSE) -> ClipAnalysis:
    """The clip through the lineup (``center_crop``: no face detection at all).

    Raises ClipError (NoFaceError when no face is found and ``no_face`` refuses: retry with ``center_crop=True``).
    """
    path = Path(path)
    return analyze_decoded(lambda config: read_video(path, config.max_seconds, config.max_side), lineup,
                           center_crop, name or path.name, no_face)


def analyze_decoded(decode: Callable[[ProcessConfig], Video], lineup: Lineup, center_crop: bool, name: str,
                    no_face: NoFace = NoFace.REFUSE) -> ClipAnalysis:
    """analyze_file for any source of decoded frames (a file, or a clip drawn in memory): ``decode`` is called once,
    and once more only if the model without the module processes clips differently."""
    video, clip = lineup.predictor.process_video(decode, name, no_face, center_crop)
    prediction = lineup.predictor.predict_clip(clip, name)
    columns = {mode.label: probabilities for mode, probabilities in prediction.probabilities.items()}
    if (other := lineup.without_module) is not None:
        own_clip = clip if other.process == lineup.predictor.process else \
            other.process_video(decode, name, no_face, center_crop)[1]
        columns[WITHOUT_MODULE] = other.predict_clip(own_clip, name, other.model.modes[:1]).probabilities[
            other.model.modes[0]]
    return ClipAnalysis(name, prediction, _track_thumbnails(video.frames, clip, video.original_size),
                        pd.DataFrame(columns, index=list(CLASSES)))


UPLOAD_NAME = "The uploaded clip"  # what the shared analysis of an upload calls it


def check_upload_size(size: int, name: str) -> None:
    """Refuse files over MAX_UPLOAD_MB (the servers refuse them too; this covers every other way in)."""
    if size > MAX_UPLOAD_MB * 1024 * 1024:
        raise ClipError(f"{name} is {size / 1024 / 1024:.0f} MB, over the {MAX_UPLOAD_MB} MB limit: "
                        "upload a shorter clip (at most 20 s are read anyway)")


def save_upload(data: bytes, name: str, folder: Path) -> Path:
    """Write uploaded bytes into ``folder`` under a safe name that keeps the extension (the user's name may hold
    path separators or any other character)."""
    base = Path(name.replace("\\", "/"))
    if base.suffix.lower() not in VIDEO_EXTENSIONS:
        raise ClipError(f"{name} is not a video file: {UPLOAD_HINT}")
    check_upload_size(len(data), name)
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", base.stem)[:40].strip("_") or "upload"
    path = Path(folder) / f"{stem}{base.suffix.lower()}"
    path.write_bytes(data)
    return path


def analyze_upload(data: bytes, name: str, lineup: Lineup, folder: Path | None = None,
                   center_crop: bool = False) -> ClipAnalysis:
    """Analyze uploaded bytes; the file lives in a private temporary folder (under ``folder``, default the system's)
    that is removed as soon as the clip is processed, whatever happens. The analysis is shared by every session that
    uploads the same bytes, so it never holds the upload's name: its warnings say UPLOAD_NAME."""
    if folder is not None:
        Path(folder).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lab-upload-", dir=folder) as private:
        return analyze_file(save_upload(data, name, Path(private)), lineup, center_crop=center_crop,
                            name=UPLOAD_NAME)
