"""Fill the processing cache for a whole corpus and report how well faces were found.

Training then reads every clip from the cache. For embedded-corpus clips (a .json sidecar with per-frame "face_box")
the detector and tracker are also checked against the ground truth. Under ``torchrun --nproc_per_node N`` every
process fills the shared cache with a share of the clips.
"""
from __future__ import annotations

import argparse
import sys
import time

from cli import common
from model import locations
from model.config import ProcessConfig
from model.data.datasets import open_corpus
from model.data.preprocess import preprocess_corpus, summary
from model.parallel import is_writer


def build() -> argparse.ArgumentParser:
    p = common.parser(__spec__.name, __doc__)
    common.add_corpus_options(p)
    common.add_settings(p, ProcessConfig, (*common.PROCESS_FLAGS, "center_crop"))
    return p


def run(args: argparse.Namespace) -> None:
    corpus = open_corpus(args.data, fold=args.fold)
    start = time.perf_counter()
    results = preprocess_corpus(corpus, common.settings_from(args, ProcessConfig),
                                args.cache or locations.processing_cache(), args.workers)
    if is_writer():
        print(summary(results, time.perf_counter() - start))


main = common.command(build, run)

if __name__ == "__main__":
    sys.exit(main())
