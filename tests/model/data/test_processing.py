"""The processing layer on drawn faces: crops follow the face, flow sees motion, tracking, errors and the cache."""
from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np
import pytest
import torch

from model.config import ProcessConfig, SettingError
from model.data.processing import (
    SCHEMA_VERSION,
    NoFaceError,
    ProcessedClip,
    cache_path,
    process_frames,
    process_video,
    rgb_for_display,
    to_tensors,
)
from tests.model.data.test_video import background, draw_face, face_frames, write_avi

CONFIG = ProcessConfig(frames=8, size=48)
FACE = 90


@pytest.fixture(scope="module")
def moving_face():
    return face_frames(count=30, face=FACE)


@pytest.fixture(scope="module")
def clip(moving_face) -> ProcessedClip:
    return process_frames(moving_face[0], 25.0, CONFIG)


def test_shapes_and_dtypes(clip):
    assert clip.rgb.shape == (8, 48, 48, 3) and clip.rgb.dtype == np.uint8
    assert clip.flow.shape == (7, 48, 48, 2) and clip.flow.dtype == np.float16
    assert clip.frame_indices.shape == (8,) and clip.crop_transforms.shape == (8, 2, 3)
    assert clip.crop_transforms.dtype == np.float32
    assert clip.track_boxes.shape == (30, 4) and clip.detected.shape == (30,) and clip.detected.dtype == bool
    assert list(clip.frame_indices) == sorted(clip.frame_indices) and clip.frame_indices[-1] <= 29
    assert clip.stats["num_frames"] == 30 and clip.stats["flow_method"] == "farneback"
    assert clip.stats["detection_rate"] >= 0.9 and clip.stats["track_coverage"] == 1.0
    assert clip.stats["num_faces_seen"] == 1 and clip.stats["scene_cuts"] == 0


def test_crops_follow_the_face(clip, moving_face):
    centres = moving_face[1][clip.frame_indices]
    crop_centres = (clip.crop_squares[:, :2] + clip.crop_squares[:, 2:]) / 2
    assert np.abs(crop_centres - centres).max() < 0.15 * FACE
    sides = clip.crop_squares[:, 2] - clip.crop_squares[:, 0]
    np.testing.assert_allclose(clip.crop_squares[:, 3] - clip.crop_squares[:, 1], sides, rtol=1e-5)  # square
    assert np.all((sides > 1.0 * FACE) & (sides < 2.5 * FACE))  # Haar boxes are wider than the drawn oval


def test_flow_is_larger_where_the_mouth_moves():
    base = background(240, 320)
    frames = []
    for i in range(16):
        image = base.copy()
        draw_face(image, (160, 120), FACE, mouth_open=(i % 2))
        frames.append(image)
    clip = process_frames(np.stack(frames), 25.0, ProcessConfig(frames=16, size=48))
    magnitude = np.linalg.norm(clip.flow.astype(np.float32), axis=-1).mean(axis=0)
    mouth = magnitude[30:40, 16:32].mean()  # lower middle of the crop
    forehead = magnitude[4:12, 16:32].mean()
    assert mouth > 0.2 and mouth > 2 * forehead


@pytest.mark.parametrize("flow", ["farneback", "dis"])
def test_flow_on_oversampled_crops_is_in_crop_pixels_and_closer_to_the_truth(flow):
    """A scene sliding 2 frame pixels a frame: in S = 48 crops of the 240-pixel centre square that is 0.4 S-pixels a
    frame. Measured on 96-pixel crops and pooled to 48, the flow keeps S-pixel units and misses less of the motion."""
    scene = np.concatenate([background(240, 320, seed=3), background(240, 320, seed=4)], axis=1)
    frames = np.stack([scene[:, 2 * i:2 * i + 320] for i in range(30)])
    errors = {}
    for oversample in (1, 2):
        config = ProcessConfig(frames=8, size=48, flow=flow, center_crop=True, flow_oversample=oversample)
        clip = process_frames(frames, 25.0, config)
        expected = -2 * np.diff(clip.frame_indices) * 48 / 240  # content moves left as the window slides right
        measured = np.median(clip.flow[:, 12:36, 12:36, 0].astype(np.float32), axis=(1, 2))
        errors[oversample] = float(np.abs(measured / expected - 1).mean())
        assert np.abs(np.median(clip.flow[..., 1].astype(np.float32))) < 0.1
    assert errors[2] < 0.15 and errors[2] < errors[1], errors


def test_dis_flow_and_unknown_method(moving_face):
    clip = process_frames(moving_face[0], 25.0, ProcessConfig(frames=4, size=48, flow="dis"))
    assert clip.flow.shape == (3, 48, 48, 2) and clip.stats["flow_method"] == "dis"
    with pytest.raises(SettingError, match="flow is 'lucas': use one of farneback, dis"):
        ProcessConfig(flow="lucas")  # refused where the settings are made, before any clip is read


def test_no_face_raises_and_center_crop_works():
    frames = np.stack([background(120, 160, seed=i % 2) for i in range(6)])
    with pytest.raises(NoFaceError) as caught:
        process_frames(frames, 25.0, CONFIG)
    assert "\n" not in str(caught.value) and "--center-crop" in str(caught.value)
    clip = process_frames(frames, 25.0, ProcessConfig(frames=8, size=48, center_crop=True))
    np.testing.assert_allclose(clip.crop_squares, np.tile([20, 0, 140, 120], (8, 1)))
    assert clip.rgb.shape == (8, 48, 48, 3)


def test_short_clips_repeat_frames_and_one_frame_warns(moving_face):
    clip = process_frames(moving_face[0][:3], 25.0, CONFIG)
    assert sorted(set(clip.frame_indices)) == [0, 1, 2] and "repeat" in clip.stats["warnings"][0]
    single = process_frames(moving_face[0][:1], 25.0, CONFIG)
    # identical crops: no motion (Farneback leaves about 0.03 px of noise)
    assert list(single.frame_indices) == [0] * 8 and np.abs(single.flow).max() < 0.1
    assert "single frame" in single.stats["warnings"][0]


def test_two_faces_give_one_consistent_track():
    base = background(240, 320)
    frames = []
    for i in range(24):
        image = base.copy()
        draw_face(image, (90 + i, 120), 100)  # the main face: large, present throughout
        draw_face(image, (255, 100), 50)  # a smaller bystander
        frames.append(image)
    clip = process_frames(np.stack(frames), 25.0, CONFIG)
    assert clip.stats["num_faces_seen"] == 2 and "several faces" in clip.stats["warnings"][0]
    centres_x = (clip.crop_squares[:, 0] + clip.crop_squares[:, 2]) / 2
    np.testing.assert_allclose(centres_x, 90 + clip.frame_indices, atol=12)


def test_scene_cut_splits_the_track():
    frames = []
    for i in range(24):
        image = background(240, 320, seed=0 if i < 12 else 1)
        if i >= 12:
            image = image // 3  # a darker second shot
        draw_face(image, (100, 120) if i < 12 else (220, 120), 90)
        frames.append(image)
    clip = process_frames(np.stack(frames), 25.0, CONFIG)
    assert clip.stats["scene_cuts"] == 1 and clip.stats["track_coverage"] == 1.0
    centres_x = (clip.track_boxes[:, 0] + clip.track_boxes[:, 2]) / 2
    assert np.all(np.abs(centres_x[:12] - 100) < 10) and np.all(np.abs(centres_x[12:] - 220) < 10)


def test_cuts_between_two_people_before_one_backdrop_are_found():
    """Shots that share their gray levels (one backdrop, two people taking turns) defeat a histogram cut detector:
    the picture's own change finds the three cuts, and each shot gets its own face."""
    base = background(240, 320, seed=3)
    frames = []
    for i in range(40):
        image = base.copy()
        person_a = (i // 10) % 2 == 0
        draw_face(image, (100, 120) if person_a else (220, 110), 90 if person_a else 110, mouth_open=(i % 4) / 3)
        frames.append(image)
    clip = process_frames(np.stack(frames), 25.0, CONFIG)
    assert clip.stats["scene_cuts"] == 3 and clip.stats["shots_with_face"] == 4
    centres_x = (clip.track_boxes[:, 0] + clip.track_boxes[:, 2]) / 2
    assert np.all(np.abs(centres_x[:10] - 100) < 10) and np.all(np.abs(centres_x[10:20] - 220) < 12)
    still = process_frames(np.stack([frames[0]] * 40), 25.0, CONFIG)
    assert still.stats["scene_cuts"] == 0 and still.stats["shots_with_face"] == 1


def test_tensors_and_display_round_trip(clip):
    rgb, flow = to_tensors(clip)
    assert rgb.shape == (3, 8, 48, 48) and flow.shape == (2, 7, 48, 48)
    assert rgb.dtype == flow.dtype == torch.float32 and abs(float(rgb.mean())) < 2 and float(flow.abs().max()) <= 5
    np.testing.assert_array_equal(rgb_for_display(rgb, CONFIG), clip.rgb)
    np.testing.assert_array_equal(rgb_for_display(rgb[None], CONFIG), clip.rgb)


def test_video_file_boxes_are_in_original_pixels(tmp_path, moving_face):
    write_avi(tmp_path / "face.avi", moving_face[0])
    config = ProcessConfig(frames=8, size=48, max_side=160)  # decoded at half size
    clip = process_video(tmp_path / "face.avi", config)
    assert clip.stats["width"] == 320 and clip.stats["duration"] == pytest.approx(30 / 25)
    crop_centres = (clip.crop_squares[:, :2] + clip.crop_squares[:, 2:]) / 2
    assert np.abs(crop_centres - moving_face[1][clip.frame_indices]).max() < 0.2 * FACE


def test_cache_hit_corruption_and_foreign_entries(tmp_path, moving_face):
    video = tmp_path / "face.avi"
    write_avi(video, moving_face[0])
    first = process_video(video, CONFIG, cache_dir=tmp_path / "cache")
    entry = cache_path(video, CONFIG, tmp_path / "cache")
    assert entry.is_file() and [p.name for p in entry.parent.iterdir()] == [entry.name]  # no temp files left
    second = process_video(video, CONFIG, cache_dir=tmp_path / "cache")
    for name in ("rgb", "flow", "frame_indices", "crop_transforms", "track_boxes", "detected", "detection_boxes"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
    assert second.stats == first.stats

    entry.write_bytes(b"not a zip file")
    rebuilt = process_video(video, CONFIG, cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(rebuilt.rgb, first.rgb)
    assert np.load(entry, allow_pickle=False)["rgb"].shape == first.rgb.shape

    other = ProcessConfig(frames=4, size=48)  # an entry written for other settings, copied under this key
    process_video(video, other, cache_dir=tmp_path / "cache")
    cache_path(video, other, tmp_path / "cache").replace(entry)
    np.testing.assert_array_equal(process_video(video, CONFIG, cache_dir=tmp_path / "cache").rgb, first.rgb)


def test_input_scaling_comes_from_the_config_and_is_not_in_the_cache_key(tmp_path, moving_face):
    video = tmp_path / "face.avi"
    write_avi(video, moving_face[0])
    # the key of the settings that existed before the scaling joined them, so caches written then stay valid
    settings_then = ("frames", "size", "flow", "flow_oversample", "margin", "align", "center_crop", "max_seconds",
                     "max_side", "detect_side", "detect_every")
    digest = hashlib.sha256(video.read_bytes())
    digest.update(json.dumps({"schema": SCHEMA_VERSION, **{k: getattr(CONFIG, k) for k in settings_then}},
                             sort_keys=True).encode())
    assert cache_path(video, CONFIG, tmp_path / "cache").stem == digest.hexdigest()

    scaled = dataclasses.replace(CONFIG, rgb_mean=(0.5, 0.5, 0.5), rgb_std=(0.25, 0.25, 0.25), flow_scale=0.5,
                                 flow_clip=1.0)
    assert cache_path(video, scaled, tmp_path / "cache") == cache_path(video, CONFIG, tmp_path / "cache")
    plain = process_video(video, CONFIG, cache_dir=tmp_path / "cache")
    cached = process_video(video, scaled, cache_dir=tmp_path / "cache")  # the same entry, scaled its own way
    assert cached.config == scaled and plain.config == CONFIG
    rgb, flow = to_tensors(cached)
    expected_rgb = (torch.from_numpy(cached.rgb).permute(3, 0, 1, 2).float() / 255 - 0.5) / 0.25
    torch.testing.assert_close(rgb, expected_rgb)
    assert float(flow.abs().max()) == 1.0 and not torch.equal(rgb, to_tensors(plain)[0])
    np.testing.assert_array_equal(rgb_for_display(rgb, scaled), cached.rgb)
