"""Streamlit glue shared by every page: the loaded models, the sidebar, the data source and per-session folders.

app/main.py draws the sidebar on every run, before the page; the page reads what it picked with ``selection()``.
Pages import only this package and lab, so what they need of the model package (class names, the errors they
explain) is named here too.

Loaded models live in ``st.cache_resource``: one object shared by every session and thread. They are only ever
called (lab.attribution copies before hooking; the attention switch is a forward argument), never changed.
"""
from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pandas as pd
import streamlit as st

from lab import conditions, dataset, explain, glossary, sources
from lab.admission import ADMISSION, AdmissionRefused, clips
from lab.analysis import ClipAnalysis, Lineup
from lab.grading import runner, stored, verdicts
from model import locations
from model.checkpoint import CheckpointError, load_checkpoint
from model.config import CLASSES as CLASSES
from model.config import AttentionMode, ModelConfig, ProcessConfig
from model.data.datasets import Corpus, CorpusError
from model.data.processing import NoFaceError as NoFaceError
from model.data.video import ClipError as ClipError
from model.locations import REPO_ROOT
from model.network import TwoStreamNet
from model.predict import Predictor
from model.reliability import Calibration

EMBEDDED, FOLDER = "Embedded corpus", "A corpus folder"
ANALYSES_KEPT = 16  # analysed clips shared by every session, a few MB each: memory stays bounded
EXPLANATIONS_KEPT = 64  # saliency maps shared by every session, well under 1 MB each


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


def content_digest(data: bytes) -> str:
    """What identifies a clip across sessions: the hash of its bytes (the same sample, link or upload twice)."""
    return hashlib.sha256(data).hexdigest()


@st.cache_data(max_entries=64, show_spinner=False)
def _file_digest(path: str, stamp: float) -> str:
    return content_digest(Path(path).read_bytes())


def file_digest(path: Path) -> str:
    """content_digest of a file, read once per file version."""
    return _file_digest(str(path), path.stat().st_mtime)


T = TypeVar("T")


def queued(compute: Callable[[], T], doing: str) -> T:
    """``compute()`` in one of the server's admission slots (lab.admission), under a spinner saying what it does; while
    it waits, the reader sees their place in line. A full line stops the page with a one-line error."""
    place = st.empty()

    def told(ahead: int) -> None:
        place.info(f"Waiting for the lab: {clips(ahead)} ahead of yours…")

    try:
        with ADMISSION.slot(told):
            place.empty()
            with st.spinner(doing):
                return compute()
    except AdmissionRefused as refused:
        place.error(str(refused))
        st.stop()


@dataclass(frozen=True)
class ClipKey:
    """One clip as analysed: its content, the checkpoint's file version and whether it was centre-cropped."""

    digest: str
    checkpoint: tuple[str, float]
    center_crop: bool


@dataclass(frozen=True)
class ExplanationKey:
    """One saliency computation: a clip, a method, a target class, the attention setting and IG's steps."""

    clip: ClipKey
    method: str
    target: int
    attention: AttentionMode
    steps: int | None


@st.cache_resource(max_entries=ANALYSES_KEPT, show_spinner=False)
def shared_analysis(key: ClipKey, columns: tuple[str, ...], _run: Callable[[bool], ClipAnalysis]
                    ) -> ClipAnalysis:
    """``_run(center_crop)``'s analysis, computed once for every session (a class opening one link waits for one
    computation: Streamlit locks per key). The result is shared: never change it."""
    return _run(key.center_crop)


@st.cache_resource(max_entries=EXPLANATIONS_KEPT, show_spinner=False)
def shared_explanation(key: ExplanationKey, _model: TwoStreamNet, _analysis: ClipAnalysis) -> explain.Explanation:
    """lab.explain.explain of the clip, computed once for every session. Shared: never change it."""
    return explain.explain(_model, _analysis.prediction, key.method, key.target, key.attention, key.steps)


@st.cache_resource(max_entries=8, show_spinner=False)
def shared_overlay_video(key: ExplanationKey, style: explain.MapStyle, _explanation: explain.Explanation,
                         duration: float) -> bytes:
    """The explanation's overlay video (WebM), made once for every session that asks for it."""
    return explain.overlay_video(_explanation, duration, style)


@st.cache_data(max_entries=8, show_spinner=False)
def method_grades(checkpoint_name: str | None, attention: str) -> dict[str, str]:
    """Each method's grade in one line, best first, from the checkpoint's shipped grading table
    (lab.verdicts.method_grades)."""
    return verdicts.method_grades(checkpoint_name, attention)


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


_SELECTION = "sidebar_selection"  # the session-state key sidebar() hands its Selection over under


def sidebar() -> None:
    """Draw the sidebar and hand what it picked to the page's ``selection()``: app/main.py calls this on every run."""
    st.session_state[_SELECTION] = _draw_sidebar()


def selection() -> Selection:
    """What the sidebar picked on this run; every page calls this first."""
    return st.session_state[_SELECTION]


def page(file: str) -> str:
    """The path of a page file named as in app/main.py ("pages/analyze.py"), for st.Page, st.page_link and AppTest:
    pages/ lies beside app/, where Streamlit's relative paths would not find it."""
    return str(REPO_ROOT / file)


def link_note(name: str, allowed, where=None) -> None:
    """Say so when the address bar asks a bound widget for a value it cannot take: Streamlit drops such a value
    silently and the widget shows its default. Call it before drawing the widget."""
    asked = st.query_params.get(name)
    if asked is not None and asked not in {str(value) for value in allowed}:
        (where or st).caption(f":orange[The link's {name} {dataset.link_text(asked, 40)!r} is not one of the "
                              "choices here: showing the default.]")


def _draw_sidebar() -> Selection:
    choices = sources.checkpoint_choices()
    bar = st.sidebar
    name = None
    if choices:
        names = list(choices)
        default = sources.default_checkpoint_name(choices)
        if st.session_state.get("checkpoint") not in names:  # a run folder removed since: back to the default
            st.session_state.pop("checkpoint", None)
        name = bar.selectbox("Checkpoint", names, index=names.index(default), key="checkpoint",
                             persist_state="session",
                             help="Shipped checkpoints, then your training runs (runs/<name>/best).")
    else:
        bar.error("No checkpoint found: train one (make train) or restore assets/checkpoints/.")
    source = bar.radio("Data source", (EMBEDDED, FOLDER), key="data_source", persist_state="session",
                       horizontal=True)
    embedded = source == EMBEDDED
    if embedded:
        root = locations.corpus()
        bar.caption(f"`{root}`")
    else:
        typed = bar.text_input("Corpus folder", key="data_path", persist_state="session",
                               placeholder="/data/AFEW or /data/DFEW",
                               help="An AFEW (Train/ Val/ with class folders), DFEW (EmoLabel_DataSplit/) or "
                                    "class-folder corpus.")
        root = Path(typed.strip()).expanduser().resolve() if typed.strip() else None
    with bar.expander("Glossary"):  # every page's terms of art in plain words
        st.markdown(glossary.markdown())
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


def lineup(chosen: Selection, model: TwoStreamNet, process: ProcessConfig) -> Lineup:
    """The selected checkpoint's predictor and, to compare, the shipped model trained without the attention module
    (when it is there and not the one selected)."""
    predictor = Predictor(model, process, load_calibration(chosen.checkpoint))
    folder = sources.checkpoint_choices().get(locations.NO_MODULE_CHECKPOINT)
    if folder is None or folder == chosen.checkpoint:
        return Lineup(predictor)
    try:
        other, other_process, _ = load_model(folder)
    except CheckpointError:
        return Lineup(predictor)
    return Lineup(predictor, Predictor(other, other_process, load_calibration(folder)))


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


@st.cache_data(max_entries=4, show_spinner=False)
def shipped_grade_report(path: str, stamp: float) -> runner.GradeReport:
    """A precomputed grading report (lab.grading.stored), read once per file version."""
    return stored.load_report(Path(path))


def session_grade_report(request: tuple, progress) -> runner.GradeReport:
    """This session's own grading run (lab.runner.grade_corpus) of ``request``: (checkpoint, its stamp, corpus, split,
    settings). Computed once and kept in this session only, apart from the shipped grades; a rerun shows it again."""
    kept = st.session_state.get("grade_run")
    if kept is None or kept[0] != request:
        checkpoint, _, data, split, settings = request
        kept = (request, runner.grade_corpus(Path(checkpoint), Path(data), split, settings, progress))
        st.session_state["grade_run"] = kept
    return kept[1]


def architecture(loaded: tuple[TwoStreamNet, ProcessConfig, dict] | None) -> tuple[ModelConfig, ProcessConfig]:
    """The loaded checkpoint's model and process settings, or the default recipe's when none is loaded."""
    if loaded is None:
        return ModelConfig(), ProcessConfig()
    return ModelConfig.from_dict(loaded[2]["model"]), loaded[1]


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


