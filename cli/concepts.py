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


def build() -> argparse.ArgumentParser:
    defaults = ConceptSettings()
    p = common.parser(__spec__.name, __doc__)
    p.add_argument("--checkpoint", type=Path, required=True)
    common.add_corpus_options(p, data_required=False, data_default=locations.corpus())
    p.add_argument("--split", default="Test", choices=["Val", "Test"], help="the clips to explain")
    p.add_argument("--out", type=Path, required=True, help="CSV, one row per layer, class and AU concept")
    p.add_argument("--clips-per-concept", type=int, default=defaults.clips_per_concept)
    p.add_argument("--random-concepts", type=int, default=defaults.random_concepts,
                   help="sets of random Train clips: the CAVs' other sides and the t-test's chance level (at least 3)")
    p.add_argument("--explained-clips", type=int, default=defaults.explained_clips, help="clips explained per class")
    p.add_argument("--min-clips", type=int, default=defaults.min_clips,
                   help="leave out AUs clearly active in fewer Train clips than this")
    p.add_argument("--seed", type=int, default=defaults.seed)
    return p


def run(args: argparse.Namespace) -> None:
    if args.random_concepts < 3 or min(args.clips_per_concept, args.min_clips) < 2 or args.explained_clips < 1:
        raise ValueError("use at least 3 random concepts, 2 clips per concept (and as the minimum) and 1 explained "
                         "clip")
    settings = ConceptSettings(clips_per_concept=args.clips_per_concept, random_concepts=args.random_concepts,
                               explained_clips=args.explained_clips, min_clips=args.min_clips, seed=args.seed)
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
