"""The data source: opening a corpus, generating the embedded one on first use, class counts, clip sidecars."""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from lab import sources
from model import locations
from model.config import CLASSES
from model.data.corpus import STARTED
from model.data.datasets import Corpus, CorpusError, open_corpus

FIRST_USE_SCALE = 0.1  # about 180 clips, a minute or two on two cores; `make corpus` writes the full 1,809
DONE_MARKER = "corpus.json"  # model.data.corpus writes it last


def resolve_corpus(text: str | Path) -> Corpus:
    """Open the corpus a user typed (``~`` and relative paths allowed); CorpusError says what was expected.

    The folder must lie in LAB_DATA_ROOTS when that is set, and clips that are links leading out of the corpus are
    left out: nothing outside the chosen folder is listed or read.
    """
    if not str(text).strip():
        raise CorpusError("no data folder given: type the path of an AFEW, DFEW or class-folder corpus")
    root = Path(str(text).strip()).expanduser().resolve()
    allowed = sources.allowed_data_roots()
    if allowed is not None and not any(root.is_relative_to(parent) for parent in allowed):
        raise CorpusError(f"{root} is outside the data folders this lab serves: use a folder inside "
                          f"{', '.join(map(str, allowed))}")
    corpus = open_corpus(root)
    inside = {split: [r for r in records if r.path.resolve().is_relative_to(root)]
              for split, records in corpus.records.items()}
    left_out = sum(len(records) for records in corpus.records.values()) - sum(map(len, inside.values()))
    if not left_out:
        return corpus
    warning = f"{left_out} clips are links to files outside {root} and are left out"
    return dataclasses.replace(corpus, records=inside, warnings=[*corpus.warnings, warning])


def embedded_corpus_ready(root: Path) -> bool:
    return (Path(root) / DONE_MARKER).is_file()


def generate_embedded_corpus(root: Path, scale: float = FIRST_USE_SCALE,
                             on_line: Callable[[str], None] | None = None, workers: int = 2) -> Path:
    """Write the embedded corpus into a private folder beside ``root`` and move it into place when complete, so a
    concurrent session never sees half a corpus (if another session finished first, its corpus is kept).

    An interrupted run (a closed tab stops the page mid-way, a stopped server, a failed write) leaves its private
    folder, ``.<root>.partial-<pid>``; the next run takes it over and writes only the clips it lacks (model.data.corpus
    keeps every clip whose video and sidecar are both there). A successful run leaves no such folder behind, but
    never touches one that a live process is still writing."""
    root = Path(root)
    partial = _resumable_partial(root)
    command = [sys.executable, "-m", "cli.corpus", "--out", str(partial), "--scale", str(scale),
               "--workers", str(workers)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          cwd=locations.REPO_ROOT) as process:
        try:
            for line in _progress_lines(process.stdout):
                if on_line is not None:
                    on_line(line)
        except BaseException:
            _stop(process)  # what it has written stays in ``partial`` for the next run
            raise
    if process.returncode != 0:
        raise CorpusError(f"generating the embedded corpus failed (exit {process.returncode}): "
                          f"run `python -m cli.corpus --out {root}` to see why")
    if not embedded_corpus_ready(root):
        shutil.rmtree(root, ignore_errors=True)  # an incomplete folder put there by hand
        _remove_temporary_files(partial)
        os.replace(partial, root)
    for folder in [partial, *_partials(root)]:  # ours if another session finished first, and dead runs' leftovers
        if folder == partial or not _owner_alive(folder):
            shutil.rmtree(folder, ignore_errors=True)
    return root


def _partials(root: Path) -> list[Path]:
    return sorted(p for p in root.parent.glob(f".{root.name}.partial-*") if p.is_dir())


def _owner_alive(folder: Path) -> bool:
    """Whether the process named in a partial folder's name is another one still running (so maybe writing it)."""
    try:
        pid = int(folder.name.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return False
    if pid == os.getpid():
        return False  # this process generates one corpus at a time (app.ui holds a lock): its folder is left over
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


def _resumable_partial(root: Path) -> Path:
    """This process's partial folder, taking over the fullest one an interrupted run left (its own or a dead
    process's) so that its clips are kept. Only a run that recorded its settings (model.data.corpus.STARTED) is taken
    over: the clips of one that did not cannot be told from another corpus's, so it is removed at the end."""
    own = root.with_name(f".{root.name}.partial-{os.getpid()}")
    if own.is_dir():
        return own
    left = [p for p in _partials(root) if not _owner_alive(p) and (p / STARTED).is_file()]
    for folder in sorted(left, key=lambda p: sum(1 for _ in p.rglob("*.json")), reverse=True):
        try:
            os.replace(folder, own)  # atomic: two processes cannot both take it over
            return own
        except OSError:
            continue
    return own


def _remove_temporary_files(folder: Path) -> None:
    """The temporary files of writes an interruption cut short (model.data.corpus names them ``.<name>...tmp...``)."""
    for path in folder.rglob(".*"):
        if ".tmp" in path.name and path.is_file():
            path.unlink(missing_ok=True)


def _stop(process: subprocess.Popen) -> None:
    """Interrupt the generator as Ctrl-C would (it stops its workers and exits), then make sure it has."""
    if process.poll() is not None:
        return
    try:
        process.send_signal(signal.SIGINT)
    except ValueError:  # Windows sends no SIGINT to a process
        process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _progress_lines(stream):
    """tqdm redraws with carriage returns: split on those too, so every update arrives."""
    buffer = ""
    for chunk in iter(lambda: stream.read(64), ""):
        buffer += chunk
        *lines, buffer = buffer.replace("\r", "\n").split("\n")
        yield from (line.strip() for line in lines if line.strip())


def class_counts(corpus: Corpus) -> pd.DataFrame:
    """Clips per class (rows) and split (columns); unlabelled clips counted as "(no label)"."""
    counts = {split: pd.Series([CLASSES[r.label] if r.label is not None else "(no label)" for r in corpus.clips(split)])
              .value_counts() for split in corpus.splits}
    table = pd.DataFrame(counts).fillna(0).astype(int)
    order = [c for c in (*CLASSES, "(no label)") if c in table.index]
    return table.loc[order]


def relative_clip(corpus: Corpus, path: Path) -> str:
    """The clip's path relative to the corpus root with forward slashes: what links and prediction tables use."""
    return Path(path).relative_to(corpus.root).as_posix()


MAX_LINK_PATH = 255  # longer than any corpus path: a link's clip= is refused before the file system sees it


def link_text(text: str, limit: int) -> str:
    """A value from the address bar as a page may echo it: cut to ``limit`` characters, control characters dropped."""
    return "".join(c for c in text[:limit] if c.isprintable())


def find_clip(corpus: Corpus, relative: str) -> Path:
    """The corpus clip at ``relative`` (from a link); refuses paths that leave the corpus."""
    root = Path(corpus.root).resolve()
    refused = CorpusError(f"{link_text(relative, 80)!r} is not a clip of this corpus: pick a clip from the list "
                          "instead")
    if len(relative) > MAX_LINK_PATH or "\0" in relative:
        raise refused
    try:
        path = (root / relative).resolve()
        found = path.is_relative_to(root) and path.is_file()
    except (OSError, ValueError):  # a name the file system refuses
        found = False
    if not found:
        raise refused
    return path


def read_sidecar(clip: Path) -> dict | None:
    """The embedded corpus's JSON sidecar of a clip (labels, AU curves, onset/apex), or None for other corpora."""
    path = Path(clip).with_suffix(".json")
    try:
        meta = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return meta if isinstance(meta, dict) and "au" in meta and "au_names" in meta else None


def au_curves(meta: dict) -> pd.DataFrame:
    """Per-frame expression AU intensities (frames x AUs), only the AUs that move."""
    table = pd.DataFrame(meta["au"], columns=meta["au_names"])
    table.index.name = "frame"
    return table.loc[:, table.max() > 0.01]
