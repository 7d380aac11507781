"""One clip through the model: decode, face track, crops, flow, and the class probabilities of every attention variant.

This is the core the "Analyze a clip" page, the Gradio demo and the benchmark call. The attention switch is the
forward argument ``inter_stream_attention``; the shared models are only ever called, never changed.
"""
from __future__ import annotations

import dataclasses
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

from lab import visuals
from model import real_face
from model.config import CLASSES, ProcessConfig
from model.network import AttentionWeights, TwoStreamNet
from model.processing import ProcessedClip, process_decoded, to_tensors
from model.real_face import RealFaceReading
from model.reliability import Calibration, Reliability, judge
from model.video import UPLOAD_HINT, VIDEO_EXTENSIONS, ClipError, Video, read_video

UPLOAD_TYPES = ("mp4", "avi", "mov", "mkv", "webm")
MAX_UPLOAD_MB = 200  # the same as server.maxUploadSize in .streamlit/config.toml and the Gradio demo's max_file_size
TRACK_SIDE = 320  # long side of the face-track thumbnails


@dataclass(frozen=True)
class Variant:
    """One way to run a model on a clip; the page shows the variants' probabilities side by side."""

    label: str
    model: TwoStreamNet
    process: ProcessConfig
    inter_stream_attention: bool = True
    calibration: Calibration | None = None  # the checkpoint's unfamiliarity calibration (model/reliability.py)


def attention_variants(model: TwoStreamNet, process: ProcessConfig,
                       without_module: tuple[TwoStreamNet, ProcessConfig] | None = None,
                       calibration: Calibration | None = None) -> list[Variant]:
    """The attention module on and switched off (when the model has one), and the model trained without it.
    The reliability panel describes the first variant, with the model's calibration."""
    if model.attention is None:
        variants = [Variant("this model", model, process, calibration=calibration)]
    else:
        variants = [Variant("attention on", model, process, True, calibration),
                    Variant("attention off", model, process, False)]
    if without_module is not None and without_module[0] is not model:
        variants.append(Variant("trained without the module", *without_module))
    return variants


@dataclass
class ClipAnalysis:
    name: str
    clip: ProcessedClip  # processed with the first variant's settings
    rgb: torch.Tensor  # (3, T, S, S) network input
    flow: torch.Tensor  # (2, T-1, S, S) network input
    track_frames: np.ndarray  # (T, h, w, 3) the sampled original frames with face box and crop square drawn
    probabilities: pd.DataFrame  # index: classes, one column per variant
    attention: AttentionWeights | None  # the module's weights, a batch of one (see lab.attention); None without one
    reliability: Reliability  # how far the first variant's prediction can be trusted
    real_face: RealFaceReading | None  # what the first variant's real-face network alone reads (None: no such network)

    @property
    def prediction(self) -> str:
        return str(self.probabilities.iloc[:, 0].idxmax())

    @property
    def warnings(self) -> list[str]:
        return list(self.clip.stats.get("warnings", []))


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


def probabilities(variant: Variant, clip: ProcessedClip) -> tuple[np.ndarray, Reliability]:
    """The variant's class probabilities on the clip, and how far they can be trusted."""
    return judge(variant.model, variant.calibration, *to_tensors(clip), clip.stats, variant.inter_stream_attention)


@torch.inference_mode()
def attention_weights(model: TwoStreamNet, rgb: torch.Tensor, flow: torch.Tensor) -> AttentionWeights | None:
    """The inter-stream attention of one clip, as a batch of one: both directions' weights and the token grids."""
    if model.attention is None:
        return None
    return model.outputs(rgb[None], flow[None], inter_stream_attention=True).attention


def analyze_file(path: Path, variants: list[Variant], center_crop: bool = False, name: str | None = None
                 ) -> ClipAnalysis:
    """Process the clip once per distinct setting the variants need and run every variant on it.

    Raises ClipError (NoFaceError when no face is found: retry with ``center_crop=True``).
    """
    path = Path(path)
    return analyze_decoded(lambda config: read_video(path, config.max_seconds, config.max_side), variants,
                           center_crop, name or path.name)


def analyze_decoded(decode: Callable[[ProcessConfig], Video], variants: list[Variant], center_crop: bool,
                    name: str) -> ClipAnalysis:
    """analyze_file for any source of decoded frames (a file, or a clip drawn in memory): ``decode`` is called once
    per distinct processing setting of the variants."""
    processed: dict[ProcessConfig, tuple[ProcessedClip, np.ndarray]] = {}
    columns, reliability = {}, None
    for variant in variants:
        config = dataclasses.replace(variant.process, center_crop=center_crop)
        if config not in processed:
            video = decode(config)
            clip = process_decoded(video, config, name)
            processed[config] = clip, _track_thumbnails(video.frames, clip, video.original_size)
        columns[variant.label], judged = probabilities(variant, processed[config][0])
        reliability = reliability or judged  # the panel describes the first variant
    clip, thumbnails = next(iter(processed.values()))
    rgb, flow = to_tensors(clip)
    return ClipAnalysis(
        name=name, clip=clip, rgb=rgb, flow=flow, track_frames=thumbnails,
        probabilities=pd.DataFrame(columns, index=list(CLASSES)),
        attention=attention_weights(variants[0].model, rgb, flow), reliability=reliability,
        real_face=real_face.read(variants[0].model, rgb),
    )


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


def analyze_upload(data: bytes, name: str, variants: list[Variant], folder: Path | None = None,
                   center_crop: bool = False) -> ClipAnalysis:
    """Analyze uploaded bytes; the file lives in a private temporary folder (under ``folder``, default the system's)
    that is removed as soon as the clip is processed, whatever happens. The analysis is shared by every session that
    uploads the same bytes, so it never holds the upload's name: its warnings say UPLOAD_NAME."""
    if folder is not None:
        Path(folder).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lab-upload-", dir=folder) as private:
        return analyze_file(save_upload(data, name, Path(private)), variants, center_crop=center_crop,
                            name=UPLOAD_NAME)
