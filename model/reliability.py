"""Say when a prediction cannot be trusted: face found or not, scene cuts, several people, and how unlike the clips the
model was trained and checked on this clip is.

A softmax is confident about anything: a striped clip with no face, centre-cropped, comes out "Neutral 100%". So the
lab reads the evidence around the prediction instead of its confidence:

- the face track (model/data/processing.py): how often the detector found the face, how many frames have none, scene
  cuts, how many faces were visible at once and in how many shots a face appears;
- unfamiliarity: the Mahalanobis distance of the clip's features (the fully connected layer's output, which the
  classifier reads) to the nearest class of the training clips, with one covariance shared by the classes (Lee et al.
  2018, "A simple unified framework for detecting out-of-distribution samples"). The distance alone has no scale, so
  it is calibrated on clips the model was checked on: the corpus's Val split and the real-face validation set
  (model/data/realfaces.py). A clip farther than 99% of them is called unfamiliar.

``python -m cli.calibrate --checkpoint CKPT --data data/corpus --real data/realfaces`` fits and calibrates once and
writes ``CKPT/reliability.safetensors``; ``assess`` then judges one clip. The same command then calibrates the
confidence cut-off on the real-face set, through the upload path (model.realcheck.calibrate_confidence): the lowest at
which the answers that pass every other check are right 85% of the time there (``confidence_cutoff``), so "reliable"
means what it says on real people, not only on the corpus.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as save_bytes

from model.atomic import atomic_write_bytes
from model.checkpoint import load_checkpoint
from model.config import INFERENCE_BATCH, AttentionMode
from model.data.clipset import ClipSet, load_clipset
from model.data.datasets import open_corpus
from model.evaluate import read_faces
from model.network import NetworkOutput

CALIBRATION_FILE = "reliability.safetensors"
UNFAMILIAR_QUANTILE = 0.99  # farther than this share of the calibration clips: unlike what the model was checked on
MIN_DETECTION_RATE = 0.5  # the detector found the face on fewer of its runs than this: the track is guesswork
MAX_FRAMES_WITHOUT_FACE = 0.25
MIN_CONFIDENCE = 0.4  # below this the model itself hesitates between classes (a confident answer can still be wrong);
# a checkpoint's calibration replaces it with the cut-off that makes its reliable answers on real faces right often
RELIABLE_ACCURACY = 0.85  # ...this often: the lowest cut-off (in steps of 0.05) at which they are
MIN_FRAMES = 2  # a single decoded frame: nothing moves, and nothing says the face holds the expression
MAX_SKIPPED_SHARE = 0.5  # more of the decoded frames dropped than this: the file's timing is broken (lying frame
# rate metadata, a time base of 0 or 1), so the frames read are not the clip's


class CalibrationError(ValueError):
    """A checkpoint's reliability calibration that cannot be read; the message says which command remakes it."""


@dataclass(frozen=True)
class Reliability:
    """What the lab knows about how far one prediction can be trusted; ``reasons`` say it in plain words."""

    face_detection_rate: float  # share of the detector's runs that found the chosen face
    frames_without_face: float  # share of decoded frames with no tracked face
    scene_cuts: int
    faces_at_once: int  # the most faces the detector saw in one frame
    shots_with_face: int  # shots (between scene cuts) in which a face is tracked
    frames: int  # decoded frames read
    frames_skipped: int  # decoded frames dropped for their timing (model/data/video.py)
    unfamiliarity: float | None  # share of calibration clips closer to the training data than this one (None: unknown)
    confidence: float | None  # probability of the predicted class
    min_confidence: float = MIN_CONFIDENCE  # the cut-off it was judged by
    reasons: list[str] = field(default_factory=list)

    @property
    def reliable(self) -> bool:
        return not self.reasons

    def to_dict(self) -> dict:
        return {**asdict(self), "reliable": self.reliable}


@dataclass(frozen=True)
class Calibration:
    """Class means and shared precision of the training clips' features, and the calibration clips' distances."""

    means: torch.Tensor  # (classes, C)
    precision: torch.Tensor  # (C, C)
    reference: torch.Tensor  # (M,) sorted distances of the calibration clips
    sources: dict  # name -> number of calibration clips it gave
    min_confidence: float = MIN_CONFIDENCE  # the cut-off calibrated on the real-face set (confidence_cutoff)

    def distance(self, features: torch.Tensor) -> torch.Tensor:
        """(B, C) -> (B,) Mahalanobis distance to the nearest class mean."""
        centred = features.double()[:, None, :] - self.means.double()[None]  # (B, classes, C)
        squared = torch.einsum("bkc,cd,bkd->bk", centred, self.precision.double(), centred)
        return squared.clamp_min(0).min(dim=1).values.sqrt().float()

    def unfamiliarity(self, features: torch.Tensor) -> torch.Tensor:
        """(B, C) -> (B,) share of calibration clips that are closer than each clip (0: typical, 1: beyond all)."""
        return torch.searchsorted(self.reference, self.distance(features)).float() / len(self.reference)

    def to_bytes(self) -> bytes:
        tensors = {"means": self.means, "precision": self.precision, "reference": self.reference}
        return save_bytes({k: v.contiguous() for k, v in tensors.items()},
                          metadata={"sources": json.dumps(self.sources), "min_confidence": str(self.min_confidence)})

    @classmethod
    def read(cls, checkpoint: Path) -> Calibration | None:
        path = Path(checkpoint) / CALIBRATION_FILE
        if not path.is_file():
            return None
        try:
            with safe_open(str(path), framework="pt") as file:
                tensors = {name: file.get_tensor(name) for name in ("means", "precision", "reference")}
                metadata = file.metadata()
                sources = json.loads(metadata["sources"])
                min_confidence = float(metadata.get("min_confidence", MIN_CONFIDENCE))
        except (SafetensorError, OSError, KeyError, TypeError, ValueError) as error:
            raise CalibrationError(f"{path} is damaged ({type(error).__name__}): run python -m cli.calibrate "
                                   f"--checkpoint {checkpoint} again") from None
        means, precision, reference = tensors["means"], tensors["precision"], tensors["reference"]
        if means.ndim != 2 or precision.shape != (means.shape[1], means.shape[1]) or reference.ndim != 1 \
                or not len(reference):
            raise CalibrationError(f"{path} holds tensors of the wrong shapes: run python -m cli.calibrate "
                                   f"--checkpoint {checkpoint} again")
        if not 0 <= min_confidence <= 1:
            raise CalibrationError(f"{path} has a confidence cut-off of {min_confidence}: run python -m cli.calibrate "
                                   f"--checkpoint {checkpoint} again")
        return cls(means, precision, reference.sort().values, sources, min_confidence)


def fit(features: torch.Tensor, labels: torch.Tensor, reference: dict[str, torch.Tensor],
        shrinkage: float = 0.1) -> Calibration:
    """Class means and a shared covariance (shrunk towards its diagonal, so 128 features from a few hundred clips
    invert stably) from training features; ``reference`` holds each calibration source's features."""
    features = features.double()
    classes = sorted(set(labels.tolist()))
    means = torch.stack([features[labels == k].mean(0) for k in classes])
    centred = features - means[torch.searchsorted(torch.tensor(classes), labels)]
    covariance = centred.T @ centred / max(1, len(features) - len(classes))
    covariance = (1 - shrinkage) * covariance + shrinkage * torch.diag(covariance.diagonal().clamp_min(1e-6))
    partial = Calibration(means.float(), torch.linalg.inv(covariance).float(), torch.zeros(1), {})
    distances = torch.cat([partial.distance(f) for f in reference.values()]).sort().values
    return Calibration(partial.means, partial.precision, distances, {k: len(v) for k, v in reference.items()})


UNSURE = "the model is unsure"  # how the confidence reason starts (model.realcheck sets it apart)


def confidence_cutoff(confidence: np.ndarray, correct: np.ndarray, accuracy: float = RELIABLE_ACCURACY) -> float:
    """The lowest cut-off (0.40, 0.45, ... 0.95) at which the clips at least that confident are right ``accuracy`` of
    the time; 0.95 when none is."""
    for cutoff in np.round(np.arange(MIN_CONFIDENCE, 0.951, 0.05), 2):
        kept = confidence >= cutoff
        if kept.any() and correct[kept].mean() >= accuracy:
            return float(cutoff)
    return 0.95


def assess(stats: dict, unfamiliarity: float | None, confidence: float | None = None,
           min_confidence: float = MIN_CONFIDENCE) -> Reliability:
    """Judge one processed clip from its processing stats, its unfamiliarity (see Calibration.unfamiliarity) and the
    probability of the predicted class (``min_confidence``: the checkpoint's calibrated cut-off)."""
    centre_crop = bool(stats.get("center_crop"))
    detection = 0.0 if centre_crop else float(stats.get("detection_rate", 0.0))
    without_face = 1.0 if centre_crop else 1.0 - float(stats.get("track_coverage", 0.0))
    cuts = int(stats.get("scene_cuts", 0))
    at_once = int(stats.get("num_faces_seen", 0))
    shots = int(stats.get("shots_with_face", 1 if not centre_crop else 0))
    frames, skipped = int(stats.get("num_frames", 0)), int(stats.get("frames_skipped", 0))
    reasons = []
    if frames < MIN_FRAMES:
        reasons.append("the clip has a single frame: there is no motion to read")
    if skipped > MAX_SKIPPED_SHARE * (frames + skipped):
        reasons.append(f"{skipped} of its {frames + skipped} frames were dropped because their timestamps are "
                       "broken: the frames read may not be the clip's")
    if centre_crop:
        reasons.append("no face was detected: the frame centre was read instead, so the answer describes whatever "
                       "is there, not a facial expression")
    else:
        if detection < MIN_DETECTION_RATE:
            reasons.append(f"the face was found in only {detection:.0%} of the frames checked: the face track is "
                           "mostly guessed")
        if without_face > MAX_FRAMES_WITHOUT_FACE:
            reasons.append(f"{without_face:.0%} of the frames show no face")
    if cuts:
        reasons.append(f"the clip has {cuts} scene cut{'s' if cuts > 1 else ''}: its frames may not show one "
                       "continuous expression")
    if at_once > 1 or shots > 1:
        reasons.append("several people may be in the clip: only the largest, most persistent face is read")
    if confidence is not None and confidence < min_confidence:
        reasons.append(f"{UNSURE}: its best class has only {confidence:.0%} of the probability")
    if unfamiliarity is not None and unfamiliarity >= UNFAMILIAR_QUANTILE:
        reasons.append(f"the clip is unlike the clips the model was trained and checked on (more unusual than "
                       f"{unfamiliarity:.0%} of them): the model may be guessing")
    return Reliability(detection, without_face, cuts, at_once, shots, frames, skipped, unfamiliarity, confidence,
                       min_confidence, reasons)


@torch.inference_mode()
def judge(output: NetworkOutput, calibration: Calibration | None, stats: dict) -> Reliability:
    """How far one clip's answer can be trusted, from its forward pass (a batch of one) and its processed clip's
    ``stats`` (``calibration``: the checkpoint's, for a pass in the model's own mode)."""
    unfamiliar = None if calibration is None else float(calibration.unfamiliarity(output.features)[0])
    cutoff = MIN_CONFIDENCE if calibration is None else calibration.min_confidence
    return assess(stats, unfamiliar, float(output.logits.softmax(1).max()), cutoff)


@torch.inference_mode()
def clip_outputs(model: torch.nn.Module, clips: ClipSet, attention: AttentionMode | None = None,
                 batch_size: int = INFERENCE_BATCH) -> tuple[torch.Tensor, torch.Tensor]:
    """The features the classifier reads, (N, C), and the class probabilities, (N, classes), of every clip of a set."""
    faces = read_faces(model, clips)
    features, probabilities = [], []
    for start in range(0, len(clips), batch_size):
        index = torch.arange(start, min(start + batch_size, len(clips)))
        rgb, flow, _ = clips.batch(index)
        output = model.outputs(rgb, flow, attention=attention,
                               faces=None if faces is None else faces[index].float())
        features.append(output.features)
        probabilities.append(output.logits.softmax(1))
    return torch.cat(features), torch.cat(probabilities)


def calibrate(checkpoint: Path, data: Path, real: Path | None, workers: int = 2) -> Calibration:
    """Fit on the corpus's Train split, calibrate the distances on its Val split and on the real-face set; write it
    beside the checkpoint's weights (atomically), with the default confidence cut-off (see calibrate_confidence)."""
    model, process, _ = load_checkpoint(checkpoint)
    corpus = open_corpus(data)
    train = load_clipset(corpus.clips("Train"), process, workers=workers, desc="Train")
    reference = {"corpus Val": clip_outputs(model, load_clipset(corpus.clips("Val"), process, workers=workers,
                                                                desc="Val"))[0]}
    if real is not None:
        real_corpus = open_corpus(real)
        real_clips = load_clipset([r for split in real_corpus.splits for r in real_corpus.clips(split)], process,
                                  workers=workers, desc="real faces")
        reference["real-face set"] = clip_outputs(model, real_clips)[0]
    calibration = fit(clip_outputs(model, train)[0], train.labels, reference)
    atomic_write_bytes(Path(checkpoint) / CALIBRATION_FILE, calibration.to_bytes())
    return calibration
