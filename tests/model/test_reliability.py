"""The reliability panel on constructed cases: each check fires on the clip built to trip it, and only there."""
import json

import numpy as np
import pytest
import torch

from cli import predict
from model.data.processing import process_frames
from model.predict import Predictor
from model.reliability import CALIBRATION_FILE, Calibration, assess, fit
from tests.conftest import TINY_PROCESS
from tests.model.data.test_video import background, draw_face, face_frames, write_video

GOOD = dict(detection_rate=0.95, track_coverage=1.0, scene_cuts=0, num_faces_seen=1, shots_with_face=1, num_frames=48,
            frames_skipped=0)


def test_a_clean_clip_is_reliable():
    verdict = assess(GOOD, unfamiliarity=0.4)
    assert verdict.reliable and verdict.reasons == []


@pytest.mark.parametrize("change, words", [
    (dict(center_crop=True), "no face was detected"),
    (dict(detection_rate=0.3), "only 30%"),
    (dict(track_coverage=0.5), "50% of the frames show no face"),
    (dict(scene_cuts=2), "2 scene cuts"),
    (dict(num_faces_seen=3), "several people"),
    (dict(shots_with_face=2), "several people"),
    (dict(num_frames=1), "a single frame"),
    (dict(num_frames=10, frames_skipped=38), "38 of its 48 frames were dropped"),
])
def test_each_check_fires_on_its_own_case(change, words):
    verdict = assess({**GOOD, **change}, unfamiliarity=0.4, confidence=0.9)
    assert not verdict.reliable and len(verdict.reasons) == 1 and words in verdict.reasons[0]


def test_every_panel_row_shows_the_threshold_it_is_judged_by():
    from lab import trust

    rows = trust.panel(assess({**GOOD, "num_frames": 1}, unfamiliarity=0.995, confidence=0.9)).set_index("check")
    assert rows.loc["Frames read", "trusted when"] == "at least 2, at most 50% dropped"
    assert rows.loc["Frames read", "verdict"] == "weak"
    assert rows.loc["Unlike the clips the model was checked on", "measured"] == "more unusual than 100% of them"
    assert rows.loc["Unlike the clips the model was checked on", "trusted when"] == "more usual than 99% of them"
    assert rows.loc["Face found by the detector", "trusted when"] == "at least 50%"
    assert (rows["trusted when"] != "").all()


def test_the_confidence_cutoff_is_the_lowest_that_keeps_85_percent_right():
    from model.reliability import confidence_cutoff

    confidence = np.array([0.45, 0.55, 0.62, 0.71, 0.82, 0.9, 0.95, 0.97, 0.99, 0.99])
    correct = np.array([0, 0, 1, 0, 1, 1, 1, 1, 1, 1], bool)
    assert confidence_cutoff(confidence, correct) == 0.6  # 7 of 8 right from 0.60 on (0.875); 7 of 9 from 0.50
    assert confidence_cutoff(confidence, correct, accuracy=0.9) == 0.75  # 6 of 7 from 0.65 (0.857), 6 of 6 here
    assert confidence_cutoff(confidence, np.zeros(10, bool)) == 0.95
    verdict = assess(GOOD, unfamiliarity=0.4, confidence=0.7, min_confidence=0.75)
    assert "only 70%" in verdict.reasons[0] and verdict.min_confidence == 0.75


def test_a_hesitant_model_is_flagged():
    assert assess(GOOD, 0.4, confidence=0.9).reliable
    assert "only 18%" in assess(GOOD, 0.4, confidence=0.18).reasons[0]


def test_unfamiliar_clips_are_flagged_and_calibration_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 5, (3, 16))
    labels = torch.tensor(np.repeat(np.arange(3), 200))
    train = torch.tensor(centres[labels] + rng.normal(0, 1, (600, 16)), dtype=torch.float32)
    val = torch.tensor(centres[np.arange(300) % 3] + rng.normal(0, 1, (300, 16)), dtype=torch.float32)
    calibration = fit(train, labels, {"val": val})
    near = torch.tensor(centres[:1] + rng.normal(0, 1, (1, 16)), dtype=torch.float32)
    far = torch.tensor(centres[:1] + 8.0, dtype=torch.float32)  # 8 standard deviations off in every feature
    assert calibration.unfamiliarity(near).item() < 0.99 <= calibration.unfamiliarity(far).item()
    assert "unlike the clips" in assess(GOOD, calibration.unfamiliarity(far).item()).reasons[0]
    (tmp_path / CALIBRATION_FILE).write_bytes(calibration.to_bytes())
    again = Calibration.read(tmp_path)
    assert again.sources == {"val": 300} and torch.equal(again.unfamiliarity(far), calibration.unfamiliarity(far))
    assert Calibration.read(tmp_path / "elsewhere") is None


def test_processing_counts_the_shots_that_show_a_face():
    frames = []
    for i in range(24):
        image = background(240, 320, seed=0 if i < 12 else 1) // (1 if i < 12 else 3)
        draw_face(image, (100, 120) if i < 12 else (220, 120), 90)
        frames.append(image)
    clip = process_frames(np.stack(frames), 25.0, TINY_PROCESS)
    verdict = assess(clip.stats, None)
    assert clip.stats["shots_with_face"] == 2 and verdict.scene_cuts == 1 and not verdict.reliable


def test_predict_json_says_a_centre_cropped_stripe_clip_cannot_be_trusted(tmp_path, tiny_checkpoint, capsys):
    stripes = np.zeros((30, 120, 160, 3), np.uint8)
    for i in range(30):
        stripes[i, :, ((np.arange(160) + 3 * i) // 8) % 2 == 0] = 255  # moving stripes, no face anywhere
    path = tmp_path / "stripes.mp4"
    write_video(path, stripes)
    assert predict.main([str(path), "--checkpoint", str(tiny_checkpoint), "--center-crop", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["reliable"] is False and result["reliability"]["face_detection_rate"] == 0.0
    assert "no face was detected" in result["reliability"]["reasons"][0]


def test_predict_table_warns_in_words(tmp_path, tiny_checkpoint, capsys):
    path = tmp_path / "face.mp4"
    write_video(path, face_frames(count=30)[0])
    assert predict.main([str(path), "--checkpoint", str(tiny_checkpoint)]) == 0
    out = capsys.readouterr().out
    result = Predictor.load(tiny_checkpoint).predict_file(path).to_dict()
    assert result["reliability"]["unfamiliarity"] is None  # the tiny checkpoint has no calibration
    assert ("cannot be trusted" in out) == (not result["reliable"])
    assert out.strip().endswith(result["real_face"]["note"]), "the real-face networks' own reading, last"
