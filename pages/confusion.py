"""Confusion matrices of every split, attention on vs off, and the clips behind each cell."""
import streamlit as st

from lab import confusion, figures, ui

MAX_LINKS = 25

st.title("Confusion matrices")
chosen = ui.sidebar()
loaded = ui.current_model(chosen)
corpus = ui.open_data(chosen) if loaded else None
if loaded is None or corpus is None:
    st.stop()
model = loaded[0]


def tables_for(attention_on: bool):
    """The prediction tables of the selected checkpoint (shipped, cached, or evaluated after a click)."""
    args = (chosen.checkpoint_name, chosen.checkpoint, corpus, chosen.embedded, attention_on)
    found = confusion.prediction_tables(*args, compute=False)
    if found is not None:
        return found
    switch = "on" if attention_on else "off"
    if not st.button(f"Evaluate {chosen.checkpoint_name} (attention {switch}) on every split of this corpus",
                     key=f"evaluate-{switch}"):
        st.info("No predictions of this checkpoint on this corpus yet: evaluate it once, the result is cached.")
        return None
    with st.status("Evaluating…", expanded=True) as status:
        found = confusion.prediction_tables(
            *args, on_split=lambda split, done, total: status.update(label=f"Evaluating {split} ({done + 1}/{total})…"))
        status.update(label="Evaluated", state="complete", expanded=False)
    return found


tables = tables_for(True)
if tables is None:
    st.stop()
normalized = st.radio("Show", ("row-normalized", "counts"), horizontal=True, key="cm_scale") == "row-normalized"
per_split = confusion.confusion_by_split(tables)

for column, result in zip(st.columns(len(per_split)), per_split.values()):
    with column:
        if result.counts is None:
            st.subheader(result.split)
            st.info(f"{result.clips} clips without labels: predictions only, no confusion matrix.")
            continue
        st.plotly_chart(figures.confusion_heatmap(result.rates if normalized else result.counts,
                                                  f"{result.split} ({result.clips} clips)", normalized),
                        key=f"cm-{result.split}", on_select="rerun", selection_mode="points")
        war, uar = st.columns(2)
        war.metric("WAR", f"{result.metrics['war']:.1%}")
        uar.metric("UAR", f"{result.metrics['uar']:.1%}")
        with st.expander("Per class"):
            st.dataframe(confusion.per_class_table(result.metrics), key=f"per-class-{result.split}")

if st.toggle("Accuracy by condition (the embedded corpus's ground truth)", key="cm_conditions"):
    by_condition = ui.accuracy_by_condition(tables, str(corpus.root))
    if by_condition.empty:
        st.info("These clips carry no ground-truth conditions: only the embedded corpus records occluders and "
                "expression intensities beside its clips.")
    else:
        st.dataframe(by_condition, hide_index=True, key="cm-conditions", column_config={
            column: st.column_config.NumberColumn(format="%.3f") for column in by_condition if "accuracy" in column})
        st.caption("Each clip counted once per condition: whether a hand or object covers the face at the "
                   "expression's apex, how intense the expression's action units get, whether it fades back to "
                   "neutral before the clip ends.")

# Cell picker: a click on a heatmap cell selects it; the list works everywhere (also without a pointer).
cells = confusion.cells(per_split)
if not cells:
    st.stop()
clicked = confusion.clicked_cell({split: st.session_state.get(f"cm-{split}") for split in per_split})
if clicked is not None and clicked != st.session_state.get("cm_clicked"):
    st.session_state["cm_clicked"] = clicked
    if clicked in cells:
        st.session_state["cm_cell"] = clicked
st.subheader("Clips of a cell")
cell = st.selectbox("Cell (split, true class → prediction)", list(cells), key="cm_cell",
                    format_func=lambda c: f"{c[0]}: {c[1]} → {c[2]} ({cells[c]} of {per_split[c[0]].clips})")
split, true_class, predicted_class = cell
clips = confusion.cell_clips(tables[split], true_class, predicted_class)
for row in clips.head(MAX_LINKS).itertuples():
    st.page_link("pages/analyze.py", label=f"{row.clip} ({row.confidence:.0%})", icon=":material/search:",
                 query_params={"clip": row.clip, "split": split})
if len(clips) > MAX_LINKS:
    st.caption(f"… and {len(clips) - MAX_LINKS} more in the CSV.")
st.download_button("These clips (CSV)", clips.to_csv(index=False), file_name=f"{split}-{true_class}-as-"
                   f"{predicted_class}.csv", mime="text/csv")

if model.attention is not None:
    st.subheader("Attention on vs off")
    st.caption("The same model with its inter-stream attention module used, and bypassed at inference.")
    off_tables = tables_for(False)
    if off_tables is not None:
        off = confusion.confusion_by_split(off_tables)
        labelled = [s for s, r in per_split.items() if r.counts is not None and s in off and off[s].counts is not None]
        compare = st.selectbox("Split", labelled, key="cm_compare_split") if labelled else None
        if compare is not None:
            on_result, off_result = per_split[compare], off[compare]
            panels = st.columns(3)
            for panel, result, title in ((panels[0], on_result, "attention on"), (panels[1], off_result,
                                                                                  "attention off")):
                panel.plotly_chart(figures.confusion_heatmap(result.rates, f"{title}: UAR {result.metrics['uar']:.1%}",
                                                             True), key=f"cm-compare-{title}")
            panels[2].plotly_chart(figures.confusion_heatmap(confusion.rate_difference(on_result, off_result),
                                                             "on − off", True, diverging=True), key="cm-difference")
            st.caption(f"WAR {on_result.metrics['war']:.1%} with the module vs {off_result.metrics['war']:.1%} "
                       "without. Difference: blue = more clips of that row's class land in that cell with the "
                       "module (good on the diagonal), red = fewer.")
