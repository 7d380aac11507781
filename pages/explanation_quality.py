"""Explanation quality: does each attribution method point at the facial action that really happened, is it faithful
to the model, and does it pass the sanity checks? Layout only: every number comes from lab.grading."""
import streamlit as st

from app import ui
from lab import figures, glossary, sources
from lab.attribution import fast, offered
from lab.grading import runner, stored, verdicts
from model.config import AttentionMode

st.title("Explanation quality")
st.caption("Which saliency method to trust, and for what: each method's maps are checked on corpus clips whose "
           "true facial movements are known, next to random maps on the same clips. Read the verdicts first; the "
           "measurements below them are means over clips with their 95% intervals.",
           help=glossary.markdown(("Saliency map", "Localization", "Deletion and insertion (RISE)",
                                   "Randomization check", "Causal agreement", "Integrated Gradients")))
chosen = ui.selection()
ui.require_checkpoint(chosen)

reports = {}  # where the grades come from -> report: the shipped table, and this session's own run apart from it
shipped = stored.results_path(chosen.checkpoint_name)
if shipped.is_file():
    reports["shipped"] = ui.shipped_grade_report(str(shipped), shipped.stat().st_mtime)
    st.success(f"Precomputed results for **{chosen.checkpoint_name}** (`{shipped.name}`): "
               f"{verdicts.report_summary(reports['shipped'].table)}.")
request = st.session_state.get("grading")  # set by the form at the end of the page
if request is not None and request[0] == str(chosen.checkpoint):  # a run of another checkpoint is not shown
    bar = st.progress(0.0, text="Grading…")
    reports["session"] = ui.session_grade_report(
        request, lambda done, total, text: bar.progress(done / max(total, 1), text=text))
    bar.empty()
    st.info(f"Graded {len(reports['session'].clips)} clips of `{request[2]}`."
            + (f" Skipped: {'; '.join(reports['session'].skipped)}" if reports["session"].skipped else ""))


def grading_form() -> None:
    """Grade the checkpoint on clips of the selected corpus in this session; the run is shown apart, above."""
    with st.expander("Grade on clips of the selected corpus", expanded=not reports), st.form("grade"):
        left, right = st.columns(2)
        clips = left.number_input("Clips", min_value=1, max_value=1000, value=10, key="grade_clips")
        check_clips = right.number_input("Of which get the sanity and completeness checks", min_value=0,
                                         max_value=1000, value=2, key="grade_check_clips")
        methods = st.multiselect("Methods", offered(), default=list(fast()), key="grade_methods")
        modes = [AttentionMode.ON, AttentionMode.BYPASSED]
        attention = st.multiselect("Inter-stream attention", modes, default=modes, format_func=lambda m: m.label,
                                   key="grade_attention", help="A model trained without the module is graded as it is.")
        submitted = st.form_submit_button("Grade")
    if submitted and methods and attention and (corpus := ui.open_data(chosen)) is not None:
        split = "Test" if "Test" in corpus.splits else corpus.splits[-1]
        settings = runner.GradeSettings(methods=tuple(methods), attention=tuple(attention), clips=int(clips),
                                       check_clips=int(check_clips))
        st.session_state["grading"] = (*sources.checkpoint_stamp(chosen.checkpoint), str(corpus.root), split,
                                       settings)
        st.rerun()  # the run is drawn at the top, before the verdicts it feeds


if not reports:
    st.info("No precomputed results for this checkpoint: grade it on a few clips below "
            "(or run `python -m cli.grade`).")
    grading_form()
    st.stop()

SOURCES = {"shipped": "the shipped grades", "session": "this session's run"}
pick_source, pick_attention = st.columns([3, 2])
source = (pick_source.radio("Show", list(reports), index=len(reports) - 1, horizontal=True, key="quality_source",
                            format_func=lambda s: f"{SOURCES[s].capitalize()} "
                                                  f"({verdicts.report_summary(reports[s].table)})",
                            help="Your run is kept apart from the shipped grades: the Analyze page always ranks "
                                 "methods by the shipped ones.")
          if len(reports) > 1 else next(iter(reports)))
report = reports[source]
table = report.table
if len(reports) == 1:
    pick_source.caption(f"Showing {SOURCES[source]}.")
settings = verdicts.attention_settings(table)
show = (pick_attention.radio("Inter-stream attention", settings, horizontal=True, key="quality_attention",
                             format_func=lambda mode: AttentionMode(mode).label,
                             help="Grades of the model with its attention module on, or bypassed.")
        if len(settings) > 1 else settings[0])

verdict_box = st.container(key="verdicts")  # the tour's step shows it (app/tour.py)
verdict_box.subheader("Verdicts")
verdict_box.caption("Best graded first: a failed sanity check puts a method last, then passes count 2 and weak 1 "
                    "on every criterion of both streams. The Analyze page opens on the first and lists the methods "
                    "in this order.")
by_method = verdicts.method_verdicts(table, show)
verdict_box.markdown("\n".join(f"- {verdicts.method_sentence(row)}" for row in by_method.to_dict("records")))
st.table(by_method.set_index("Method"))  # wraps: whole at 1280 px
for warning in verdicts.small_sample_warnings(table, show):
    st.warning(warning)
with st.expander("What the verdicts mean"):
    st.markdown("\n".join(f"- {line}" for line in verdicts.VERDICT_LEGEND))

st.subheader("Measurements")
st.caption("Each method's mean over the clips, per stream; the last rows are uniform random maps on the same clips, "
           "the chance level to beat. Spatial and temporal deletion remove the most relevant pixels of every frame, "
           "or the most relevant frames, first.")
graded = [m for m in offered() if m in set(table.method)]
pick_methods, pick_stream = st.columns([3, 1])
method_choice = pick_methods.multiselect("Methods", graded, default=graded, key="quality_methods")
stream = pick_stream.radio("Stream", runner.STREAMS, format_func=verdicts.STREAM_NAMES.get, key="quality_stream",
                           help="The stream whose measurements and curves are shown.")
measurements = verdicts.measurement_table(table, show, method_choice)
by_method = measurements[measurements.Stream == verdicts.STREAM_NAMES[stream]].set_index("Method")
st.table(by_method.drop(columns="Stream").T.style.format("{:.2f}", na_rep="–"))  # a column per method: fits

causal = verdicts.metric_detail(table, "causal_agreement", show)
if not causal.empty:
    st.subheader("Agreement with the real causes")
    st.caption("Each facial region's action units were removed in turn and the clip drawn again by the corpus "
               "generator: how far the class probability falls is what the decision really depends on. The score "
               "is the rank correlation, over the regions, between that fall and the share of the map's relevance "
               "in the region: 1 = the map ranks the regions as their real effects do, 0 = no relation.")
    st.dataframe(causal, hide_index=True, column_config={
        column: st.column_config.NumberColumn(format="%.2f") for column in ("Mean", "95% CI from", "to",
                                                                             "Random maps")})

st.subheader("Curves")
kinds = [k for k in figures.QUALITY_CURVE_TITLES if k in set(report.curves.curve)]
kind = st.selectbox("Curve", kinds, format_func=figures.QUALITY_CURVE_NAMES.get, key="quality_curve",
                    help="Of the stream picked above the measurements.")
st.plotly_chart(figures.quality_curves(verdicts.curves_of(report.curves, kind, stream, show, method_choice), kind),
                key="quality_curve_chart")

grading_form()
