"""The lab's sources: the checkpoints it offers, their precomputed results and prediction tables, the sample clips.

Their folders come from model/locations.py (LAB_ASSETS, LAB_RESULTS, LAB_RUNS, ...). One more variable limits what
visitors may open:

    LAB_DATA_ROOTS  folders (separated like PATH) that typed corpus paths must lie in; unset: any folder
"""
from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

from model import locations
from model.checkpoint import CONFIG, WEIGHTS
from model.data.video import VIDEO_EXTENSIONS

# The sample a fresh Analyze page and the tour open on: a clear smile the shipped model reads right. The first sample
# by name, angry_test_00000, is one it reads wrong (Neutral): worth a look in error analysis, not as a first sight.
OPENING_SAMPLE = "happy_test_00012"


def allowed_data_roots() -> list[Path] | None:
    """The folders a typed corpus path must lie in (LAB_DATA_ROOTS, separated like PATH); None: anywhere.

    Set it when the app is served beyond localhost, so visitors cannot browse the machine's videos.
    """
    value = os.environ.get("LAB_DATA_ROOTS", "").strip()
    return [Path(p).expanduser().resolve() for p in value.split(os.pathsep) if p.strip()] if value else None


def results_file(kind: str, checkpoint_name: str) -> Path:
    """A precomputed result of a checkpoint: assets/results/<kind>/<checkpoint>.csv (``runs/x`` becomes ``runs_x``)."""
    return locations.results() / kind / f"{checkpoint_name.replace('/', '_')}.csv"


def predictions_dir() -> Path:
    return locations.assets() / "predictions"


def ablation_file() -> Path:
    return locations.results() / "ablation.json"


def is_checkpoint(folder: Path) -> bool:
    return (folder / CONFIG).is_file() and (folder / WEIGHTS).is_file()


def checkpoint_choices() -> dict[str, Path]:
    """Display name -> folder: shipped checkpoints first (by name), then ``runs/<name>/best`` as ``runs/<name>``."""
    shipped = locations.assets() / "checkpoints"
    choices = {p.name: p for p in sorted(shipped.glob("*")) if is_checkpoint(p)}
    choices.update({f"runs/{p.parent.name}": p for p in sorted(locations.runs().glob("*/best")) if is_checkpoint(p)})
    return choices


def default_checkpoint_name(choices: dict[str, Path]) -> str | None:
    if locations.ATTENTION_CHECKPOINT in choices:
        return locations.ATTENTION_CHECKPOINT
    return next(iter(choices), None)


def sample_clips() -> list[Path]:
    """The shipped sample clips (a few corpus clips with their sidecars)."""
    folder = locations.assets() / "samples"
    return sorted(p for p in folder.glob("*") if p.suffix.lower() in VIDEO_EXTENSIONS)


def checkpoint_stamp(folder: Path) -> tuple[str, float]:
    """(path, modification time): a cheap cache key that changes when a training run rewrites ``best``."""
    return str(folder), max((folder / name).stat().st_mtime for name in (WEIGHTS, CONFIG))


def checkpoint_fingerprint(folder: Path) -> str:
    """A content hash of a checkpoint's weights and config: the key of everything computed from it."""
    return _fingerprint(*checkpoint_stamp(Path(folder)))


@lru_cache(maxsize=64)
def _fingerprint(folder: str, stamp: float) -> str:
    digest = hashlib.sha256()
    for name in (WEIGHTS, CONFIG):
        with open(Path(folder) / name, "rb") as file:
            digest.update(hashlib.file_digest(file, "sha256").digest())
    return digest.hexdigest()[:16]
