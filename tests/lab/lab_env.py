"""A complete, tiny lab for tests: a 1%-scale corpus, two tiny checkpoints, shipped-style prediction tables, a sample.

The app reads its locations from LAB_* environment variables (see lab/sources.py); ``build_lab_env`` returns them.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import torch

from model.checkpoint import save_checkpoint
from model.config import ModelConfig, ProcessConfig
from model.network import TwoStreamNet

REPO = Path(__file__).resolve().parents[2]
TINY_PROCESS = ProcessConfig(frames=8, size=32)


def tiny_model(attention: bool, seed: int = 0) -> TwoStreamNet:
    torch.manual_seed(seed)
    return TwoStreamNet(ModelConfig(frames=8, size=32, width=4, attention_dim=8, inter_stream_attention=attention))


def build_lab_env(root: Path) -> dict[str, str]:
    from model.evaluate import evaluate

    root = Path(root)
    corpus, assets = root / "corpus", root / "assets"
    if not (corpus / "corpus.json").is_file():
        subprocess.run([sys.executable, "-m", "model.corpus", "--out", str(corpus), "--scale", "0.01"], cwd=REPO,
                       check=True, capture_output=True)
    checkpoints = assets / "checkpoints"
    for name, attention in (("two_stream_attention", True), ("two_stream_no_attention", False)):
        save_checkpoint(checkpoints / name, tiny_model(attention), TINY_PROCESS,
                        metrics={"val": {"war": 0.3, "uar": 0.25}})
    for folder, attention in (("two_stream_attention", True), ("two_stream_attention_switched_off", False)):
        for split in ("Train", "Val", "Test"):
            table = assets / "predictions" / folder / f"{split}.csv"
            evaluate(checkpoints / "two_stream_attention", corpus, split, table,
                     inter_stream_attention=attention, workers=1, progress=False)
    samples = assets / "samples"
    samples.mkdir(parents=True, exist_ok=True)
    clip = sorted((corpus / "Val" / "Happy").glob("*.avi"))[0]
    for path in (clip, clip.with_suffix(".json"), corpus / "corpus.json"):  # as model.ship copies them
        shutil.copy(path, samples / path.name)
    (assets / "results").mkdir(exist_ok=True)
    (assets / "results" / "ablation.json").write_text(json.dumps(
        [{"variant": "two streams + attention", "val_uar": 0.5}, {"variant": "two streams", "val_uar": 0.45}]))
    return {"LAB_ASSETS": str(assets), "LAB_DATA": str(corpus), "LAB_RUNS": str(root / "runs"),
            "LAB_CACHE": str(root / "cache")}
