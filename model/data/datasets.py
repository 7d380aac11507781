"""Corpus loaders: find the labelled clips of an AFEW-, DFEW- or class-folder-style corpus on disk.

Only paths and labels are listed here; decoding and processing happen in model.data.processing. The embedded corpus written
by model.data.corpus uses the AFEW layout.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from model.config import CLASSES
from model.data.video import VIDEO_EXTENSIONS

AFEW_SPLITS = {"train": "Train", "train_afew": "Train", "val": "Val", "val_afew": "Val", "test": "Test",
               "test_afew": "Test"}
DFEW_LABELS = {1: "Happy", 2: "Sad", 3: "Neutral", 4: "Angry", 5: "Surprise", 6: "Disgust", 7: "Fear"}
DFEW_SPLIT_FOLDERS = {"Train": "train(single-labeled)", "Test": "test(single-labeled)"}
EXPECTED = ("expected an AFEW corpus (Train/ Val/ with class folders), a DFEW corpus (EmoLabel_DataSplit/) or a "
            f"folder of class folders ({' '.join(CLASSES)})")


class CorpusError(ValueError):
    """A corpus root is missing, empty or malformed; the message is one line naming what was expected."""


@dataclass(frozen=True)
class ClipRecord:
    path: Path
    label: int | None  # index into CLASSES; None = unlabelled (e.g. AFEW Test)
    split: str


@dataclass(frozen=True)
class Corpus:
    root: Path
    kind: str  # "afew", "dfew" or "folders"
    records: dict[str, list[ClipRecord]]
    warnings: list[str] = field(default_factory=list)  # e.g. DFEW clips listed in a split file but not on disk

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(self.records)

    def clips(self, split: str) -> list[ClipRecord]:
        if split not in self.records:
            raise CorpusError(f"{self.root} has no split {split!r}: it has {', '.join(self.splits)}")
        return list(self.records[split])


def open_corpus(root: str | Path, fold: int = 1) -> Corpus:
    """Detect the layout of root and list its clips; fold (1..5) picks the DFEW split files."""
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"{root} is not a folder: {EXPECTED}")
    if (root / "EmoLabel_DataSplit").is_dir():
        return _open_dfew(root, fold)
    folders = {p.name.lower(): p for p in root.iterdir() if p.is_dir()}
    if any(name in AFEW_SPLITS for name in folders):
        return _open_afew(root, folders)
    if _class_folders(root):
        return Corpus(root, "folders", {"All": _labelled_clips(root, "All")})
    raise CorpusError(f"{root} has no recognised layout: {EXPECTED}")


def _open_afew(root: Path, folders: dict[str, Path]) -> Corpus:
    records: dict[str, list[ClipRecord]] = {}
    for name, split in AFEW_SPLITS.items():  # in Train, Val, Test order
        if name not in folders or split in records:
            continue
        folder = folders[name]
        if _class_folders(folder):
            records[split] = _labelled_clips(folder, split)
        elif split == "Test":  # the challenge withholds test labels: a flat folder of clips
            records[split] = [ClipRecord(p, None, split) for p in _videos(folder)]
        else:
            raise CorpusError(f"{folder} has no class folders: expected {' '.join(CLASSES)} inside it")
        if not records[split]:
            raise CorpusError(f"{folder} holds no video clips: expected {', '.join(VIDEO_EXTENSIONS)} files")
    return Corpus(root, "afew", records)


def _class_folders(folder: Path) -> dict[int, Path]:
    """Class index -> subfolder, matching the class names case-insensitively."""
    index = {name.lower(): i for i, name in enumerate(CLASSES)}
    return {index[p.name.lower()]: p for p in folder.iterdir() if p.is_dir() and p.name.lower() in index}


def _labelled_clips(folder: Path, split: str) -> list[ClipRecord]:
    records = [ClipRecord(p, label, split)
               for label, sub in sorted(_class_folders(folder).items()) for p in _videos(sub)]
    if not records:
        raise CorpusError(f"the class folders in {folder} hold no video clips: expected {', '.join(VIDEO_EXTENSIONS)}")
    return records


def _videos(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)


def _open_dfew(root: Path, fold: int) -> Corpus:
    if fold not in range(1, 6):
        raise CorpusError(f"DFEW fold must be 1..5, got {fold}")
    clips = {p.stem: p for p in root.rglob("*") if re.fullmatch(r"\d{5}", p.stem)
             and p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file()}
    if not clips:
        raise CorpusError(f"{root} has EmoLabel_DataSplit/ but no clips named 00001..16372 with a video extension")
    records, warnings = {}, []
    for split, folder in DFEW_SPLIT_FOLDERS.items():
        table = root / "EmoLabel_DataSplit" / folder / f"set_{fold}.csv"
        if not table.is_file():
            raise CorpusError(f"{table} is missing: expected EmoLabel_DataSplit/{folder}/set_1..5.csv")
        rows = _dfew_rows(table)
        records[split] = [ClipRecord(clips[name], CLASSES.index(DFEW_LABELS[label]), split)
                          for name, label in rows if name in clips]
        missing = len(rows) - len(records[split])
        if missing:
            warnings.append(f"{missing} of {len(rows)} clips listed in {table.name} ({split}) are not under {root}")
        if not records[split]:
            raise CorpusError(f"none of the clips listed in {table} are under {root}")
    return Corpus(root, "dfew", records, warnings)


def _dfew_rows(table: Path) -> list[tuple[str, int]]:
    """(5-digit clip name, label 1..7) rows of a DFEW split file; the header row, if any, is skipped."""
    with open(table, newline="", encoding="utf-8-sig") as file:
        rows = [row for row in csv.reader(file) if row]
    if rows and not rows[0][0].strip().isdigit():
        rows = rows[1:]
    parsed = []
    for number, row in enumerate(rows, start=1):
        try:
            name, label = row[0].strip().zfill(5), int(row[1])
        except (IndexError, ValueError):
            raise CorpusError(f"{table} row {number} is not 'video_name,label': {','.join(row)}") from None
        if label not in DFEW_LABELS:
            raise CorpusError(f"{table} row {number} has label {label}: expected 1..7 (single-labelled DFEW)")
        parsed.append((name, label))
    return parsed
