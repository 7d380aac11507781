import json
import shutil
from collections import Counter

import pandas as pd
import pytest
import torch
from torch import nn

from cli.concepts import main
from lab.concepts import (
    COLUMNS,
    ConceptSettings,
    agreement,
    class_sentence,
    compare_with_interventions,
    network_layers,
    prototype_role,
    tcav_table,
)
from model.checkpoint import load_checkpoint
from model.config import CLASSES

DIM = 8
PLANTED, DECOY = 0, 3  # the input feature class 0 reads, and one that no class reads


class Planted(nn.Module):
    """Two inputs, as the two-stream network has. Class 0's logit grows with feature 0 of the ``hidden`` layer (the
    planted concept raises it); both classes read a product of features 1 and 2 that no concept moves, so the
    gradients vary from example to example, and a little of the second input."""

    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(DIM, DIM)
        with torch.no_grad():
            self.hidden.weight.copy_(torch.eye(DIM))
            self.hidden.bias.zero_()

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.hidden(x)
        shared = torch.tanh(h[:, 1]) * h[:, 2] + 0.1 * y.sum(1)
        return torch.stack([3 * torch.tanh(h[:, PLANTED]) + shared, shared], dim=1)


def examples(generator: torch.Generator, n: int, raised: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(n, DIM, generator=generator)
    if raised is not None:
        x[:, raised] += 3
    return x, torch.randn(n, 3, generator=generator)


def test_tcav_finds_the_planted_concept_only_where_the_class_reads_it():
    g = torch.Generator().manual_seed(0)
    model = Planted()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    explained = examples(g, 40)
    table = tcav_table(model, {"hidden": "hidden"},
                       {"planted": examples(g, 20, PLANTED), "decoy": examples(g, 20, DECOY)},
                       [examples(g, 20) for _ in range(12)],
                       {"reads it": (0, explained), "ignores it": (1, explained)}, ConceptSettings(batch_size=8))
    assert list(table.columns) == COLUMNS and len(table) == 4
    rows = table.set_index(["class", "concept"])
    found = rows.loc[("reads it", "planted")]
    assert found.significant and found.tcav_score > 0.9 and found.magnitude > 0
    assert rows.p_value.drop(("reads it", "planted")).min() > 0.05  # the decoy, and the class that ignores both
    # Captum's hooks are gone and the weights untouched
    assert all(not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks for m in model.modules())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_tcav_needs_a_baseline_and_two_random_concepts():
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="at least 3 random concepts"):
        tcav_table(Planted(), {"hidden": "hidden"}, {"planted": examples(g, 4, PLANTED)},
                   [examples(g, 4) for _ in range(2)], {"reads it": (0, examples(g, 4))})


def test_the_command_scores_every_au_concept_at_both_streams_and_the_fusion(tiny_corpus, tiny_checkpoint, tmp_path,
                                                                            capsys):
    out = tmp_path / "concepts.csv"
    assert main(["--checkpoint", str(tiny_checkpoint), "--data", str(tiny_corpus), "--out", str(out), "--split", "Val",
                 "--cache", str(tmp_path / "cache"), "--clips-per-concept", "2", "--min-clips", "2",
                 "--random-concepts", "3", "--explained-clips", "1"]) == 0
    table = pd.read_csv(out)
    assert list(table.columns) == [*COLUMNS, "prototype"]
    model, _, _ = load_checkpoint(tiny_checkpoint)
    assert dict(zip(table.layer, table.module)) == network_layers(model) == {
        "spatial": "spatial.temporal", "temporal": "temporal.stages", "fusion": "fusion"}
    assert set(table["class"]) == set(CLASSES)
    threshold = ConceptSettings().active_threshold  # AUs clearly active at the apex of two Train clips or more
    metas = [json.loads(path.read_text()) for path in tiny_corpus.glob("Train/*/*.json")]
    counts = Counter(au for m in metas for au, value in zip(m["au_names"], m["au"][m["apex_frame"]])
                     if value >= threshold)
    expected = {au for au, n in counts.items() if n >= 2}
    assert set(table.concept) == expected and len(expected) > 3 and "AU45" not in expected  # a blink, no expression
    assert len(table) == 3 * len(CLASSES) * len(expected) and table.tcav_score.between(0, 1).all()
    assert (table.prototype.fillna("") == [prototype_role(c, au) for c, au in zip(table["class"], table.concept)]).all()
    assert table.prototype[(table["class"] == "Happy") & (table.concept == "AU12")].all()
    assert not table.prototype[table["class"] == "Neutral"].any()
    printed = capsys.readouterr().out
    assert "left out" in printed and "AU45 (0)" in printed and "Happy    fusion   rises with:" in printed


def test_bad_input_is_answered_in_one_line_with_exit_code_2(tiny_corpus, tiny_checkpoint, tmp_path, capsys):
    def run(checkpoint, data) -> str:
        assert main(["--checkpoint", str(checkpoint), "--data", str(data), "--out", str(tmp_path / "x.csv")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err
        return err

    assert "is not a checkpoint" in run(tmp_path / "missing", tiny_corpus)
    assert "is not a folder" in run(tiny_checkpoint, tmp_path / "missing")
    plain = tmp_path / "plain"  # AFEW's layout without the embedded corpus's sidecars
    for split in ("Train", "Val"):
        clip = next((tiny_corpus / split / "Happy").glob("*.avi"))
        (plain / split / "Happy").mkdir(parents=True)
        shutil.copy(clip, plain / split / "Happy" / clip.name)
    assert "AU sidecar" in run(tiny_checkpoint, plain)
    assert not (tmp_path / "x.csv").exists()


def test_help_names_the_command(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["-h"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("usage: python -m cli.concepts")


def test_tcav_is_compared_with_what_the_interventions_measured():
    tcav = pd.DataFrame({"layer": "fusion", "class": "Happy", "concept": ["AU12", "AU6", "AU4"],
                         "magnitude": [0.3, 0.1, -0.2], "significant": [True, True, True]})
    dependence = pd.DataFrame({"label": "Happy", "attention": "on", "target": ["AU12", "AU6", "AU45"],
                               "drop": [0.9, 0.01, 0.2], "changes": [1.0, 0.0, 0.1], "clips": [10, 9, 10]})
    table = compare_with_interventions(tcav, dependence).set_index("concept")
    assert table.loc["AU12", ["prototype", "fusion", "depends"]].tolist() == ["core", "rises", True]
    assert table.loc["AU6", ["prototype", "fusion", "depends"]].tolist() == ["optional", "rises", False]
    assert table.loc["AU4", "fusion"] == "falls" and pd.isna(table.loc["AU4", "drop"])  # not in the clips
    assert pd.isna(table.loc["AU45", "fusion"])  # no TCAV concept: blinks are never clearly active at an apex
    assert agreement(table.reset_index(), "fusion") == {"pairs": 2, "found": 1.0, "confirmed": 0.5}


def test_each_class_gets_a_sentence_from_the_interventions_and_tcav():
    tcav = pd.DataFrame({"layer": "fusion", "class": "Happy", "concept": ["AU12", "AU6", "AU1"],
                         "magnitude": [0.3, 0.1, 0.2], "significant": [True, False, True]})
    dependence = pd.DataFrame({"label": ["Happy"] * 3 + ["Neutral", "Sad"], "attention": "absent",
                               "target": ["AU12", "AU6", "AU1", "AU12", "AU15"], "drop": [0.9, 0.3, 0.01, 0.0, 0.02],
                               "changes": 0.5, "clips": 10})
    table = compare_with_interventions(tcav, dependence)  # a model without the module: its one mode, "absent"
    assert class_sentence(table, "Happy") == (
        "**Happy** depends most on AU12 lip corner puller (90% lost when removed) and AU6 cheek raiser (30% lost when "
        "removed), all in its recipe. TCAV at the fusion layer (after the attention module) finds AU12 and misses "
        "AU6.")  # AU1 costs 1%: under DEPENDS, so not named
    assert class_sentence(table, "Neutral").startswith("**Neutral**: its recipe draws no action unit")
    assert class_sentence(table, "Sad").startswith("**Sad**: removing no single action unit costs it 5% or more")
