"""Evaluate a checkpoint on one split of a corpus.

    python -m model.evaluate --checkpoint CKPT --data DIR --split Val --out preds.csv [--no-attention]

writes one row per clip (clip path relative to the corpus root, split, label, prediction, one probability column per
class) and prints accuracy (WAR), UAR and the confusion matrix.
"""
from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    precision_recall_fscore_support,
)

from model.checkpoint import CheckpointError, atomic_write_bytes, load_checkpoint
from model.clipset import ClipSet, load_clipset
from model.config import CLASSES
from model.datasets import CorpusError, open_corpus
from model.processing import ClipError


@torch.inference_mode()
def predict_clipset(model: torch.nn.Module, clips: ClipSet, device: torch.device | str = "cpu",
                    inter_stream_attention: bool = True, batch_size: int = 32,
                    faces: torch.Tensor | None = None) -> np.ndarray:
    """Class probabilities (N, classes) for every clip of the set (``faces``: see read_faces)."""
    probs = []
    for start in range(0, len(clips), batch_size):
        index = torch.arange(start, min(start + batch_size, len(clips)))
        rgb, flow, _ = clips.batch(index)
        read = None if faces is None else faces[index].float().to(device)
        logits = model(rgb.to(device), flow.to(device), inter_stream_attention=inter_stream_attention, faces=read)
        probs.append(logits.softmax(1).cpu())
    return torch.cat(probs).numpy()


@torch.no_grad()
def read_faces(model: torch.nn.Module, clips: ClipSet, mirrored: bool = False, device: torch.device | str = "cpu",
               batch_size: int = 32) -> torch.Tensor | None:
    """The frozen real-face network's reading of every clip's crops (float16; mirrored crops with ``mirrored``), or
    None when the model has no such network. Nothing in it learns, so training computes it once, not every epoch."""
    if not getattr(model, "reads_faces", False):
        return None
    read = []
    for start in range(0, len(clips), batch_size):
        rgb, _, _ = clips.batch(torch.arange(start, min(start + batch_size, len(clips))))
        rgb = rgb.flip(-1) if mirrored else rgb
        read.append(model.spatial.read_faces(rgb.to(device)).half().cpu())
    return torch.cat(read)


def classification_metrics(labels: np.ndarray, predictions: np.ndarray) -> dict:
    """WAR (accuracy), UAR (mean per-class recall), per-class precision/recall/F1 and the confusion matrix."""
    classes = list(range(len(CLASSES)))
    precision, recall, f1, support = precision_recall_fscore_support(labels, predictions, labels=classes,
                                                                     zero_division=0)
    present = support > 0
    return {
        "war": round(float(accuracy_score(labels, predictions)), 4),
        "uar": round(float(recall[present].mean()) if present.any() else 0.0, 4),
        "per_class": {c: {"precision": round(float(p), 4), "recall": round(float(r), 4), "f1": round(float(f), 4),
                          "support": int(s)} for c, p, r, f, s in zip(CLASSES, precision, recall, f1, support)},
        "confusion": confusion_matrix(labels, predictions, labels=classes).tolist(),
    }


def predictions_table(clips: ClipSet, probs: np.ndarray, root: Path) -> pd.DataFrame:
    """One row per clip: where it is, its label, the prediction and every class probability."""
    rows = {
        "clip": [str(Path(r.path).resolve().relative_to(Path(root).resolve())) for r in clips.records],
        "split": [r.split for r in clips.records],
        "label": [CLASSES[r.label] if r.label is not None else "" for r in clips.records],
        "prediction": [CLASSES[i] for i in probs.argmax(1)],
    }
    rows.update({c: np.round(probs[:, i], 5) for i, c in enumerate(CLASSES)})
    return pd.DataFrame(rows)


def format_confusion(confusion: list[list[int]]) -> str:
    table = pd.DataFrame(confusion, index=[f"true {c}" for c in CLASSES], columns=[c[:7] for c in CLASSES])
    return table.to_string()


def evaluate(checkpoint: Path, data: Path, split: str, out: Path | None, inter_stream_attention: bool = True,
             workers: int = 2, progress: bool = True) -> tuple[pd.DataFrame, dict | None]:
    model, process, _ = load_checkpoint(checkpoint)
    corpus = open_corpus(data)
    if split not in corpus.splits:
        raise CorpusError(f"{data} has no split {split!r}: it has {', '.join(corpus.splits)}")
    clips = load_clipset(corpus.clips(split), process, workers=workers, desc=split, progress=progress)
    probs = predict_clipset(model, clips, inter_stream_attention=inter_stream_attention)
    table = predictions_table(clips, probs, data)
    if out is not None:
        buffer = io.StringIO()
        table.to_csv(buffer, index=False)
        atomic_write_bytes(Path(out), buffer.getvalue().encode())
    labelled = clips.labels.numpy() >= 0
    metrics = classification_metrics(clips.labels.numpy()[labelled], probs.argmax(1)[labelled]) \
        if labelled.any() else None
    return table, metrics


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m model.evaluate",
        description="Evaluate a checkpoint on one split and write per-clip predictions.")
    p.add_argument("--checkpoint", required=True, type=Path)
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--split", default="Val")
    p.add_argument("--out", type=Path, help="CSV of per-clip predictions")
    p.add_argument("--no-attention", action="store_true", help="bypass the inter-stream attention module")
    p.add_argument("--workers", type=int, default=2)
    a = p.parse_args(argv)
    try:
        table, metrics = evaluate(a.checkpoint, a.data, a.split, a.out, not a.no_attention, a.workers)
    except (CheckpointError, CorpusError, ClipError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if metrics is None:
        print(f"{len(table)} clips predicted; the split has no labels, so no accuracy")
        return 0
    print(f"{a.split}: {len(table)} clips  WAR {metrics['war']:.4f}  UAR {metrics['uar']:.4f}")
    print(format_confusion(metrics["confusion"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
