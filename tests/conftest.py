"""Shared fixtures: the session's own locations, a tiny embedded corpus (one clip per class and split), a tiny
checkpoint, and a whole tiny lab (tests/lab_env.py) for the app's tests."""
import tempfile
from pathlib import Path

import pytest
import torch

from model.checkpoint import save_checkpoint
from model.config import ModelConfig, ProcessConfig
from model.data.corpus import write_corpus
from model.network import TwoStreamNet
from tests.lab_env import build_lab_env

TINY_PROCESS = ProcessConfig(frames=8, size=32)
TINY_MODEL = ModelConfig(width=4, attention_dim=8)
TEST_SEED = 424242  # no shipped file uses this corpus seed
# Where the code writes (model/locations.py). The inputs it only reads stay in the repository (LAB_ASSETS and the
# results in it, LAB_WEIGHTS, the real-face sources), so tests of the shipped assets find them; a test that wants
# other assets points LAB_ASSETS elsewhere itself.
WRITTEN_LOCATIONS = ("LAB_DATA", "LAB_CACHE", "LAB_RUNS", "REALFACES_DATA")
SLOW = ("tests/e2e/", "tests/hardening/test_load.py", "tests/model/test_parallel.py")  # browser, load, torchrun


def pytest_collection_modifyitems(items):
    """Mark what ``make test-fast`` leaves out (``make test`` runs everything)."""
    for item in items:
        if item.nodeid.startswith(SLOW):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session", autouse=True)
def session_locations(tmp_path_factory):
    """Every written location in the session's temporary folder, before any test runs, and the temporary files of
    this process and its children there too (TMPDIR: the Gradio demo's overlays, torchrun's logs): the suite leaves
    the repository and /tmp as they were."""
    root = tmp_path_factory.mktemp("locations")
    (root / "tmp").mkdir()
    with pytest.MonkeyPatch.context() as patch:
        for name in WRITTEN_LOCATIONS:
            patch.setenv(name, str(root / name.lower()))
        patch.setenv("TMPDIR", str(root / "tmp"))
        patch.setattr(tempfile, "tempdir", str(root / "tmp"))
        yield root


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
    return save_checkpoint(folder, TwoStreamNet(TINY_MODEL, TINY_PROCESS).eval(), TINY_PROCESS)


@pytest.fixture(scope="session")
def lab_locations(tmp_path_factory) -> dict[str, str]:
    """The tiny lab's LAB_* locations, built once for the session."""
    return build_lab_env(tmp_path_factory.mktemp("lab"))


@pytest.fixture
def lab_env(lab_locations, monkeypatch) -> dict[str, str]:
    """The whole lab pointed at the tiny lab for one test; its LAB_* variables go when the test ends."""
    for name, value in lab_locations.items():
        monkeypatch.setenv(name, value)
    return lab_locations
