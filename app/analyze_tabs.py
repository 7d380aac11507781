"""The Analyze page's tabs, each a function of one typed state: what the page above the tabs decided (the clip, its
shared analysis, the attention mode shown, the checkpoint's grades). A tab's own picks are widgets bound to the
address bar (KEPT), so a rerun, a page switch or a shared link restores them; pages/analyze.py draws the frame and
calls the open tab, and only that one runs.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from app import ui
from lab import attention as attention_maps
from lab import explain, figures, trust, visuals, whatif
from lab.analysis import ClipAnalysis, Lineup
from lab.attribution import method_named, offered
from lab.intervene import drawable_clip
from lab.video_export import browser_playable
from model.config import AttentionMode
from model.network import TwoStreamNet

PREDICTED = "predicted"  # the target option that follows the prediction of the attention mode shown
KEPT = {"persist_state": "session", "bind": "query-params"}  # in the address bar, and kept across pages


@dataclass(frozen=True)
class AnalyzeState:
    """What every tab reads. ``grades``: each method's grade line for this checkpoint and mode, best first."""

    model: TwoStreamNet
    lineup: Lineup
    clip_id: tuple  # this session's id of the clip
    clip_key: ui.ClipKey  # what the shared caches know it by
    name: str  # as this session knows it
    path: Path | None  # its file, for corpus clips and samples (ground truth, What if)
    result: ClipAnalysis
    truth: dict | None  # the sidecar of a corpus clip or sample
    mode: AttentionMode  # the attention mode shown
    grades: dict[str, str]

    @property
    def column(self) -> str:
        return self.mode.label

    @property
    def probabilities(self) -> pd.Series:
        return self.result.probabilities[self.column]

    @property
    def predicted(self) -> str:
        return str(self.probabilities.idxmax())

    @property
    def file_stem(self) -> str:
        """Of the download names, such as happy_test_00012-face-crops.png."""
        return Path(self.name).stem

    @property
    def methods(self) -> list[str]:
        """The method picker's list: the graded methods best first, then the rest."""
        return list(self.grades) + [m for m in offered() if m not in self.grades]

    @property
    def best_method(self) -> str:
        """What the tabs open on: never one the lab says not to trust."""
        return self.methods[0]

    def explanation_key(self, method: str, target: int, steps: int | None) -> ui.ExplanationKey:
        return ui.ExplanationKey(self.clip_key, method, target, self.mode,
                                 steps if method_named(method).has_steps else None)

    def explanation_of(self, method: str, target: int, steps: int | None) -> explain.Explanation:
        return ui.queued(lambda: ui.shared_explanation(self.explanation_key(method, target, steps), self.model,
                                                       self.result), f"Computing {method} for both streams…")


def new_clip_resets(key: str, clip_id: tuple) -> None:
    """A widget whose default depends on the clip starts from that default on each new clip (a shared link's value
    wins on the session's first clip); after that it is the reader's."""
    marker = f"{key}_clip"
    first = marker not in st.session_state
    if st.session_state.get(marker) != clip_id:
        st.session_state[marker] = clip_id
        if not first:
            st.session_state.pop(key, None)


def prediction_tab(state: AnalyzeState) -> None:
    result, truth, predicted, file_stem = state.result, state.truth, state.predicted, state.file_stem
    bars, checks = st.columns([3, 2])
    bars.plotly_chart(figures.probability_bars(result.probabilities), key="probabilities")
    bars.caption("Attention on / bypassed: the same trained model with its module used or skipped. Trained "
                 "without the module: the same recipe trained with no module at all (checkpoint "
                 "two_stream_no_attention).")
    if truth is not None:
        checks.video(str(browser_playable(state.path)), format="video/webm", loop=True, autoplay=True,
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



def processing_tab(state: AnalyzeState) -> None:
    result, file_stem = state.result, state.file_stem
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




def saliency_tab(state: AnalyzeState) -> None:
    result, mode, predicted, grades = state.result, state.mode, state.predicted, state.grades
    methods, best_method, file_stem = state.methods, state.best_method, state.file_stem
    pictures, controls = st.columns([3, 2])
    pictures = pictures.container(key="saliency_maps")  # the tour's step shows it (app/tour.py)
    ui.link_note("method", methods, controls)
    ui.link_note("target", [PREDICTED, *ui.CLASSES], controls)
    method = controls.selectbox("Method", methods, index=methods.index(best_method), key="method", **KEPT)
    if grades and method == best_method:
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
        shown = state.explanation_of(method, target, steps)
    new_clip_resets("frame", state.clip_id)
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
            show(slot, name, state.explanation_of(name, target, steps))
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
        return ui.shared_overlay_video(state.explanation_key(method, target, steps), style, shown, duration)

    if st.toggle("Play the maps as a video", key="as_video"):
        st.video(video(), format="video/webm", loop=True, autoplay=True, muted=True,
                 width=2 * explain.VIDEO_SIDE + 4)
    downloads = st.columns(3)
    downloads[0].download_button("Overlay video (WebM)", video, file_name=f"{stem}.webm", mime="video/webm")
    downloads[1].download_button("All frames (PNG)", lambda: explain.overview_png(shown, style),
                                 file_name=f"{stem}.png", mime="image/png")
    downloads[2].download_button("Importance per frame (CSV)", shown.importance.to_csv(index=False),
                                 file_name=f"{stem}.csv", mime="text/csv")



def what_if_tab(state: AnalyzeState) -> None:
    model, lineup, mode, column = state.model, state.lineup, state.mode, state.column
    predicted, probabilities, best_method = state.predicted, state.probabilities, state.best_method
    drawable = drawable_clip(state.path)
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
        original_column.video(str(browser_playable(state.path)), format="video/webm", **together)
        original_column.caption(f"Original: {predicted} ({probabilities.max():.0%})")
        if edits:
            cached = st.session_state.get("whatif_counterfactual")
            if cached is None or cached[0] != (state.clip_id, edits):
                cached = ((state.clip_id, edits), ui.queued(
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
            st.session_state["whatif_removal_effects"] = (state.clip_id, predicted, effects)
        removals = st.session_state.get("whatif_removal_effects")
        if removals is not None and removals[:2] == (state.clip_id, predicted):
            st.plotly_chart(figures.effect_bars(removals[2], predicted), key="whatif_effects")



def attention_tab(state: AnalyzeState) -> None:
    result, mode, file_stem = state.result, state.mode, state.file_stem
    weights = result.attention
    if weights is None:
        st.info("This model has no inter-stream attention module.")
        return
    if mode is AttentionMode.BYPASSED:
        st.info("The module is bypassed for the prediction above; these are its weights when it is on.")
    chart = st.container(key="attention_view")  # first on the tab: the tour's step shows it (app/tour.py)
    direction = st.radio("Direction", list(attention_maps.DIRECTIONS), horizontal=True, key="direction", **KEPT,
                         format_func=lambda d: "appearance asks motion" if d == "spatial_to_temporal"
                         else "motion asks appearance", help="Which stream asks; the chart above shows it.")
    view = attention_maps.direction_view(weights, direction)
    chart.plotly_chart(figures.attention_heatmap(view.matrix, view.query_labels, view.key_labels, view.query,
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


TABS = {"Prediction": prediction_tab, "Processing steps": processing_tab, "Saliency": saliency_tab,
        "What if": what_if_tab, "Inter-stream attention": attention_tab}  # label (the URL's ``tab``) -> tab
