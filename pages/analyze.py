"""Analyze a clip: processing steps, prediction with the attention switch, saliency of both streams, attention.

Only the open tab runs (the tabs are bound to the address bar, so each has ``.open``), and every analysis and
explanation comes from app.ui's caches shared by all sessions: a rerun, a second visitor or a class on one link
recomputes nothing. The picks (source, sample, tab, method, target, frame...) live in the URL and survive page
switches.
"""
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from app import ui, webcam
from lab import analysis, dataset, explain, figures, sources, trust, visuals, whatif
from lab import attention as attention_maps
from lab.attribution import method_named, offered
from lab.intervene import drawable_clip
from lab.video_export import browser_playable
from model.config import AttentionMode

SAMPLE, UPLOAD, CORPUS = "Shipped sample", "Upload a video", "Corpus clip"
PREDICTED = "predicted"  # the target option that follows the prediction of the attention mode shown
KEPT = {"persist_state": "session", "bind": "query-params"}  # in the address bar, and kept across pages

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
                        key="source", **KEPT)
    if source != CORPUS:
        for name in ("clip", "split"):  # only the corpus link's own parameters: the other picks stay
            if name in st.query_params:
                del st.query_params[name]
    if source == SAMPLE:
        path = right.selectbox("Sample", samples, format_func=lambda p: p.stem, key="sample", **KEPT)
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


def new_clip_resets(key: str, clip_id: tuple) -> None:
    """A widget whose default depends on the clip starts from that default on each new clip (a shared link's value
    wins on the session's first clip); after that it is the reader's."""
    marker = f"{key}_clip"
    first = marker not in st.session_state
    if st.session_state.get(marker) != clip_id:
        st.session_state[marker] = clip_id
        if not first:
            st.session_state.pop(key, None)


st.title("Analyze a clip")
st.caption("One clip through the model: its answer and how far to trust it, then what each stream looked at.")
picked = pick_clip(st.container())
if picked is None:
    st.info("Pick a sample, upload a video, record one or open a corpus clip.")
    st.stop()
clip_key = key_of(picked)
result = analyzed(picked, clip_key)
if result is None:
    st.stop()
file_stem = Path(picked.name).stem  # download names such as happy_test_00012-face-crops.png

has_module = len(model.modes) > 1  # a module that can be bypassed
summary, verdict, switch = st.columns([2, 5, 2], vertical_alignment="center")
attention_on = switch.toggle("Inter-stream attention", value=True, key="attention", disabled=not has_module, **KEPT,
                             help="Off: the same trained model answers with its inter-stream attention module "
                                  "left out, so you see what the module changes.")
mode = model.modes[0] if attention_on else AttentionMode.BYPASSED  # the attention mode shown
column = mode.label
probabilities = result.probabilities[column]
predicted = str(probabilities.idxmax())
reliable = result.reliability.reliable
summary.metric(f"Prediction ({column})", predicted,
               f"{probabilities.max():.0%} confidence" if reliable else "unreliable", delta_color="off",
               delta_arrow="off")
truth = dataset.read_sidecar(picked.path) if picked.path is not None else None
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
TABS = ["Prediction", "Processing steps", "Saliency", "What if", "Inter-stream attention"]
ui.link_note("tab", TABS, verdict)
tab_prediction, tab_processing, tab_saliency, tab_whatif, tab_attention = st.tabs(
    TABS, key="tab", bind="query-params")

if tab_prediction.open:
    with tab_prediction:
        bars, checks = st.columns([3, 2])
        bars.plotly_chart(figures.probability_bars(result.probabilities), key="probabilities")
        bars.caption("Attention on / bypassed: the same trained model with its module used or skipped. Trained "
                     "without the module: the same recipe trained with no module at all (checkpoint "
                     "two_stream_no_attention).")
        if truth is not None:
            checks.video(str(browser_playable(picked.path)), format="video/webm", loop=True, autoplay=True,
                         muted=True)
            checks.caption("The original clip")
        checks.markdown("**Reliability checks**")
        checks.table(trust.panel(result.reliability).set_index("check"))
        bars.download_button("Probabilities (CSV)", result.probabilities.to_csv(index_label="class"),
                             file_name=f"{file_stem}-probabilities.csv", mime="text/csv")
        if result.real_face is not None:
            bars.markdown("**What the real-face network alone reads, frame by frame**")
            (bars.info if result.real_face.agrees(predicted) else bars.warning)(result.real_face.note(predicted))
            bars.plotly_chart(figures.real_face_curves(result.real_face.per_frame), key="real_face")
            bars.caption("This is the spatial stream's own evidence: the video model starts from it, and the motion "
                         "stream, the inter-stream attention and the fusion add a correction.")

if tab_processing.open:
    with tab_processing:
        stats = result.clip.stats
        st.markdown(f"**{stats['num_frames']} frames** at {stats['fps']:.1f} fps, {stats['width']}×{stats['height']}; "
                    f"face found by the detector on {stats.get('detection_rate', 0):.0%} of its runs, tracked on "
                    f"{stats.get('track_coverage', 0):.0%} of the frames; optical flow: {stats['flow_method']}.",
                    help="Optical flow is the apparent motion of every pixel between two frames, what the temporal "
                         "stream reads. Farneback is OpenCV's classic dense method (a polynomial fitted around each "
                         "pixel); TV-L1 is slower and sharper.")
        track = visuals.montage(visuals.number_tiles(result.track_frames), columns=4)
        st.image(track, caption="Face track on the sampled frames (numbered as on the other tabs): green = detected, "
                                "yellow = tracked, red = the square the crop was cut from", width="content")
        crops = visuals.montage(visuals.number_tiles(visuals.upscale(result.clip.rgb, 96)), columns=8)
        st.image(crops, caption=f"The {len(result.clip.rgb)} face crops the spatial stream sees", width="content")
        flow_left, flow_right = st.columns([6, 1])
        flows = visuals.montage(visuals.number_tiles(visuals.upscale(visuals.flow_to_rgb(result.clip.flow), 96),
                                                     first=1), columns=8)
        flow_left.image(flows, caption="The motion into each frame from the one before (the temporal stream's input; "
                                       "frame 0 has none)", width="content")
        flow_right.image(visuals.colour_wheel(), caption="colour = direction, brightness = speed")
        for label, image in (("Face track", track), ("Face crops", crops), ("Flow fields", flows)):
            st.download_button(f"{label} (PNG)", visuals.png_bytes(image), mime="image/png", key=f"png-{label}",
                               file_name=f"{file_stem}-{label.lower().replace(' ', '-')}.png")


def explanation_key(method: str, target: int, steps: int | None) -> ui.ExplanationKey:
    return ui.ExplanationKey(clip_key, method, target, mode, steps if method_named(method).has_steps else None)


def explanation_of(method: str, target: int, steps: int | None) -> explain.Explanation:
    return ui.queued(lambda: ui.shared_explanation(explanation_key(method, target, steps), model, result),
                     f"Computing {method} for both streams…")


grades = ui.method_grades(chosen.checkpoint_name, mode)  # best first
ranked = list(grades)
methods = ranked + [m for m in offered() if m not in grades]  # the picker lists them by grade
best_method = methods[0]  # what the tabs open on: never one the lab says not to trust

if tab_saliency.open:
    with tab_saliency:
        pictures, controls = st.columns([3, 2])
        ui.link_note("method", methods, controls)
        ui.link_note("target", [PREDICTED, *ui.CLASSES], controls)
        method = controls.selectbox("Method", methods, index=methods.index(best_method), key="method", **KEPT)
        if ranked and method == best_method:
            controls.caption(f"Opens on {best_method}: the best graded of the methods for this checkpoint with the "
                             f"{mode.label} (ranked on the "
                             "Explanation quality page's verdicts).")
        controls.caption("**How far it can be trusted here:** "
                         + grades.get(method, "not graded for this checkpoint (see the Explanation quality page)."))
        target_name = controls.selectbox(
            "Target class", [PREDICTED, *ui.CLASSES], key="target", **KEPT,
            format_func=lambda c: f"Predicted: {predicted}" if c == PREDICTED else c,
            help="Whose evidence to show. 'Predicted' follows the prediction of the attention setting shown.")
        target_name = predicted if target_name == PREDICTED else target_name
        compared = controls.multiselect("Side by side with", [m for m in methods if m != method], key="compare",
                                        **KEPT, help="Other methods on the same frame, below the first.")
        style_sign, style_opacity = controls.columns(2)
        signed = style_sign.toggle("Show the sign", key="signed", **KEPT,
                                   help="Red: pushes towards the target class; blue: pushes away from it.")
        opacity = style_opacity.slider("Map opacity", 0, 100, 55, 5, format="%d%%", key="opacity", **KEPT)
        steps = method_named(method).steps
        if method_named(method).has_steps:
            steps = controls.select_slider("Integration steps", [8, 16, 32, 64], value=steps, key="steps", **KEPT)
        style = explain.MapStyle(signed, opacity / 100)
        target = ui.CLASSES.index(target_name)
        with pictures:
            shown = explanation_of(method, target, steps)
        new_clip_resets("frame", picked.clip_id)
        ui.link_note("frame", range(shown.frames), controls)
        frame = controls.slider("Frame", 0, shown.frames - 1, shown.most_relevant_frame(), key="frame", **KEPT,
                                help="Starts on the frame where the maps hold the most relevance.")
        seconds_into = shown.importance.time_s[frame]

        def show(where, name: str, explanation: explain.Explanation) -> None:
            where.image(explain.frame_panel(explanation, frame, style, legend=True), width="content",
                        caption=f"{name} for {target_name}, frame {frame} ({seconds_into:.2f} s): the face crop "
                                "(left) and the motion into this frame (right)")

        show(pictures, method, shown)
        if signed and not shown.has_sign:
            pictures.caption(f"{method} gives magnitudes only: it says where, not which way.")
        if compared:
            for slot, name in zip(st.columns(len(compared)), compared):
                show(slot, name, explanation_of(name, target, steps))
                slot.caption(grades.get(name, "Not graded for this checkpoint."))
        spatial_share, temporal_share = shown.shares
        share_left, share_right, share_time, curve = st.columns([1, 1, 1, 4])
        share_left.metric("Spatial", f"{spatial_share:.0%}", help="The face crops' share of all the relevance")
        share_right.metric("Temporal", f"{temporal_share:.0%}", help="The motion's share of all the relevance")
        share_time.metric("Computed in", f"{shown.seconds:.2f} s")
        curve.plotly_chart(figures.importance_curves(shown.importance, frame), key="importance")
        stem = f"{file_stem}-{method.lower().replace(' ', '-')}-{target_name.lower()}"
        duration = result.clip.stats.get("duration", 1.0)

        def video() -> bytes:
            return ui.shared_overlay_video(explanation_key(method, target, steps), style, shown, duration)

        if st.toggle("Play the maps as a video", key="as_video"):
            st.video(video(), format="video/webm", loop=True, autoplay=True, muted=True,
                     width=2 * explain.VIDEO_SIDE + 4)
        downloads = st.columns(3)
        downloads[0].download_button("Overlay video (WebM)", video, file_name=f"{stem}.webm", mime="video/webm")
        downloads[1].download_button("All frames (PNG)", lambda: explain.overview_png(shown, style),
                                     file_name=f"{stem}.png", mime="image/png")
        downloads[2].download_button("Importance per frame (CSV)", shown.importance.to_csv(index=False),
                                     file_name=f"{stem}.csv", mime="text/csv")

if tab_whatif.open:
    with tab_whatif:
        drawable = drawable_clip(picked.path)
        if drawable is None:
            st.info("What if works on clips of the embedded corpus and on the shipped samples: the corpus generator "
                    "can draw them again with an action unit changed, the same person, motion, light and noise.")
        else:
            st.caption("Change the action units this clip shows; it is drawn again and analysed like any clip. 100% "
                       "is the clip as drawn, 0% removes the action unit.")
            present = st.session_state.setdefault("whatif_present", {})
            if drawable not in present:
                present.clear()
                present[drawable] = whatif.present_aus(drawable)
            strengths = {}
            for region, aus in present[drawable].items():
                slots = st.columns([1, *[3] * len(aus)], vertical_alignment="center")
                slots[0].markdown(f"**{region}**")
                for slot, (name, peak) in zip(slots[1:], aus):
                    strengths[name] = slot.slider(whatif.au_label(name), 0, int(whatif.MAX_STRENGTH * 100), 100, 25,
                                                  format="%d%%", key=f"whatif-{drawable.name}-{name}",
                                                  help=f"As drawn, its peak intensity is {peak:.2f} of 1.") / 100
            edits = whatif.strength_edits(strengths)
            original_column, edited_column = st.columns(2)
            together = {"loop": True, "autoplay": True, "muted": True}  # both start on the same run and loop
            original_column.video(str(browser_playable(picked.path)), format="video/webm", **together)
            original_column.caption(f"Original: {predicted} ({probabilities.max():.0%})")
            if edits:
                cached = st.session_state.get("whatif_counterfactual")
                if cached is None or cached[0] != (picked.clip_id, edits):
                    cached = ((picked.clip_id, edits), ui.queued(
                        lambda: whatif.counterfactual(drawable, edits, lineup),
                        "Drawing the edited clip and analysing it…"))
                    st.session_state["whatif_counterfactual"] = cached
                edited = cached[1].analysis
                edited_probabilities = edited.probabilities[column]
                edited_column.video(cached[1].video, format="video/webm", **together)
                edited_column.caption(f"Edited: {edited_probabilities.idxmax()} ({edited_probabilities.max():.0%})")
                change = edited_probabilities[predicted] - probabilities[predicted]
                edited_column.metric(f"Probability of {predicted} after the edit",
                                     f"{edited_probabilities[predicted]:.1%}", f"{change * 100:+.1f} points",
                                     delta_color="normal")
                st.plotly_chart(figures.probability_bars(
                    pd.DataFrame({"original": probabilities, "edited": edited_probabilities})), key="whatif_bars")
                if st.toggle("Show what the edit changed", key="whatif_difference"):
                    st.image(whatif.difference_strip(drawable, cached[1]), width="stretch",
                             caption="Original (top), edited (middle), and edited minus original (bottom): red where "
                                     "the edited face is brighter, blue where it is darker, white where nothing "
                                     "changed.")
                method = st.session_state.get("method") or best_method
                if st.toggle(f"Explain the edited clip ({method}, the Saliency tab's method)", key="whatif_explain"):
                    saliencies = cached[1].saliencies  # per (method, target, attention): a rerun does not recompute
                    target = ui.CLASSES.index(predicted)
                    if (method, target, mode) not in saliencies:
                        saliencies[method, target, mode] = ui.queued(
                            lambda: explain.explain(model, edited.prediction, method, target, mode,
                                                    method_named(method).steps),
                            f"Computing {method} on the edited clip…")
                    saliency = saliencies[method, target, mode]
                    apex = saliency.most_relevant_frame()
                    st.image(explain.frame_panel(saliency, apex, legend=True), width="content",
                             caption=f"{method} on the edited clip for {predicted}, frame {apex} (its most "
                                     "relevant): face crop and motion into the frame")
            else:
                edited_column.info("Move a slider to draw the clip again with that action unit changed.")
            if st.button("Remove each action unit in turn", key="whatif_removals"):
                effects = ui.queued(lambda: whatif.removal_effects(drawable, lineup, predicted),
                                    "Drawing the clip once per action unit…")
                st.session_state["whatif_removal_effects"] = (picked.clip_id, predicted, effects)
            removals = st.session_state.get("whatif_removal_effects")
            if removals is not None and removals[:2] == (picked.clip_id, predicted):
                st.plotly_chart(figures.effect_bars(removals[2], predicted), key="whatif_effects")

if tab_attention.open:
    with tab_attention:
        weights = result.attention
        if weights is None:
            st.info("This model has no inter-stream attention module.")
            st.stop()
        if mode is AttentionMode.BYPASSED:
            st.info("The module is bypassed for the prediction above; these are its weights when it is on.")
        direction = st.radio("Direction", list(attention_maps.DIRECTIONS), horizontal=True, key="direction", **KEPT,
                             format_func=lambda d: "appearance asks motion" if d == "spatial_to_temporal"
                             else "motion asks appearance")
        view = attention_maps.direction_view(weights, direction)
        st.plotly_chart(figures.attention_heatmap(view.matrix, view.query_labels, view.key_labels, view.query,
                                                  view.key), key="attention_time")
        st.caption(f"Each row: how the {view.query} stream, at those frames, spreads its attention over the "
                   f"{view.key} stream's frames (over the whole face). Frames are numbered as on the Saliency tab.")
        pick_time, pick_region = st.columns(2)
        query_time = pick_time.select_slider("Frames that ask", range(len(view.query_labels)),
                                             format_func=lambda t: view.query_labels[t], key="query_time")
        region = pick_region.selectbox("Part of the face that asks", view.regions, key="query_region",
                                       format_func=attention_maps.region_name)
        montage = attention_maps.query_montage(weights, direction, result.clip, query_time, region, tile=96)
        st.image(montage, caption=f"Where those frames look in the {view.key} stream, one picture per step of the "
                                  "module", width="content")
        st.download_button("Time × time attention (CSV)", view.table().to_csv(),
                           file_name=f"{file_stem}-{direction}.csv", mime="text/csv")
