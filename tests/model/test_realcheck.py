"""Scoring a checkpoint on a real-face set: every clip through the upload path, per clip and per person."""
from cli import realcheck as realcheck_command
from model import realcheck
from tests.model.test_realfaces import _build, tiny  # noqa: F401 (the fixture)


def test_every_clip_is_scored_and_faceless_ones_are_flagged(tiny, tiny_checkpoint, capsys):  # noqa: F811
    out = _build(tiny, tiny["root"] / "set")
    table = realcheck.score(tiny_checkpoint, out)
    assert sorted(table["clip"]) == ["apt-sad", "npm-happy", "sdist-happy", "talk-neutral", "talk-surprise"]
    assert (table.correct == (table.label == table.prediction)).all()
    assert not table.reliable.any()  # the tiny clips hold no face: centre-cropped, never called trustworthy
    people = realcheck.per_person(table)
    assert people.clips.sum() == 5 and set(people.person) == {"p1", "p2", "p3", "p4"}
    assert realcheck_command.main(["--checkpoint", str(tiny_checkpoint), "--data", str(out)]) == 0
    assert "flagged unreliable" in capsys.readouterr().out


def test_a_folder_that_is_not_a_real_face_set_is_one_line(tmp_path, tiny_checkpoint, capsys):
    assert realcheck_command.main(["--checkpoint", str(tiny_checkpoint), "--data", str(tmp_path)]) == 2
    assert "make realfaces" in capsys.readouterr().err
