"""Accuracy under the embedded corpus's ground-truth conditions: *where* a model fails, not only how often.

Every clip of the embedded corpus records in its sidecar what made it hard: a hand or an object over the face, how
intense the expression is at its apex, whether it fades back to neutral before the clip ends. Splitting a prediction
table by these turns one accuracy into a map of weak spots. Corpora without sidecars (AFEW, DFEW) have no such
ground truth, and the table is empty. ``python -m cli.conditions`` prints the table of a prediction file.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from lab.dataset import read_sidecar
from model.evaluate import labelled_rows, split_order

SUBTLE, STRONG = 0.45, 0.7  # peak AU intensity bounds; the corpus draws apex intensities from 0.35 to 1.0
NO_EXPRESSION = 0.01  # Neutral clips' expression AUs stay at zero (blinks and speech are nuisances, not AUs here)
HEADERS = {"occluder over the face": "occluder", "expression intensity (peak AU)": "intensity",
           "fades back to neutral": "fades back"}  # each condition's short table header (the name is its help)
ORDER = ("never", "only in other frames", "at the apex", "none (Neutral)", f"subtle (< {SUBTLE})", "moderate",
         f"strong (>= {STRONG})", "no", "yes")  # the order each condition's values are listed in


class PredictionTableError(ValueError):
    """A file that is no prediction table, or one with no clip whose sidecar records its conditions."""


def clip_conditions(meta: dict) -> dict[str, str]:
    """The conditions of one clip, condition -> value, from its sidecar."""
    occluded = [box is not None for box in meta["occluder"]]
    peak = max((max(frame) for frame in meta["au"]), default=0.0)
    if peak < NO_EXPRESSION:
        intensity = "none (Neutral)"
    elif peak < SUBTLE:
        intensity = f"subtle (< {SUBTLE})"
    elif peak < STRONG:
        intensity = "moderate"
    else:
        intensity = f"strong (>= {STRONG})"
    return {
        "occluder over the face": ("at the apex" if occluded[meta["apex_frame"]] else
                                   "only in other frames" if any(occluded) else "never"),
        "expression intensity (peak AU)": intensity,
        "fades back to neutral": "yes" if meta["offset_frame"] is not None else "no",
    }


def accuracy_by_condition(table: pd.DataFrame, root: Path) -> pd.DataFrame:
    """One row per (condition, value) with its clips and accuracy, for the labelled clips of a prediction table
    (model.evaluate's format: clip paths relative to ``root``). Clips without a sidecar are left out."""
    rows, labelled = [], labelled_rows(table)
    for clip, correct in zip(labelled["clip"], labelled["label"] == labelled["prediction"]):
        meta = read_sidecar(Path(root) / clip)
        if meta is not None:
            rows += [{"condition": c, "value": v, "correct": correct} for c, v in clip_conditions(meta).items()]
    if not rows:
        return pd.DataFrame(columns=["condition", "value", "clips", "accuracy"])
    grouped = pd.DataFrame(rows).groupby(["condition", "value"], sort=False)["correct"]
    return _ordered(grouped.agg(clips="size", accuracy="mean").reset_index())


def accuracy_by_condition_and_split(tables: dict[str, pd.DataFrame], root: Path) -> pd.DataFrame:
    """accuracy_by_condition of every split side by side: condition, value, then "<split> clips" and
    "<split> accuracy" for each split that has labelled clips with sidecars."""
    parts = [accuracy_by_condition(tables[split], root).set_index(["condition", "value"]).add_prefix(f"{split} ")
             for split in split_order(tables)]
    parts = [part for part in parts if not part.empty]
    return _ordered(pd.concat(parts, axis=1).reset_index()) if parts else pd.DataFrame(columns=["condition", "value"])


def _ordered(table: pd.DataFrame) -> pd.DataFrame:
    return table.sort_values(["condition", "value"], ignore_index=True,
                             key=lambda column: column.map(ORDER.index) if column.name == "value" else column)


def accuracy_by_condition_of_file(predictions: Path, root: Path) -> pd.DataFrame:
    """accuracy_by_condition of a prediction table file; PredictionTableError when the file is none or when no clip
    of it has a sidecar under ``root``."""
    try:
        table = pd.read_csv(predictions, keep_default_na=False)
    except (OSError, ValueError):  # missing, a folder, or not a CSV (parser and decoding errors are ValueErrors)
        table = pd.DataFrame()
    if not {"clip", "label", "prediction"} <= set(table.columns):
        raise PredictionTableError(f"{predictions} is not a prediction table (clip, label, prediction columns): pass "
                                   "a CSV written by python -m cli.evaluate --out")
    result = accuracy_by_condition(table, root)
    if result.empty:
        raise PredictionTableError(f"no clip of {predictions} has a sidecar under {root}: pass the embedded corpus it "
                                   "was evaluated on (AFEW and DFEW carry no ground-truth conditions)")
    return result
