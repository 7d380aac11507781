"""Confusion matrices per split from per-clip prediction tables, and where those tables come from.

Shipped checkpoints come with their tables (assets/predictions/<name>/<Split>.csv, written by model.evaluate's
predictions_table), so their matrices are instant. Any other checkpoint or corpus is evaluated once and the table is
cached on disk under a key made of the checkpoint's content hash and the corpus listing's hash. Shipped tables list
the full embedded corpus, which may be only partly on disk: ``coverage`` counts, and the clip tables mark, what is.
"""
from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lab import conditions, dataset, sources
from model import locations
from model.atomic import atomic_write_bytes
from model.config import CLASSES, SPLITS, AttentionMode
from model.evaluate import classification_metrics, labelled_rows, split_order


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


def confusion_of(split: str, table: pd.DataFrame) -> SplitConfusion:
    labelled = labelled_rows(table)
    if labelled.empty:
        return SplitConfusion(split, len(table), None, None)
    metrics = classification_metrics(labelled["label"].map(CLASSES.index).to_numpy(),
                                      labelled["prediction"].map(CLASSES.index).to_numpy())
    return SplitConfusion(split, len(table), np.array(metrics["confusion"]), metrics)


def confusion_by_split(tables: dict[str, pd.DataFrame]) -> dict[str, SplitConfusion]:
    """One confusion per split, in Train, Val, Test order."""
    return {split: confusion_of(split, tables[split]) for split in split_order(tables)}


def rate_difference(on: SplitConfusion, off: SplitConfusion) -> np.ndarray | None:
    """Row-normalized ``on`` minus ``off`` (positive on the diagonal: the module helps that class)."""
    if on.rates is None or off.rates is None:
        return None
    return on.rates - off.rates


def improvement(difference: np.ndarray) -> np.ndarray:
    """A difference matrix (on - off) signed so that positive always means better with the module: more clips right
    on the diagonal, fewer clips wrong off it (so one colour can mean "better" in every cell)."""
    return np.where(np.eye(len(difference), dtype=bool), difference, -difference)


def per_class_table(metrics: dict) -> pd.DataFrame:
    """Precision, recall, F1 and support per class (support as a whole number of clips)."""
    return pd.DataFrame(metrics["per_class"]).T.astype({"support": int})


def per_class_by_split(per_split: dict[str, SplitConfusion]) -> pd.DataFrame:
    """per_class_table of every labelled split side by side: one row per class, columns (split, metric)."""
    return pd.concat({split: per_class_table(result.metrics) for split, result in per_split.items()
                      if result.metrics is not None}, axis=1)


def cells(per_split: dict[str, SplitConfusion]) -> dict[tuple[str, str, str], int]:
    """(split, true class, predicted class) -> clips, for every non-empty cell; the errors first, largest first."""
    found = {(split, CLASSES[t], CLASSES[p]): int(n) for split, result in per_split.items() if result.counts is not None
             for (t, p), n in np.ndenumerate(result.counts) if n > 0}
    return dict(sorted(found.items(), key=lambda item: (item[0][1] == item[0][2], -item[1])))


def clicked_cell(selections: dict[str, dict | None]) -> tuple[str, str, str] | None:
    """The cell picked by a click on a heatmap, from st.plotly_chart's selection states {split: state} (None: no
    click). A click reports the cell's marker (lab.figures puts one on every cell) with x = prediction, y = true
    class; points that are not cells are ignored."""
    for split, state in selections.items():
        for point in (state or {}).get("selection", {}).get("points", []):
            if point.get("y") in CLASSES and point.get("x") in CLASSES:
                return split, point["y"], point["x"]
    return None


def cell_clips(table: pd.DataFrame, true_class: str, predicted_class: str) -> pd.DataFrame:
    """The clips of one confusion cell, most confident first."""
    cell = table[(table["label"] == true_class) & (table["prediction"] == predicted_class)]
    return cell.assign(confidence=cell[predicted_class]).sort_values("confidence", ascending=False)


def listed_clips(corpus) -> frozenset[str]:
    """The clips of the corpus on disk (model.data.datasets.Corpus), as prediction tables name them: the ones the
    Analyze page can open. Shipped tables list the full embedded corpus; the app may have generated only part of it."""
    return frozenset(dataset.relative_clip(corpus, record.path) for split in corpus.splits
                     for record in corpus.clips(split))


def coverage(tables: dict[str, pd.DataFrame], listed: frozenset[str]) -> dict[str, tuple[int, int]]:
    """{split: (clips on disk, clips in its prediction table)}, in Train, Val, Test order."""
    return {split: (int(tables[split]["clip"].isin(listed).sum()), len(tables[split])) for split in split_order(tables)}


def coverage_note(covered: dict[str, tuple[int, int]], root: Path) -> str | None:
    """What the clips on disk cover and how to write the rest, in plain words; None when every clip is there."""
    found, total = sum(f for f, _ in covered.values()), sum(t for _, t in covered.values())
    if found == total:
        return None
    return (f"Only {found:,} of the {total:,} clips these predictions were made on are on disk (on first use the app "
            f"generates {dataset.FIRST_USE_SCALE:.0%} of the embedded corpus). The matrices count every clip; the clip "
            "tables, their links and the accuracies by condition only cover the clips on disk. To write the rest, run "
            f"`python -m cli.corpus --out {root}` (`make corpus` does it for data/corpus): clips already there are "
            "kept.")


def _sidecar_conditions(clip: Path) -> dict[str, str]:
    """lab.conditions.clip_conditions of a clip from its sidecar ({} when it has none)."""
    meta = dataset.read_sidecar(clip)
    return conditions.clip_conditions(meta) if meta is not None else {}


CELL_COLUMNS = ("clip", "ground truth", "prediction", "confidence", "on disk")  # then the conditions


def cell_table(table: pd.DataFrame, true_class: str, predicted_class: str, root: Path,
               listed: frozenset[str]) -> pd.DataFrame:
    """The clips of one cell as the page's table and CSV (plain ASCII headers): clip, ground truth, prediction,
    confidence, on disk, then the corpus conditions of each clip on disk (None for the others, whose sidecars are
    not there). Clips on disk first, then most confident first."""
    clips = cell_clips(table, true_class, predicted_class)
    on_disk = clips["clip"].isin(listed)
    found = pd.DataFrame([_sidecar_conditions(Path(root) / clip) if here else {}
                          for clip, here in zip(clips["clip"], on_disk)], index=clips.index)
    shown = pd.DataFrame(dict(zip(CELL_COLUMNS, (clips["clip"], clips["label"], clips["prediction"],
                                                 clips["confidence"], on_disk))))
    return pd.concat([shown, found.astype(object).where(found.notna(), None)], axis=1).sort_values(
        ["on disk", "confidence"], ascending=False, ignore_index=True)


def condition_options(table: pd.DataFrame) -> dict[str, list[str]]:
    """{condition column: the values its clips take, in lab.conditions' order} for a cell_table's filters."""
    from lab.conditions import ORDER  # imported here: lab.conditions imports this module

    return {column: sorted(table[column].dropna().unique(), key=ORDER.index)
            for column in table.columns if column not in CELL_COLUMNS}


def filter_clips(table: pd.DataFrame, wanted: dict[str, list[str]]) -> pd.DataFrame:
    """The rows whose value is among the wanted ones in every column with a non-empty wish (empty: all rows)."""
    keep = np.ones(len(table), dtype=bool)
    for column, values in wanted.items():
        if values:
            keep &= table[column].isin(values).to_numpy()
    return table[keep].reset_index(drop=True)


def download_name(split: str, true_class: str, predicted_class: str) -> str:
    """A clean file name for a cell's CSV, such as Test-Happy-as-Neutral.csv (anything but letters and digits in a
    split's name becomes an underscore)."""
    return "-".join(re.sub(r"[^A-Za-z0-9]+", "_", part).strip("_") for part in (
        split, true_class, "as", predicted_class)) + ".csv"


def read_tables(folder: Path) -> dict[str, pd.DataFrame]:
    """{split: table} of every <Split>.csv in folder."""
    return {path.stem: pd.read_csv(path, keep_default_na=False) for path in sorted(Path(folder).glob("*.csv"))
            if path.stem in SPLITS}


def shipped_tables(checkpoint_name: str, attention: AttentionMode | None = None) -> dict[str, pd.DataFrame]:
    """The shipped tables of a checkpoint in an attention mode (None: its own), or {} when none ship."""
    suffix = AttentionMode(attention).suffix if attention else ""
    return read_tables(sources.predictions_dir() / f"{checkpoint_name}{suffix}")


def corpus_fingerprint(root: Path, clips: list[Path]) -> str:
    """A hash of the clips' relative paths, sizes and modification times: changes when the corpus does."""
    digest = hashlib.sha256()
    for path in sorted(clips):
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def evaluation_cache_path(checkpoint: Path, corpus, split: str, attention: AttentionMode | None) -> Path:
    """Where the evaluation of (checkpoint content, corpus listing, split, attention switch) is cached."""
    records = corpus.clips(split)
    key = "-".join([sources.checkpoint_fingerprint(checkpoint),
                    corpus_fingerprint(corpus.root, [r.path for r in records]), split,
                    str(attention) if attention else "own"])
    return locations.lab_cache() / "evaluations" / f"{key}.csv"


def evaluation_key(checkpoint: Path, corpus) -> tuple[str, str, str]:
    """What identifies one evaluation of a checkpoint on a corpus (every attention mode, every split), for keeping
    it in a session: the checkpoint's content and the corpus listing, as the disk cache's names use them."""
    clips = [r.path for split in corpus.splits for r in corpus.clips(split)]
    return sources.checkpoint_fingerprint(checkpoint), str(corpus.root), corpus_fingerprint(corpus.root, clips)


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


def evaluated_table(checkpoint: Path, corpus, split: str, attention: AttentionMode | None = None) -> pd.DataFrame:
    """Predictions of a checkpoint on one split of a corpus (model.data.datasets.Corpus), from the disk cache."""
    from model.evaluate import evaluate  # imports the processing pool machinery only when needed

    cached = evaluation_cache_path(checkpoint, corpus, split, attention)
    if (table := _read_cached_table(cached, len(corpus.clips(split)))) is not None:
        return table
    table, _ = evaluate(checkpoint, corpus.root, split, out=None, attention=attention,
                        progress=False)
    buffer = io.StringIO()
    table.to_csv(buffer, index=False)
    atomic_write_bytes(cached, buffer.getvalue().encode())
    return pd.read_csv(io.StringIO(buffer.getvalue()), keep_default_na=False)


def prediction_tables(checkpoint_name: str, checkpoint: Path, corpus, use_shipped: bool,
                      attention: AttentionMode | None = None, compute: bool = True,
                      on_split: Callable[[str, int, int], None] | None = None) -> dict[str, pd.DataFrame] | None:
    """{split: table}: the shipped tables when they apply (shipped checkpoint, embedded corpus), else evaluated.

    With ``compute=False`` the answer is None when some split is neither shipped nor cached (so the page can ask
    before a long evaluation). ``on_split(split, done, total)`` reports progress before each split.
    """
    if use_shipped and (tables := shipped_tables(checkpoint_name, attention)):
        return tables
    if not compute and not all(evaluation_cache_path(checkpoint, corpus, split, attention).is_file()
                               for split in corpus.splits):
        return None
    tables = {}
    for done, split in enumerate(corpus.splits):
        if on_split is not None:
            on_split(split, done, len(corpus.splits))
        tables[split] = evaluated_table(checkpoint, corpus, split, attention)
    return tables
