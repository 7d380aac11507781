"""A grading table in words and rankings: the verdicts per method and criterion, the small-sample warnings, the
readable measurement tables, and the methods of a shipped table ranked best first (the Explanation quality page, the
Analyze page's method picker and ``python -m cli.grade`` all read these)."""
from __future__ import annotations

import pandas as pd

from lab.attribution import offered
from lab.grading.runner import COMPLETENESS_MAX_ERROR, RANDOM, SANITY_MAX_SPEARMAN, STREAMS
from lab.grading.stored import load_table, results_path
from lab.trust import listed

SMALL_SAMPLE_CLIPS = 20  # a grade measured on fewer clips is flagged as a hint rather than a measurement
CAUSAL_MIN_AGREEMENT = 0.3  # better than random but below this rank correlation: a weak agreement
STREAM_NAMES = {"spatial": "spatial (the frames)", "temporal": "temporal (the motion)", "both": "both"}
RANDOM_NAME = "Random maps (chance level)"
METRIC_LABELS = {  # every metric of the table, in the order the page shows them, with what "good" means
    "mass_accuracy": "Relevance on the true regions (higher is better)",
    "mass_accuracy_apex": "Relevance on the true regions, apex frames (higher is better)",
    "pointing_game": "Peak on a true region (higher is better)",
    "pointing_game_apex": "Peak on a true region, apex frames (higher is better)",
    "curve_pearson": "Follows the expression over time, Pearson (higher is better)",
    "curve_spearman": "Follows the expression over time, Spearman (higher is better)",
    "onset_apex_share": "Relevance in the onset-to-apex frames (higher is better)",
    "deletion_spatial_auc": "Deletion (spatial, lower is better)",
    "insertion_spatial_auc": "Insertion (spatial, higher is better)",
    "deletion_temporal_auc": "Deletion (temporal, lower is better)",
    "insertion_temporal_auc": "Insertion (temporal, higher is better)",
    "causal_agreement": "Agreement with the real causes (higher is better)",
    "randomization_spearman": "Similarity after randomizing the model (lower is better)",
    "completeness_error": "Completeness error (lower is better)",
}
# verdict column -> (metric, +1 when higher is better / -1 when lower is), each compared with random maps
CRITERIA = {
    "Localization": (("mass_accuracy", 1), ("pointing_game_apex", 1), ("curve_spearman", 1)),
    "Faithfulness": (("deletion_spatial_auc", -1), ("insertion_spatial_auc", 1), ("deletion_temporal_auc", -1),
                     ("insertion_temporal_auc", 1)),
    "Causal agreement": (("causal_agreement", 1),),
}
SANITY = "Sanity check"
COMPLETENESS = "Completeness"
VERDICT_COLUMNS = ("Localization", "Faithfulness", SANITY, "Causal agreement")
VERDICT_LEGEND = (  # what the verdict columns ask, and what their words mean (the page shows it as bullets)
    "**Localization**: do the maps point at the facial regions whose action units are really active (spatial "
    "stream) or moving (temporal stream), and follow the expression over time?",
    "**Faithfulness**: does deleting what the map calls relevant lower the class probability faster than deleting in "
    "a random order, and does inserting it first raise it faster?",
    "**Sanity check**: do the maps change once the model's weights are randomized? Maps that stay the same do not "
    "explain this model (they behave like an edge detector).",
    "**Causal agreement**: do the maps rank the facial regions the way removing each region's action units really "
    "changes the decision?",
    "**passes**: clearly better than random maps on these clips (95% interval); **weak**: better on some measures "
    f"only (causal agreement: better than random, but a rank correlation under {CAUSAL_MIN_AGREEMENT}); **fails**: "
    "not measurably better than random maps, or, for the sanity check, maps that barely change "
    f"(rank correlation above {SANITY_MAX_SPEARMAN}).",
)


def attention_settings(table: pd.DataFrame) -> list[str]:
    """The attention modes a table graded, "on" first (on, bypassed, absent: reverse alphabetical)."""
    return sorted(table.attention.unique(), reverse=True)


def report_summary(table: pd.DataFrame) -> str:
    """How much a table graded, in a few words: methods, clips, and both attention settings when both were graded
    (a table of one setting is the model as it runs: it may have no attention module at all)."""
    methods = _method_order(table)
    clips = int(table[table.method != RANDOM].n.max()) if len(table) else 0
    both = len(attention_settings(table)) > 1
    return (f"{len(methods)} method{'s' if len(methods) != 1 else ''} graded on up to {_clips(clips)}"
            + (", with the inter-stream attention module on and bypassed" if both else ""))


def _method_order(table: pd.DataFrame) -> list[str]:
    """The graded methods in the registry's order, then any unknown ones; the random baseline is not among them."""
    present = [m for m in table.method.unique() if m != RANDOM]
    return [m for m in offered() if m in present] + [m for m in present if m not in offered()]


def compare_with_random(row, direction: int) -> int:
    """+1 when the 95 % interval of a metric lies on the good side of random maps' mean, -1 on the bad side, 0 when
    the clips cannot tell them apart (a single clip has no interval: 0)."""
    low, high = (row.ci_low, row.ci_high) if direction > 0 else (-row.ci_high, -row.ci_low)
    chance = row.random_mean * direction
    return 1 if low > chance else -1 if high < chance else 0


def _criterion_grade(rows: pd.DataFrame, criterion: str) -> tuple[str, int] | None:
    """(passes / weak / fails, fewest clips behind it) of one method, stream and attention setting, or None when
    none of the criterion's metrics was measured."""
    metrics = {row.metric: row for row in rows.itertuples()}
    if criterion == SANITY:
        if (row := metrics.get("randomization_spearman")) is None or pd.isna(row.mean):
            return None
        return ("fails" if row.mean > SANITY_MAX_SPEARMAN else "passes"), int(row.n)
    measured = [(metrics[m], d) for m, d in CRITERIA[criterion] if m in metrics and pd.notna(metrics[m].mean)]
    if not measured:
        return None
    if max(int(row.n) for row, _ in measured) < 2:  # one clip has no spread: nothing to compare with random maps
        return "too few clips", max(int(row.n) for row, _ in measured)
    measured = [(row, d) for row, d in measured if row.n >= 2]
    signs = [compare_with_random(row, d) for row, d in measured]
    clips = min(int(row.n) for row, _ in measured)
    better, worse = signs.count(1), signs.count(-1)
    if criterion == "Causal agreement":
        row = measured[0][0]
        return ("passes" if better and row.mean >= CAUSAL_MIN_AGREEMENT else "weak" if better else "fails"), clips
    return ("passes" if 2 * better >= len(signs) and not worse else "fails" if not better else "weak"), clips


def stream_grades(table: pd.DataFrame, attention: str = "on") -> pd.DataFrame:
    """One row per method, stream and criterion of one attention setting: grade (passes / weak / fails) and clips
    (the fewest clips behind it). Localization, faithfulness and causal agreement compare each method with random
    maps on the same clips (better, worse or indistinguishable by the 95 % interval); the sanity check fails a method
    whose maps stay rank-correlated above SANITY_MAX_SPEARMAN after the whole randomization cascade."""
    rows = []
    chosen = table[(table.attention == attention) & table.stream.isin(STREAMS)]
    for method in _method_order(chosen):
        for stream in STREAMS:
            measured = chosen[(chosen.method == method) & (chosen.stream == stream)]
            for criterion in (*CRITERIA, SANITY):
                if (result := _criterion_grade(measured, criterion)) is not None:
                    rows.append({"method": method, "stream": stream, "criterion": criterion,
                                 "grade": result[0], "clips": result[1]})
    return pd.DataFrame(rows, columns=["method", "stream", "criterion", "grade", "clips"])


def _clips(count: int) -> str:
    return f"{count} clip" + ("" if count == 1 else "s")


def _clips_note(clips: int) -> str:
    return f" ({_clips(clips)})" if clips < SMALL_SAMPLE_CLIPS else ""


def _per_stream(grades: pd.DataFrame) -> str:
    """One criterion's grade: the same for both streams, else each stream's."""
    if grades.empty:
        return "not measured"
    if grades.grade.nunique() == 1:
        return grades.grade.iloc[0]
    return ", ".join(f"{row.stream} {row.grade}" for row in grades.itertuples())


def _combined(grades: pd.DataFrame) -> str:
    """One verdict cell: _per_stream, with the clip count when few."""
    return _per_stream(grades) + ("" if grades.empty else _clips_note(int(grades.clips.min())))


def method_verdicts(table: pd.DataFrame, attention: str = "on") -> pd.DataFrame:
    """The grouped verdicts of one attention setting: one row per method, best graded first (ranked_methods), one
    column per criterion (Localization, Faithfulness, Sanity check, Causal agreement, and Completeness where it was
    checked), each cell "passes", "weak" or "fails" (per stream when the streams differ), with the number of clips
    when under SMALL_SAMPLE_CLIPS."""
    grades = stream_grades(table, attention)
    complete = table[(table.metric == "completeness_error") & (table.attention == attention)]
    rows = []
    ranked = _ranked(table, attention, grades)
    for method in ranked + [m for m in _method_order(table[table.attention == attention]) if m not in ranked]:
        mine = grades[grades.method == method]
        row = {"Method": method}
        row.update({c: _combined(mine[mine.criterion == c]) for c in VERDICT_COLUMNS})
        if not complete.empty:
            checked = complete[complete.method == method]
            if checked.empty:
                row[COMPLETENESS] = "does not apply"
            else:
                error, clips = float(checked["mean"].iloc[0]), int(checked.n.iloc[0])
                row[COMPLETENESS] = (("fails" if error > COMPLETENESS_MAX_ERROR else "passes") + f" (off by {error:.1%}"
                                     + (f", {_clips(clips)})" if clips < SMALL_SAMPLE_CLIPS else ")"))
        rows.append(row)
    return pd.DataFrame(rows, columns=["Method", *VERDICT_COLUMNS, *([COMPLETENESS] if not complete.empty else [])])


USES = {  # what passing each criterion makes a method good for
    "Faithfulness": "what the decision rests on", "Localization": "where the facial action is",
    "Causal agreement": "which facial regions the answer depends on"}


def method_sentence(row: dict) -> str:
    """One plain sentence from a row of method_verdicts: what the method's maps can be trusted to show."""
    name, sanity = row["Method"], row[SANITY]
    if sanity.startswith("fails"):
        return (f"**{name}**: do not read its maps as the model's reasons: they barely change when the model's "
                "weights are randomized.")
    kinds = {"passes": [], "weak": [], "fails": []}
    for criterion, use in USES.items():
        verdict = row[criterion]
        kind = next((k for k in kinds if verdict.startswith(k)), "weak" if "passes" in verdict else None)
        if kind is not None:  # a mix of streams reads as weak; "not measured" and "too few clips" say nothing
            kinds[kind].append(use)
    roughly = "only roughly for" if kinds["passes"] else "trust it only roughly for"
    parts = [f"{words} {listed(kinds[kind])}" for kind, words in (
        ("passes", "trust it for"), ("weak", roughly), ("fails", "not for")) if kinds[kind]]
    if "fails" in sanity:  # one stream's maps fail the randomization check
        parts.append(f"its {sanity.split(' fails')[0]} maps fail the randomization check, so read those as edges")
    if row.get(COMPLETENESS, "").startswith("fails"):
        parts.append("its relevance does not add up to the change of the class score (more integration steps help)")
    return f"**{name}**: " + ("; ".join(parts) if parts else "not graded on these clips") + "."


def small_sample_warnings(table: pd.DataFrame, attention: str = "on") -> list[str]:
    """One warning per kind of grade measured on fewer than SMALL_SAMPLE_CLIPS clips (the fewest of any method)."""
    grades = stream_grades(table, attention)
    complete = table[(table.metric == "completeness_error") & (table.attention == attention)]
    clips = grades.groupby("criterion", sort=False).clips.min().to_dict()
    if not complete.empty:
        clips[COMPLETENESS] = int(complete.n.min())
    return [f"{criterion} measured on {_clips(count)} only (under {SMALL_SAMPLE_CLIPS}): "
            f"read its verdict as a hint, not a measurement."
            for criterion, count in clips.items() if count < SMALL_SAMPLE_CLIPS]


def measurement_table(table: pd.DataFrame, attention: str = "on", methods: list[str] | None = None
                      ) -> pd.DataFrame:
    """The measurements of one attention setting, readable: one row per method (of ``methods``, default all) and
    stream, random maps last, one named column per metric ("Deletion (spatial, lower is better)", ...) and the clips
    behind the row. The completeness check (both streams at once) is in the verdicts instead."""
    chosen = table[(table.attention == attention) & table.stream.isin(STREAMS)]
    methods = [m for m in _method_order(chosen) if methods is None or m in methods]
    methods += [RANDOM] if (chosen.method == RANDOM).any() else []
    metrics = [m for m in METRIC_LABELS if m in set(chosen.metric)]
    wide = chosen.pivot_table(index=["method", "stream"], columns="metric", values="mean", aggfunc="first")
    clips = chosen.groupby(["method", "stream"]).n.max()
    index = [(m, s) for m in methods for s in STREAMS if (m, s) in wide.index]
    out = wide.reindex(index)[metrics].rename(columns=METRIC_LABELS).reset_index()
    out.insert(2, "Clips", [int(clips[key]) for key in index])
    out["method"] = out["method"].replace({RANDOM: RANDOM_NAME})
    out["stream"] = out["stream"].map(STREAM_NAMES)
    out.columns.name = None
    return out.rename(columns={"method": "Method", "stream": "Stream"})


def metric_detail(table: pd.DataFrame, metric: str, attention: str = "on") -> pd.DataFrame:
    """One metric of one attention setting with its 95 % interval, next to random maps on the same clips."""
    rows = table[(table.metric == metric) & (table.attention == attention) & (table.method != RANDOM)]
    order = {m: i for i, m in enumerate(_method_order(rows))}
    rows = rows.sort_values(["method", "stream"], key=lambda c: c.map(order) if c.name == "method" else c)
    return pd.DataFrame({"Method": rows.method.values, "Stream": rows.stream.map(STREAM_NAMES).values,
                         "Mean": rows["mean"].values, "95% CI from": rows.ci_low.values, "to": rows.ci_high.values,
                         "Random maps": rows.random_mean.values, "Clips": rows.n.astype(int).values})


def curves_of(curves: pd.DataFrame, kind: str, stream: str, attention: str, methods: list[str] | None = None
              ) -> pd.DataFrame:
    """One curve kind of one stream and attention setting, for ``methods`` (default all) and the random baseline."""
    keep = curves.method.isin([*methods, RANDOM]) if methods is not None else True
    return curves[(curves.curve == kind) & (curves.stream == stream) & (curves.attention == attention) & keep]


def verdicts(table: pd.DataFrame) -> list[str]:
    """One plain line per method and attention setting: its grouped verdicts (method_verdicts), then the small-sample
    warnings."""
    lines = []
    for attention in attention_settings(table):
        for row in method_verdicts(table, attention).to_dict("records"):
            method = row.pop("Method")
            lines.append(f"{method} (attention {attention}): "
                         + "; ".join(f"{column.lower()} {grade}" for column, grade in row.items()) + ".")
        lines += [f"Attention {attention}: {warning}" for warning in small_sample_warnings(table, attention)]
    return lines


BADGE_CRITERIA = ("Faithfulness", SANITY, "Localization", "Causal agreement")  # what the method picker's line shows


def grade_line(grades: pd.DataFrame, method: str) -> str:
    """A method's grade in one short line, from the stream_grades of one attention setting: a failed randomization
    check first (its maps do not explain this model), then every criterion (per stream where they differ) with the
    clips it rests on."""
    grades = grades[grades.method == method]
    sanity = grades[grades.criterion == SANITY]
    failing = list(sanity[sanity.grade == "fails"].stream)
    parts = []
    if failing:
        where = "both streams" if len(failing) == len(STREAMS) else f"the {failing[0]} stream"
        parts.append(f"Fails the randomization check on {where}: read it as an edge map, not as the model's reasons")
    for criterion in BADGE_CRITERIA:
        mine = grades[grades.criterion == criterion]
        clips = "" if mine.empty else f" ({_clips(int(mine.clips.min()))})"
        parts.append(f"{criterion}: {_per_stream(mine)}{clips}")
    if not grades.empty and grades.clips.min() < SMALL_SAMPLE_CLIPS:
        parts.append(f"under {SMALL_SAMPLE_CLIPS} clips, a grade is a hint")
    return " · ".join(parts)


def method_grades(checkpoint_name: str | None, attention: str = "on") -> dict[str, str]:
    """Each graded method of offered() -> its grade in one short line (grade_line), best first (ranked_methods), from
    the checkpoint's shipped table for ``attention`` ("on", "bypassed" or "absent"; its first mode where the table has
    no such rows); an empty dict without a shipped table. Cheap and deterministic: one CSV read."""
    table = _shipped_table(checkpoint_name)
    if table is None:
        return {}
    attention = attention if (table.attention == attention).any() else attention_settings(table)[0]
    grades = stream_grades(table, attention)
    return {method: grade_line(grades, method) for method in _ranked(table, attention, grades)}


GRADE_POINTS = {"passes": 2, "weak": 1}  # anything else (fails, too few clips) earns nothing


def ranked_methods(checkpoint_name: str | None, attention: str = "on") -> list[str]:
    """The graded methods of offered(), best first: a failed randomization check puts a method last (its maps do not
    explain this model), then the points of every criterion on both streams (passes 2, weak 1), ties in offered()
    order. ``attention``: a mode, the table's first where it has no such rows; empty without a
    shipped table."""
    return list(method_grades(checkpoint_name, attention))


def _shipped_table(checkpoint_name: str | None) -> pd.DataFrame | None:
    if not checkpoint_name or not results_path(checkpoint_name).is_file():
        return None
    return load_table(results_path(checkpoint_name))


def _ranked(table: pd.DataFrame, attention: str, grades: pd.DataFrame) -> list[str]:
    """The methods of offered() with rows in ``table`` at ``attention``, best first by their ``grades``
    (stream_grades)."""

    def rank(method: str) -> tuple[bool, int]:
        own = grades[grades.method == method]
        failed = ((own.criterion == SANITY) & (own.grade == "fails")).any()
        return failed, -sum(GRADE_POINTS.get(grade, 0) for grade in own.grade)

    chosen = table[table.attention == attention]
    return sorted((m for m in offered() if (chosen.method == m).any()), key=rank)
