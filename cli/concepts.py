"""TCAV with action-unit concepts from the embedded corpus: which AUs each class's evidence rises with, at each stream
and after the inter-stream attention, against the corpus's prototypes (lab/concepts.py).

    python -m cli.concepts --checkpoint assets/checkpoints/two_stream_attention --data data/corpus --out FILE.csv \
        [--split Test] [--clips-per-concept 20] [--random-concepts 12] [--explained-clips 20] [--cache DIR]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cli import common
from lab.concepts import ConceptSettings, corpus_concepts, summary
from model import locations
from model.atomic import atomic_write_bytes

CONCEPT_FLAGS = ("clips_per_concept", "random_concepts", "explained_clips", "min_clips", "seed")


def build() -> argparse.ArgumentParser:
    p = common.parser(__spec__.name, __doc__)
    p.add_argument("--checkpoint", type=Path, required=True)
    common.add_corpus_options(p, data_required=False, data_default=locations.corpus())
    p.add_argument("--split", default="Test", choices=["Val", "Test"], help="the clips to explain")
    p.add_argument("--out", type=Path, required=True, help="CSV, one row per layer, class and AU concept")
    common.add_settings(p, ConceptSettings, CONCEPT_FLAGS)
    return p


def run(args: argparse.Namespace) -> None:
    settings = common.settings_from(args, ConceptSettings)
    with common.progress_bar("TCAV", "step") as progress:
        report = corpus_concepts(args.checkpoint, args.data, args.split, settings, progress,
                                 args.cache or locations.processing_cache(), args.workers, args.fold)
    atomic_write_bytes(args.out, report.table.to_csv(index=False).encode())
    print(f"{len(report.table)} TCAV scores in {report.seconds:.0f} s -> {args.out}")
    if report.skipped:
        print("left out (clearly active in too few Train clips): "
              + ", ".join(f"{au} ({n})" for au, n in report.skipped.items()))
    print("significant AUs per class and layer (* = in the class's prototype):")
    print("\n".join(summary(report.table)))


main = common.command(build, run)

if __name__ == "__main__":
    sys.exit(main())
