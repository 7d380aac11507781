"""Many sessions at once against one process: each analyzes a different clip with its own saliency method and
attention setting, and every answer must equal the one the same request gets alone (tools/loadtest.py). Prints
throughput, cross-talk and peak memory, and for the Chromium levels latency percentiles and the server's memory.

    python -m cli.loadtest [--sessions 8] [--uploads 30 --upload-seconds 20] [--links 10] [--checkpoint DIR]
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

from cli import common
from tools.loadtest import load_figures, peak_memory_mb


def build() -> argparse.ArgumentParser:
    p = common.parser(__spec__.name, __doc__)
    p.add_argument("--sessions", type=int, default=8)
    p.add_argument("--uploads", type=int, default=0, help="Chromium tabs uploading 640x480 clips to one streamlit "
                   "server at the same time")
    p.add_argument("--upload-seconds", type=float, default=20.0, help="length of each uploaded clip")
    p.add_argument("--links", type=int, default=0, help="Chromium tabs opening different corpus links at once")
    p.add_argument("--checkpoint", type=Path, help="default: a tiny random network (the figures scale with size)")
    return p


def run(args: argparse.Namespace) -> None:
    print(f"torch threads {torch.get_num_threads()}, cpus {os.cpu_count()}, peak memory before "
          f"{peak_memory_mb():.0f} MB")
    rows = load_figures(args.sessions, args.uploads, args.upload_seconds, args.links, args.checkpoint)
    for name, row in rows.items():
        trouble = row.get("mismatches") or row.get("problems") or "none"
        print(f"{name:38s} {row['sessions']:3d} sessions in {row['seconds']:6.1f} s = {row['per_minute']:5.1f} "
              f"analyses/min; cross-talk or errors: {trouble}")
        if "p50" in row:
            print(f"{'':38s} latency p50 {row['p50']:.1f} s, p95 {row['p95']:.1f} s, max {row['seconds']:.1f} s; "
                  f"{row['queued']} told their queue place; server peak memory {row['server_peak_mb']:.0f} MB")
    print(f"peak memory of this process: {peak_memory_mb():.0f} MB (the streamlit server's is not included)")


main = common.command(build, run)

if __name__ == "__main__":
    sys.exit(main())
