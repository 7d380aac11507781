"""Evaluate a checkpoint on one split of a corpus (``python -m cli.evaluate``).

``evaluate`` writes one row per clip (clip path relative to the corpus root, split, label, prediction, one
probability column per class) and returns accuracy (WAR), UAR and the confusion matrix.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    precision_recall_fscore_support,
)

from model.atomic import atomic_write_bytes
from model.checkpoint import load_checkpoint
from model.config import CLASSES, INFERENCE_BATCH, SPLITS, AttentionMode
from model.data.clipset import ClipSet, load_clipset
from model.data.datasets import ClipRecord, CorpusError, open_corpus
from model.parallel import gather_shares, is_writer, my_share, write_output


@torch.inference_mode()
def predict_clipset(model: torch.nn.Module, clips: ClipSet, device: torch.device | str = "cpu",
                    attention: AttentionMode | None = None, batch_size: int = INFERENCE_BATCH,
                    faces: torch.Tensor | None = None, real_face_only: bool = False) -> np.ndarray:
    """Class probabilities (N, classes) for every clip of the set (``faces``: see read_faces); with
    ``real_face_only``, the frozen real-face network's alone (what the video model starts from)."""
    probs = []
    for start in range(0, len(clips), batch_size):
        index = torch.arange(start, min(start + batch_size, len(clips)))
        rgb, flow, _ = clips.batch(index)
        read = None if faces is None else faces[index].float().to(device)
        output = model.outputs(rgb.to(device), flow.to(device), attention=attention,
                               faces=read)
        probs.append((output.real_face if real_face_only else output.logits).softmax(1).cpu())
    return torch.cat(probs).numpy()


@torch.no_grad()
def read_faces(model: torch.nn.Module, clips: ClipSet, mirrored: bool = False, device: torch.device | str = "cpu",
               batch_size: int = INFERENCE_BATCH, cache_dir: Path | None = None) -> torch.Tensor | None:
    """The frozen real-face network's reading of every clip's crops (float16; mirrored crops with ``mirrored``), or
    None when the model has no such network. Nothing in it learns, so training computes it once, not every epoch;
    with ``cache_dir`` it is kept there, keyed by the crops and the networks' weights, for the next run (ablation)."""
    if not getattr(model, "reads_faces", False):
        return None
    path = cache_dir and Path(cache_dir) / "faces" / f"{_reading_key(model, clips, mirrored)}.safetensors"
    if path and path.is_file():
        return load_file(path)["faces"]
    read = []
    for start in range(0, len(clips), batch_size):
        rgb, _, _ = clips.batch(torch.arange(start, min(start + batch_size, len(clips))))
        rgb = rgb.flip(-1) if mirrored else rgb
        read.append(model.spatial.read_faces(rgb.to(device)).half().cpu())
    faces = torch.cat(read)
    if path:
        atomic_write_bytes(path, save({"faces": faces}))
    return faces


def _reading_key(model: torch.nn.Module, clips: ClipSet, mirrored: bool) -> str:
    digest = hashlib.sha256(f"{model.spatial.members}{mirrored}".encode())
    digest.update(clips.rgb.numpy().tobytes())
    for tensor in model.spatial.backbone.state_dict().values():
        digest.update(tensor.cpu().numpy().tobytes())
    return digest.hexdigest()[:32]


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


def labelled_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of a prediction table whose clip has a known class."""
    return table[table["label"].isin(CLASSES)]


def split_order(tables: dict[str, pd.DataFrame]) -> list[str]:
    """The splits of ``tables`` in Train, Val, Test order (others, such as DFEW's or class folders' "All", last)."""
    return sorted(tables, key=lambda s: SPLITS.index(s) if s in SPLITS else len(SPLITS))


def predictions_table(records: list[ClipRecord], probs: np.ndarray, root: Path) -> pd.DataFrame:
    """One row per clip: where it is, its label, the prediction and every class probability."""
    rows = {
        "clip": [str(Path(r.path).resolve().relative_to(Path(root).resolve())) for r in records],
        "split": [r.split for r in records],
        "label": [CLASSES[r.label] if r.label is not None else "" for r in records],
        "prediction": [CLASSES[i] for i in probs.argmax(1)],
    }
    rows.update({c: np.round(probs[:, i], 5) for i, c in enumerate(CLASSES)})
    return pd.DataFrame(rows)


def format_confusion(confusion: list[list[int]]) -> str:
    table = pd.DataFrame(confusion, index=[f"true {c}" for c in CLASSES], columns=[c[:7] for c in CLASSES])
    return table.to_string()


def evaluate(checkpoint: Path, data: Path, split: str, out: Path | None, attention: AttentionMode | None = None,
             workers: int = 2, progress: bool = True, fold: int = 1, cache_dir: Path | None = None,
             real_face_only: bool = False) -> tuple[pd.DataFrame, dict | None]:
    """The prediction table of every clip of a split (written to ``out`` when given) and its metrics (None when the
    split has no labels). Under torchrun each rank predicts its share of the clips; every rank returns the whole
    table, in the split's order, and rank 0 writes it."""
    model, process, _ = load_checkpoint(checkpoint)
    corpus = open_corpus(data, fold=fold)
    if split not in corpus.splits:
        raise CorpusError(f"{data} has no split {split!r}: it has {', '.join(corpus.splits)}")
    records = corpus.clips(split)
    share, share_probs = my_share(records), []
    if share:  # empty when there are fewer clips than ranks
        clips = load_clipset(share, process, cache_dir=cache_dir, workers=workers, desc=split,
                             progress=progress and is_writer())
        share_probs = list(predict_clipset(model, clips, attention=attention,
                                           real_face_only=real_face_only))
    probs = np.stack(gather_shares(share_probs))
    table = predictions_table(records, probs, data)
    if out is not None:
        write_output(Path(out), table.to_csv(index=False).encode())
    labelled = np.array([r.label is not None for r in records])
    labels = np.array([r.label for r in records if r.label is not None], dtype=np.int64)
    metrics = classification_metrics(labels, probs.argmax(1)[labelled]) if labelled.any() else None
    return table, metrics
