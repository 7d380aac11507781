"""Confusion matrices of every split, attention on vs bypassed, and the clips behind each cell."""
from functools import partial

import streamlit as st

from app import ui
from lab import conditions, confusion, figures, glossary
from model.config import AttentionMode

KEEP = "session"  # the page's choices survive opening a clip in Analyze and coming back
EVALUATED = "cm_evaluated"  # (confusion.evaluation_key, tables) of the evaluation a click ran in this session

st.title("Confusion matrices")
st.caption("Where the model goes wrong, split by split: each row is a true expression, each column an answer. Look "
           "first at the largest cell off the diagonal, then click it to see its clips.",
           help=glossary.markdown(("WAR", "UAR", "Inter-stream attention")))
chosen = ui.selection()
loaded = ui.current_model(chosen)
corpus = ui.open_data(chosen) if loaded else None
if loaded is None or corpus is None:
    st.stop()
modes = loaded[0].modes  # its own first; bypassed only for a model with the module
own = modes[0]


def load_tables() -> dict[AttentionMode, dict] | None:
    """{attention mode: {split: table}}: shipped, cached or evaluated in this session at once, else evaluated after
    one click (every mode together, so the comparison below needs no second click). What a click evaluated
    is kept in the session, so the button gives way to the results for good."""
    args = (chosen.checkpoint_name, chosen.checkpoint, corpus, chosen.embedded)
    kept = st.session_state.get(EVALUATED)
    if kept is not None and kept[0] == confusion.evaluation_key(chosen.checkpoint, corpus):
        return kept[1]
    found = {mode: confusion.prediction_tables(*args, mode, compute=False) for mode in modes}
    missing = [mode for mode, tables in found.items() if tables is None]
    if not missing:
        return found
    ask = st.empty()
    with ask.container():
        st.info("No predictions of this checkpoint on this corpus yet: evaluate it once" +
                (" (attention on and bypassed)" if len(modes) == 2 else "") + ", the result is cached.")
        clicked = st.button(f"Evaluate {chosen.checkpoint_name} on every split of this corpus", key="evaluate")
    if not clicked:
        return None
    ask.empty()  # the button has done its job: the results take its place
    with st.status("Evaluating…", expanded=True) as status:
        for mode in missing:
            found[mode] = confusion.prediction_tables(*args, mode, on_split=lambda split, done, total, mode=mode:
                                                      status.update(label=f"Evaluating {split}, {mode.label} "
                                                                          f"({done + 1}/{total})…"))
        status.update(label="Evaluated", state="complete", expanded=False)
    st.session_state[EVALUATED] = (confusion.evaluation_key(chosen.checkpoint, corpus), found)  # the latest only
    return found


def select_clicked_cell(split: str, cells: dict) -> None:
    """A click on a cell of a split's heatmap selects that cell (the Cell list follows); empty cells are ignored."""
    cell = confusion.clicked_cell({split: st.session_state[f"cm-{split}"]})
    if cell in cells:
        st.session_state["cm_cell"] = cell


tables = load_tables()
if tables is None:
    st.stop()
per_split = confusion.confusion_by_split(tables[own])
cells = confusion.cells(per_split)
listed = confusion.listed_clips(corpus)
covered = confusion.coverage(tables[own], listed)
normalized = st.radio("Show", ("row-normalized", "counts"), horizontal=True, key="cm_scale",
                      persist_state=KEEP) == "row-normalized"
matrices = st.container(key="confusion_matrices")  # drawn here, filled below once the selected cell is known
if note := confusion.coverage_note(covered, corpus.root):
    st.info(note)

if st.toggle("Accuracy by condition (the embedded corpus's ground truth)", key="cm_conditions", persist_state=KEEP):
    by_condition = ui.accuracy_by_condition(tables[own], str(corpus.root))
    if by_condition.empty:
        st.info("These clips carry no ground-truth conditions: only the embedded corpus records occluders and "
                "expression intensities beside its clips.")
    else:
        st.dataframe(by_condition, hide_index=True, key="cm-conditions", column_config={
            column: st.column_config.NumberColumn(format="%.3f") for column in by_condition if "accuracy" in column})
        st.caption("Each clip counted once per condition: whether a hand or object covers the face at the "
                   "expression's apex, how intense the expression's action units get, whether it fades back to "
                   "neutral before the clip ends. It covers the clips on disk: " +
                   ", ".join(f"{split} {found:,} of {total:,}" for split, (found, total) in covered.items()) + ".")

cell = None
if cells:
    st.subheader("Clips of a cell")
    cell = st.selectbox("Cell (split: true class → prediction), or click one in a matrix", list(cells),
                        key="cm_cell", persist_state=KEEP,
                        format_func=lambda c: f"{c[0]}: {c[1]} → {c[2]} ({cells[c]} of {per_split[c[0]].clips})")
    split, true_class, predicted_class = cell
    clips = confusion.cell_table(tables[own][split], true_class, predicted_class, corpus.root, listed)
    options = confusion.condition_options(clips)
    wanted = {}
    for column, (condition, values) in zip(st.columns(len(options)) if options else [], options.items()):
        wanted[condition] = column.multiselect(condition, values, placeholder="all", key=f"cm_filter_{condition}",
                                               persist_state=KEEP)
    shown = confusion.filter_clips(clips, wanted)
    missing = int((~clips["on disk"]).sum())
    st.caption(f"{len(shown)} of the cell's {len(clips)} clips shown. " + (
        f"{missing} of them are not on disk: they have no conditions and cannot be opened. " if missing else "") +
        "Click a header to sort, tick a row to open its clip.")
    narrow = {condition: st.column_config.TextColumn(short, help=condition, width="small")  # fits at 1280 px
              for condition, short in conditions.HEADERS.items()}
    picked = st.dataframe(shown, hide_index=True, on_select="rerun", selection_mode="single-row-required",
                          placeholder="", column_config={"confidence": st.column_config.NumberColumn(format="percent"),
                                                         "on disk": st.column_config.CheckboxColumn(width="small"),
                                                         **narrow})
    if picked.selection.rows:
        row = shown.iloc[picked.selection.rows[0]]
        if row["on disk"]:
            st.page_link(ui.page("pages/analyze.py"),
                         label=f"{row['clip']} ({row['confidence']:.0%}): open in Analyze", icon=":material/search:",
                         query_params={"clip": row["clip"], "split": split})
        else:
            st.caption(f"{row['clip']} is not on disk, so it cannot be opened (see above how to write the rest).")
    st.download_button(f"These {len(shown)} clips (CSV)", shown.to_csv(index=False),
                       file_name=confusion.download_name(*cell), mime="text/csv")

with matrices:
    for column, result in zip(st.columns(len(per_split)), per_split.values()):
        with column:
            found, total = covered[result.split]
            title = f"{result.split} ({total:,} clips, {found:,} on disk)"
            if result.counts is None:
                st.subheader(title)
                st.info("Clips without labels: predictions only, no confusion matrix.")
                continue
            outlined = cell[1:] if cell is not None and cell[0] == result.split else None
            st.plotly_chart(figures.confusion_heatmap(result.rates if normalized else result.counts, title, normalized,
                                                      outlined),
                            key=f"cm-{result.split}", on_select=partial(select_clicked_cell, result.split, cells),
                            selection_mode="points")
            war, uar = st.columns(2)
            war.metric("WAR", f"{result.metrics['war']:.1%}", help="Weighted average recall: the share of all "
                       "clips read right (plain accuracy), so the large classes weigh most.")
            uar.metric("UAR", f"{result.metrics['uar']:.1%}", help="Unweighted average recall: each class's share "
                       "read right, averaged over the classes, so a rare class counts as much as a common one.")
    if any(result.metrics is not None for result in per_split.values()):
        with st.expander("Per class: precision, recall, F1 and support (clips)"):  # the full width: nothing cut off
            st.table(confusion.per_class_by_split(per_split).style.format(precision=2))

if AttentionMode.BYPASSED in tables:
    st.subheader("Attention on vs bypassed")
    st.caption("The same model with its inter-stream attention module used, and bypassed at inference.")
    off = confusion.confusion_by_split(tables[AttentionMode.BYPASSED])
    labelled = [s for s, r in per_split.items() if r.counts is not None and s in off and off[s].counts is not None]
    if labelled:
        compare = st.selectbox("Split", labelled, index=labelled.index("Test") if "Test" in labelled else 0,
                               key="cm_compare_split", persist_state=KEEP)
        on_result, off_result = per_split[compare], off[compare]
        panels = st.columns(3)
        titles = (AttentionMode.ON.label, AttentionMode.BYPASSED.label)
        for panel, result, title in zip(panels, (on_result, off_result), titles):
            panel.plotly_chart(figures.confusion_heatmap(result.rates, f"{title}: UAR {result.metrics['uar']:.1%}",
                                                         True), key=f"cm-compare-{title}")
        difference = confusion.rate_difference(on_result, off_result)
        panels[2].plotly_chart(figures.difference_heatmap(difference, confusion.improvement(difference),
                                                          "on − bypassed"), key="cm-difference")
        st.caption(f"WAR {on_result.metrics['war']:.1%} with the module vs {off_result.metrics['war']:.1%} without. "
                   "Each cell of the difference: how the share of that row's clips landing in the cell changes when "
                   "the module is used. Blue: better with the module (more clips right on the diagonal, fewer "
                   "mistaken for another class elsewhere); red: worse; white: no change.")
