"""Shared fixtures: a tiny embedded corpus (one clip per class and split) and a tiny checkpoint trained on it."""
from pathlib import Path

import pytest
import torch

from model.checkpoint import save_checkpoint
from model.config import ModelConfig, ProcessConfig
from model.corpus import write_corpus
from model.network import TwoStreamNet

TINY_PROCESS = ProcessConfig(frames=8, size=32)
TINY_MODEL = ModelConfig(frames=8, size=32, width=4, attention_dim=8)
TEST_SEED = 424242  # no shipped file uses this corpus seed


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """The embedded corpus at 1% scale: 7 clips in each of Train, Val and Test."""
    root = tmp_path_factory.mktemp("corpus")
    write_corpus(root, seed=TEST_SEED, scale=0.01, workers=1, progress=False)
    return root


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """An untrained two-stream checkpoint small enough for every test to use."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("checkpoint") / "tiny"
    return save_checkpoint(folder, TwoStreamNet(TINY_MODEL).eval(), TINY_PROCESS)
