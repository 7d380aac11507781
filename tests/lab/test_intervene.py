"""Interventional explanations: counterfactual clips drawn, processed and predicted, and the command around them."""
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from cli.intervene import main
from lab.intervene import (
    COLUMNS,
    CorpusClip,
    causal_effects,
    class_dependence,
    corpus_clip,
    model_predictors,
    removal_edits,
)
from model.config import CLASSES
from model.data.corpus import AU_NAMES, AUEdit, corpus_index
from tests.conftest import TINY_PROCESS
from tests.lab_env import REPO, tiny_model

SURPRISE = CLASSES.index("Surprise")


def jaw_drop_alone() -> CorpusClip:
    """A Val clip of seed 0 with every AU removed, then the jaw dropped (AU26) from frame 25 on: its only active AU."""
    index = next(spec.index for spec in corpus_index(0, "Val") if spec.label == "Neutral")
    nothing = tuple(AUEdit(name) for name in AU_NAMES)
    return CorpusClip(0, "Val", index, edits=(*nothing, AUEdit("AU26", "set", 1.0, frames=(25, 99))))


def motion_reader(rows: tuple[float, float]):
    """A predictor that says Surprise the more strongly a band of the face crops moves (``rows``: its top and bottom
    as fractions of the crop height): the strongest flow in that band over all fields, read from the processed clip."""
    def predict(rgb: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        size = flow.shape[-1]
        band = flow[..., int(rows[0] * size):int(rows[1] * size), size // 4:3 * size // 4]
        peak = band.norm(dim=1).mean(dim=(-2, -1)).amax(dim=1)  # (B,)
        logits = torch.zeros(len(flow), len(CLASSES))
        logits[:, SURPRISE] = 10 * peak
        return logits.softmax(1)
    return predict


def test_removing_the_only_active_au_moves_a_predictor_that_reads_it_and_not_one_that_ignores_it():
    clip = jaw_drop_alone()
    lower_face = causal_effects(clip, {"on": motion_reader((0.6, 0.95))}, TINY_PROCESS)
    upper_face = causal_effects(clip, {"on": motion_reader((0.1, 0.35))}, TINY_PROCESS)
    for table in (lower_face, upper_face):
        assert list(table.columns) == COLUMNS
        assert set(zip(table["target"], table["kind"])) == {("AU26", "au"), ("chin", "region")}
        assert len(table) == 2 * len(CLASSES)
        assert (table["effect"] == table["p_edited"] - table["p_original"]).all()
    surprise = lower_face[lower_face["class"] == "Surprise"]
    assert (surprise["p_original"] > 0.8).all() and (surprise["effect"] < -0.2).all(), surprise
    assert upper_face["effect"].abs().max() < 0.05, upper_face


def test_present_aus_are_removed_one_by_one_then_by_region():
    drawn = np.zeros((5, len(AU_NAMES)))
    drawn[2, AU_NAMES.index("AU12")], drawn[:, AU_NAMES.index("AU6")] = 0.5, 0.09
    drawn[4, AU_NAMES.index("AU1")] = 0.1
    assert [edit.target for edit in removal_edits(drawn)] == ["AU1", "AU12", "brows", "mouth"]


def test_model_predictors_switch_the_attention_module_without_changing_the_model():
    model = tiny_model().eval()  # its module's up-projections are random: bypassing it matters
    before = {name: value.clone() for name, value in model.state_dict().items()}
    rgb, flow = torch.randn(3, 3, 8, 32, 32), torch.randn(3, 2, 7, 32, 32)
    predictors = model_predictors(model, batch_size=2)
    on, off = predictors["on"](rgb, flow), predictors["bypassed"](rgb, flow)
    assert on.shape == (3, len(CLASSES)) and torch.allclose(on.sum(1), torch.ones(3))
    assert not torch.allclose(on, off)
    assert not model.training and all(torch.equal(before[n], v) for n, v in model.state_dict().items())
    assert list(model_predictors(tiny_model(attention="absent"))) == ["absent"]


def test_a_corpus_clip_is_drawn_again_exactly_as_it_was_written(tiny_corpus):
    path = sorted((tiny_corpus / "Val" / "Happy").glob("*.avi"))[0]
    clip = corpus_clip(path)
    assert clip.name == path.stem
    assert json.loads(json.dumps(clip.render().meta)) == json.loads(path.with_suffix(".json").read_text())


def test_the_command_writes_the_effects_of_a_clip(tiny_corpus, tiny_checkpoint, tmp_path, capsys):
    path = sorted((tiny_corpus / "Test" / "Surprise").glob("*.avi"))[0]
    out = tmp_path / "effects.csv"
    code = main(["--checkpoint", str(tiny_checkpoint), "--data", str(tiny_corpus), "--clips", path.stem,
                 "--threshold", "0.4", "--out", str(out)])
    assert code == 0 and str(out) in capsys.readouterr().out
    table = pd.read_csv(out)
    edits = removal_edits(corpus_clip(path).render().drawn_au, 0.4)
    assert list(table.columns) == COLUMNS and len(table) == len(edits) * 2 * len(CLASSES) > 0
    assert set(table["target"]) == {edit.target for edit in edits} and set(table["attention"]) == {"on", "bypassed"}
    assert (table["clip"] == path.stem).all() and (table["label"] == "Surprise").all()
    assert [p.name for p in tmp_path.iterdir()] == ["effects.csv"]  # written atomically: no temporary left


def one_line(text: str) -> bool:
    return text.startswith("error: ") and "\n" not in text.strip() and "Traceback" not in text


@pytest.mark.parametrize("bad, expected", [
    ("checkpoint", "is not a checkpoint"),
    ("data", "is not a folder"),
    ("clips", "test_99999 is not a clip of the corpus"),
])
def test_bad_input_is_answered_in_one_line_with_exit_code_2(bad, expected, tiny_corpus, tiny_checkpoint, tmp_path,
                                                            capsys):
    arguments = {"checkpoint": str(tiny_checkpoint), "data": str(tiny_corpus), "clips": "test_00000"}
    arguments[bad] = "test_99999" if bad == "clips" else str(tmp_path / "missing")
    code = main([part for name, value in arguments.items() for part in (f"--{name}", value)] +
                ["--out", str(tmp_path / "effects.csv")])
    err = capsys.readouterr().err
    assert code == 2 and one_line(err) and expected in err, err
    assert not (tmp_path / "effects.csv").exists()


def test_the_module_runs_as_a_command():
    done = subprocess.run([sys.executable, "-m", "cli.intervene", "-h"], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("usage: python -m cli.intervene")
    assert "--clips" in done.stdout and "--count" in done.stdout


def test_class_dependence_averages_the_true_class_drop_and_counts_changed_predictions():
    rows = []
    for clip, (before, after) in {"a": (0.9, 0.1), "b": (0.8, 0.7)}.items():
        for name, p_original, p_edited in (("Happy", before, after), ("Neutral", 1 - before, 1 - after)):
            rows.append({"clip": clip, "label": "Happy", "target": "AU12", "kind": "au", "attention": "on",
                         "class": name, "p_original": p_original, "p_edited": p_edited,
                         "effect": p_edited - p_original})
    rows.append(dict(rows[0], target="mouth", kind="region"))  # regions are not AUs: left out
    summary = class_dependence(pd.DataFrame(rows))
    assert summary.to_dict("records") == [pytest.approx(
        {"label": "Happy", "attention": "on", "target": "AU12", "drop": 0.45, "changes": 0.5, "clips": 2})]
