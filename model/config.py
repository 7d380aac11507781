"""Plain dataclasses for every setting the project has: processing, network and training.

A checkpoint stores ``ProcessConfig`` and ``ModelConfig`` as JSON next to its weights, so a clip is always processed
the way the model was trained on it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

CLASSES = ("Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise")
SPLITS = ("Train", "Val", "Test")


@dataclass(frozen=True)
class ProcessConfig:
    """How a video file becomes the two streams' inputs."""

    frames: int = 16  # T face crops sampled uniformly over the clip; the flow stream gets T-1 fields
    size: int = 64  # S: crops are S x S pixels
    flow: str = "farneback"  # optical flow method: "farneback" or "dis"
    flow_oversample: int = 2  # flow is measured on crops this many times S, then pooled to S (sub-pixel motion)
    margin: float = 0.1  # the face box is enlarged by this fraction on each side before cropping
    align: bool = True  # turn, scale and move each crop by five facial landmarks (model/landmarks.py); else the box
    center_crop: bool = False  # skip face detection and crop the frame centre (explicit opt-in for faceless clips)
    max_seconds: float = 20.0  # decode at most this much of a clip; longer clips are cut and the user is told
    max_side: int = 640  # frames are downscaled while decoding so their long side is at most this (bounds 4K memory)
    detect_side: int = 160  # the face detector runs on a grayscale copy with this long side (speed vs. smallest face)
    detect_every: int = 4  # run the detector on every k-th frame (and each shot's first); the tracker fills the rest

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> ProcessConfig:
        values = {"flow_oversample": 1, "align": False, **values}  # configs saved before these fields existed
        return cls(**{f.name: values[f.name] for f in fields(cls) if f.name in values})


@dataclass(frozen=True)
class ModelConfig:
    """The shape of the two-stream network (see model/network.py)."""

    num_classes: int = len(CLASSES)
    frames: int = 16
    size: int = 64
    width: int = 16  # channels of the first stage; doubled at every later stage
    attention_dim: int = 32  # bottleneck width of the inter-stream attention
    attention_heads: int = 2
    dropout: float = 0.3  # on the pooled face grid and after the fusion and fully connected layers
    streams: str = "both"  # "both", "spatial", "temporal" or "frame" (single-frame 2D baseline)
    spatial_backbone: str = "fer"  # "fer" (frozen real-face network, fer_backbone.py) or "cnn" (trained from scratch)
    inter_stream_attention: bool = True  # whether the module exists at all (the no-attention recipe has none)
    stream_heads: bool = True  # a classifier per stream as an extra loss ("both" only; train sets it from stream_loss)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> ModelConfig:
        values = {"stream_heads": False, "spatial_backbone": "cnn", **values}  # configs saved before these fields
        return cls(**{f.name: values[f.name] for f in fields(cls) if f.name in values})


@dataclass
class TrainConfig:
    """One training run."""

    data: str = "data/corpus"
    out: str = "runs/default"
    epochs: int = 20  # fits the 10-minute budget on a 2-core CPU (about 25 s an epoch)
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.0
    stream_loss: float = 0.5  # weight of each per-stream head's loss beside the fused classifier's
    seed: int = 0
    workers: int = 2  # processes that preprocess clips
    augment: bool = True
    process: ProcessConfig = field(default_factory=ProcessConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
