"""Write the procedural FACS expression corpus in AFEW's layout (Train/ Val/ Test/ with class folders).

Every clip gets a JSON sidecar with its ground truth (action units per frame, face box, conditions). Finished clips
are kept, so an interrupted run resumes; a folder holding a corpus of other settings is refused (``--force``
replaces it).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cli import common
from model.data.corpus import write_corpus


def build() -> argparse.ArgumentParser:
    p = common.parser(__spec__.name, __doc__)
    p.add_argument("--out", type=Path, required=True, help="output folder (gets Train/ Val/ Test/)")
    p.add_argument("--seed", type=int, default=0, help="corpus seed: a different seed gives other people")
    p.add_argument("--scale", type=float, default=1.0, help="fraction of AFEW's clip counts to write")
    p.add_argument("--force", action="store_true", help="replace a corpus of other settings already in --out")
    common.add_workers(p)
    return p


def run(args: argparse.Namespace) -> None:
    write_corpus(args.out, seed=args.seed, scale=args.scale, workers=args.workers, force=args.force)


main = common.command(build, run)

if __name__ == "__main__":
    sys.exit(main())
