"""Score a checkpoint on the real-face validation set, clip by clip and person by person.

Each clip goes through the same path as an upload (decode, face track, crops, flow, reliability panel), so the figures
are what a user would see.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cli import common
from model import locations
from model.realcheck import held_out_reliable, per_class, per_person, reliable_answers, score, write_table


def build() -> argparse.ArgumentParser:
    p = common.parser(__spec__.name, __doc__)
    p.add_argument("--checkpoint", required=True, type=Path)
    common.add_data(p, required=False, default=locations.realfaces(), help="the real-face set (make realfaces)")
    p.add_argument("--out", type=Path, help="CSV of the per-clip table")
    return p


def run(args: argparse.Namespace) -> None:
    table = score(args.checkpoint, args.data)
    if args.out is not None:
        write_table(table, args.out)
    print(table.to_string(index=False))
    held_out = table.assign(held_out=held_out_reliable(table))
    for title, summary in (("per class", per_class(table)), ("per person", per_person(table)),
                           ("reliability panel", reliable_answers(table)),
                           ("reliability panel, its confidence cut-off calibrated without the clip's person",
                            reliable_answers(held_out, "held_out"))):
        print(f"\n{title}\n{summary.to_string(index=False)}")
    videos = table[table.kind == "video"]
    print(f"\naccuracy {table.correct.mean():.3f} on {len(table)} clips ({videos.correct.sum()}/{len(videos)} videos, "
          f"{table.correct.sum() - videos.correct.sum()}/{len(table) - len(videos)} stills), real-face network alone "
          f"{table.real_face_correct.mean():.3f}; faces found in {table.face_found.sum()}/{len(table)}; "
          f"{(~table.reliable).sum()} flagged unreliable")


main = common.command(build, run)

if __name__ == "__main__":
    sys.exit(main())
