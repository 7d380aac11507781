"""Recognize the expression in one clip: ``python -m model.predict CLIP [--checkpoint CKPT] [--no-attention] [--json]``.

With no ``--checkpoint`` the shipped inter-stream-attention model is used. Bad input exits with status 2 and one line
that says what is wrong; never a traceback.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from model.checkpoint import DEFAULT_CHECKPOINT, CheckpointError, load_checkpoint
from model.config import CLASSES
from model.processing import ClipError, process_video, to_tensors
from model.reliability import Calibration, judge


def predict_file(path: Path, checkpoint: Path = DEFAULT_CHECKPOINT, inter_stream_attention: bool = True,
                 center_crop: bool = False) -> dict:
    """The clip's prediction, probabilities, warnings and reliability panel (model/reliability.py)."""
    model, process, _ = load_checkpoint(checkpoint)
    if center_crop:
        process = dataclasses.replace(process, center_crop=True)
    clip = process_video(Path(path), process, cache_dir=None)
    probs, reliability = judge(model, Calibration.read(checkpoint), *to_tensors(clip), clip.stats,
                               inter_stream_attention=inter_stream_attention)
    probs = dict(zip(CLASSES, probs.tolist()))
    return {"clip": str(path), "prediction": max(probs, key=probs.get), "reliable": reliability.reliable,
            "probabilities": probs, "reliability": reliability.to_dict(), "warnings": clip.stats.get("warnings", [])}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m model.predict", description="Print the expression class probabilities of one video clip.")
    p.add_argument("clip", type=Path)
    p.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    p.add_argument("--no-attention", action="store_true", help="bypass the inter-stream attention module")
    p.add_argument("--center-crop", action="store_true", help="skip face detection and use the frame centre")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    a = p.parse_args(argv)
    try:
        result = predict_file(a.clip, a.checkpoint, not a.no_attention, a.center_crop)
    except (ClipError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if a.json:
        print(json.dumps(result, indent=2))
        return 0
    for warning in result["warnings"]:
        print(f"note: {warning}", file=sys.stderr)
    for reason in result["reliability"]["reasons"]:
        print(f"unreliable: {reason}")
    if not result["reliable"]:
        print(f"This prediction cannot be trusted; the model's best guess is {result['prediction']}.")
    for name, prob in sorted(result["probabilities"].items(), key=lambda kv: -kv[1]):
        print(f"{name:9s} {prob:6.1%}  {'#' * round(40 * prob)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
