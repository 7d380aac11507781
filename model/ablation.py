"""The model card's ablation table (``python -m cli.ablation``).

Trains the single-frame CNN, the spatial stream alone, the temporal stream alone, the two streams without the
inter-stream attention module and the two streams with it (the two-stream rows with several seeds), evaluates each
best-on-Val checkpoint on Test (the attention model also with its module bypassed at inference: a row of its own
in the table), and writes ``assets/results/ablation.json``. Finished runs are skipped and interrupted ones resume, so
the command can be rerun until it completes.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from model import realcheck
from model.atomic import atomic_write_bytes
from model.config import AttentionMode, ModelConfig, TrainConfig
from model.evaluate import evaluate
from model.train import train

VARIANTS = {  # name -> (description, model settings)
    "frame": ("Single-frame CNN (per-frame 2D CNN, feature grids averaged over frames)", dict(streams="frame")),
    "spatial": ("Spatial stream only (face crops through the frozen real-face network)", dict(streams="spatial")),
    "temporal": ("Temporal stream only (optical flow)", dict(streams="temporal")),
    "two_stream_no_attention": ("Two streams, no inter-stream attention", dict(attention="absent")),
    "two_stream_attention": ("Two streams with inter-stream attention", dict()),
}
MULTI_SEED = ("two_stream_no_attention", "two_stream_attention")
REAL_FACE_ROW = "real_face_network"  # the frozen real-face network alone, read off the attention model's first seed
REAL_FACE_DESCRIPTION = "The real-face network alone (frozen, no training on the corpus: what the video model adds to)"
BYPASSED_ROW = "... the same models with the module bypassed at inference"  # the README's wording
BYPASSED_KEY = "test_bypassed"  # a result's Test metrics with the module bypassed


def run_variant(name: str, seed: int, data: Path, runs: Path, epochs: int, real: Path | None = None, fold: int = 1,
                cache: str | None = None, workers: int = 2) -> dict:
    """Train (or resume) one variant with one seed, evaluate its best checkpoint on Test (and, for the two-stream
    variants, on the real-face set), keep the result beside it."""
    out = runs / f"{name}_seed{seed}"
    if (out / "result.json").is_file():
        return _rescored(out, real if name in MULTI_SEED else None, "correct")
    cfg = TrainConfig(data=str(data), out=str(out), epochs=epochs, seed=seed, fold=fold, cache=cache, workers=workers,
                      model=ModelConfig(**VARIANTS[name][1]))
    train(cfg)
    result = {"variant": name, "seed": seed, "checkpoint": str(out / "best"),
              "train_seconds": json.loads((out / "best" / "config.json").read_text())["metrics"]["train_seconds"]}
    for mode in (cfg.model.modes if name == "two_stream_attention" else cfg.model.modes[:1]):
        _, metrics = evaluate(out / "best", data, "Test", None, attention=mode, workers=workers, progress=False,
                              fold=fold, cache_dir=cache)
        result[BYPASSED_KEY if mode is AttentionMode.BYPASSED else "test"] = {"war": metrics["war"],
                                                                             "uar": metrics["uar"]}
    if real is not None and name in MULTI_SEED:
        result["real"] = real_summary(realcheck.score(out / "best", real), real)
    atomic_write_bytes(out / "result.json", json.dumps(result, indent=2).encode())
    return result


def real_summary(table, real: Path, column: str = "correct") -> dict:
    """Accuracy on the real-face set, overall and per class (``column``: "real_face_correct" for that network), and
    which build of the set it was scored on."""
    per_class = {label: round(float(group[column].mean()), 4) for label, group in table.groupby("label")}
    return {"accuracy": round(float(table[column].mean()), 4), "clips": len(table), "correct": int(table[column].sum()),
            "per_class": per_class, "set": _set_version(real)}


def _set_version(real: Path) -> str:
    return json.loads((Path(real) / "realfaces.json").read_text())["manifest_sha256"]


def _rescored(out: Path, real: Path | None, column: str) -> dict:
    """A finished run's result, its real-face score redone when the real-face set has changed since (the set grows
    while the training runs stay valid)."""
    result = json.loads((out / "result.json").read_text())
    if real is not None and result.get("real", {}).get("set") != _set_version(real):
        result["real"] = real_summary(realcheck.score(Path(result["checkpoint"]), real), real, column)
        atomic_write_bytes(out / "result.json", json.dumps(result, indent=2).encode())
    return result


def run_real_face_row(data: Path, runs: Path, seed: int, real: Path | None, fold: int = 1, cache: str | None = None,
                      workers: int = 2) -> dict:
    """The real-face network alone, on Test and on the real-face set, through the attention model's checkpoint of
    ``seed`` (the network is frozen, so every checkpoint with it reads the same)."""
    out = runs / f"{REAL_FACE_ROW}_seed{seed}"
    if (out / "result.json").is_file():
        return _rescored(out, real, "real_face_correct")
    checkpoint = runs / f"two_stream_attention_seed{seed}" / "best"
    _, metrics = evaluate(checkpoint, data, "Test", None, workers=workers, progress=False, fold=fold,
                          cache_dir=cache, real_face_only=True)
    result = {"variant": REAL_FACE_ROW, "seed": seed, "checkpoint": str(checkpoint),
              "test": {"war": metrics["war"], "uar": metrics["uar"]}}
    if real is not None:
        result["real"] = real_summary(realcheck.score(checkpoint, real), real, "real_face_correct")
    atomic_write_bytes(out / "result.json", json.dumps(result, indent=2).encode())
    return result


def summarize(rows: list[dict], key: str = "test", metrics: tuple[str, ...] = ("war", "uar")) -> dict:
    """Mean and sample standard deviation of WAR and UAR (or other ``metrics``) over seeds."""
    summary = {"seeds": [r["seed"] for r in rows]}
    for metric in metrics:
        values = np.array([r[key][metric] for r in rows])
        summary[metric] = round(float(values.mean()), 4)
        summary[f"{metric}_std"] = round(float(values.std(ddof=1)), 4) if len(values) > 1 else 0.0
    return summary


def ablation_table(runs: Path, command: str, previous: dict | None = None) -> dict:
    """Every finished run under ``runs``, grouped by variant, with mean and spread over seeds. Variants with no run
    here are taken from ``previous`` (an earlier table) and marked as such, so a partial rerun keeps the full table."""
    results = [json.loads(p.read_text()) for p in sorted(runs.glob("*/result.json"))]
    table = {"command": command, "variants": {}}
    for name, (description, _) in [(REAL_FACE_ROW, (REAL_FACE_DESCRIPTION, None)), *VARIANTS.items()]:
        rows = [r for r in results if r["variant"] == name]
        if rows:
            entry = {"description": description, "runs": rows, "test": summarize(rows)}
            if name == "two_stream_attention":
                entry[BYPASSED_KEY] = summarize(rows, BYPASSED_KEY)
            if all("real" in r for r in rows):
                entry["real"] = summarize(rows, "real", metrics=("accuracy",))
                if all("per_class" in r["real"] for r in rows):  # the mean over seeds of each class's accuracy
                    entry["real"]["per_class"] = {c: round(float(np.mean([r["real"]["per_class"][c] for r in rows])),
                                                           4) for c in rows[0]["real"]["per_class"]}
            table["variants"][name] = entry
        elif previous and name in previous.get("variants", {}):
            table["variants"][name] = {**previous["variants"][name], "previous_release": True}
    table["rows"] = table_rows(table["variants"])
    return table


def table_rows(variants: dict) -> list[dict]:
    """The model card's table: one line per variant, and after the attention model its runs bypassed at
    inference (the same checkpoints evaluated with the module bypassed), where they were evaluated so."""
    lines = []
    for entry in variants.values():
        lines.append(row(entry))
        if BYPASSED_KEY in entry:
            lines.append(row(entry, BYPASSED_KEY))
    return lines


def row(entry: dict, key: str = "test") -> dict:
    """One line of the model card's table (``key``: "test", or BYPASSED_KEY for the module bypassed
    at inference); no "± 0.000" for a single seed."""
    def spread(summary: dict, metric: str) -> str:
        mean = f"{summary[metric]:.3f}"
        return mean if len(summary["seeds"]) == 1 else f"{mean} ± {summary[metric + '_std']:.3f}"

    description = BYPASSED_ROW if key == BYPASSED_KEY else entry["description"]
    line = {"model": description + (" (previous release, not retrained)" if entry.get("previous_release") else ""),
            "seeds": len(entry[key]["seeds"]), "Test WAR": spread(entry[key], "war"),
            "Test UAR": spread(entry[key], "uar")}
    if "real" in entry and key == "test":
        line["real clips, accuracy"] = spread(entry["real"], "accuracy")
        if "per_class" in entry["real"]:
            line["real clips, per class"] = " ".join(f"{c[:3]} {v:.2f}" for c, v in entry["real"]["per_class"].items())
    return line


def run_ablation(data: Path, runs: Path, seeds: list[int], variants: list[str], epochs: int, out: Path,
                 real: Path, command: str, fold: int = 1, cache: str | None = None, workers: int = 2) -> dict:
    """Train and evaluate every missing run, then write the table to ``out`` (the real-face set is scored only when
    ``real`` holds one) and return it."""
    real = real if (real / "realfaces.json").is_file() else None
    for seed in seeds:  # seed by seed, so an interrupted table already holds whole pairs
        for name in variants:
            if name in MULTI_SEED or seed == seeds[0]:
                run_variant(name, seed, data, runs, epochs, real, fold=fold, cache=cache, workers=workers)
    if "two_stream_attention" in variants:
        run_real_face_row(data, runs, seeds[0], real, fold=fold, cache=cache, workers=workers)
    previous = json.loads(out.read_text()) if out.is_file() else None
    table = ablation_table(runs, command, previous)
    atomic_write_bytes(out, json.dumps(table, indent=2).encode())
    return table
