"""Score a checkpoint on the real-face validation set, clip by clip and person by person.

    python -m model.realcheck --checkpoint CKPT [--data data/realfaces] [--out results.csv]

Each clip goes through the same path as an upload (model.predict: decode, face track, crops, flow, reliability
panel), so the figures are what a user would see. The set is small (see model/realfaces.py), so the table lists every
clip rather than hiding them in one accuracy.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import pandas as pd

from model.checkpoint import CheckpointError, atomic_write_bytes
from model.predict import predict_file
from model.processing import ClipError, NoFaceError
from model.realfaces import RealFacesError

DEFAULT_DATA = Path(__file__).resolve().parent.parent / "data" / "realfaces"


def score(checkpoint: Path, data: Path = DEFAULT_DATA) -> pd.DataFrame:
    """One row per clip: person, kind (video or still), label, prediction, confidence, reliability."""
    index = Path(data) / "realfaces.json"
    if not index.is_file():
        raise RealFacesError(f"{data} is not a real-face set (no realfaces.json): run `make realfaces` first")
    rows = []
    for clip in json.loads(index.read_text())["clips"]:
        try:
            result = predict_file(Path(data) / clip["file"], checkpoint)
        except NoFaceError:  # as the app does: the frame centre, and the reliability panel says so
            result = predict_file(Path(data) / clip["file"], checkpoint, center_crop=True)
        rows.append({"clip": clip["id"], "person": clip["person"], "kind": clip["kind"], "label": clip["label"],
                     "prediction": result["prediction"],
                     "confidence": round(result["probabilities"][result["prediction"]], 3),
                     "correct": result["prediction"] == clip["label"], "reliable": result["reliable"],
                     "unfamiliarity": result["reliability"]["unfamiliarity"]})
    return pd.DataFrame(rows)


def per_person(table: pd.DataFrame) -> pd.DataFrame:
    return table.groupby("person").agg(clips=("clip", "size"), correct=("correct", "sum"),
                                       accuracy=("correct", "mean")).reset_index()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m model.realcheck", description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True, type=Path)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--out", type=Path, help="CSV of the per-clip table")
    a = p.parse_args(argv)
    try:
        table = score(a.checkpoint, a.data)
    except (CheckpointError, ClipError, RealFacesError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if a.out is not None:
        buffer = io.StringIO()
        table.to_csv(buffer, index=False)
        atomic_write_bytes(a.out, buffer.getvalue().encode())
    print(table.to_string(index=False))
    print()
    print(per_person(table).to_string(index=False))
    videos = table[table.kind == "video"]
    print(f"\naccuracy {table.correct.mean():.3f} on {len(table)} clips ({videos.correct.sum()}/{len(videos)} videos, "
          f"{table.correct.sum() - videos.correct.sum()}/{len(table) - len(videos)} stills); "
          f"{(~table.reliable).sum()} flagged unreliable")
    return 0


if __name__ == "__main__":
    sys.exit(main())
