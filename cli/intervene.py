"""Interventional explanations: how the model's prediction changes when an action unit is taken out of a clip of the
embedded corpus, drawn again with nothing else changed (lab/intervene.py).

    python -m cli.intervene --checkpoint assets/checkpoints/two_stream_attention --data data/corpus \
        --clips test_00012 [test_00040 ...] --out effects.csv
    python -m cli.intervene --checkpoint assets/checkpoints/two_stream_attention --data data/corpus \
        --split Test --count 20 --out effects.csv [--summary classes.csv]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from cli import common
from lab.intervene import (
    PRESENT,
    causal_effects,
    checkpoint_predictors,
    class_dependence,
    find_clips,
    strongest_effects,
)
from model.atomic import atomic_write_bytes
from model.config import SPLITS


def build() -> argparse.ArgumentParser:
    p = common.parser(__spec__.name, __doc__)
    p.add_argument("--checkpoint", type=Path, required=True)
    common.add_data(p, help="the embedded corpus (python -m cli.corpus)")
    common.add_fold(p)
    chosen = p.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--clips", nargs="+", metavar="CLIP", help="clip file names (test_00012) or paths")
    chosen.add_argument("--count", type=int, help="the first COUNT clips of --split, in corpus index order")
    p.add_argument("--split", default="Test", choices=SPLITS)
    p.add_argument("--threshold", type=float, default=PRESENT,
                   help="AUs drawn at least this intense in some frame are removed in turn (default: %(default)s)")
    p.add_argument("--out", type=Path, required=True, help="CSV: a row per clip x removal x attention x class")
    p.add_argument("--summary", type=Path, help="CSV: what each true class depends on (class_dependence)")
    return p


def run(args: argparse.Namespace) -> None:
    if args.count is not None and args.count < 1:
        raise ValueError("--count must be at least 1")
    predictors, process = checkpoint_predictors(args.checkpoint)
    clips = find_clips(args.data, args.clips, args.split, args.count, args.fold)
    with tqdm(clips, desc="interventions", unit="clip") as bar:
        table = pd.concat([causal_effects(clip, predictors, process, args.threshold,
                                          progress=lambda done, total, what: bar.set_postfix_str(what))
                           for clip in bar], ignore_index=True)
    atomic_write_bytes(args.out, table.to_csv(index=False).encode())
    print(f"{len(table)} rows for {len(clips)} clips -> {args.out}")
    if args.summary is not None:
        summary = class_dependence(table)
        atomic_write_bytes(args.summary, summary.to_csv(index=False).encode())
        print(f"what each class depends on -> {args.summary}")
        print(summary.groupby(["label", "attention"]).head(3).to_string(index=False, float_format="{:.3f}".format))
    print(strongest_effects(table)[["clip", "label", "attention", "class", "target", "p_original", "effect"]]
          .to_string(index=False, float_format="{:.3f}".format))


main = common.command(build, run)

if __name__ == "__main__":
    sys.exit(main())
