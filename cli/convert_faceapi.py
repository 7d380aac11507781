"""Convert face-api's expression network (a frozen real-face reader of the spatial stream) to safetensors + JSON, once.

``make setup`` installs the npm package and runs it; the package's files are checked by sha256 first.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cli import common
from model import locations
from model.faceapi_backbone import WEIGHTS_NAME, convert_package


def build() -> argparse.ArgumentParser:
    p = common.parser(__spec__.name, __doc__)
    p.add_argument("--out", type=Path, default=None,
                   help=f"output folder (default: {locations.weights() / WEIGHTS_NAME}, or under $LAB_WEIGHTS)")
    p.add_argument("--node-modules", type=Path, default=None,
                   help=f"node_modules holding the package (default: {locations.npm_modules()}, or $LAB_NPM_MODULES)")
    return p


def run(args: argparse.Namespace) -> None:
    out = args.out or locations.weights() / WEIGHTS_NAME
    config = convert_package(out, args.node_modules)
    print(f"wrote {out} ({config['source']})")


main = common.command(build, run)

if __name__ == "__main__":
    sys.exit(main())
