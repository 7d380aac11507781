"""Explanation quality: does each attribution method point at the facial action that really happened, is it faithful
to the model, and does it pass the sanity checks? Layout only: every number comes from lab.grade."""
import streamlit as st

from lab import figures, grade, sources, ui
from lab.attribution import fast, offered

st.title("Explanation quality")
st.caption("Localization against the embedded corpus's true action-unit regions, deletion/insertion faithfulness "
           "(RISE), the parameter-randomization sanity check (Adebayo et al.) and IG completeness; means with 95% "
           "confidence intervals over clips, next to uniform random maps on the same clips.")
chosen = ui.selection()
ui.require_checkpoint(chosen)

report = None
shipped = grade.results_path(chosen.checkpoint_name)
if shipped.is_file():
    report = ui.shipped_grade_report(str(shipped), shipped.stat().st_mtime)
    st.success(f"Precomputed results for **{chosen.checkpoint_name}** (`{shipped.name}`).")

with st.expander("Grade on clips of the selected corpus", expanded=report is None):
    with st.form("grade"):
        left, right = st.columns(2)
        clips = left.number_input("Clips", min_value=1, max_value=1000, value=10)
        check_clips = right.number_input("Of which get the sanity and completeness checks", min_value=0,
                                         max_value=1000, value=2)
        methods = st.multiselect("Methods", offered(), default=list(fast()))
        attention = st.multiselect("Inter-stream attention", ["on", "off"], default=["on", "off"])
        submitted = st.form_submit_button("Grade")
    if submitted and methods and attention:
        corpus = ui.open_data(chosen)
        if corpus is not None:
            split = "Test" if "Test" in corpus.splits else corpus.splits[-1]
            settings = grade.GradeSettings(methods=tuple(methods), attention=tuple(a == "on" for a in attention),
                                           clips=int(clips), check_clips=int(check_clips))
            st.session_state["grading"] = (*sources.checkpoint_stamp(chosen.checkpoint), str(corpus.root), split,
                                           settings)
    if "grading" in st.session_state:
        bar = st.progress(0.0, text="Grading…")
        report = ui.computed_grade_report(
            *st.session_state["grading"],
            _progress=lambda done, total, text: bar.progress(done / max(total, 1), text=text))
        bar.empty()
        st.info(f"Graded {len(report.clips)} clips of `{st.session_state['grading'][2]}`."
                + (f" Skipped: {'; '.join(report.skipped)}" if report.skipped else ""))

if report is None:
    st.info("No precomputed results for this checkpoint: grade it on a few clips above "
            "(or run `python -m lab.grade`).")
    st.stop()

table = report.table
st.subheader("Verdicts")
st.markdown("\n".join(f"- {sentence}" for sentence in grade.verdicts(table)))

causal = table[table.metric == "causal_agreement"]
if not causal.empty:
    st.subheader("Agreement with the real causes")
    st.caption("Each facial region's action units were removed in turn and the clip drawn again by the corpus "
               "generator: how far the class probability falls is what the decision really depends on. The score "
               "is the rank correlation, over the regions, between that fall and the share of the map's relevance "
               "in the region: 1 = the map ranks the regions as their real effects do, 0 = no relation.")
    st.dataframe(causal.assign(clips=causal.n)[["method", "stream", "attention", "mean", "ci_low", "ci_high",
                                                "random_mean", "clips"]],
                 hide_index=True, column_config={
                     "mean": st.column_config.NumberColumn("agreement", format="%.2f"),
                     "ci_low": st.column_config.NumberColumn("95% CI from", format="%.2f"),
                     "ci_high": st.column_config.NumberColumn("to", format="%.2f"),
                     "random_mean": st.column_config.NumberColumn("random maps", format="%.2f")})

flagged = table[table.flag != ""]
st.subheader("Flags")
if not table.metric.isin(["randomization_spearman", "completeness_error"]).any():
    st.info("No sanity or completeness checks in these results (they run on the first clips only).")
elif flagged.empty:
    st.success("Every graded method passes the sanity and completeness checks.")
for row in flagged.itertuples():
    st.warning(f"**{row.method}**, {row.stream} stream, attention {row.attention}: {row.flag}")

st.subheader("Table")
show = st.radio("Attention", sorted(table.attention.unique(), reverse=True), horizontal=True, key="quality_attention")
method_choice = st.multiselect("Methods", list(table.method.unique()), default=list(table.method.unique()),
                               key="quality_methods")
view = table[(table.attention == show) & table.method.isin(method_choice)].drop(columns=["attention"])
st.dataframe(view, hide_index=True, column_config={
    column: st.column_config.NumberColumn(format="%.3f") for column in ("mean", "ci_low", "ci_high", "random_mean")})

st.subheader("Curves")
kinds = [k for k in figures.QUALITY_CURVE_TITLES if k in set(report.curves.curve)]
kind_column, stream_column = st.columns(2)
kind = kind_column.selectbox("Curve", kinds, format_func=lambda k: k.replace("_", " "), key="quality_curve")
stream = stream_column.radio("Stream", grade.STREAMS, horizontal=True, key="quality_stream")
selected = report.curves[(report.curves.curve == kind) & (report.curves.stream == stream)
                         & (report.curves.attention == show) & report.curves.method.isin(method_choice)]
st.plotly_chart(figures.quality_curves(selected, kind), key="quality_curve_chart")
