"""Gradio demo of the explainability lab, on localhost only: one video in (an upload or the webcam); the class
probabilities, a reliability panel, a saliency overlay video and the temporal importance curve out.

    python -m cli.demo [--checkpoint DIR] [--port N]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app import gradio_app
from cli import common
from lab import sources
from model.checkpoint import CheckpointError


def build() -> argparse.ArgumentParser:
    p = common.parser(__spec__.name, __doc__)
    p.add_argument("--checkpoint", type=Path, help="default: the shipped checkpoint the lab opens first")
    p.add_argument("--port", type=int, default=7860)
    return p


def run(args: argparse.Namespace) -> None:
    choices = sources.checkpoint_choices()
    checkpoint = args.checkpoint or choices.get(sources.default_checkpoint_name(choices))
    if checkpoint is None:
        raise CheckpointError("no checkpoint found: pass --checkpoint DIR or restore assets/checkpoints/")
    gradio_app.build_demo(checkpoint).launch(**gradio_app.LAUNCH_OPTIONS, server_port=args.port)


main = common.command(build, run)

if __name__ == "__main__":
    sys.exit(main())
