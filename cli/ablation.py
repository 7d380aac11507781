"""The model card's ablation table, over several training seeds.

Trains the single-frame CNN, the spatial stream alone, the temporal stream alone, the two streams without the
inter-stream attention module and the two streams with it (the two-stream rows with several seeds), evaluates each
best-on-Val checkpoint on Test, and writes ``assets/results/ablation.json``. Finished runs are skipped and interrupted
ones resume, so the command can be rerun until it completes.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cli import common
from model import locations
from model.ablation import MULTI_SEED, VARIANTS, run_ablation
from model.config import TrainConfig


def build() -> argparse.ArgumentParser:
    p = common.parser(__spec__.name, __doc__)
    common.add_corpus_options(p)
    p.add_argument("--runs", type=Path, default=None, help="run folders (default: LAB_RUNS or runs/, then ablation/)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help=f"seeds of {' and '.join(MULTI_SEED)}")
    common.add_settings(p, TrainConfig, ("epochs",))
    p.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    p.add_argument("--out", type=Path, default=None, help="the table (default: the shipped results/ablation.json)")
    p.add_argument("--real", type=Path, default=None,
                   help="real-face set the two-stream runs are also scored on (make realfaces; default: "
                        "data/realfaces); skipped if absent")
    return p


def run(args: argparse.Namespace) -> None:
    command = f"python -m cli.ablation --data {args.data} --seeds {' '.join(map(str, args.seeds))}"
    if args.variants != list(VARIANTS):
        command += f" --variants {' '.join(args.variants)}"
    table = run_ablation(args.data, args.runs or locations.runs() / "ablation", args.seeds, args.variants,
                         args.epochs, args.out or locations.results() / "ablation.json",
                         args.real or locations.realfaces(), command, fold=args.fold,
                         cache=None if args.cache is None else str(args.cache), workers=args.workers)
    for entry in table["variants"].values():
        t = entry["test"]
        print(f"{entry['description']:70s} WAR {t['war']:.3f}±{t['war_std']:.3f}  UAR {t['uar']:.3f}±{t['uar_std']:.3f}"
              f"  (seeds {t['seeds']})")


main = common.command(build, run)

if __name__ == "__main__":
    sys.exit(main())
