"""What ``assets/`` holds, in one file: ``assets/manifest.json``, written by ``python -m cli.ship`` (with
``--manifest`` alone it rewrites just that, after a regrading or another result).

Per shipped checkpoint: the sha256 of its files, the attention modes it runs in, its recorded metrics, its prediction
tables per mode, and each precomputed result (grading, interventions, TCAV, real-face scores) with its sha256; for
the grading, also the methods and modes it graded and the clips it rests on. The tests check that the assets, the
page's grades and the README's figures agree with it, so a stale asset shows as a failing test, not a silent
mismatch.
"""
from __future__ import annotations

import csv
import hashlib
import json
import subprocess
from pathlib import Path

from model import locations
from model.atomic import atomic_write_bytes
from model.config import SPLITS, ModelConfig

MANIFEST = "manifest.json"
RESULT_KINDS = ("grading", "interventions", "concepts", "realfaces")  # assets/results/<kind>/<checkpoint>.csv


def sha256(path: Path) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def code_version() -> str:
    """The commit the assets were written with ("unknown" outside a git checkout)."""
    try:
        found = subprocess.run(["git", "rev-parse", "HEAD"], cwd=locations.REPO_ROOT, capture_output=True, text=True,
                               timeout=10)
    except OSError:
        return "unknown"
    return found.stdout.strip() if found.returncode == 0 else "unknown"


def describe(assets: Path) -> dict:
    """The manifest of the assets as they are now, without the code version."""
    checkpoints = {}
    for name in locations.SHIPPED:
        folder = assets / "checkpoints" / name
        if not (folder / "config.json").is_file():
            continue
        config = json.loads((folder / "config.json").read_text())
        modes = ModelConfig.from_dict(config["model"]).modes
        entry = {"files": {path.name: sha256(path) for path in sorted(folder.iterdir()) if path.is_file()},
                 "modes": [str(mode) for mode in modes],
                 "metrics": {split: config["metrics"][split] for split in ("train", "val", "test")
                             if split in config.get("metrics", {})},
                 "predictions": {}, "results": {}}
        for mode in modes:
            tables = assets / "predictions" / f"{name}{mode.suffix}"
            entry["predictions"][str(mode)] = {split: sha256(tables / f"{split}.csv") for split in SPLITS
                                               if (tables / f"{split}.csv").is_file()}
        for kind in RESULT_KINDS:
            path = assets / "results" / kind / f"{name}.csv"
            if path.is_file():
                entry["results"][kind] = {"file": str(path.relative_to(assets)), "sha256": sha256(path)}
        if "grading" in entry["results"]:
            entry["results"]["grading"].update(grading_summary(assets / entry["results"]["grading"]["file"]))
        checkpoints[name] = entry
    samples = sorted(p.name for p in (assets / "samples").glob("*") if p.is_file())
    return {"checkpoints": checkpoints, "samples": samples}


def grading_summary(table: Path) -> dict:
    """The methods (the random baseline left out) and modes a grading table graded, and the most clips any rests on."""
    with open(table, newline="") as file:
        rows = list(csv.DictReader(file))
    graded = [row for row in rows if row["method"] != "Random"]  # lab.attribution's baseline: the chance level
    return {"methods": sorted({row["method"] for row in graded}), "modes": sorted({row["attention"] for row in rows},
                                                                                  reverse=True),
            "clips": max((int(row["n"]) for row in graded), default=0)}


def write(assets: Path | None = None) -> Path:
    """Write ``assets/manifest.json`` for the assets as they are now."""
    assets = Path(assets or locations.assets())
    manifest = {"code_version": code_version(), **describe(assets)}
    atomic_write_bytes(assets / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    return assets / MANIFEST
