"""The embedded default corpus: procedural expression videos driven by FACS action units, in AFEW's layout.

AFEW is licensed, so the lab ships a stand-in whose ground truth is known frame by frame: which action units (AUs)
move, when the expression starts and peaks, and where every facial region is. That lets the lab grade explanations.

Design choices that matter for the models trained on it:
- Every identity has a resting face (a constant AU offset) as strong as a subtle expression, so a single frame is
  often ambiguous; only the change from the clip's start reveals the class.
- Classes follow the EMFACS prototypes with partial and individual variants; Fear/Surprise and Angry/Disgust share
  AUs on purpose.
- Every class, Neutral included, carries the same nuisances: blinks, speech, head motion, lighting, noise, occlusion.

A clip is a pure function of (seed, split, index): ``render_clip`` draws it in memory, ``write_corpus`` (or
``python -m cli.corpus --out DIR``) writes ``DIR/Train/Angry/train_00012.avi`` plus a JSON sidecar per clip.
``render_clip(..., edit=AUEdit("AU12"))`` draws the same clip without its smile: a counterfactual (lab/intervene.py).
"""
from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from model.atomic import atomic_write_bytes
from model.config import CLASSES, SPLITS
from model.data.face_render import (
    AU_INDEX,
    AU_NAMES,
    CENTRE,
    FaceIdentity,
    FaceRenderer,
    region_points,
    sample_face,
)
from model.parallel import process_pool

__all__ = [
    "AU_NAMES", "AU_REGIONS", "REGIONS", "AUEdit", "CorpusDifficulty", "ClipSpec", "RenderedClip", "PROTOTYPES",
    "split_counts", "corpus_index", "render_clip", "write_corpus",
]

CORPUS_VERSION = 1
WIDTH, HEIGHT, FPS = 320, 240, 25
MIN_FRAMES, MAX_FRAMES = 38, 75  # 1.5 s to 3 s

REGIONS = ("brows", "eyes", "cheeks", "nose", "mouth", "chin")
AU_REGIONS: dict[str, str] = {
    "AU1": "brows", "AU2": "brows", "AU4": "brows",
    "AU5": "eyes", "AU7": "eyes", "AU45": "eyes",
    "AU6": "cheeks",
    "AU9": "nose",
    "AU10": "mouth", "AU12": "mouth", "AU15": "mouth", "AU16": "mouth", "AU20": "mouth", "AU23": "mouth",
    "AU24": "mouth", "AU25": "mouth",
    "AU17": "chin", "AU26": "chin",
}

# AFEW's class counts (EmotiW); Test takes Train's proportions (see split_counts).
AFEW_COUNTS = {
    "Train": {"Angry": 133, "Disgust": 74, "Fear": 81, "Happy": 150, "Neutral": 144, "Sad": 117, "Surprise": 74},
    "Val": {"Angry": 64, "Disgust": 40, "Fear": 46, "Happy": 63, "Neutral": 63, "Sad": 61, "Surprise": 46},
}
TEST_TOTAL = 653
IDENTITIES = {"Train": 120, "Val": 60, "Test": 100}  # ids are numbered consecutively across splits: disjoint


@dataclass(frozen=True)
class CorpusDifficulty:
    """The knobs that make the corpus harder or easier; tune these after training, nothing else."""

    resting_scale: float = 0.35  # largest resting-face AU offset of an identity (subtle expressions peak at 0.35)
    apex_min: float = 0.35  # apex intensity range of an expression
    apex_max: float = 1.0
    au_gain_jitter: float = 0.25  # per-identity and per-clip spread of each AU's gain
    head_translation_px: float = 14.0  # amplitude of the head's drift in frame pixels
    head_rotation_deg: float = 4.0
    head_scale: float = 0.04  # relative scale drift
    light_gain: float = 0.12  # global brightness swing over a clip
    light_gradient: float = 0.25  # strength of a left/right light gradient that drifts over a clip
    noise_sigma: float = 4.0  # sensor noise, grey levels
    blink_rate_hz: float = 0.35
    speech_probability: float = 0.35  # share of clips with speech-like mouth motion
    speech_amplitude: float = 0.35  # AU25/AU26 swing while speaking
    occlusion_probability: float = 0.2  # share of clips where a hand or object covers part of the face


@dataclass(frozen=True)
class Prototype:
    """An EMFACS prototype: core AUs always move; each optional AU moves with its probability."""

    core: tuple[str, ...]
    optional: dict[str, float] = field(default_factory=dict)


PROTOTYPES = {
    "Angry": Prototype(("AU4", "AU23"), {"AU5": 0.5, "AU7": 0.8, "AU24": 0.5, "AU17": 0.3, "AU10": 0.2}),
    "Disgust": Prototype(("AU9",), {"AU10": 0.5, "AU15": 0.6, "AU16": 0.5, "AU17": 0.4, "AU4": 0.4, "AU7": 0.3}),
    "Fear": Prototype(("AU1", "AU4", "AU20"), {"AU2": 0.7, "AU5": 0.8, "AU7": 0.4, "AU26": 0.6, "AU25": 0.6}),
    "Happy": Prototype(("AU12",), {"AU6": 0.85, "AU25": 0.5, "AU26": 0.15}),
    "Neutral": Prototype(()),
    "Sad": Prototype(("AU1", "AU15"), {"AU4": 0.7, "AU17": 0.5}),
    "Surprise": Prototype(("AU1", "AU2", "AU26"), {"AU5": 0.8, "AU25": 0.7}),
}

# Resting faces: the AUs an identity's face shows at rest ("looks sad", "looks stern", ...).
RESTING_LOOKS = {
    "plain": (),
    "sad": ("AU1", "AU15", "AU4"),
    "stern": ("AU4", "AU7", "AU23"),
    "smiling": ("AU12", "AU6"),
    "alert": ("AU1", "AU2", "AU5"),
    "sour": ("AU10", "AU15", "AU17"),
    "lips_apart": ("AU25", "AU20"),
}
NUISANCE_AUS = ("AU25", "AU26", "AU45")
EDIT_OPS = ("remove", "scale", "set")


@dataclass(frozen=True)
class ClipSpec:
    """Where a clip sits in the corpus; ``render_clip(seed, split, index)`` draws it."""

    split: str
    index: int
    label: str
    identity: int
    seed: int

    @property
    def stem(self) -> str:
        return f"{self.split.lower()}_{self.index:05d}"


@dataclass(frozen=True)
class AUEdit:
    """A counterfactual: one AU, or every AU of a facial region, removed, scaled or set to a value in a clip.

    ``render_clip`` makes it on the intensities it draws (resting face + expression + nuisances) after every random
    draw, so the edited clip keeps the person, motion, lighting and noise of the original: only that AU differs.
    """

    target: str  # an AU name ("AU12") or a region of REGIONS ("mouth")
    op: str = "remove"  # "remove" (intensity 0), "scale" (times value) or "set" (to value); clipped to [0, 1]
    value: float = 0.0
    frames: tuple[int, int] | None = None  # [start, end) like a slice; None: the whole clip

    def __post_init__(self):
        if self.target not in AU_INDEX and self.target not in REGIONS:
            raise ValueError(f"unknown edit target {self.target!r}: use an AU ({', '.join(AU_NAMES)}) or a region "
                             f"({', '.join(REGIONS)})")
        if self.op not in EDIT_OPS:
            raise ValueError(f"unknown edit op {self.op!r}: use one of {', '.join(EDIT_OPS)}")
        if self.frames is not None and not 0 <= self.frames[0] < self.frames[1]:
            raise ValueError(f"edit frames {self.frames} are not a (start, end) range with 0 <= start < end")

    @property
    def aus(self) -> tuple[str, ...]:
        """The AUs the edit changes."""
        if self.target in AU_INDEX:
            return (self.target,)
        return tuple(name for name in AU_NAMES if AU_REGIONS[name] == self.target)

    def apply(self, aus: np.ndarray) -> np.ndarray:
        """(N, AUs) intensities with this edit made, as a new array."""
        edited = aus.copy()
        rows = slice(*self.frames) if self.frames is not None else slice(None)
        columns = [AU_INDEX[name] for name in self.aus]
        if self.op == "remove":
            edited[rows, columns] = 0.0
        elif self.op == "scale":
            edited[rows, columns] = np.clip(edited[rows, columns] * self.value, 0, 1)
        else:
            edited[rows, columns] = np.clip(self.value, 0, 1)
        return edited


@dataclass
class RenderedClip:
    frames: np.ndarray  # (N, HEIGHT, WIDTH, 3) uint8 BGR
    meta: dict  # the JSON sidecar
    drawn_au: np.ndarray  # (N, AUs) the intensities the face was drawn with: resting + expression + nuisances, edited


@dataclass(frozen=True)
class IdentityProfile:
    face: FaceIdentity
    resting_au: np.ndarray  # constant AU offset of this person's face
    au_gain: np.ndarray  # how strongly this person moves each AU


# --------------------------------------------------------------------------------------------- index
def split_counts(split: str, scale: float = 1.0) -> dict[str, int]:
    """Clips per class of a split: AFEW's counts, Test in Train's proportions, times ``scale`` (at least 1)."""
    if split == "Test":
        train = AFEW_COUNTS["Train"]
        exact = {c: TEST_TOTAL * n / sum(train.values()) for c, n in train.items()}
        counts = {c: math.floor(v) for c, v in exact.items()}
        by_remainder = sorted(CLASSES, key=lambda c: counts[c] - exact[c])  # largest remainder first
        for c in by_remainder[: TEST_TOTAL - sum(counts.values())]:
            counts[c] += 1
    else:
        counts = AFEW_COUNTS[split]
    return {c: counts[c] if scale == 1.0 else max(1, round(counts[c] * scale)) for c in CLASSES}


@lru_cache(maxsize=16)
def _split_plan(seed: int, split: str) -> tuple[tuple[str, int], ...]:
    """(label, identity) for every full-scale index of a split: shuffled labels, identities spread evenly."""
    split_no = SPLITS.index(split)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 100 + split_no]))
    labels = [c for c, n in split_counts(split).items() for _ in range(n)]
    labels = [labels[i] for i in rng.permutation(len(labels))]
    first_id = sum(IDENTITIES[s] for s in SPLITS[:split_no])
    identities = first_id + rng.permutation(np.arange(len(labels)) % IDENTITIES[split])
    return tuple(zip(labels, (int(i) for i in identities)))


def corpus_index(seed: int, split: str, scale: float = 1.0) -> list[ClipSpec]:
    """The clips of a split, in index order; a scaled corpus keeps the first clips of each class."""
    wanted = split_counts(split, scale)
    taken = dict.fromkeys(CLASSES, 0)
    specs = []
    for index, (label, identity) in enumerate(_split_plan(seed, split)):
        if taken[label] < wanted[label]:
            taken[label] += 1
            specs.append(ClipSpec(split, index, label, identity, seed))
    return specs


# --------------------------------------------------------------------------------------------- sampling
def _au_vector(values: dict[str, float]) -> np.ndarray:
    vector = np.zeros(len(AU_NAMES))
    for name, value in values.items():
        vector[AU_INDEX[name]] = value
    return vector


@lru_cache(maxsize=256)
def _identity(seed: int, identity: int, difficulty: CorpusDifficulty) -> IdentityProfile:
    """A person: appearance, resting face and expressiveness, from (seed, identity) alone."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1000, identity]))
    face = sample_face(rng)
    look = RESTING_LOOKS[rng.choice(list(RESTING_LOOKS))]
    resting = {name: rng.uniform(0.4, 1.0) * difficulty.resting_scale for name in look}
    resting_au = _au_vector(resting) + rng.uniform(0, 0.12 * difficulty.resting_scale, len(AU_NAMES))
    for name in NUISANCE_AUS:
        resting_au[AU_INDEX[name]] = resting.get(name, 0.0)
    au_gain = rng.uniform(1 - difficulty.au_gain_jitter, 1 + 0.5 * difficulty.au_gain_jitter, len(AU_NAMES))
    return IdentityProfile(face, resting_au, au_gain)


def _smooth_noise(rng: np.random.Generator, n: int, max_hz: float = 0.6) -> np.ndarray:
    """A slow random wave in [-1, 1]: two sinusoids with random frequency and phase."""
    t = np.arange(n) / FPS
    wave = sum(np.sin(2 * np.pi * rng.uniform(0.05, max_hz) * t + rng.uniform(0, 2 * np.pi)) for _ in range(2))
    return wave / 2


def _timeline(rng: np.random.Generator, n: int) -> tuple[np.ndarray, int, int, int | None]:
    """Expression envelope (0 rest, 1 apex): onset in the first 10-40 %, rise, hold, optional offset."""
    onset = int(round(rng.uniform(0.1, 0.4) * n))
    apex = min(onset + int(rng.integers(4, 15)), n - 3)
    hold = int(rng.integers(5, 26))
    offset = apex + hold if apex + hold < n - 4 and rng.random() < 0.5 else None
    t = np.arange(n, dtype=np.float64)
    rise = np.clip((t - onset) / max(1, apex - onset), 0, 1)
    envelope = rise * rise * (3 - 2 * rise)  # smoothstep
    if offset is not None:
        residual = rng.uniform(0.2, 0.6)
        fall = np.clip((t - offset) / rng.uniform(6, 15), 0, 1)
        envelope *= 1 - (1 - residual) * fall * fall * (3 - 2 * fall)
    return envelope, onset, apex, offset


def _apex_aus(rng: np.random.Generator, label: str, person: IdentityProfile, d: CorpusDifficulty) -> np.ndarray:
    """The expression's AU intensities at apex: prototype variant x person's gain x per-clip jitter."""
    prototype = PROTOTYPES[label]
    intensity = rng.uniform(d.apex_min, d.apex_max)
    values = {name: 1.0 for name in prototype.core}
    values.update({name: rng.uniform(0.5, 1.0) for name, p in prototype.optional.items() if rng.random() < p})
    jitter = rng.uniform(1 - d.au_gain_jitter, 1 + 0.5 * d.au_gain_jitter, len(AU_NAMES))
    return np.clip(_au_vector(values) * intensity * person.au_gain * jitter, 0, 1)


def _nuisance_aus(rng: np.random.Generator, n: int, d: CorpusDifficulty) -> np.ndarray:
    """Blinks and speech-like mouth motion, the same for every class."""
    aus = np.zeros((n, len(AU_NAMES)))
    t = np.arange(n)
    for _ in range(rng.poisson(d.blink_rate_hz * n / FPS + 0.3)):
        centre, half = rng.uniform(0, n), rng.uniform(1.5, 3.0)
        aus[:, AU_INDEX["AU45"]] = np.maximum(aus[:, AU_INDEX["AU45"]], np.clip(1 - np.abs(t - centre) / half, 0, 1))
    if rng.random() < d.speech_probability:
        start = int(rng.integers(0, n // 2))
        length = int(rng.integers(n // 3, n - start + 1))
        syllables = np.abs(np.sin(np.pi * rng.uniform(3, 5) / FPS * t + rng.uniform(0, np.pi)))
        talking = ((t >= start) & (t < start + length)) * syllables * d.speech_amplitude * rng.uniform(0.6, 1.0)
        aus[:, AU_INDEX["AU25"]] = talking
        aus[:, AU_INDEX["AU26"]] = 0.6 * talking
    return aus


def _background(rng: np.random.Generator) -> np.ndarray:
    """A cluttered scene: smooth colour texture plus random shapes, slightly defocused."""
    grey = rng.uniform(50, 200, (6, 8, 1))
    coarse = (grey + rng.uniform(-45, 45, (6, 8, 3))).astype(np.float32)  # muted colours, like a real room
    scene = cv2.resize(coarse, (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
    scene = np.clip(scene, 0, 255).astype(np.uint8)
    for _ in range(rng.integers(12, 30)):
        colour = tuple(float(c) for c in rng.uniform(0, 255, 3))
        x, y = int(rng.integers(-20, WIDTH)), int(rng.integers(-20, HEIGHT))
        w, h = int(rng.integers(8, 90)), int(rng.integers(8, 90))
        kind = rng.integers(4)
        thickness = -1 if rng.random() < 0.6 else int(rng.integers(1, 4))
        if kind == 0:
            cv2.rectangle(scene, (x, y), (x + w, y + h), colour, thickness, cv2.LINE_AA)
        elif kind == 1:
            cv2.ellipse(scene, (x, y), (w // 2, h // 2), float(rng.uniform(0, 180)), 0, 360, colour, thickness,
                        cv2.LINE_AA)
        elif kind == 2:
            cv2.line(scene, (x, y), (x + w, y + h), colour, int(rng.integers(1, 5)), cv2.LINE_AA)
        else:
            points = rng.integers(-20, 90, (int(rng.integers(3, 6)), 2)) + [x, y]
            cv2.fillPoly(scene, [points.astype(np.int32)], colour, cv2.LINE_AA)
    return cv2.GaussianBlur(scene, (3, 3), 0)


@dataclass
class _Occluder:
    """A hand or an object that enters over part of the face for some frames."""

    start: int
    stop: int
    target: tuple[float, float]  # where it settles, as a fraction of the face box
    entry: tuple[float, float]  # direction it comes from
    size: float  # fraction of the face width
    colour: tuple
    hand: bool
    angle: float

    def polygons(self, frame: int, face_box: np.ndarray) -> list[np.ndarray] | None:
        if not self.start <= frame < self.stop:
            return None
        ramp = min(1.0, (frame - self.start) / 4, (self.stop - 1 - frame) / 4)  # slide in, stay, slide out
        x0, y0, x1, y1 = face_box
        w, h = x1 - x0, y1 - y0
        cx = x0 + w * self.target[0] + (1 - ramp) * self.entry[0] * w
        cy = y0 + h * self.target[1] + (1 - ramp) * self.entry[1] * h
        r = self.size * w
        shapes = [cv2.ellipse2Poly((int(cx), int(cy)), (int(r), int(0.8 * r)), int(self.angle), 0, 360, 20)]
        if self.hand:  # four fingers reaching up over the face
            for k in range(4):
                fx = cx + (k - 1.5) * 0.42 * r
                fy = cy - 0.9 * r
                shapes.append(cv2.ellipse2Poly((int(fx), int(fy)), (max(2, int(0.2 * r)), int(0.55 * r)),
                                               int(self.angle + (k - 1.5) * 6), 0, 360, 30))
        return shapes


def _mix_dark(colour: tuple) -> tuple:
    return tuple(0.6 * c for c in colour)


def _occluder(rng: np.random.Generator, n: int, d: CorpusDifficulty) -> _Occluder | None:
    if rng.random() >= d.occlusion_probability:
        return None
    length = int(rng.integers(n // 5, n // 2))
    start = int(rng.integers(0, n - length))
    lower_face = rng.random() < 0.7
    if lower_face:  # over the mouth or chin, from below
        target, entry, size = (rng.uniform(0.3, 0.7), rng.uniform(0.85, 1.0)), (0.0, 1.0), rng.uniform(0.26, 0.36)
    else:  # over one eye and brow, from the side
        side = rng.choice([-1.0, 1.0])
        target, entry, size = (0.5 + side * rng.uniform(0.4, 0.5), 0.3), (side, 0.0), rng.uniform(0.16, 0.22)
    hand = rng.random() < 0.7
    colour = tuple(float(c) for c in (rng.uniform(50, 210) * np.array([0.75, 0.85, 1.0]) if hand
                                      else rng.uniform(20, 235, 3)))
    return _Occluder(start, start + length, target, entry, size, colour, hand, float(rng.uniform(-20, 20)))


# --------------------------------------------------------------------------------------------- rendering
def _box(points: np.ndarray) -> list[int]:
    x0, y0 = np.floor(points.min(0)).astype(int)
    x1, y1 = np.ceil(points.max(0)).astype(int)
    return [int(x0), int(y0), int(x1), int(y1)]


def _to_frame(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def _composite(canvas: np.ndarray, mask: np.ndarray, matrix: np.ndarray, bounds: np.ndarray,
               background: np.ndarray) -> np.ndarray:
    """Warp the face canvas into the frame over the background; only the box the face can cover is touched."""
    x0, y0, x1, y1 = _box(_to_frame(matrix, bounds))
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, WIDTH), min(y1, HEIGHT)
    shifted = matrix - np.array([[0, 0, x0], [0, 0, y0]])
    size = (x1 - x0, y1 - y0)
    face = cv2.warpAffine(canvas, shifted, size, flags=cv2.INTER_LINEAR)
    alpha = cv2.warpAffine(mask, shifted, size, flags=cv2.INTER_LINEAR).astype(np.float32) * (1 / 255)
    frame = background.copy()
    frame[y0:y1, x0:x1] = cv2.blendLinear(face, frame[y0:y1, x0:x1], alpha, 1 - alpha)
    return frame


def render_clip(seed: int, split: str, index: int, difficulty: CorpusDifficulty = CorpusDifficulty(),
                *, edit: AUEdit | Sequence[AUEdit] = ()) -> RenderedClip:
    """Draw clip ``index`` of ``split`` (full-scale index space) in memory: frames and sidecar.

    ``edit`` (one AUEdit or several, made in order) draws the counterfactual clip: only the edited AUs differ. Its
    sidecar lists the edits under "edits", and its "au" curves show the expression that is left where they changed
    (what is drawn beyond the resting face and nuisances).
    """
    edits = (edit,) if isinstance(edit, AUEdit) else tuple(edit)
    label, identity = _split_plan(seed, split)[index]
    d = difficulty
    rng = np.random.default_rng(np.random.SeedSequence([seed, SPLITS.index(split), index]))
    person = _identity(seed, identity, d)
    n = int(rng.integers(MIN_FRAMES, MAX_FRAMES + 1))

    envelope, onset, apex, offset = _timeline(rng, n)
    expression = envelope[:, None] * _apex_aus(rng, label, person, d)[None, :]
    nuisance = _nuisance_aus(rng, n, d)
    aus = np.clip(person.resting_au + expression + nuisance, 0, 1)
    if edits:
        unedited = aus
        for change in edits:
            aus = change.apply(aus)
        changed = aus != unedited
        expression[changed] = np.clip(aus - np.clip(person.resting_au + nuisance, 0, 1), 0, 1)[changed]

    renderer = FaceRenderer(person.face, light_side=rng.uniform(-1, 1), gaze=rng.uniform(-0.25, 0.25))
    background = _background(rng)
    scale = rng.uniform(0.9, 1.06) * (1 + d.head_scale * _smooth_noise(rng, n))
    angle = d.head_rotation_deg * _smooth_noise(rng, n)
    fw, fh = person.face.half_width, person.face.half_height
    position = np.stack([rng.uniform(fw + 10, WIDTH - fw - 10) + d.head_translation_px * _smooth_noise(rng, n),
                         rng.uniform(fh + 10, HEIGHT - fh - 10) + d.head_translation_px * _smooth_noise(rng, n)], 1)

    gradient = np.linspace(-1, 1, WIDTH, dtype=np.float32)[None, :].repeat(HEIGHT, 0)
    gradient = cv2.warpAffine(gradient, cv2.getRotationMatrix2D((WIDTH / 2, HEIGHT / 2), rng.uniform(-60, 60), 1.3),
                              (WIDTH, HEIGHT), borderMode=cv2.BORDER_REPLICATE)
    light_a = cv2.merge([np.clip(128 * (1 + d.light_gradient * gradient), 0, 255).astype(np.uint8)] * 3)
    light_b = cv2.merge([np.clip(128 * (1 - d.light_gradient * gradient), 0, 255).astype(np.uint8)] * 3)
    light_mix = 0.5 + 0.5 * _smooth_noise(rng, n)
    gain = 1 + d.light_gain * _smooth_noise(rng, n)
    noise = rng.normal(0, d.noise_sigma, (HEIGHT + 16, WIDTH + 16, 3))
    noise_up, noise_down = np.clip(noise, 0, 255).astype(np.uint8), np.clip(-noise, 0, 255).astype(np.uint8)
    noise_offsets = rng.integers(0, 16, (n, 2))
    occluder = _occluder(rng, n, d)

    frames = np.empty((n, HEIGHT, WIDTH, 3), np.uint8)
    face_boxes, occluder_boxes = [], []
    regions: dict[str, list] = {name: [] for name in REGIONS}
    for i in range(n):
        geometry = renderer.geometry(aus[i])
        matrix = cv2.getRotationMatrix2D(CENTRE, float(angle[i]), float(scale[i]))
        matrix[:, 2] += position[i] - np.array(CENTRE)
        oval = _to_frame(matrix, geometry["oval"])
        # Keep the whole face inside the frame whatever the drift did.
        matrix[0, 2] += np.clip(0, 1 - oval[:, 0].min(), WIDTH - 2 - oval[:, 0].max())
        matrix[1, 2] += np.clip(0, 1 - oval[:, 1].min(), HEIGHT - 2 - oval[:, 1].max())
        face_box = _box(_to_frame(matrix, geometry["oval"]))
        face_boxes.append(face_box)
        for name, points in region_points(geometry).items():
            regions[name].append(_box(_to_frame(matrix, points)))

        canvas, mask = renderer.draw(geometry, aus[i])
        frame = _composite(canvas, mask, matrix, renderer.bounds, background)

        shapes = occluder.polygons(i, np.array(face_box)) if occluder else None
        if shapes:
            cv2.fillPoly(frame, shapes, occluder.colour, cv2.LINE_AA)
            cv2.polylines(frame, shapes, True, _mix_dark(occluder.colour), 1, cv2.LINE_AA)
            occluder_boxes.append(_box(np.vstack(shapes).astype(np.float64)))
        else:
            occluder_boxes.append(None)

        light = cv2.addWeighted(light_a, float(light_mix[i]), light_b, float(1 - light_mix[i]), 0)
        frame = cv2.multiply(frame, light, scale=float(gain[i]) / 128)
        oy, ox = noise_offsets[i]
        frame = cv2.add(frame, noise_up[oy:oy + HEIGHT, ox:ox + WIDTH])
        frames[i] = cv2.subtract(frame, noise_down[oy:oy + HEIGHT, ox:ox + WIDTH])

    meta = {
        "label": label, "split": split, "index": index, "identity": identity, "seed": seed,
        "fps": FPS, "num_frames": n, "width": WIDTH, "height": HEIGHT,
        "onset_frame": onset, "apex_frame": apex, "offset_frame": offset,
        "au_names": list(AU_NAMES),
        "au": np.round(expression, 3).tolist(),
        "resting_au": np.round(person.resting_au, 3).tolist(),
        "face_box": face_boxes,
        "regions": regions,
        "occluder": occluder_boxes,
    }
    if edits:
        meta["edits"] = [asdict(change) for change in edits]
    return RenderedClip(frames, meta, aus)


# --------------------------------------------------------------------------------------------- writing
def _clip_paths(out: Path, spec: ClipSpec) -> tuple[Path, Path]:
    folder = out / spec.split / spec.label
    return folder / f"{spec.stem}.avi", folder / f"{spec.stem}.json"


def clip_complete(out: Path, spec: ClipSpec) -> bool:
    """Whether a clip is written completely: its video and, written after it, its sidecar (each renamed into place
    whole, so an interrupted write leaves at most a video without a sidecar, which is written again)."""
    return all(path.is_file() for path in _clip_paths(out, spec))


def _write_clip(task: tuple[Path, ClipSpec, CorpusDifficulty]) -> str:
    """Render and write one clip, the video then its sidecar, each through a temporary file renamed into place (the
    encoder writes the video to a path, so it gets its own temporary name; the sidecar goes through
    model.checkpoint.atomic_write_bytes): a half-written clip never looks done."""
    out, spec, difficulty = task
    video_path, meta_path = _clip_paths(out, spec)
    video_path.parent.mkdir(parents=True, exist_ok=True)
    clip = render_clip(spec.seed, spec.split, spec.index, difficulty)
    tmp_video = video_path.with_name(f".{spec.stem}.{os.getpid()}.tmp.avi")
    writer = cv2.VideoWriter(str(tmp_video), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (WIDTH, HEIGHT))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write MJPG video to {tmp_video}")
    for frame in clip.frames:
        writer.write(frame)
    writer.release()
    os.replace(tmp_video, video_path)
    _write_json(meta_path, clip.meta)
    return spec.stem


def _write_json(path: Path, content: dict) -> None:
    atomic_write_bytes(path, json.dumps(content, separators=(",", ":")).encode())


STARTED = ".corpus-started.json"  # the settings of a corpus being written; corpus.json replaces it when done


class CorpusFolderError(ValueError):
    """``--out`` holds another corpus (or other files) that writing this one would mix with."""


def write_corpus(out: Path, seed: int = 0, scale: float = 1.0, workers: int = 2, progress: bool = True,
                 difficulty: CorpusDifficulty = CorpusDifficulty(), force: bool = False) -> Path:
    """Write the corpus in AFEW's layout under ``out``; clips already written completely (``clip_complete``) are kept,
    so an interrupted run resumes where it stopped. A folder holding another corpus is refused, or with ``force``
    emptied first: clip names repeat across seeds, so a mix could never be told apart."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)  # an unusable folder is answered before the bar is drawn
    settings = {"seed": seed, "scale": scale, "version": CORPUS_VERSION, "difficulty": asdict(difficulty)}
    _claim(out, settings, force)
    specs = [spec for split in SPLITS for spec in corpus_index(seed, split, scale)]
    todo = [(out, spec, difficulty) for spec in specs if not clip_complete(out, spec)]
    bar = tqdm(total=len(specs), initial=len(specs) - len(todo), desc="corpus", unit="clip", disable=not progress)
    if workers > 1 and len(todo) > 1:
        with process_pool(workers) as pool:
            for _ in pool.imap_unordered(_write_clip, todo, chunksize=4):
                bar.update()
    else:
        for task in todo:
            _write_clip(task)
            bar.update()
    bar.close()
    summary = {**settings, "counts": {split: split_counts(split, scale) for split in SPLITS}}
    _write_json(out / "corpus.json", summary)
    (out / STARTED).unlink(missing_ok=True)
    return out


def _claim(out: Path, settings: dict, force: bool) -> None:
    """Make ``out`` this corpus's folder: resume a run with the same settings, refuse anything else unless ``force``
    (which removes the other corpus whole), then record the settings until the corpus is complete."""
    held = None
    for name in ("corpus.json", STARTED):
        if (out / name).is_file():
            recorded = json.loads((out / name).read_text())
            held = {key: recorded.get(key) for key in settings}
            break
    foreign = held is None and any(out.iterdir())
    if (held not in (None, settings) or foreign) and not force:
        changed = [key if key == "difficulty" else f"{key} {held[key]} (not {settings[key]})"
                   for key in settings if not foreign and held[key] != settings[key]]
        what = "other files" if foreign else f"a corpus with another {', '.join(changed)}"
        raise CorpusFolderError(f"{out} holds {what}: write into another --out, or pass --force to replace it")
    if force or held not in (None, settings):
        for name in (*SPLITS, "corpus.json", STARTED):
            path = out / name
            if path.is_dir():
                shutil.rmtree(path)
            path.unlink(missing_ok=True)
    _write_json(out / STARTED, settings)
