"""A complete, tiny lab for tests: a 1%-scale corpus, two tiny checkpoints, shipped-style prediction tables, a sample.

The app reads its locations from LAB_* environment variables (see model/locations.py); ``build_lab_env`` returns
them.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import torch

from model import ablation, locations
from model.checkpoint import save_checkpoint
from model.config import AttentionMode, ModelConfig, ProcessConfig
from model.network import TwoStreamNet
from tests.model.test_ablation import run_result, write_runs

REPO = locations.REPO_ROOT
TINY_PROCESS = ProcessConfig(frames=8, size=32)
ABLATION_RUNS = [  # the run folders model.ablation leaves: one variant with one seed, one with two
    run_result("temporal", 0, war=0.5, uar=0.4),
    run_result("two_stream_attention", 0, war=0.9, uar=0.8, bypassed=(0.7, 0.6)),
    run_result("two_stream_attention", 1, war=0.8, uar=0.7, bypassed=(0.5, 0.6)),
]


def tiny_model(attention: str = "on", seed: int = 0) -> TwoStreamNet:
    """``attention``: ModelConfig.attention, "on" or "absent". Untrained, the module is the identity (its
    up-projections start at zero) and the real-face evidence outweighs the streams, so neither would show on a page:
    the up-projections get random weights, the classifier reads the fused features (no real-face prior) and is
    scaled up, and bypassing the module changes the probabilities by several points."""
    torch.manual_seed(seed)
    model = TwoStreamNet(ModelConfig(width=4, attention_dim=8, attention=attention, real_face_prior=False),
                         TINY_PROCESS)
    with torch.no_grad():
        model.classifier.weight.mul_(10)
        if model.attention is not None:
            model.attention.spatial_up.weight.normal_(0, 3)
            model.attention.temporal_up.weight.normal_(0, 3)
    return model


def build_lab_env(root: Path) -> dict[str, str]:
    from model.evaluate import evaluate

    root = Path(root)
    corpus, assets = root / "corpus", root / "assets"
    if not (corpus / "corpus.json").is_file():
        subprocess.run([sys.executable, "-m", "cli.corpus", "--out", str(corpus), "--scale", "0.01"], cwd=REPO,
                       check=True, capture_output=True)
    checkpoints = assets / "checkpoints"
    for name, attention in (("two_stream_attention", "on"), ("two_stream_no_attention", "absent")):
        save_checkpoint(checkpoints / name, tiny_model(attention), TINY_PROCESS,
                        metrics={"val": {"war": 0.3, "uar": 0.25}})
    for mode in (AttentionMode.ON, AttentionMode.BYPASSED):
        for split in ("Train", "Val", "Test"):
            table = assets / "predictions" / f"two_stream_attention{mode.suffix}" / f"{split}.csv"
            evaluate(checkpoints / "two_stream_attention", corpus, split, table,
                     attention=mode, workers=1, progress=False)
    samples = assets / "samples"
    samples.mkdir(parents=True, exist_ok=True)
    clip = sorted((corpus / "Val" / "Happy").glob("*.avi"))[0]
    for path in (clip, clip.with_suffix(".json"), corpus / "corpus.json"):  # as model.ship copies them
        shutil.copy(path, samples / path.name)
    (assets / "results").mkdir(exist_ok=True)
    table = ablation.ablation_table(write_runs(root / "ablation", ABLATION_RUNS), "python -m model.ablation --data DIR")
    (assets / "results" / "ablation.json").write_text(json.dumps(table))
    return {"LAB_ASSETS": str(assets), "LAB_DATA": str(corpus), "LAB_RUNS": str(root / "runs"),
            "LAB_CACHE": str(root / "cache")}
