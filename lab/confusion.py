"""Confusion matrices per split from per-clip prediction tables, and where those tables come from.

Shipped checkpoints come with their tables (assets/predictions/<name>/<Split>.csv, written by model.evaluate's
predictions_table), so their matrices are instant. Any other checkpoint or corpus is evaluated once and the table is
cached on disk under a key made of the checkpoint's content hash and the corpus listing's hash.
"""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from lab import sources
from model.checkpoint import atomic_write_bytes
from model.config import CLASSES, SPLITS
from model.evaluate import classification_metrics


@dataclass(frozen=True)
class SplitConfusion:
    split: str
    clips: int
    counts: np.ndarray | None  # (classes, classes) rows = true class, columns = prediction; None without labels
    metrics: dict | None  # model.evaluate.classification_metrics; None without labels

    @property
    def rates(self) -> np.ndarray | None:
        """Row-normalized matrix: each row is how one true class was predicted (rows without clips stay 0)."""
        if self.counts is None:
            return None
        totals = self.counts.sum(axis=1, keepdims=True)
        return np.divide(self.counts, totals, out=np.zeros(self.counts.shape), where=totals > 0)


def labelled_rows(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["label"].isin(CLASSES)]


def confusion_of(split: str, table: pd.DataFrame) -> SplitConfusion:
    labelled = labelled_rows(table)
    if labelled.empty:
        return SplitConfusion(split, len(table), None, None)
    metrics = classification_metrics(labelled["label"].map(CLASSES.index).to_numpy(),
                                      labelled["prediction"].map(CLASSES.index).to_numpy())
    return SplitConfusion(split, len(table), np.array(metrics["confusion"]), metrics)


def split_order(tables: dict[str, pd.DataFrame]) -> list[str]:
    """The splits of ``tables`` in Train, Val, Test order (others, such as DFEW's or class folders' "All", last)."""
    return sorted(tables, key=lambda s: SPLITS.index(s) if s in SPLITS else len(SPLITS))


def confusion_by_split(tables: dict[str, pd.DataFrame]) -> dict[str, SplitConfusion]:
    """One confusion per split, in Train, Val, Test order."""
    return {split: confusion_of(split, tables[split]) for split in split_order(tables)}


def rate_difference(on: SplitConfusion, off: SplitConfusion) -> np.ndarray | None:
    """Row-normalized ``on`` minus ``off`` (positive on the diagonal: the module helps that class)."""
    if on.rates is None or off.rates is None:
        return None
    return on.rates - off.rates


def per_class_table(metrics: dict) -> pd.DataFrame:
    """Precision, recall, F1 and support per class."""
    return pd.DataFrame(metrics["per_class"]).T


def cells(per_split: dict[str, SplitConfusion]) -> dict[tuple[str, str, str], int]:
    """(split, true class, predicted class) -> clips, for every non-empty cell; the errors first, largest first."""
    found = {(split, CLASSES[t], CLASSES[p]): int(n) for split, result in per_split.items() if result.counts is not None
             for (t, p), n in np.ndenumerate(result.counts) if n > 0}
    return dict(sorted(found.items(), key=lambda item: (item[0][1] == item[0][2], -item[1])))


def clicked_cell(selections: dict[str, dict | None]) -> tuple[str, str, str] | None:
    """The cell picked by a click on a heatmap, from the plotly selection states {split: state} (None: no click)."""
    for split, state in selections.items():
        points = (state or {}).get("selection", {}).get("points", [])
        if points:
            return split, str(points[0]["y"]), str(points[0]["x"])
    return None


def cell_clips(table: pd.DataFrame, true_class: str, predicted_class: str) -> pd.DataFrame:
    """The clips of one confusion cell, most confident first."""
    cell = table[(table["label"] == true_class) & (table["prediction"] == predicted_class)]
    return cell.assign(confidence=cell[predicted_class]).sort_values("confidence", ascending=False)


def read_tables(folder: Path) -> dict[str, pd.DataFrame]:
    """{split: table} of every <Split>.csv in folder."""
    return {path.stem: pd.read_csv(path, keep_default_na=False) for path in sorted(Path(folder).glob("*.csv"))
            if path.stem in SPLITS}


def shipped_tables(checkpoint_name: str, inter_stream_attention: bool = True) -> dict[str, pd.DataFrame]:
    """The shipped tables of a checkpoint (the switched-off variant when asked), or {} when none ship."""
    suffix = "" if inter_stream_attention else sources.SWITCHED_OFF_SUFFIX
    return read_tables(sources.predictions_dir() / f"{checkpoint_name}{suffix}")


def corpus_fingerprint(root: Path, clips: list[Path]) -> str:
    """A hash of the clips' relative paths, sizes and modification times: changes when the corpus does."""
    digest = hashlib.sha256()
    for path in sorted(clips):
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def evaluation_cache_path(checkpoint: Path, corpus, split: str, inter_stream_attention: bool) -> Path:
    """Where the evaluation of (checkpoint content, corpus listing, split, attention switch) is cached."""
    records = corpus.clips(split)
    key = "-".join([sources.checkpoint_fingerprint(checkpoint), corpus_fingerprint(corpus.root, [r.path for r in records]),
                    split, "on" if inter_stream_attention else "off"])
    return sources.cache_dir() / "evaluations" / f"{key}.csv"


TABLE_COLUMNS = {"clip", "label", "prediction", *CLASSES}


def _read_cached_table(path: Path, clips: int) -> pd.DataFrame | None:
    """A cached prediction table, or None when it is missing, unreadable, or not a table of ``clips`` predictions
    (a foreign or damaged file is then recomputed and replaced, never shown)."""
    try:
        table = pd.read_csv(path, keep_default_na=False)
    except (OSError, ValueError):  # parser and decoding errors are ValueErrors
        return None
    if not TABLE_COLUMNS <= set(table.columns) or len(table) != clips or \
            not table["prediction"].isin(CLASSES).all() or table["clip"].duplicated().any():
        return None
    return table


def evaluated_table(checkpoint: Path, corpus, split: str, inter_stream_attention: bool = True) -> pd.DataFrame:
    """Predictions of a checkpoint on one split of a corpus (model.datasets.Corpus), from the disk cache if there."""
    from model.evaluate import evaluate  # imports the processing pool machinery only when needed

    cached = evaluation_cache_path(checkpoint, corpus, split, inter_stream_attention)
    if (table := _read_cached_table(cached, len(corpus.clips(split)))) is not None:
        return table
    table, _ = evaluate(checkpoint, corpus.root, split, out=None, inter_stream_attention=inter_stream_attention,
                        progress=False)
    buffer = io.StringIO()
    table.to_csv(buffer, index=False)
    atomic_write_bytes(cached, buffer.getvalue().encode())
    return pd.read_csv(io.StringIO(buffer.getvalue()), keep_default_na=False)


def prediction_tables(checkpoint_name: str, checkpoint: Path, corpus, use_shipped: bool,
                      inter_stream_attention: bool = True, compute: bool = True,
                      on_split: Callable[[str, int, int], None] | None = None) -> dict[str, pd.DataFrame] | None:
    """{split: table}: the shipped tables when they apply (shipped checkpoint, embedded corpus), else evaluated.

    With ``compute=False`` the answer is None when some split is neither shipped nor cached (so the page can ask
    before a long evaluation). ``on_split(split, done, total)`` reports progress before each split.
    """
    if use_shipped and (tables := shipped_tables(checkpoint_name, inter_stream_attention)):
        return tables
    if not compute and not all(evaluation_cache_path(checkpoint, corpus, split, inter_stream_attention).is_file()
                               for split in corpus.splits):
        return None
    tables = {}
    for done, split in enumerate(corpus.splits):
        if on_split is not None:
            on_split(split, done, len(corpus.splits))
        tables[split] = evaluated_table(checkpoint, corpus, split, inter_stream_attention)
    return tables
