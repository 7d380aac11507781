"""Score a checkpoint on the real-face validation set, clip by clip and person by person.

    python -m cli.realcheck --checkpoint CKPT [--data data/realfaces] [--out results.csv]

Each clip goes through the same path as an upload (model.predict: decode, face track, crops, flow, reliability
panel), so the figures are what a user would see. Beside the video model stands the real-face network alone on the
same crops (model/real_face.py): what the video model adds, or takes away. The set is small (see
model/data/realfaces.py), so every accuracy comes with its 95% Wilson interval, per class and per person. A clip whose
face is not found counts as a miss for both.
"""
from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from model import locations
from model.atomic import atomic_write_bytes
from model.config import CLASSES
from model.data.realfaces import RealFacesError
from model.predict import NoFace, Predictor
from model.reliability import CALIBRATION_FILE, UNSURE, Calibration, confidence_cutoff


def score(checkpoint: Path, data: Path | None = None) -> pd.DataFrame:
    """One row per clip of the real-face set (``data``, by default the built one): person, kind (video or still),
    label, prediction, confidence, reliability."""
    data = Path(data or locations.realfaces())
    index = data / "realfaces.json"
    if not index.is_file():
        raise RealFacesError(f"{data} is not a real-face set (no realfaces.json): run `make realfaces` first")
    rows, predictor = [], Predictor.load(checkpoint)
    for clip in json.loads(index.read_text())["clips"]:
        # as the app offers: the frame centre where no face is found, and the reliability panel says so
        prediction = predictor.predict_file(data / clip["file"], NoFace.CENTRE, modes=predictor.model.modes[:1])
        found, result = not prediction.clip.stats["center_crop"], prediction.to_dict()
        real_face = result["real_face"] or {}
        rows.append({"clip": clip["id"], "person": clip["person"], "kind": clip["kind"], "label": clip["label"],
                     "face_found": found, "prediction": result["prediction"],
                     "confidence": result["probabilities"][result["prediction"]],
                     "correct": found and result["prediction"] == clip["label"], "reliable": result["reliable"],
                     "other_doubts": sum(not r.startswith(UNSURE) for r in result["reliability"]["reasons"]),
                     "unfamiliarity": result["reliability"]["unfamiliarity"],
                     "real_face_prediction": real_face.get("prediction"),
                     "networks_agree": real_face.get("networks_agree"),
                     "real_face_correct": found and real_face.get("prediction") == clip["label"]})
    return pd.DataFrame(rows)


def wilson(hits: int, count: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion: honest at the small counts of this set (never outside 0..1)."""
    if count == 0:
        return float("nan"), float("nan")
    p = hits / count
    centre, half = p + z * z / (2 * count), z * np.sqrt(p * (1 - p) / count + z * z / (4 * count * count))
    return (centre - half) / (1 + z * z / count), (centre + half) / (1 + z * z / count)


def _accuracies(groups) -> pd.DataFrame:
    rows = []
    for name, group in groups:
        row = {"group": name, "clips": len(group)}
        for column, title in (("correct", "video model"), ("real_face_correct", "real-face network alone")):
            hits = int(group[column].sum())
            low, high = wilson(hits, len(group))
            row[title] = f"{hits}/{len(group)} = {hits / len(group):.2f} [{low:.2f}, {high:.2f}]"
        rows.append(row)
    return pd.DataFrame(rows)


def per_class(table: pd.DataFrame) -> pd.DataFrame:
    """Accuracy of the video model and of the real-face network alone per class, then overall, with intervals."""
    classes = [(c, table[table.label == c]) for c in CLASSES if (table.label == c).any()]
    return _accuracies([*classes, ("all", table)])


def per_person(table: pd.DataFrame) -> pd.DataFrame:
    return _accuracies(list(table.groupby("person")))


def reliable_at(table: pd.DataFrame, cutoff: float) -> pd.Series:
    """Whether the panel calls each answer reliable at confidence ``cutoff``: no other doubt, and confident enough."""
    return (table.other_doubts == 0) & (table.confidence >= cutoff)


def reliable_cutoff(table: pd.DataFrame) -> float:
    """The panel's confidence cut-off: the lowest at which the answers that pass every other check are right 85% of
    the time (choosing it on all answers would let the other checks shift what "reliable" means)."""
    clean = table[table.other_doubts == 0]
    return confidence_cutoff(clean.confidence.to_numpy(), clean.correct.to_numpy())


def calibrate_confidence(checkpoint: Path, data: Path | None = None) -> tuple[float, pd.DataFrame]:
    """Choose the checkpoint's confidence cut-off on the real-face set, scored through the upload path as users meet
    it, and write it into the checkpoint's calibration (cli.calibrate writes that first); returns the cut-off and the
    table, its ``reliable`` column judged by the new cut-off."""
    calibration = Calibration.read(checkpoint)
    if calibration is None:
        raise FileNotFoundError(f"{checkpoint} has no {CALIBRATION_FILE}: run python -m cli.calibrate first")
    table = score(checkpoint, data)
    cutoff = reliable_cutoff(table)
    atomic_write_bytes(Path(checkpoint) / CALIBRATION_FILE, replace(calibration, min_confidence=cutoff).to_bytes())
    return cutoff, table.assign(reliable=reliable_at(table, cutoff))


def held_out_reliable(table: pd.DataFrame) -> pd.Series:
    """Whether the panel would call each clip reliable had its confidence cut-off been calibrated without the clip's
    person (leave one person out): the shipped cut-off is chosen on this same set, so its own figures flatter it."""
    reliable = pd.Series(False, index=table.index)
    for person in table.person.unique():
        others = table[table.person != person]
        cutoff = reliable_cutoff(others)
        own = table.person == person
        reliable[own] = reliable_at(table[own], cutoff)
    return reliable


def reliable_answers(table: pd.DataFrame, column: str = "reliable") -> pd.DataFrame:
    """Per class: the share of clips the panel calls reliable (coverage) and how many of those are right (``column``:
    the panel's verdict, or another such as held_out_reliable's)."""
    rows = []
    for name, group in [*((c, table[table.label == c]) for c in CLASSES if (table.label == c).any()), ("all", table)]:
        kept = group[group[column]]
        hits = int(kept.correct.sum())
        low, high = wilson(hits, len(kept))
        rows.append({"group": name, "clips": len(group), "reliable": len(kept),
                     "coverage": round(len(kept) / len(group), 2),
                     "reliable and right": f"{hits}/{len(kept)}" + (f" = {hits / len(kept):.2f} [{low:.2f}, {high:.2f}]"
                                                                    if len(kept) else "")})
    return pd.DataFrame(rows)


def write_table(table: pd.DataFrame, out: Path) -> None:
    buffer = io.StringIO()
    table.to_csv(buffer, index=False, float_format="%.6g")
    atomic_write_bytes(out, buffer.getvalue().encode())
