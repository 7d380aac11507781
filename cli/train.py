"""Train the two-stream network on a corpus; rerun the same command to resume.

Runs as it is on one machine, or under ``torchrun --nproc_per_node N`` with DistributedDataParallel (gloo on CPU,
nccl on GPU). Every setting's flag is made from its field in model/config.py.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

from cli import common
from model.config import ModelConfig, ProcessConfig, TrainConfig
from model.train import train

TRAIN_FLAGS = ("epochs", "batch_size", "lr", "weight_decay", "label_smoothing", "stream_loss", "seed", "augment",
               "prior_penalty")
MODEL_FLAGS = ("streams", "attention", "spatial_backbone", "real_face_prior", "motion_gate", "width", "attention_dim",
               "attention_heads", "dropout")


def build() -> argparse.ArgumentParser:
    p = common.parser(__spec__.name, __doc__)
    common.add_corpus_options(p)
    p.add_argument("--out", required=True, type=Path, help="run folder (rerun the same command to resume)")
    common.add_settings(p, TrainConfig, TRAIN_FLAGS)
    common.add_settings(p, ModelConfig, MODEL_FLAGS)
    common.add_settings(p, ProcessConfig, common.PROCESS_FLAGS)
    return p


def run(args: argparse.Namespace) -> None:
    model = common.settings_from(args, ModelConfig)
    cfg = common.settings_from(args, TrainConfig, data=str(args.data), out=str(args.out),
                               cache=None if args.cache is None else str(args.cache),
                               process=common.settings_from(args, ProcessConfig), model=model)
    torch.set_num_threads(max(1, torch.get_num_threads() // int(os.environ.get("WORLD_SIZE", 1))))
    best = train(cfg)
    if int(os.environ.get("RANK", 0)) == 0:
        print(f"best on Val: epoch {best['epoch']}, WAR {best['val_war']:.4f}, UAR {best['val_uar']:.4f} "
              f"-> {args.out / 'best'}")


main = common.command(build, run)

if __name__ == "__main__":
    sys.exit(main())
