"""The Overview's content: the architecture diagram, the ablation table and its takeaway in words."""
import json
import re

import pytest

from lab import model_card
from lab.model_card import architecture_dot
from model import ablation
from model.config import ModelConfig, ProcessConfig
from tests.model.test_ablation import run_result, write_runs


def test_diagram_draws_only_the_parts_the_checkpoint_has():
    full = architecture_dot(ModelConfig())
    assert "Inter-stream attention" in full and "Per-stream classifiers" in full
    assert "4×4 face grid" in full  # shapes follow the config: 64x64 crops end as a 4x4 grid
    bare = architecture_dot(ModelConfig(attention="absent", stream_heads=False))
    assert "Inter-stream attention" not in bare and "Per-stream classifiers" not in bare
    assert "spatial -> fusion" in bare
    assert "Per-stream classifiers" not in architecture_dot(ModelConfig(streams="temporal"))
    assert "5 landmarks" in full and "5 landmarks" not in architecture_dot(ModelConfig(), ProcessConfig(align=False))


def test_diagram_stays_legible_at_the_width_of_a_1280_window():
    for config in (ModelConfig(), ModelConfig(spatial_backbone="cnn", stream_heads=False)):
        dot = architecture_dot(config)
        assert "rankdir=LR" in dot
        assert int(re.search(r"node \[[^]]*fontsize=(\d+)", dot).group(1)) >= 14
        lines = [line for label in re.findall(r'label="([^"]*)"', dot) for line in label.split("\\n")]
        assert max(map(len, lines)) <= 22, "short lines: the diagram is scaled to the page's width"


def variants(with_=(0.9668, 0.0039), without=(0.9714, 0.0094), off=(0.9326, 0.0132), seeds=(3, 3)) -> dict:
    """ablation.json's "variants" as model.ablation writes them: (mean, std) of Test WAR per variant."""
    def summary(figures, n):
        return {"seeds": list(range(n)), "war": figures[0], "war_std": figures[1] if n > 1 else 0.0,
                "uar": figures[0], "uar_std": figures[1] if n > 1 else 0.0}

    attention = {"description": ablation.VARIANTS["two_stream_attention"][0], "runs": [{}] * seeds[0],
                 "test": summary(with_, seeds[0])}
    if off is not None:
        attention[ablation.BYPASSED_KEY] = summary(off, seeds[0])
    return {"two_stream_no_attention": {"description": ablation.VARIANTS["two_stream_no_attention"][0],
                                        "runs": [{}] * seeds[1], "test": summary(without, seeds[1])},
            "two_stream_attention": attention}


def takeaway(tmp_path, **kwargs) -> str:
    path = tmp_path / "ablation.json"
    path.write_text(json.dumps({"variants": variants(**kwargs)}))
    return model_card.ablation_takeaway(path)


def test_the_takeaway_says_the_module_does_not_help_when_the_difference_is_within_the_spread(tmp_path):
    assert takeaway(tmp_path) == (
        "With the module: 0.967 ± 0.004 Test WAR over 3 seeds; without it 0.971 ± 0.009, 0.5 points higher, within "
        "the seeds' spread: on this corpus the module does not help; bypassed at inference it costs 3.4 points "
        "(0.933 ± 0.013): the models trained with it lean on it.")
    assert "does not measurably help" in takeaway(tmp_path, with_=(0.975, 0.004))  # ahead, but within the spread


def test_the_takeaway_follows_the_numbers_beyond_the_spread(tmp_path):
    gain = takeaway(tmp_path, with_=(0.99, 0.001), without=(0.95, 0.002), off=None)
    assert "the module adds 4.0 points, more than the seeds' spread" in gain and "bypassed" not in gain
    loss = takeaway(tmp_path, with_=(0.90, 0.001), without=(0.95, 0.002), off=(0.91, 0.001))
    assert "the module costs 5.0 points" in loss and "do no worse (0.910 ± 0.001)" in loss


def test_a_single_seed_has_no_spread_to_judge_by(tmp_path):
    text = takeaway(tmp_path, with_=(0.90, 0.0), without=(0.80, 0.0), off=(0.85, 0.0), seeds=(1, 1))
    assert "±" not in text and "over 1 seed;" in text and "no spread" in text
    assert "(1 seed)" in takeaway(tmp_path, seeds=(1, 3)) and "(3 seeds)" in takeaway(tmp_path, seeds=(1, 3))


def test_no_takeaway_without_both_two_stream_variants(tmp_path):
    path = tmp_path / "ablation.json"
    path.write_text(json.dumps({"variants": {"frame": {}}}))
    assert model_card.ablation_takeaway(path) is None
    assert model_card.ablation_takeaway(tmp_path / "missing.json") is None


def test_the_table_has_the_bypassed_row_from_the_stored_runs_and_no_spread_for_one_seed(tmp_path):
    runs = write_runs(tmp_path / "runs", [
        run_result("temporal", 0, 0.5, 0.4),
        run_result("two_stream_attention", 0, 0.9, 0.8, bypassed=(0.7, 0.6)),
        run_result("two_stream_attention", 1, 0.8, 0.7, bypassed=(0.5, 0.6)),
    ])
    table = ablation.ablation_table(runs, "python -m model.ablation")
    table["rows"] = table["rows"][:2]  # as a file written before the bypassed row existed
    path = tmp_path / "ablation.json"
    path.write_text(json.dumps(table))
    shown = model_card.ablation_table(path)
    assert shown.to_dict("records") == [
        {"model": ablation.VARIANTS["temporal"][0], "seeds": "1 seed", "Test WAR": "0.500", "Test UAR": "0.400"},
        {"model": ablation.VARIANTS["two_stream_attention"][0], "seeds": "2 seeds", "Test WAR": "0.850 ± 0.071",
         "Test UAR": "0.750 ± 0.071"},
        {"model": ablation.BYPASSED_ROW, "seeds": "2 seeds", "Test WAR": "0.600 ± 0.141",
         "Test UAR": "0.600 ± 0.000"},
    ]
    assert model_card.bypassed_note(path) is None


def test_runs_never_evaluated_bypassed_say_so_instead_of_a_row(tmp_path):
    path = tmp_path / "ablation.json"
    path.write_text(json.dumps({"variants": variants(off=None)}))
    assert ablation.BYPASSED_ROW not in model_card.ablation_table(path)["model"].tolist()
    assert "not evaluated" in model_card.bypassed_note(path)


@pytest.mark.parametrize("content", ["not json", "[]", "{}"])
def test_an_unusable_file_has_no_table(tmp_path, content):
    path = tmp_path / "ablation.json"
    path.write_text(content)
    assert model_card.ablation_table(path) is None and model_card.ablation_takeaway(path) is None
