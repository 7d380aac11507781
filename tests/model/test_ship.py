import json

import pytest

from model.ship import best_seed_on_val


def fake_run(runs, seed, war, uar):
    folder = runs / f"two_stream_attention_seed{seed}" / "best"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"metrics": {"val": {"war": war, "uar": uar}}}))


def test_the_shipped_seed_is_the_best_on_val_by_uar_then_war(tmp_path):
    fake_run(tmp_path, 0, war=0.90, uar=0.85)
    fake_run(tmp_path, 1, war=0.88, uar=0.87)
    fake_run(tmp_path, 12, war=0.89, uar=0.87)
    assert best_seed_on_val(tmp_path) == 12


def test_no_runs_is_a_one_line_error(tmp_path):
    with pytest.raises(ValueError, match="python -m cli.ablation"):
        best_seed_on_val(tmp_path)
