"""Five facial landmarks in a face box, and the similarity transform that aligns a face crop by them.

dlib's 5-point shape predictor finds the outer and inner corner of each eye and the base of the nose inside a face
box (about 0.3 ms a face on this CPU). The processing layer then rotates, scales and moves each crop so that these
points land where they sit, on average, in the corpus's face-box crops (``TEMPLATE``): a tilted real head gives the
same upright crop a rendered one does, and the flow between crops keeps the face's own motion, not the box's jitter.

The predictor file ships in the face-recognition-models package (pinned in requirements.txt). It is dlib's own binary
format, read by dlib (nothing is unpickled), and its hash is checked before it is used.
"""
from __future__ import annotations

import hashlib
import threading
from functools import cache
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import dlib
import numpy as np

PACKAGE = "face-recognition-models"
PREDICTOR_FILE = "face_recognition_models/models/shape_predictor_5_face_landmarks.dat"
PREDICTOR_SHA256 = "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888"

# The five points (right eye outer and inner corner, left eye outer and inner corner, nose base, in dlib's order) as
# fractions of the crop's side: the median over the corpus's box crops (ProcessConfig(align=False), margin 0.1),
# mirrored to be symmetric. tests/model/data/test_landmarks.py measures it again on rendered clips.
TEMPLATE = np.array([[0.6856, 0.4197], [0.5699, 0.4197], [0.3144, 0.4197], [0.4301, 0.4197], [0.5, 0.6133]])

_PER_THREAD = threading.local()  # one predictor per thread, like the face detector


class LandmarkModelError(RuntimeError):
    """The landmark predictor file is missing or is not the pinned one."""


@cache
def predictor_path() -> Path:
    """The package's predictor file, after checking its hash."""
    try:
        path = Path(distribution(PACKAGE).locate_file(PREDICTOR_FILE))
    except PackageNotFoundError:
        path = None
    if path is None or not path.is_file():
        raise LandmarkModelError(f"the face landmark model is missing ({PACKAGE} is not installed): run `make setup`")
    with open(path, "rb") as file:
        if hashlib.file_digest(file, "sha256").hexdigest() != PREDICTOR_SHA256:
            raise LandmarkModelError(f"{path} is not the pinned {PACKAGE} file: reinstall it with `make setup`")
    return path


def five_points(gray: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The five landmarks (5, 2) in a uint8 grayscale frame, inside the face box [x0, y0, x1, y1]."""
    if not hasattr(_PER_THREAD, "predictor"):
        _PER_THREAD.predictor = dlib.shape_predictor(str(predictor_path()))
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    shape = _PER_THREAD.predictor(gray, dlib.rectangle(x0, y0, x1, y1))
    return np.array([(p.x, p.y) for p in shape.parts()], np.float64)


def similarity(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The rotation + uniform scale + shift (2, 3) that maps source points onto target points in least squares.

    Umeyama's closed form (no reflection): the best fit of all five points, so that one misplaced point moves the crop
    only a fifth as much as it would on its own.
    """
    source_mean, target_mean = source.mean(0), target.mean(0)
    source_centred, target_centred = source - source_mean, target - target_mean
    u, singular, vt = np.linalg.svd(target_centred.T @ source_centred / len(source))
    flip = np.diag([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt))])
    rotation = u @ flip @ vt
    scale = np.trace(np.diag(singular) @ flip) / source_centred.var(0).sum()
    return np.column_stack([scale * rotation, target_mean - scale * rotation @ source_mean])
