"""The one way from a clip to an answer.

A ``Predictor`` holds one checkpoint, loaded once and shared (its model is only ever called, never changed). It turns a
video file, decoded frames or a processed clip into a ``Prediction``: the class probabilities in every attention mode
the model runs in (one forward pass each, the frozen real-face network read once for all of them), the reliability
panel (model/reliability.py), the attention module's weights and the real-face network's own reading
(model/real_face.py). ``python -m cli.predict``, the real-face check, the lab's pages, the Gradio demo and the
benchmarks all go through it.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np
import torch

from model import locations, real_face
from model.checkpoint import load_checkpoint
from model.config import CLASSES, AttentionMode, ProcessConfig
from model.data.processing import NoFaceError, ProcessedClip, process_decoded, to_tensors
from model.data.video import Video, read_video
from model.network import AttentionWeights, TwoStreamNet
from model.real_face import RealFaceReading
from model.reliability import Calibration, Reliability, judge

CENTRE_WARNING = "No face was found in any frame: the frame centre was read instead."


class NoFace(StrEnum):
    """What a Predictor does with a clip in which no face is found in any frame."""

    REFUSE = "refuse"  # raise NoFaceError, whose message says what to do (the page then offers the centre crop)
    CENTRE = "centre"  # read the frame centre instead; the prediction's warnings say so


@dataclass(frozen=True)
class Prediction:
    name: str  # the clip's: its path for a file
    clip: ProcessedClip
    rgb: torch.Tensor  # (3, T, S, S) network input
    flow: torch.Tensor  # (2, T-1, S, S) network input
    probabilities: dict[AttentionMode, np.ndarray]  # (classes,) per mode run, the first the one the panel describes
    reliability: Reliability  # of the first mode (with the checkpoint's calibration where that is the model's own)
    attention: AttentionWeights | None  # the module's weights, a batch of one (None: no pass with it on)
    real_face: RealFaceReading | None  # what the real-face network alone reads (None: the model has none)

    @property
    def mode(self) -> AttentionMode:
        return next(iter(self.probabilities))

    @property
    def label(self) -> str:
        """The predicted class, in the first mode."""
        return CLASSES[int(self.probabilities[self.mode].argmax())]

    @property
    def warnings(self) -> list[str]:
        return list(self.clip.stats.get("warnings", []))

    def to_dict(self) -> dict:
        """What ``cli.predict --json`` prints: the first mode's answer, its panel and the real-face reading."""
        probabilities = dict(zip(CLASSES, self.probabilities[self.mode].tolist()))
        return {"clip": self.name, "attention": str(self.mode), "prediction": self.label,
                "reliable": self.reliability.reliable, "probabilities": probabilities,
                "reliability": self.reliability.to_dict(), "warnings": self.warnings,
                "real_face": None if self.real_face is None else self.real_face.to_dict(self.label)}


@dataclass(frozen=True)
class Predictor:
    model: TwoStreamNet
    process: ProcessConfig
    calibration: Calibration | None = None  # the unfamiliarity score of the model's own mode

    @classmethod
    def load(cls, checkpoint: Path | None = None) -> Predictor:
        """The checkpoint's predictor (default: the shipped attention model)."""
        checkpoint = Path(checkpoint or locations.default_checkpoint())
        model, process, _ = load_checkpoint(checkpoint)
        return cls(model, process, Calibration.read(checkpoint))

    def process_video(self, decode: Callable[[ProcessConfig], Video], name: str, no_face: NoFace = NoFace.REFUSE,
                      center_crop: bool = False) -> tuple[Video, ProcessedClip]:
        """The decoded video and its processed clip (``center_crop``: no detection at all). Raises ClipError."""
        config = dataclasses.replace(self.process, center_crop=center_crop)
        video = decode(config)
        try:
            return video, process_decoded(video, config, name)
        except NoFaceError:
            if no_face is NoFace.REFUSE or center_crop:
                raise
        clip = process_decoded(video, dataclasses.replace(config, center_crop=True), name)
        return video, dataclasses.replace(clip, stats=dict(clip.stats, warnings=[*clip.stats["warnings"],
                                                                                 CENTRE_WARNING]))

    def predict_file(self, path: Path, no_face: NoFace = NoFace.REFUSE, center_crop: bool = False,
                     modes: tuple[AttentionMode, ...] | None = None) -> Prediction:
        path = Path(path)
        _, clip = self.process_video(lambda config: read_video(path, config.max_seconds, config.max_side), path.name,
                                     no_face, center_crop)
        return self.predict_clip(clip, str(path), modes)

    @torch.inference_mode()
    def predict_clip(self, clip: ProcessedClip, name: str, modes: tuple[AttentionMode, ...] | None = None
                     ) -> Prediction:
        """The clip in each of ``modes`` (default: every mode the model runs in, its own first)."""
        modes = tuple(self.model.mode(mode) for mode in modes) if modes else self.model.modes
        rgb, flow = to_tensors(clip)
        faces = self.model.spatial.read_faces(rgb[None]) if self.model.reads_faces else None
        outputs = {mode: self.model.outputs(rgb[None], flow[None], mode, faces) for mode in modes}
        calibration = self.calibration if modes[0] is self.model.modes[0] else None
        with_module = outputs.get(AttentionMode.ON)
        return Prediction(name, clip, rgb, flow,
                          {mode: output.logits.softmax(1)[0].numpy() for mode, output in outputs.items()},
                          judge(outputs[modes[0]], calibration, clip.stats),
                          None if with_module is None else with_module.attention,
                          real_face.read(self.model, rgb, faces))
