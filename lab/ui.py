"""Streamlit glue shared by every page: the loaded models, the sidebar, the data source and per-session folders.

Loaded models live in ``st.cache_resource``: one object shared by every session and thread. They are only ever
called (lab.attribution copies before hooking; the attention switch is a forward argument), never changed.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from lab import conditions, dataset, sources
from model.checkpoint import CheckpointError, load_checkpoint
from model.config import ProcessConfig
from model.datasets import Corpus, CorpusError
from model.network import TwoStreamNet
from model.reliability import Calibration

EMBEDDED, FOLDER = "Embedded corpus", "A corpus folder"


@st.cache_resource(max_entries=6, show_spinner="Loading the model…")
def _load(folder: str, stamp: float) -> tuple[TwoStreamNet, ProcessConfig, dict]:
    return load_checkpoint(Path(folder))


def load_model(folder: Path) -> tuple[TwoStreamNet, ProcessConfig, dict]:
    """The checkpoint's (model, process settings, config), loaded once per file version for all sessions."""
    return _load(*sources.checkpoint_stamp(folder))


@st.cache_resource(max_entries=6)
def _calibration(folder: str, stamp: float) -> Calibration | None:
    return Calibration.read(Path(folder))


def load_calibration(folder: Path) -> Calibration | None:
    """The checkpoint's unfamiliarity calibration (None when it has none), read once per file version."""
    return _calibration(*sources.checkpoint_stamp(folder))


@st.cache_resource
def _corpus_lock() -> threading.Lock:
    """One generation of the embedded corpus at a time, whichever session asks first."""
    return threading.Lock()


@dataclass(frozen=True)
class Selection:
    """What the sidebar picked: a checkpoint and a data source."""

    checkpoint_name: str | None
    checkpoint: Path | None
    data_root: Path | None  # None: a folder was asked for but none typed yet
    embedded: bool  # the embedded corpus (shipped prediction tables apply to it)


def _persistent(name: str, default, options: list | None = None) -> str:
    """Key of a widget whose value survives page switches.

    Streamlit forgets a widget's state on a page that does not draw it; every page draws the sidebar anew, so its
    value lives under ``name`` and the widget (key ``_name``) starts from it and copies changes back.
    """
    if name not in st.session_state or (options is not None and st.session_state[name] not in options):
        st.session_state[name] = default
    st.session_state[f"_{name}"] = st.session_state[name]
    return f"_{name}"


def _remember(name: str) -> None:
    st.session_state[name] = st.session_state[f"_{name}"]


def sidebar() -> Selection:
    """Draw the sidebar (every page calls this first) and return what it picked."""
    choices = sources.checkpoint_choices()
    bar = st.sidebar
    name = None
    if choices:
        names = list(choices)
        default = sources.default_checkpoint_name(choices)
        name = bar.selectbox("Checkpoint", names, key=_persistent("checkpoint", default, names),
                             on_change=_remember, args=("checkpoint",),
                             help="Shipped checkpoints, then your training runs (runs/<name>/best).")
    else:
        bar.error("No checkpoint found: train one (make train) or restore assets/checkpoints/.")
    source = bar.radio("Data source", (EMBEDDED, FOLDER), key=_persistent("data_source", EMBEDDED, [EMBEDDED, FOLDER]),
                       on_change=_remember, args=("data_source",), horizontal=True)
    embedded = source == EMBEDDED
    if embedded:
        root = sources.default_data()
        bar.caption(f"`{root}`")
    else:
        typed = bar.text_input("Corpus folder", key=_persistent("data_path", ""),
                               on_change=_remember, args=("data_path",), placeholder="/data/AFEW or /data/DFEW",
                               help="An AFEW (Train/ Val/ with class folders), DFEW (EmoLabel_DataSplit/) or "
                                    "class-folder corpus.")
        root = Path(typed.strip()).expanduser().resolve() if typed.strip() else None
    return Selection(name, choices.get(name), root, embedded)


def require_checkpoint(chosen: Selection) -> None:
    """Stop the page with a hint while no checkpoint is picked."""
    if chosen.checkpoint is None:
        st.info("Pick a checkpoint in the sidebar.")
        st.stop()


def current_model(chosen: Selection) -> tuple[TwoStreamNet, ProcessConfig, dict] | None:
    """The selected checkpoint loaded, or None after showing why it cannot be."""
    if chosen.checkpoint is None:
        st.info("Pick a checkpoint in the sidebar.")
        return None
    try:
        return load_model(chosen.checkpoint)
    except CheckpointError as error:
        st.error(str(error))
        return None


def model_without_module(chosen: Selection) -> tuple[TwoStreamNet, ProcessConfig] | None:
    """The shipped model trained without the attention module, to compare against (None if it is not there)."""
    folder = sources.checkpoint_choices().get(sources.NO_MODULE_CHECKPOINT)
    if folder is None or folder == chosen.checkpoint:
        return None
    try:
        model, process, _ = load_model(folder)
    except CheckpointError:
        return None
    return model, process


def open_data(chosen: Selection) -> Corpus | None:
    """The selected corpus (generating the embedded one on first use, with progress), or None after an st.error."""
    if chosen.data_root is None:
        st.info("Type the path of a corpus folder in the sidebar.")
        return None
    if chosen.embedded and not dataset.embedded_corpus_ready(chosen.data_root):
        _generate_embedded(chosen.data_root)
    try:
        return _open_corpus(str(chosen.data_root), _listing_stamp(chosen.data_root))
    except CorpusError as error:
        st.error(str(error))
        return None


def _listing_stamp(root: Path) -> float:
    """Changes when clips are added to or removed from the corpus's folders (their modification times)."""
    return max((p.stat().st_mtime for p in (root, *root.glob("*"), *root.glob("*/*")) if p.is_dir()), default=0.0)


@st.cache_data(max_entries=8, show_spinner=False)
def _open_corpus(root: str, stamp: float) -> Corpus:
    return dataset.resolve_corpus(root)


@st.cache_data(max_entries=8, show_spinner="Reading the corpus's ground truth…")
def accuracy_by_condition(tables: dict[str, pd.DataFrame], root: str) -> pd.DataFrame:
    """lab.conditions.accuracy_by_condition_and_split, once per set of prediction tables (it reads every sidecar)."""
    return conditions.accuracy_by_condition_and_split(tables, Path(root))


def _generate_embedded(root: Path) -> None:
    with st.status(f"First use: generating the embedded corpus ({dataset.FIRST_USE_SCALE:.0%} scale)…",
                   expanded=True) as status:
        line = st.empty()
        with _corpus_lock():
            if not dataset.embedded_corpus_ready(root):  # another session may have finished meanwhile
                try:
                    dataset.generate_embedded_corpus(root, on_line=lambda text: line.text(text))
                except CorpusError as error:
                    status.update(label="The embedded corpus could not be generated", state="error")
                    st.error(str(error))
                    return
        status.update(label="The embedded corpus is ready", state="complete", expanded=False)


