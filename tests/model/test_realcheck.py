"""Scoring a checkpoint on a real-face set: every clip through the upload path, per clip and per person."""
import shutil

import pandas as pd
import pytest

from cli import realcheck as realcheck_command
from model import realcheck
from model.reliability import Calibration, calibrate
from tests.model.data.test_realfaces import _build, tiny  # noqa: F401 (the fixture)


def test_every_clip_is_scored_and_faceless_ones_are_flagged(tiny, tiny_checkpoint, capsys):  # noqa: F811
    out = _build(tiny, tiny["root"] / "set")
    table = realcheck.score(tiny_checkpoint, out)
    assert sorted(table["clip"]) == ["apt-sad", "npm-happy", "repo-angry", "sdist-happy", "talk-neutral",
                                   "talk-surprise"]
    assert (table.correct == (table.label == table.prediction)).all()
    assert not table.reliable.any()  # the tiny clips hold no face: centre-cropped, never called trustworthy
    people = realcheck.per_person(table)
    classes = realcheck.per_class(table)
    assert classes.clips.iloc[-1] == 6 and classes.group.iloc[-1] == "all"
    assert people.clips.sum() == 6 and set(people.group) == {"p1", "p2", "p3", "p4", "p5"}
    assert realcheck_command.main(["--checkpoint", str(tiny_checkpoint), "--data", str(out)]) == 0
    assert "flagged unreliable" in capsys.readouterr().out


def test_a_folder_that_is_not_a_real_face_set_is_one_line(tmp_path, tiny_checkpoint, capsys):
    assert realcheck_command.main(["--checkpoint", str(tiny_checkpoint), "--data", str(tmp_path)]) == 2
    assert "make realfaces" in capsys.readouterr().err


def test_the_held_out_cut_off_is_chosen_without_the_persons_own_clips():
    table = pd.DataFrame({"person": ["a", "a", "b", "c", "d", "e"], "confidence": [0.9, 0.9, 0.5, 0.5, 0.95, 0.7],
                          "correct": [True, True, False, True, False, True], "other_doubts": [0, 0, 0, 0, 1, 0]})
    held_out = realcheck.held_out_reliable(table)
    # Without a (or c, or e), the others need 0.55 for 85% right: b's wrong 0.5 must go (d's confident wrong answer
    # has another doubt, so it plays no part). Without b, every other clip is right, so 0.40 does: b, wrong, is called
    # reliable, as a cut-off calibrated on other people can do.
    assert held_out.tolist() == [True, True, True, False, False, True], "c under its cut-off; d has another doubt"


def test_the_cut_off_is_chosen_on_the_answers_that_pass_every_other_check():
    table = pd.DataFrame({"confidence": [0.9, 0.9, 0.5, 0.95, 0.95], "correct": [True, True, False, False, False],
                          "other_doubts": [0, 0, 0, 1, 2]})
    # On every answer no cut-off reaches 85% right (0.95 is the fallback); the two confident wrong answers are
    # already unreliable for other reasons, and among the rest 0.55 leaves the two right ones.
    assert realcheck.reliable_cutoff(table) == 0.55


def test_calibrating_the_confidence_writes_the_cut_off_the_table_is_judged_by(
        tiny, tiny_checkpoint, tiny_corpus, tmp_path):  # noqa: F811
    checkpoint = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, checkpoint)
    real = _build(tiny, tiny["root"] / "set")
    with pytest.raises(FileNotFoundError, match="cli.calibrate"):
        realcheck.calibrate_confidence(checkpoint, real)
    calibrate(checkpoint, tiny_corpus, real, workers=1)
    cutoff, table = realcheck.calibrate_confidence(checkpoint, real)
    assert Calibration.read(checkpoint).min_confidence == cutoff == realcheck.reliable_cutoff(table)
    assert cutoff == 0.95 and not table.reliable.any()  # no tiny clip holds a face: none passes the other checks
    assert (realcheck.score(checkpoint, real).reliable == table.reliable).all()
