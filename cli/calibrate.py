"""Fit and calibrate a checkpoint's unfamiliarity score (the reliability panel's), once.

Writes the training classes' feature statistics and the reference distances of Val (and of the real-face set, when
given) beside the checkpoint; with the real-face set, also the confidence cut-off chosen on it through the upload path.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from cli import common
from model.realcheck import calibrate_confidence
from model.reliability import CALIBRATION_FILE, UNFAMILIAR_QUANTILE, calibrate


def build() -> argparse.ArgumentParser:
    p = common.parser(__spec__.name, __doc__)
    p.add_argument("--checkpoint", required=True, type=Path)
    common.add_data(p, help="the corpus the checkpoint was trained on (Train, Val)")
    p.add_argument("--real", type=Path, help="the real-face validation set (python -m cli.realfaces)")
    common.add_workers(p)
    return p


def run(args: argparse.Namespace) -> None:
    calibration = calibrate(args.checkpoint, args.data, args.real, args.workers)
    cut = float(np.quantile(calibration.reference.numpy(), UNFAMILIAR_QUANTILE))
    print(f"wrote {args.checkpoint / CALIBRATION_FILE}: calibrated on {calibration.sources}; clips farther than "
          f"{cut:.1f} from the training clips are called unfamiliar")
    if args.real is not None:
        cutoff, table = calibrate_confidence(args.checkpoint, args.real)
        kept = table[table.reliable]
        print(f"answers under {cutoff:.0%} confidence are called unreliable: on the real-face set {len(kept)} of "
              f"{len(table)} are reliable, {int(kept.correct.sum())} of them right")


main = common.command(build, run)

if __name__ == "__main__":
    sys.exit(main())
