"""Evaluate a checkpoint on one split of a corpus.

Writes one row per clip (clip path relative to the corpus root, split, label, prediction, one probability column per
class) and prints accuracy (WAR), UAR and the confusion matrix. Under ``torchrun --nproc_per_node N`` every process
predicts a share of the clips and the first writes the one table.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cli import common
from model.evaluate import evaluate, format_confusion
from model.parallel import is_writer


def build() -> argparse.ArgumentParser:
    p = common.parser(__spec__.name, __doc__)
    p.add_argument("--checkpoint", required=True, type=Path)
    common.add_corpus_options(p)
    p.add_argument("--split", default="Val")
    p.add_argument("--out", type=Path, help="CSV of per-clip predictions")
    common.add_attention(p)
    return p


def run(args: argparse.Namespace) -> None:
    table, metrics = evaluate(args.checkpoint, args.data, args.split, args.out, args.attention,
                              args.workers, fold=args.fold, cache_dir=args.cache)
    if not is_writer():  # under torchrun the first process reports
        return
    if metrics is None:
        print(f"{len(table)} clips predicted; the split has no labels, so no accuracy")
        return
    print(f"{args.split}: {len(table)} clips  WAR {metrics['war']:.4f}  UAR {metrics['uar']:.4f}")
    print(format_confusion(metrics["confusion"]))


main = common.command(build, run)

if __name__ == "__main__":
    sys.exit(main())
