"""The embedded corpus: determinism, AFEW's counts, layout on disk, ground truth and detectability."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from cli.corpus import main
from model.config import CLASSES, SPLITS
from model.data.corpus import (
    AU_NAMES,
    AU_REGIONS,
    PROTOTYPES,
    REGIONS,
    STARTED,
    AUEdit,
    corpus_index,
    render_clip,
    split_counts,
)
from model.data.face_render import FaceRenderer, region_points, sample_face

SEED = 0


def _first_clip_of(label: str, split: str = "Val") -> int:
    return next(spec.index for spec in corpus_index(SEED, split) if spec.label == label)


@pytest.fixture(scope="module")
def clips_by_class():
    return {label: render_clip(SEED, "Val", _first_clip_of(label)) for label in CLASSES}


def test_au_tables_are_consistent():
    assert len(AU_NAMES) == 18 and set(AU_REGIONS) == set(AU_NAMES)
    assert set(AU_REGIONS.values()) == set(REGIONS)


def test_same_address_gives_the_same_clip_and_another_seed_another():
    first, again = render_clip(SEED, "Train", 3), render_clip(SEED, "Train", 3)
    assert np.array_equal(first.frames, again.frames) and first.meta == again.meta
    other = render_clip(SEED + 1, "Train", 3)
    assert first.frames.shape != other.frames.shape or not np.array_equal(first.frames, other.frames)


def test_split_counts_follow_afew():
    assert sum(split_counts("Train").values()) == 773 and split_counts("Train")["Happy"] == 150
    assert sum(split_counts("Val").values()) == 383 and split_counts("Val")["Fear"] == 46
    test = split_counts("Test")
    assert sum(test.values()) == 653 and test["Happy"] == 127  # 653 * 150 / 773 = 126.7
    assert all(n == 1 for n in split_counts("Val", 0.01).values())


def test_identities_are_disjoint_across_splits_and_depend_on_the_seed():
    people = {split: {spec.identity for spec in corpus_index(SEED, split)} for split in SPLITS}
    assert not people["Train"] & people["Val"] and not people["Train"] & people["Test"]
    assert not people["Val"] & people["Test"]
    assert len(people["Train"]) >= 100 and len(people["Val"]) >= 50
    labels = [(spec.label, spec.identity) for spec in corpus_index(SEED, "Train")]
    assert labels != [(spec.label, spec.identity) for spec in corpus_index(SEED + 1, "Train")]


def test_scaled_index_is_a_subset_of_the_full_one():
    full = {spec.index: spec for spec in corpus_index(SEED, "Test")}
    small = corpus_index(SEED, "Test", 0.1)
    assert all(full[spec.index] == spec for spec in small)
    assert {c: sum(s.label == c for s in small) for c in CLASSES} == split_counts("Test", 0.1)


def test_sidecar_matches_the_frames(clips_by_class):
    for label, clip in clips_by_class.items():
        meta, n = clip.meta, len(clip.frames)
        assert clip.frames.shape == (n, 240, 320, 3) and clip.frames.dtype == np.uint8
        assert 38 <= n <= 75 and meta["num_frames"] == n and meta["label"] == label
        assert len(meta["au"]) == len(meta["face_box"]) == len(meta["occluder"]) == n
        assert all(len(row) == 18 for row in meta["au"]) and len(meta["resting_au"]) == 18
        assert set(meta["regions"]) == set(REGIONS) and all(len(b) == n for b in meta["regions"].values())
        for x0, y0, x1, y1 in meta["face_box"]:
            assert 0 <= x0 < x1 <= 320 and 0 <= y0 < y1 <= 240  # the whole face stays in the frame
        assert 0 < meta["onset_frame"] < meta["apex_frame"] < n


def test_apex_shows_the_prototype_core(clips_by_class):
    for label, clip in clips_by_class.items():
        apex = dict(zip(AU_NAMES, clip.meta["au"][clip.meta["apex_frame"]]))
        assert all(apex[name] >= 0.2 for name in PROTOTYPES[label].core), (label, apex)
        if label == "Neutral":
            assert max(apex.values()) == 0.0


def test_every_action_unit_visibly_moves_its_region():
    face = sample_face(np.random.default_rng(7))
    renderer = FaceRenderer(face, light_side=0.0, gaze=0.0)
    rest = region_points(renderer.geometry(np.zeros(len(AU_NAMES))))
    for i, name in enumerate(AU_NAMES):
        full = np.zeros(len(AU_NAMES))
        full[i] = 1.0
        moved = region_points(renderer.geometry(full))[AU_REGIONS[name]]
        largest_move = np.abs(moved - rest[AU_REGIONS[name]]).max()
        assert largest_move >= 2.5, (name, largest_move)  # pixels, on a face about 110 pixels tall


def test_haar_cascade_finds_the_face():
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    found = total = 0
    for spec in corpus_index(SEED, "Test")[:8]:
        clip = render_clip(SEED, "Test", spec.index)
        for i in np.linspace(0, len(clip.frames) - 1, 5).astype(int):
            gray = cv2.equalizeHist(cv2.cvtColor(clip.frames[i], cv2.COLOR_BGR2GRAY))
            detections = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=4, minSize=(40, 40))
            truth = np.array(clip.meta["face_box"][i])
            found += any(_iou(truth, (x, y, x + w, y + h)) >= 0.3 for x, y, w, h in detections)
            total += 1
    assert found / total >= 0.9


def _iou(a, b) -> float:
    w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union


def test_cli_writes_a_resumable_afew_layout(tmp_path):
    main(["--out", str(tmp_path), "--scale", "0.01", "--workers", "2"])
    videos = sorted(tmp_path.glob("*/*/*.avi"))
    assert len(videos) == sum(sum(split_counts(split, 0.01).values()) for split in SPLITS)
    assert {v.parent.name for v in videos} == set(CLASSES) and {v.parent.parent.name for v in videos} == set(SPLITS)
    assert not [p for p in tmp_path.rglob("*") if ".tmp" in p.name]  # atomic writes leave nothing behind
    summary = json.loads((tmp_path / "corpus.json").read_text())
    assert summary["seed"] == SEED and summary["scale"] == 0.01 and summary["counts"]["Train"]["Happy"] == 2

    video = videos[0]
    meta = json.loads(video.with_suffix(".json").read_text())
    capture = cv2.VideoCapture(str(video))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    assert len(frames) == meta["num_frames"] and frames[0].shape == (240, 320, 3)
    assert video.name == f"{meta['split'].lower()}_{meta['index']:05d}.avi"

    before = video.stat().st_mtime_ns
    main(["--out", str(tmp_path), "--scale", "0.01", "--workers", "1"])  # a rerun skips finished clips
    assert video.stat().st_mtime_ns == before



def test_a_folder_holding_another_corpus_is_refused_or_replaced_whole(tmp_path, capsys):
    out = tmp_path / "corpus"
    assert main(["--out", str(out), "--scale", "0.01", "--seed", "1", "--workers", "2"]) == 0
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    capsys.readouterr()
    assert main(["--out", str(out), "--scale", "0.01", "--seed", "5"]) == 2
    assert capsys.readouterr().err.strip() == (f"error: {out} holds a corpus with another seed 1 (not 5): write into "
                                               "another --out, or pass --force to replace it")
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before, "nothing was touched"

    assert main(["--out", str(out), "--scale", "0.01", "--seed", "5", "--force", "--workers", "2"]) == 0
    sidecars = [json.loads(p.read_text()) for p in out.glob("*/*/*.json")]
    assert len(sidecars) == sum(sum(split_counts(split, 0.01).values()) for split in SPLITS)
    assert {meta["seed"] for meta in sidecars} == {5} and json.loads((out / "corpus.json").read_text())["seed"] == 5

    (out / "corpus.json").unlink()  # an interrupted run of seed 5 ...
    (out / STARTED).write_text(json.dumps({"seed": 5, "scale": 0.01}))
    assert main(["--out", str(out), "--scale", "0.01", "--seed", "1"]) == 2  # ... is not mixed with seed 1
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("not a corpus")
    assert main(["--out", str(tmp_path / "mine"), "--scale", "0.01"]) == 2
    assert "holds other files" in capsys.readouterr().err

# --- counterfactual edits --------------------------------------------------------------------------------------------

def test_edits_remove_scale_or_set_the_chosen_aus_in_the_chosen_frames():
    aus = np.full((10, len(AU_NAMES)), 0.4)
    mouth = [i for i, name in enumerate(AU_NAMES) if AU_REGIONS[name] == "mouth"]
    assert AUEdit("mouth").aus == tuple(AU_NAMES[i] for i in mouth) and AUEdit("AU12").aus == ("AU12",)
    smile = AU_NAMES.index("AU12")
    removed = AUEdit("AU12").apply(aus)
    assert (removed[:, smile] == 0).all() and np.delete(removed, smile, 1).min() == 0.4
    scaled = AUEdit("mouth", "scale", 3.0, frames=(2, 5)).apply(aus)
    assert (scaled[2:5, mouth] == 1.0).all() and (scaled[:2] == 0.4).all() and (scaled[5:] == 0.4).all()
    assert (AUEdit("AU45", "set", 0.9).apply(aus)[:, AU_NAMES.index("AU45")] == 0.9).all()
    assert (aus == 0.4).all()  # the input is left as it was
    for bad in (dict(target="AU99"), dict(target="AU12", op="double"), dict(target="AU12", frames=(5, 5))):
        with pytest.raises(ValueError):
            AUEdit(**bad)


def test_an_empty_edit_draws_the_very_same_clip(clips_by_class):
    original = clips_by_class["Happy"]
    for nothing in ((), []):
        again = render_clip(SEED, "Val", original.meta["index"], edit=nothing)
        assert np.array_equal(again.frames, original.frames) and again.meta == original.meta
    assert "edits" not in original.meta


def test_removing_an_au_changes_its_region_only_and_the_sidecar_says_so(clips_by_class):
    original = clips_by_class["Happy"]
    edited = render_clip(SEED, "Val", original.meta["index"], edit=AUEdit("AU12"))
    meta, apex = edited.meta, original.meta["apex_frame"]
    smile = AU_NAMES.index("AU12")

    change = np.abs(edited.frames.astype(int) - original.frames.astype(int)).max(-1)  # (N, H, W)
    x0, y0, x1, y1 = original.meta["regions"]["mouth"][apex]
    assert (change[apex, y0:y1, x0:x1] > 10).sum() >= 50  # the mouth corners no longer rise
    above_the_mouth = original.meta["regions"]["eyes"][apex][3]
    assert not (change[apex, :above_the_mouth] > 10).any()  # brows and eyes as they were
    for frame, (fx0, fy0, fx1, fy1) in zip(change, original.meta["face_box"]):
        outside = np.ones(frame.shape, bool)
        outside[fy0:fy1, fx0:fx1] = False
        assert not frame[outside].any()  # background, light and noise are the same draws

    assert meta["edits"] == [{"target": "AU12", "op": "remove", "value": 0.0, "frames": None}]
    assert json.loads(json.dumps(meta))["edits"] == meta["edits"]
    au, before = np.array(meta["au"]), np.array(original.meta["au"])
    assert before[:, smile].max() > 0.2 and (au[:, smile] == 0).all()
    assert np.array_equal(np.delete(au, smile, 1), np.delete(before, smile, 1))
    assert (edited.drawn_au[:, smile] == 0).all()
    assert np.array_equal(np.delete(edited.drawn_au, smile, 1), np.delete(original.drawn_au, smile, 1))
