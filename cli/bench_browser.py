"""What a visitor waits for, in Chromium: the lab served on a free port and timed from the click to the result on
screen (a benchmark, not a test; the targets are in lab/browser_bench.py). Needs Playwright and Debian's Chromium.

    python -m cli.bench_browser [--repeats 3]
"""
from __future__ import annotations

import argparse
import sys

from cli import common
from lab.browser_bench import TARGETS, browser_figures


def build() -> argparse.ArgumentParser:
    p = common.parser(__spec__.name, __doc__)
    p.add_argument("--repeats", type=int, default=3, help="fresh browser sessions (the first also warms the server)")
    return p


def run(args: argparse.Namespace) -> None:
    for name, seconds in browser_figures(args.repeats).items():
        target = TARGETS[name]
        print(f"{name:32s} {seconds:6.2f} s   target <= {target:.1f} s   {'ok' if seconds <= target else 'SLOW'}")


main = common.command(build, run)

if __name__ == "__main__":
    sys.exit(main())
