"""Accuracy under the embedded corpus's ground-truth conditions (an occluder over the face, the expression's
intensity, a fade back to neutral): *where* a model fails, not only how often.

    python -m cli.conditions assets/predictions/two_stream_attention/Test.csv --data data/corpus
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cli import common
from lab.conditions import accuracy_by_condition_of_file


def build() -> argparse.ArgumentParser:
    p = common.parser(__spec__.name, __doc__)
    p.add_argument("predictions", type=Path, help="a prediction table written by python -m cli.evaluate --out")
    common.add_data(p, help="the embedded corpus the table was evaluated on")
    return p


def run(args: argparse.Namespace) -> None:
    result = accuracy_by_condition_of_file(args.predictions, args.data)
    print(result.to_string(index=False, formatters={"accuracy": "{:.3f}".format}))


main = common.command(build, run)

if __name__ == "__main__":
    sys.exit(main())
