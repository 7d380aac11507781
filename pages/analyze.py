"""Analyze a clip: the frame of the page (pick a clip, its shared analysis, the headline and the attention switch)
and its tabs, each a function of one AnalyzeState in app/analyze_tabs.py.

Only the open tab runs (the tabs are bound to the address bar, so each has ``.open``), and every analysis and
explanation comes from app.ui's caches shared by all sessions: a rerun, a second visitor or a class on one link
recomputes nothing. The picks (source, sample, tab, method, target, frame...) live in the URL and survive page
switches.
"""
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from app import analyze_tabs as tabs
from app import ui, webcam
from lab import analysis, dataset, glossary, sources, trust
from model.config import AttentionMode

SAMPLE, UPLOAD, CORPUS = "Shipped sample", "Upload a video", "Corpus clip"
KEPT = tabs.KEPT

chosen = ui.selection()
loaded = ui.current_model(chosen)
if loaded is None:
    st.stop()
model, process, _ = loaded
lineup = ui.lineup(chosen, model, process)


@dataclass(frozen=True)
class Picked:
    """The clip to analyze: an id for this session, its name as this session knows it (the shared analysis never
    holds an upload's name), its bytes' digest, how to analyze it, and its file if it has one (corpus clips and
    samples: their ground truth and What if)."""

    clip_id: tuple
    name: str
    digest: str
    run: Callable[[bool], analysis.ClipAnalysis]  # center_crop -> the clip's analysis
    path: Path | None


def kept_file(source: str, name: str | None = None, data: bytes | None = None) -> tuple[str, bytes] | None:
    """The last file this session gave ``source`` (an upload or a recording): kept across page switches."""
    files = st.session_state.setdefault("analyze_files", {})
    if data is not None:
        files[source] = (name, data)
    return files.get(source)


def bytes_picked(source: str, name: str, data: bytes) -> Picked:
    digest = ui.content_digest(data)
    return Picked((source, digest), name, digest,
                  lambda crop: analysis.analyze_upload(data, name, lineup, center_crop=crop), None)


def file_picked(clip_id: tuple, path: Path, name: str | None = None) -> Picked:
    return Picked(clip_id, name or path.name, ui.file_digest(path),
                  lambda crop: analysis.analyze_file(path, lineup, center_crop=crop, name=name), path)


def pick_clip(where) -> Picked | None:
    """The chosen source's clip, or None while nothing is chosen (the page then says what to do)."""
    linked = st.query_params.get("clip")
    samples = sources.sample_clips()
    options = [o for o in (SAMPLE, UPLOAD, webcam.SOURCE, CORPUS) if o != SAMPLE or samples]
    left, right = where.columns([2, 3])
    source = left.radio("Source", options, index=options.index(CORPUS if linked else options[0]), horizontal=True,
                        key="source", label_visibility="collapsed", **KEPT)  # its options say what it is
    if source != CORPUS:
        for name in ("clip", "split"):  # only the corpus link's own parameters: the other picks stay
            if name in st.query_params:
                del st.query_params[name]
    if source == SAMPLE:
        stems = [p.stem for p in samples]
        opening = stems.index(sources.OPENING_SAMPLE) if sources.OPENING_SAMPLE in stems else 0
        path = right.selectbox("Sample", samples, index=opening, format_func=lambda p: p.stem, key="sample", **KEPT)
        return file_picked(("sample", str(path)), path)
    if source == UPLOAD:
        upload = right.file_uploader("Video file", type=list(analysis.UPLOAD_TYPES), key="upload",
                                     help="A few seconds with one visible face work best; at most 20 s are read.")
        if upload is not None:
            kept_file(UPLOAD, upload.name, upload.getvalue())
        kept = kept_file(UPLOAD)
        if kept is None:
            return None
        if upload is None:
            right.caption(f"Showing **{kept[0]}**, uploaded earlier; upload another file to replace it.")
        return bytes_picked(UPLOAD, *kept)
    if source == webcam.SOURCE:  # the recording is analysed exactly like an uploaded file
        with right:
            seconds = st.select_slider("Seconds to record", list(range(1, webcam.MAX_SECONDS + 1)), value=3,
                                       key="webcam_seconds")
            recording = webcam.record(seconds)
        if recording is not None:
            kept_file(webcam.SOURCE, recording.name, recording.data)
        kept = kept_file(webcam.SOURCE)
        return None if kept is None else bytes_picked(webcam.SOURCE, *kept)
    corpus = ui.open_data(chosen)
    if corpus is None:
        return None
    splits = list(corpus.splits)
    pick_split, pick_clip_of_split = right.columns([1, 3])
    asked = st.query_params.get("split")
    split = pick_split.selectbox("Split", splits, key="corpus_split",
                                 index=splits.index(asked) if asked in splits else 0)
    if asked is not None and asked not in splits:
        right.warning(f"The link's split {asked[:40]!r} is not one of this corpus's ({', '.join(splits)}): showing "
                      f"{split}.")
    clips = [dataset.relative_clip(corpus, r.path) for r in corpus.clips(split)]
    if linked and linked not in clips:
        clips.insert(0, linked)  # shown, and refused with a one-line error below if it is not in the corpus
    relative = pick_clip_of_split.selectbox("Corpus clip", clips, index=clips.index(linked) if linked in clips else 0,
                                            key=f"clip-{split}")
    st.query_params.update(clip=relative, split=split)  # the address bar now shares this clip
    try:
        path = dataset.find_clip(corpus, relative)
    except dataset.CorpusError as error:
        st.error(str(error))
        return None
    return file_picked(("corpus", relative), path, name=relative)


def key_of(picked: Picked) -> ui.ClipKey:
    """What the shared caches know the clip by: its content, the checkpoint's version and the crop mode."""
    crop = st.session_state.get("center_crop_for") == picked.clip_id
    return ui.ClipKey(picked.digest, sources.checkpoint_stamp(chosen.checkpoint), crop)


def analyzed(picked: Picked, key: ui.ClipKey) -> analysis.ClipAnalysis | None:
    """The clip's analysis (shared by every session), or None after a one-line error."""
    try:
        return ui.queued(lambda: ui.shared_analysis(key, lineup.columns, picked.run),
                         "Processing the clip: face track, crops, optical flow, prediction…")
    except ui.NoFaceError as error:
        st.error(str(error))
        if st.button("Retry with a centre crop (no face detection)"):
            st.session_state["center_crop_for"] = picked.clip_id
            st.rerun()
    except ui.ClipError as error:
        st.error(str(error))
    return None


st.title("Analyze a clip")
st.caption("One clip through the model: its answer and how far to trust it, then what each stream looked at.",
           help=glossary.markdown(("Spatial and temporal streams", "Real-face network", "Inter-stream attention",
                                   "Reliability panel", "Saliency map")))
picked = pick_clip(st.container())
if picked is None:
    st.info("Pick a sample, upload a video, record one or open a corpus clip.")
    st.stop()
clip_key = key_of(picked)
result = analyzed(picked, clip_key)
if result is None:
    st.stop()

has_module = len(model.modes) > 1  # a module that can be bypassed
answer = st.container(key="analyze_answer")  # the tour's step shows it (app/tour.py)
summary, verdict, switch = answer.columns([2, 5, 3], vertical_alignment="center")  # the switch's label whole
attention_on = switch.toggle("Inter-stream attention", value=True, key="attention", disabled=not has_module, **KEPT,
                             help="Off: the same trained model answers with its inter-stream attention module "
                                  "left out, so you see what the module changes.")
mode = model.modes[0] if attention_on else AttentionMode.BYPASSED  # the attention mode shown
truth = dataset.read_sidecar(picked.path) if picked.path is not None else None
state = tabs.AnalyzeState(model, lineup, picked.clip_id, clip_key, picked.name, picked.path, result, truth, mode,
                          ui.method_grades(chosen.checkpoint_name, mode))
probabilities, predicted = state.probabilities, state.predicted
reliable = result.reliability.reliable
summary.metric(f"Prediction ({state.column})", predicted,
               f"{probabilities.max():.0%} confidence" if reliable else "unreliable", delta_color="off",
               delta_arrow="off")
headline = trust.headline(result.reliability, predicted, probabilities.max())
wrong = truth is not None and truth["label"] != predicted
if truth is not None:  # corpus clips and samples know their expression
    headline = f"Ground truth: **{truth['label']}** ({':red[✗ wrong]' if wrong else ':green[✓ right]'}). {headline}"
(verdict.success if reliable and not wrong else verdict.warning)(headline)  # never green when wrong
recorded = picked.clip_id[0] == webcam.SOURCE
notes = [f"Clip: {picked.name}", *(webcam.clip_warnings(result.warnings) if recorded else result.warnings)]
if result.clip.stats.get("center_crop"):
    notes.append("Centre crop: no face detection was used for this clip.")
for note in notes:
    verdict.caption(note)

# Keyed and bound to the address bar: a rerun keeps the open tab, a shared link opens it, and only it runs.
ui.link_note("tab", list(tabs.TABS), verdict)
for tab, draw in zip(st.tabs(list(tabs.TABS), key="tab", bind="query-params"), tabs.TABS.values()):
    if tab.open:
        with tab:
            draw(state)
