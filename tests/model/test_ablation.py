"""The ablation table from run folders: means and sample standard deviations over seeds, and the model card's rows."""
import json
import statistics
from pathlib import Path

import pytest

from model import ablation


def run_result(variant: str, seed: int, war: float, uar: float, bypassed: tuple[float, float] | None = None,
               real: tuple[int, int] | None = None) -> dict:
    """A run's ``result.json`` as model.ablation.run_variant writes it (``real``: correct clips, clips)."""
    result = {"variant": variant, "seed": seed, "checkpoint": f"runs/ablation/{variant}_seed{seed}/best",
              "train_seconds": 1.0, "test": {"war": war, "uar": uar}}
    if bypassed is not None:
        result[ablation.BYPASSED_KEY] = {"war": bypassed[0], "uar": bypassed[1]}
    if real is not None:
        result["real"] = {"accuracy": round(real[0] / real[1], 4), "clips": real[1], "correct": real[0]}
    return result


def write_runs(runs: Path, results: list[dict]) -> Path:
    """One run folder per result, laid out as model.ablation leaves them."""
    for result in results:
        folder = runs / f"{result['variant']}_seed{result['seed']}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "result.json").write_text(json.dumps(result))
    return runs


def test_summarize_gives_the_mean_and_sample_standard_deviation_over_seeds():
    rows = [run_result("two_stream_attention", seed, war, uar)
            for seed, war, uar in ((0, 0.90, 0.85), (1, 0.80, 0.70), (2, 0.70, 0.73))]
    summary = ablation.summarize(rows)
    assert summary["seeds"] == [0, 1, 2]
    assert summary["war"] == pytest.approx(0.8) and summary["uar"] == pytest.approx(0.76)
    assert summary["war_std"] == pytest.approx(statistics.stdev([0.90, 0.80, 0.70]), abs=1e-4)  # ddof=1: 0.1
    assert summary["uar_std"] == pytest.approx(statistics.stdev([0.85, 0.70, 0.73]), abs=1e-4)


def test_a_single_seed_has_no_spread():
    summary = ablation.summarize([run_result("frame", 0, 0.6, 0.5)])
    assert summary == {"seeds": [0], "war": 0.6, "war_std": 0.0, "uar": 0.5, "uar_std": 0.0}


def test_the_table_groups_runs_by_variant_and_keeps_the_rows_it_did_not_rerun(tmp_path):
    runs = write_runs(tmp_path, [
        run_result("temporal", 0, 0.5, 0.4),
        run_result("two_stream_attention", 0, 0.9, 0.8, bypassed=(0.7, 0.6), real=(8, 10)),
        run_result("two_stream_attention", 1, 0.8, 0.7, bypassed=(0.5, 0.6), real=(6, 10)),
    ])
    previous = {"variants": {"frame": {"description": "an older frame model", "runs": [{}],
                                       "test": {"seeds": [0], "war": 0.3, "war_std": 0.0, "uar": 0.2, "uar_std": 0.0}}}}
    table = ablation.ablation_table(runs, "python -m model.ablation --data corpus", previous)
    assert list(table["variants"]) == ["frame", "temporal", "two_stream_attention"]  # VARIANTS order, none invented
    assert table["variants"]["frame"]["previous_release"] is True
    attention = table["variants"]["two_stream_attention"]
    assert attention[ablation.BYPASSED_KEY]["war"] == pytest.approx(0.6)
    assert attention[ablation.BYPASSED_KEY]["war_std"] == pytest.approx(statistics.stdev([0.7, 0.5]), abs=1e-4)
    assert attention["real"]["accuracy"] == pytest.approx(0.7)
    assert "real" not in table["variants"]["temporal"]  # only where every run was scored on the real clips
    assert table["rows"] == [
        {"model": "an older frame model (previous release, not retrained)", "seeds": 1,
         "Test WAR": "0.300", "Test UAR": "0.200"},
        {"model": ablation.VARIANTS["temporal"][0], "seeds": 1, "Test WAR": "0.500", "Test UAR": "0.400"},
        {"model": ablation.VARIANTS["two_stream_attention"][0], "seeds": 2, "Test WAR": "0.850 ± 0.071",
         "Test UAR": "0.750 ± 0.071", "real clips, accuracy": "0.700 ± 0.141"},
        {"model": ablation.BYPASSED_ROW, "seeds": 2, "Test WAR": "0.600 ± 0.141", "Test UAR": "0.600 ± 0.000"},
    ]  # the attention model bypassed at inference: its own row, after the model's
