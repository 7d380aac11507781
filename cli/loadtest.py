"""Many sessions at once against one process: each analyzes a different clip with its own saliency method and
attention setting, and every answer must equal the one the same request gets alone (lab/loadtest.py). Prints
throughput, cross-talk and peak memory.

    python -m cli.loadtest [--sessions 8] [--browsers 3] [--checkpoint DIR]
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

from cli import common
from lab.loadtest import load_figures, peak_memory_mb


def build() -> argparse.ArgumentParser:
    p = common.parser(__spec__.name, __doc__)
    p.add_argument("--sessions", type=int, default=8)
    p.add_argument("--browsers", type=int, default=0, help="real Chromium pages against one streamlit server")
    p.add_argument("--checkpoint", type=Path, help="default: a tiny random network (the figures scale with size)")
    return p


def run(args: argparse.Namespace) -> None:
    print(f"torch threads {torch.get_num_threads()}, cpus {os.cpu_count()}, peak memory before "
          f"{peak_memory_mb():.0f} MB")
    for name, row in load_figures(args.sessions, args.browsers, args.checkpoint).items():
        trouble = row.get("mismatches") or row.get("problems") or row.get("exceptions") or "none"
        print(f"{name:32s} {row['sessions']:3d} sessions in {row['seconds']:6.1f} s = {row['per_minute']:5.1f} "
              f"analyses/min; cross-talk or errors: {trouble}"
              + (f"; server peak memory {row['server_peak_mb']:.0f} MB" if "server_peak_mb" in row else ""))
    print(f"peak memory of this process: {peak_memory_mb():.0f} MB (the streamlit server's is not included)")


main = common.command(build, run)

if __name__ == "__main__":
    sys.exit(main())
