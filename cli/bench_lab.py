"""Speed of the lab against its targets: upload to prediction, every method's explanation, page switches, the
What-if tab (a benchmark to read, not a test; the targets are in tools/bench.py).

    python -m cli.bench_lab
"""
from __future__ import annotations

import argparse
import sys

from cli import common
from tools.bench import TARGETS, lab_figures


def build() -> argparse.ArgumentParser:
    return common.parser(__spec__.name, __doc__)


def run(args: argparse.Namespace) -> None:
    for name, seconds in lab_figures().items():
        verdict = "ok" if seconds <= TARGETS[name] else "SLOW"
        print(f"{name:44s} {seconds:6.2f} s   target <= {TARGETS[name]:.1f} s   {verdict}")


main = common.command(build, run)

if __name__ == "__main__":
    sys.exit(main())
