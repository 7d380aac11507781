"""Score a checkpoint on the real-face validation set, clip by clip and person by person.

    python -m cli.realcheck --checkpoint CKPT [--data data/realfaces] [--out results.csv]

Each clip goes through the same path as an upload (model.predict: decode, face track, crops, flow, reliability
panel), so the figures are what a user would see. The set is small (see model/realfaces.py), so the table lists every
clip rather than hiding them in one accuracy.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd

from model import locations
from model.checkpoint import atomic_write_bytes
from model.predict import predict_file
from model.processing import NoFaceError
from model.realfaces import RealFacesError


def score(checkpoint: Path, data: Path | None = None) -> pd.DataFrame:
    """One row per clip of the real-face set (``data``, by default the built one): person, kind (video or still),
    label, prediction, confidence, reliability."""
    data = Path(data or locations.realfaces())
    index = data / "realfaces.json"
    if not index.is_file():
        raise RealFacesError(f"{data} is not a real-face set (no realfaces.json): run `make realfaces` first")
    rows = []
    for clip in json.loads(index.read_text())["clips"]:
        try:
            result = predict_file(data / clip["file"], checkpoint)
        except NoFaceError:  # as the app does: the frame centre, and the reliability panel says so
            result = predict_file(data / clip["file"], checkpoint, center_crop=True)
        rows.append({"clip": clip["id"], "person": clip["person"], "kind": clip["kind"], "label": clip["label"],
                     "prediction": result["prediction"],
                     "confidence": round(result["probabilities"][result["prediction"]], 3),
                     "correct": result["prediction"] == clip["label"], "reliable": result["reliable"],
                     "unfamiliarity": result["reliability"]["unfamiliarity"]})
    return pd.DataFrame(rows)


def per_person(table: pd.DataFrame) -> pd.DataFrame:
    return table.groupby("person").agg(clips=("clip", "size"), correct=("correct", "sum"),
                                       accuracy=("correct", "mean")).reset_index()


def write_table(table: pd.DataFrame, out: Path) -> None:
    buffer = io.StringIO()
    table.to_csv(buffer, index=False)
    atomic_write_bytes(out, buffer.getvalue().encode())
