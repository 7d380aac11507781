"""Put trained runs into ``assets/`` (``python -m cli.ship``).

Copies the best checkpoints of the two shipped recipes (with and without the inter-stream attention module) of one
training seed (by default the seed whose attention model is best on Val; Test plays no part in the choice), records
their Test metrics in their configs, writes their prediction tables for Train, Val and Test (and the attention model's
with the module bypassed), and copies a few corpus clips as samples. Everything the lab shows instantly comes
from here, and this command reproduces it.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from model import locations, realcheck, reliability
from model.atomic import atomic_write_bytes
from model.checkpoint import CONFIG, WEIGHTS, read_config
from model.config import SPLITS, ModelConfig
from model.data.corpus import corpus_index
from model.evaluate import evaluate

SAMPLES_PER_CLASS = 1  # Test clips, one per class: small enough for assets/, enough for a demo


def ship_checkpoint(run: Path, name: str, data: Path) -> None:
    target = locations.shipped_checkpoints() / name
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(run / "best" / WEIGHTS, target / WEIGHTS)
    config = read_config(run / "best")
    modes = ModelConfig.from_dict(config["model"]).modes
    for mode in modes:
        folder = locations.assets() / "predictions" / f"{name}{mode.suffix}"
        for split in SPLITS:
            _, metrics = evaluate(run / "best", data, split, folder / f"{split}.csv", attention=mode)
            if mode is modes[0]:
                config["metrics"][split.lower()] = {"war": metrics["war"], "uar": metrics["uar"]}
            print(f"{name} ({mode.label}) {split}: WAR {metrics['war']:.4f} UAR {metrics['uar']:.4f}")
    atomic_write_bytes(target / CONFIG, json.dumps(config, indent=2).encode())
    real = locations.realfaces() if (locations.realfaces() / "realfaces.json").is_file() else None
    calibration = reliability.calibrate(target, data, real)  # the reliability panel's unfamiliarity score
    print(f"{name}: reliability calibrated on {calibration.sources}")
    if real is not None:
        cutoff, _ = realcheck.calibrate_confidence(target, real)
        print(f"{name}: answers under {cutoff:.0%} confidence are called unreliable")


def best_seed_on_val(runs: Path) -> int:
    """The seed whose attention run scored best on Val (UAR, then WAR): model selection that never looks at Test."""
    scores = {}
    for config_path in runs.glob("two_stream_attention_seed*/best/config.json"):
        val = json.loads(config_path.read_text())["metrics"]["val"]
        scores[int(config_path.parent.parent.name.rsplit("seed", 1)[1])] = (val["uar"], val["war"])
    if not scores:
        raise ValueError(f"no two_stream_attention_seed*/best under {runs}: run python -m cli.ablation first")
    return max(scores, key=lambda seed: scores[seed])


def ship_samples(data: Path, seed: int) -> None:
    folder = locations.assets() / "samples"
    folder.mkdir(parents=True, exist_ok=True)
    taken: dict[str, int] = {}
    for spec in corpus_index(seed, "Test"):
        if taken.get(spec.label, 0) < SAMPLES_PER_CLASS:
            taken[spec.label] = taken.get(spec.label, 0) + 1
            for suffix in (".avi", ".json"):
                source = data / "Test" / spec.label / f"{spec.stem}{suffix}"
                shutil.copyfile(source, folder / f"{spec.label.lower()}_{spec.stem}{suffix}")
    shutil.copyfile(data / "corpus.json", folder / "corpus.json")  # how to draw the samples again (lab.intervene)


def ship(runs: Path, data: Path, seed: int | None = None) -> int:
    """Ship both recipes of one training seed (default: the best on Val) and the samples; returns the seed."""
    seed = best_seed_on_val(runs) if seed is None else seed
    print(f"shipping the runs of training seed {seed}")
    for name in locations.SHIPPED:  # each is the ablation variant of that name
        ship_checkpoint(runs / f"{name}_seed{seed}", name, data)
    ship_samples(data, json.loads((data / "corpus.json").read_text())["seed"])
    return seed
