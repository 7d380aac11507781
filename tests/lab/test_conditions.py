import json
import re
import shutil

import pandas as pd
import pytest

from cli.conditions import main
from lab.conditions import accuracy_by_condition, accuracy_by_condition_and_split, clip_conditions

OCCLUDER = [10, 10, 20, 20]


def meta(peak: float, occluded_frames: set[int], offset: int | None = None) -> dict:
    return {"au": [[0.0, 0.0], [peak / 2, peak / 5], [peak, 0.0], [0.0, 0.0]], "apex_frame": 2, "offset_frame": offset,
            "occluder": [OCCLUDER if i in occluded_frames else None for i in range(4)]}


def test_clip_conditions_read_occluder_intensity_and_offset_from_the_sidecar():
    assert clip_conditions(meta(0.9, {2, 3}, offset=3)) == {
        "occluder over the face": "at the apex", "expression intensity (peak AU)": "strong (>= 0.7)",
        "fades back to neutral": "yes"}
    assert clip_conditions(meta(0.5, {0}))["occluder over the face"] == "only in other frames"
    assert clip_conditions(meta(0.4, set()))["expression intensity (peak AU)"] == "subtle (< 0.45)"
    neutral = clip_conditions(meta(0.0, set()))
    assert neutral["occluder over the face"] == "never" and neutral["fades back to neutral"] == "no"
    assert neutral["expression intensity (peak AU)"] == "none (Neutral)"


def predictions(corpus, split: str, wrong: int) -> pd.DataFrame:
    """A prediction table in model.evaluate's format, right on every clip of a split but the first ``wrong``."""
    clips = sorted(corpus.glob(f"{split}/*/*.avi"))
    labels = [clip.parent.name for clip in clips]
    predicted = ["Neutral" if label != "Neutral" else "Happy" for label in labels[:wrong]] + labels[wrong:]
    return pd.DataFrame({"clip": [str(clip.relative_to(corpus)) for clip in clips], "split": split,
                         "label": labels, "prediction": predicted})


def test_every_condition_counts_every_clip_once_and_accuracy_follows_the_errors(tiny_corpus):
    table = predictions(tiny_corpus, "Test", wrong=2)
    result = accuracy_by_condition(table, tiny_corpus)
    assert set(result["condition"]) == set(clip_conditions(json.loads(
        (tiny_corpus / table["clip"][0]).with_suffix(".json").read_text())))
    for _, rows in result.groupby("condition"):
        assert rows["clips"].sum() == len(table)
        assert (rows["clips"] * rows["accuracy"]).sum() == pytest.approx(len(table) - 2)
    assert (result["accuracy"] < 1).any()

    side_by_side = accuracy_by_condition_and_split({"Test": table, "Val": predictions(tiny_corpus, "Val", 0)},
                                                   tiny_corpus)
    assert list(side_by_side.columns[2:]) == ["Val clips", "Val accuracy", "Test clips", "Test accuracy"]
    assert (side_by_side["Val accuracy"].dropna() == 1).all()


def test_a_corpus_without_sidecars_has_no_conditions(tiny_corpus, tmp_path, capsys):
    table = predictions(tiny_corpus, "Test", wrong=0)
    for clip in table["clip"]:
        (tmp_path / clip).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(tiny_corpus / clip, tmp_path / clip)
    assert accuracy_by_condition(table, tmp_path).empty
    table.to_csv(tmp_path / "Test.csv", index=False)
    assert main([str(tmp_path / "Test.csv"), "--data", str(tmp_path)]) == 2
    assert re.match(r"error: no clip of .* has a sidecar", capsys.readouterr().err)


def test_a_file_that_is_not_a_prediction_table_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "notes.csv").write_bytes(b"\x00\xff not, a\ntable")
    for path in (tmp_path / "notes.csv", tmp_path / "missing.csv", tmp_path):
        assert main([str(path), "--data", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert re.match(r"error: .* is not a prediction table.*cli.evaluate --out", err) and err.count("\n") == 1


def test_the_command_prints_one_row_per_condition_value(tiny_corpus, tmp_path, capsys):
    predictions(tiny_corpus, "Test", wrong=1).to_csv(tmp_path / "Test.csv", index=False)
    main([str(tmp_path / "Test.csv"), "--data", str(tiny_corpus)])
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split()[:2] == ["condition", "value"]
    assert len(printed) - 1 == len(accuracy_by_condition(pd.read_csv(tmp_path / "Test.csv"), tiny_corpus))
