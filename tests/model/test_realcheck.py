"""Scoring a checkpoint on a real-face set: every clip through the upload path, per clip and per person."""
import pandas as pd

from cli import realcheck as realcheck_command
from model import realcheck
from tests.model.test_realfaces import _build, tiny  # noqa: F401 (the fixture)


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
    table = pd.DataFrame({"person": ["a", "a", "b", "c", "d"], "confidence": [0.9, 0.9, 0.5, 0.5, 0.6],
                          "correct": [True, True, False, True, True], "other_doubts": [0, 0, 0, 0, 1]})
    held_out = realcheck.held_out_reliable(table)
    # Without a (or c), the others need 0.55 for 85% right: b's wrong 0.5 must go. Without b, every other clip is
    # right, so 0.40 does: b, wrong, is called reliable, as a cut-off calibrated on other people can do.
    assert held_out.tolist() == [True, True, True, False, False], "c under its cut-off; d has another doubt"
