"""Recognize the expression in one clip and say whether the answer can be trusted.

With no ``--checkpoint`` the shipped inter-stream-attention model is used.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cli import common
from model.predict import Predictor


def build() -> argparse.ArgumentParser:
    p = common.parser(__spec__.name, __doc__)
    p.add_argument("clip", type=Path, help="a video file (mp4, avi, mov, mkv, webm, ...)")
    p.add_argument("--checkpoint", type=Path, default=None,
                   help="a checkpoint folder (default: the shipped inter-stream attention model)")
    common.add_attention(p)
    p.add_argument("--center-crop", action="store_true", help="skip face detection and use the frame centre")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return p


def run(args: argparse.Namespace) -> None:
    predictor = Predictor.load(args.checkpoint)
    result = predictor.predict_file(args.clip, center_crop=args.center_crop,
                                    modes=(predictor.model.mode(args.attention),)).to_dict()
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for warning in result["warnings"]:
        print(f"note: {warning}", file=sys.stderr)
    for reason in result["reliability"]["reasons"]:
        print(f"unreliable: {reason}")
    if not result["reliable"]:
        print(f"This prediction cannot be trusted; the model's best guess is {result['prediction']}.")
    for name, prob in sorted(result["probabilities"].items(), key=lambda kv: -kv[1]):
        print(f"{name:9s} {prob:6.1%}  {'#' * round(40 * prob)}")
    if result["real_face"]:
        print(result["real_face"]["note"])


main = common.command(build, run)

if __name__ == "__main__":
    sys.exit(main())
