"""Dataset explorer: class counts per split, play any clip, and the action units behind an embedded-corpus clip."""
import streamlit as st

from app import ui
from lab import dataset, figures, glossary
from lab.video_export import browser_playable

st.title("Dataset explorer")
st.caption("The clips the model learns and is tested on: how many of each expression in each split, and any clip to "
           "watch with what it shows. Look first at the class counts: a rare class is harder to learn.",
           help=glossary.markdown(("AU (action unit)", "EMFACS prototype")))
corpus = ui.open_data(ui.selection())
if corpus is None:
    st.stop()
for warning in corpus.warnings:
    st.warning(warning)

counts = dataset.class_counts(corpus)
st.caption(f"{corpus.kind.upper()} layout at `{corpus.root}`: {int(counts.values.sum())} clips.")
chart, table = st.columns([2, 1])  # the counts table whole at 1280 px
chart.plotly_chart(figures.class_count_bars(counts), key="class_counts")
table.dataframe(counts)

st.subheader("Browse")
pick_split, pick_class, pick_clip = st.columns([1, 1, 2])
split = pick_split.selectbox("Split", corpus.splits, key="browse_split")
labels = sorted({r.label for r in corpus.clips(split)}, key=lambda label: -1 if label is None else label)
label = pick_class.selectbox("Class", labels, key=f"browse_class-{split}",
                             format_func=lambda i: "(no label)" if i is None else ui.CLASSES[i])
paths = [r.path for r in corpus.clips(split) if r.label == label]
path = pick_clip.selectbox("Clip", paths, format_func=lambda p: p.name, key=f"browse_clip-{split}-{label}")

player, details = st.columns([1, 1])
try:
    with st.spinner("Converting the clip for the browser (WebM)…"):
        playable = browser_playable(path)
    player.video(str(playable), format="video/webm", loop=True)
except ui.ClipError as error:
    player.error(str(error))
relative = dataset.relative_clip(corpus, path)
player.page_link(ui.page("pages/analyze.py"), label="Analyze this clip", icon=":material/search:",
                 query_params={"clip": relative, "split": split})

meta = dataset.read_sidecar(path)
if meta is None:
    details.info("No sidecar: action-unit curves exist only for the embedded corpus's clips.")
else:
    details.markdown(f"**{meta['label']}** · identity {meta.get('identity', '?')} · {meta.get('num_frames', '?')} "
                     f"frames at {meta.get('fps', '?')} fps · onset {meta.get('onset_frame')}, apex "
                     f"{meta.get('apex_frame')}, offset {meta.get('offset_frame')}")
    details.plotly_chart(figures.au_curves(dataset.au_curves(meta), meta.get("onset_frame"), meta.get("apex_frame"),
                                           meta.get("offset_frame")), key="au_curves")
    details.caption("The facial action units this clip's expression moves (FACS), frame by frame.")
