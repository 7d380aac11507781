"""Put trained runs into assets/: the checkpoints of both recipes, their prediction tables, the samples.

Copies the best checkpoints of the two shipped recipes (with and without the inter-stream attention module) of one
training seed (by default the seed whose attention model is best on Val; Test plays no part in the choice), records
their Test metrics in their configs, writes their prediction tables for Train, Val and Test (and the attention model's
with the module bypassed), copies a few corpus clips as samples, and writes assets/manifest.json (model/manifest.py).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cli import common
from model import locations, manifest
from model.ship import ship


def build() -> argparse.ArgumentParser:
    p = common.parser(__spec__.name, __doc__)
    p.add_argument("--runs", type=Path, default=None, help="the ablation's run folders (default: runs/ablation)")
    common.add_data(p, required=False, default=locations.corpus(), help="the corpus the runs were trained on")
    p.add_argument("--seed", type=int, help="which training seed's runs to ship (default: the best on Val)")
    p.add_argument("--manifest", action="store_true",
                   help="only rewrite assets/manifest.json for the assets as they are (after a regrading, say)")
    return p


def run(args: argparse.Namespace) -> None:
    if not args.manifest:
        ship(args.runs or locations.runs() / "ablation", args.data, args.seed)
    print(f"wrote {manifest.write()}")


main = common.command(build, run)

if __name__ == "__main__":
    sys.exit(main())
