"""Analyze a clip: processing steps, prediction with the attention switch, saliency of both streams, attention."""
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from lab import analysis, dataset, explain, figures, sources, trust, ui, visuals, webcam, whatif
from lab import attention as attention_maps
from lab.attribution import method_named, offered
from lab.intervene import drawable_clip
from lab.video_export import browser_playable

SAMPLE, UPLOAD, CORPUS = "Shipped sample", "Upload a video", "Corpus clip"
KEEP_EXPLANATIONS = 6  # per session: switching back and forth between methods stays instant

st.title("Analyze a clip")
chosen = ui.selection()
loaded = ui.current_model(chosen)
if loaded is None:
    st.stop()
model, process, _ = loaded
variants = analysis.attention_variants(model, process, ui.model_without_module(chosen),
                                      ui.load_calibration(chosen.checkpoint))


def pick_clip():
    """(clip id, function that analyzes it, the clip's file when it has one) for the chosen source, or None while
    nothing is chosen."""
    linked = st.query_params.get("clip")
    samples = sources.sample_clips()
    options = [o for o in (SAMPLE, UPLOAD, webcam.SOURCE, CORPUS) if o != SAMPLE or samples]
    source = st.radio("Clip", options, index=options.index(CORPUS if linked else options[0]), horizontal=True,
                      key="clip_source")
    if source != CORPUS:
        for name in ("clip", "split"):  # only the corpus link's own parameters: the open tab stays in the address
            if name in st.query_params:
                del st.query_params[name]
    if source == SAMPLE:
        path = st.selectbox("Sample", samples, format_func=lambda p: p.stem, key="sample")
        return ("sample", str(path)), lambda crop: analysis.analyze_file(path, variants, center_crop=crop), path
    if source == UPLOAD:
        upload = st.file_uploader("Video file", type=list(analysis.UPLOAD_TYPES), key="upload",
                                  help="A few seconds with one visible face work best; at most 20 s are read.")
        if upload is None:
            return None
        return ("upload", upload.file_id), lambda crop: analysis.analyze_upload(
            upload.getvalue(), upload.name, variants, center_crop=crop), None
    if source == webcam.SOURCE:  # the recording is analysed exactly like an uploaded file
        seconds = st.select_slider("Seconds to record", list(range(1, webcam.MAX_SECONDS + 1)), value=3,
                                   key="webcam_seconds")
        recording = webcam.record(seconds)
        if recording is None:
            return None
        return recording.clip_id, lambda crop: analysis.analyze_upload(recording.data, recording.name, variants,
                                                                       center_crop=crop), None
    corpus = ui.open_data(chosen)
    if corpus is None:
        return None
    splits = list(corpus.splits)
    split = st.selectbox("Split", splits, key="corpus_split",
                         index=splits.index(st.query_params["split"]) if st.query_params.get("split") in splits else 0)
    clips = [dataset.relative_clip(corpus, r.path) for r in corpus.clips(split)]
    if linked and linked not in clips:
        clips.insert(0, linked)  # shown, and refused with a one-line error below if it is not in the corpus
    relative = st.selectbox("Clip", clips, index=clips.index(linked) if linked in clips else 0, key=f"clip-{split}")
    st.query_params.update(clip=relative, split=split)  # the address bar now shares this clip
    try:
        path = dataset.find_clip(corpus, relative)
    except dataset.CorpusError:
        path = None  # analyzed() says why in one line
    return ("corpus", relative), lambda crop: analysis.analyze_file(dataset.find_clip(corpus, relative), variants,
                                                                   center_crop=crop, name=relative), path


def analyzed(clip_id, run):
    """The clip's analysis, computed once per clip, checkpoint and crop mode; None after a one-line error."""
    crop = st.session_state.get("center_crop_for") == clip_id
    key = (clip_id, sources.checkpoint_stamp(chosen.checkpoint), crop, tuple(v.label for v in variants))
    stored = st.session_state.get("lab_analysis")
    if stored and stored[0] == key:
        return stored[1]
    try:
        with st.status("Processing the clip: face track, crops, optical flow, prediction…") as status:
            result = run(crop)
            status.update(label=f"Processed {result.name}", state="complete")
    except ui.NoFaceError as error:
        st.error(str(error))
        if st.button("Retry with a centre crop (no face detection)"):
            st.session_state["center_crop_for"] = clip_id
            st.rerun()
        return None
    except (ui.ClipError, dataset.CorpusError) as error:
        st.error(str(error))
        return None
    st.session_state["lab_analysis"] = (key, result)
    st.session_state["lab_explanations"] = {}
    return result


picked = pick_clip()
if picked is None:
    st.stop()
clip_path = picked[2]
result = analyzed(*picked[:2])
if result is None:
    st.stop()
file_stem = Path(result.name).stem  # download names such as happy_test_00012-face-crops.png

has_module = model.attention is not None
attention_on = st.toggle("Inter-stream attention", value=True, key="attention", disabled=not has_module,
                         help="Off: the same trained model answers with its inter-stream attention module bypassed.")
column = variants[0].label if attention_on or not has_module else "attention off"
probabilities = result.probabilities[column]
predicted = str(probabilities.idxmax())
left, right = st.columns([1, 3])
reliable = result.reliability.reliable
left.metric(f"Prediction ({column})", predicted,
            f"{probabilities.max():.0%} confidence" if reliable else "unreliable", delta_color="off",
            delta_arrow="off")
truth = dataset.read_sidecar(clip_path) if clip_path is not None else None
if truth is not None:  # corpus clips and samples know their expression
    mark = ":green[✓ right]" if truth["label"] == predicted else ":red[✗ wrong]"
    left.markdown(f"Ground truth: **{truth['label']}** ({mark})")
if reliable:
    right.success(trust.headline(result.reliability, predicted, probabilities.max()))
else:
    right.warning(trust.headline(result.reliability, predicted, probabilities.max()))
with right.expander("Reliability checks"):
    st.table(trust.panel(result.reliability).set_index("check"))
for warning in result.warnings:
    right.warning(warning)
if result.clip.stats.get("center_crop"):
    right.info("Centre crop: no face detection was used for this clip.")

# Keyed and bound to the address bar: a rerun (a slider, a download) keeps the open tab, and a shared link opens it.
tab_prediction, tab_processing, tab_saliency, tab_whatif, tab_attention = st.tabs(
    ["Prediction", "Processing steps", "Saliency", "What if", "Inter-stream attention"], key="tab",
    bind="query-params")

with tab_prediction:
    st.plotly_chart(figures.probability_bars(result.probabilities), key="probabilities")
    st.caption("Attention on / off: the same model with its module used or bypassed. Trained without the module: "
               "the same recipe trained with no module at all (shipped checkpoint two_stream_no_attention).")
    st.download_button("Probabilities (CSV)", result.probabilities.to_csv(index_label="class"),
                       file_name=f"{file_stem}-probabilities.csv", mime="text/csv")

with tab_processing:
    stats = result.clip.stats
    st.markdown(f"**{stats['num_frames']} frames** at {stats['fps']:.1f} fps, {stats['width']}×{stats['height']}; "
                f"face found by the detector on {stats.get('detection_rate', 0):.0%} of its runs, tracked on "
                f"{stats.get('track_coverage', 0):.0%} of the frames; flow: {stats['flow_method']}.")
    track = visuals.montage(result.track_frames, columns=4)
    st.image(track, caption="Face track on the sampled frames: green = detected, yellow = tracked, red = crop")
    crops = visuals.montage(visuals.upscale(result.clip.rgb, 96), columns=8)
    st.image(crops, caption=f"The {len(result.clip.rgb)} face crops the spatial stream sees")
    flow_left, flow_right = st.columns([6, 1])
    flows = visuals.montage(visuals.upscale(visuals.flow_to_rgb(result.clip.flow), 96), columns=8)
    flow_left.image(flows, caption="Optical flow between consecutive crops (the temporal stream's input)")
    flow_right.image(visuals.colour_wheel(), caption="hue = direction, brightness = speed")
    for label, image in (("Face track", track), ("Face crops", crops), ("Flow fields", flows)):
        st.download_button(f"{label} (PNG)", visuals.png_bytes(image), mime="image/png", key=f"png-{label}",
                           file_name=f"{file_stem}-{label.lower().replace(' ', '-')}.png")

with tab_saliency:
    choose_method, choose_target, choose_steps = st.columns(3)
    method = choose_method.selectbox("Method", offered(), key="method")
    target_name = choose_target.selectbox("Target class", ui.CLASSES, index=ui.CLASSES.index(predicted),
                                          key=f"target-{picked[0]}-{column}",
                                          help="Default: the class predicted with the attention setting shown.")
    steps = method_named(method).steps
    if method_named(method).has_steps:
        steps = choose_steps.select_slider("Integration steps", [8, 16, 32, 64], value=steps, key="ig_steps")
    explanations = st.session_state.setdefault("lab_explanations", {})
    key = (method, target_name, attention_on, steps)
    if key not in explanations:
        with st.status(f"Computing {method} for both streams…") as status:
            explanations[key] = {"explanation": explain.explain(model, result, method, ui.CLASSES.index(target_name),
                                                                attention_on, steps)}
            status.update(label=f"{method}: {explanations[key]['explanation'].seconds:.2f} s", state="complete")
        while len(explanations) > KEEP_EXPLANATIONS:
            explanations.pop(next(iter(explanations)))
    entry = explanations[key]
    shown = entry["explanation"]
    spatial_share, temporal_share = shown.shares
    share_left, share_right, share_time = st.columns(3)
    share_left.metric("Spatial stream's share", f"{spatial_share:.0%}")
    share_right.metric("Temporal stream's share", f"{temporal_share:.0%}")
    share_time.metric("Computed in", f"{shown.seconds:.2f} s")
    frame = st.slider("Frame", 0, len(shown.spatial) - 1, int(np.nanargmax(shown.importance["spatial"])),
                      key=f"frame-{picked[0]}")
    picture, curve = st.columns([2, 3])
    picture.image(explain.frame_panel(shown, frame),
                  caption="Left: face crop with spatial saliency. Right: motion into this frame with temporal "
                          "saliency.")
    curve.plotly_chart(figures.importance_curves(shown.importance, frame), key="importance")
    if "video" not in entry:
        entry["video"] = explain.overlay_video(shown, result.clip.stats.get("duration", 1.0))
    st.video(entry["video"], format="video/webm", loop=True)
    stem = f"{file_stem}-{method.lower().replace(' ', '-')}-{target_name.lower()}"
    downloads = st.columns(3)
    downloads[0].download_button("Overlay video (WebM)", entry["video"], file_name=f"{stem}.webm", mime="video/webm")
    downloads[1].download_button("All frames (PNG)", explain.overview_png(shown), file_name=f"{stem}.png",
                                 mime="image/png")
    downloads[2].download_button("Importance per frame (CSV)", shown.importance.to_csv(index=False),
                                 file_name=f"{stem}.csv", mime="text/csv")

with tab_whatif:
    drawable = drawable_clip(clip_path)
    if drawable is None:
        st.info("What if works on clips of the embedded corpus and on the shipped samples: the corpus generator can "
                "draw them again with an action unit changed, the same person, motion, light and noise.")
    else:
        st.caption("Change the action units this clip shows; it is drawn again and analysed like any clip. 100% is the "
                   "clip as drawn, 0% removes the action unit.")
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
        original_column.video(str(browser_playable(clip_path)), format="video/webm", loop=True)
        original_column.caption(f"Original: {predicted} ({probabilities.max():.0%})")
        if edits:
            cached = st.session_state.get("whatif_counterfactual")
            if cached is None or cached[0] != (picked[0], edits):
                with st.status("Drawing the edited clip and analysing it…") as status:
                    cached = ((picked[0], edits), whatif.counterfactual(drawable, edits, variants))
                    status.update(label="Edited clip analysed", state="complete")
                st.session_state["whatif_counterfactual"] = cached
            edited = cached[1].analysis
            edited_probabilities = edited.probabilities[column]
            edited_column.video(cached[1].video, format="video/webm", loop=True)
            edited_column.caption(f"Edited: {edited_probabilities.idxmax()} ({edited_probabilities.max():.0%})")
            change = edited_probabilities[predicted] - probabilities[predicted]
            edited_column.metric(f"Probability of {predicted} after the edit", f"{edited_probabilities[predicted]:.1%}",
                                 f"{change * 100:+.1f} points", delta_color="normal")
            st.plotly_chart(figures.probability_bars(
                pd.DataFrame({"original": probabilities, "edited": edited_probabilities})), key="whatif_bars")
            saliencies = cached[1].saliencies  # per (method, target, attention, steps): a rerun does not recompute
            if (method, target_name, attention_on, steps) not in saliencies:
                saliencies[method, target_name, attention_on, steps] = explain.explain(
                    model, edited, method, ui.CLASSES.index(target_name), attention_on, steps)
            saliency = saliencies[method, target_name, attention_on, steps]
            apex = int(np.nanargmax(saliency.importance["spatial"]))
            st.image(explain.frame_panel(saliency, apex), caption=f"{method} on the edited clip for {target_name}, "
                     f"frame {apex} (its most relevant): face crop and motion into the frame")
        else:
            edited_column.info("Move a slider to draw the clip again with that action unit changed.")
        if st.button("Remove each action unit in turn", key="whatif_removals"):
            with st.status("Drawing the clip once per action unit…") as status:
                st.session_state["whatif_removal_effects"] = (picked[0], predicted,
                                                       whatif.removal_effects(drawable, variants, predicted))
                status.update(label="Every action unit removed in turn", state="complete")
        removals = st.session_state.get("whatif_removal_effects")
        if removals is not None and removals[:2] == (picked[0], predicted):
            st.plotly_chart(figures.effect_bars(removals[2], predicted), key="whatif_effects")

with tab_attention:
    weights = result.attention
    if weights is None:
        st.info("This model has no inter-stream attention module.")
        st.stop()
    if not attention_on:
        st.info("The module is switched off for the prediction above; these are its weights when it is on.")
    direction = st.radio("Direction", list(attention_maps.DIRECTIONS), horizontal=True, key="direction",
                         format_func=lambda d: "appearance → motion" if d == "spatial_to_temporal"
                         else "motion → appearance")
    view = attention_maps.direction_view(weights, direction)
    st.plotly_chart(figures.attention_heatmap(view.matrix, view.query_labels, view.key_labels, view.query, view.key),
                    key="attention_time")
    st.caption(f"Each row: how the {view.query} stream, at those frames, spreads its attention over the {view.key} "
               "stream's frames (summed over the face's regions, averaged over the regions that ask).")
    pick_time, pick_region = st.columns(2)
    query_time = pick_time.select_slider("Query frames", range(len(view.query_labels)),
                                         format_func=lambda t: view.query_labels[t], key="query_time")
    region = pick_region.selectbox("Query region", view.regions, key="query_region",
                                   format_func=lambda rc: "all regions" if rc is None
                                   else f"row {rc[0]}, column {rc[1]}")
    montage = attention_maps.query_montage(weights, direction, result.clip, query_time, region, tile=96)
    st.image(montage, caption=f"Where that query attends in the {view.key} stream, one tile per token time")
    st.download_button("Time × time attention (CSV)", view.table().to_csv(), file_name=f"{file_stem}-{direction}.csv",
                       mime="text/csv")
