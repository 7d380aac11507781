"""Grade attribution methods on corpus clips: localization against the true AU regions, faithfulness, sanity checks
and causal agreement, each against uniform random maps on the same clips (lab/grading/runner.py says how each is
measured).

    python -m cli.grade --checkpoint assets/checkpoints/two_stream_attention --split Test --clips 100 \
        --out assets/results/grading/two_stream_attention.csv [--data data/corpus] [--methods Saliency Grad-CAM ...]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cli import common
from lab.attribution import fast, offered
from lab.grading.runner import GradeSettings, grade_corpus
from lab.grading.stored import curves_path, save_report
from lab.grading.verdicts import verdicts
from model import locations
from model.parallel import is_writer

GRADE_FLAGS = ("clips", "check_clips", "causal_clips", "ig_steps", "deletion_steps", "seed")


def build() -> argparse.ArgumentParser:
    p = common.parser(__spec__.name, __doc__)
    p.add_argument("--checkpoint", type=Path, required=True)
    common.add_corpus_options(p, data_required=False, data_default=locations.corpus())
    p.add_argument("--split", default="Test")
    p.add_argument("--methods", nargs="+", default=list(fast()), choices=offered(), metavar="METHOD",
                   help=f"from: {', '.join(offered())} (default: the fast ones)")
    common.add_attention(p, several=True)
    common.add_settings(p, GradeSettings, GRADE_FLAGS)
    p.add_argument("--out", type=Path, required=True, help="table CSV; the curves go beside it (*_curves.csv)")
    return p


def run(args: argparse.Namespace) -> None:
    settings = common.settings_from(args, GradeSettings, methods=tuple(args.methods), attention=tuple(args.attention))
    with common.progress_bar("grading", "clip") as progress:
        report = grade_corpus(args.checkpoint, args.data, args.split, settings, progress,
                              args.cache or locations.processing_cache(), args.workers, args.fold)
    save_report(report, args.out)
    if not is_writer():  # under torchrun the first process reports
        return
    print(f"graded {len(report.clips)} clips in {report.seconds:.0f} s -> {args.out}, {curves_path(args.out)}")
    for skipped in report.skipped:
        print(f"skipped {skipped}")
    print("\n".join(verdicts(report.table)))


main = common.command(build, run)

if __name__ == "__main__":
    sys.exit(main())
