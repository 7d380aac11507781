"""Plotly figures of the lab (interactive in the app, gr.Plot in the Gradio demo)."""
from __future__ import annotations

from itertools import cycle

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from lab.grading import runner
from lab.whatif import au_label
from model.config import CLASSES, AttentionMode

STREAM_COLOURS = {"spatial": "#1f77b4", "temporal": "#ff7f0e"}
QUALITY_CURVE_TITLES = {  # lab.grading.runner's curve kinds, in the order the explanation quality page offers them
    "deletion_spatial": "Deletion: most relevant pixels of every frame first (lower = more faithful)",
    "insertion_spatial": "Insertion: most relevant pixels of every frame first (higher = more faithful)",
    "deletion_temporal": "Deletion: most relevant frames first (lower = more faithful)",
    "insertion_temporal": "Insertion: most relevant frames first (higher = more faithful)",
    "randomization": "Sanity: rank correlation with the original maps as layers are randomized from the top",
}
QUALITY_CURVE_NAMES = {  # the same kinds, short, for a picker
    "deletion_spatial": "Deletion, pixels first", "insertion_spatial": "Insertion, pixels first",
    "deletion_temporal": "Deletion, frames first", "insertion_temporal": "Insertion, frames first",
    "randomization": "Sanity: randomization cascade",
}


READABLE = dict(font=dict(size=13), uniformtext=dict(minsize=11, mode="hide"))  # no chart text under 11 px at 1280x720


def _readable(figure: go.Figure) -> go.Figure:
    """Every chart's last step: text at 13 px, and a bar label that would have to shrink under 11 px is hidden (its
    value stays in the hover) instead of overlapping its neighbours."""
    return figure.update_layout(**READABLE)


def probability_bars(probabilities: pd.DataFrame) -> go.Figure:
    """Grouped bars: one group per class, one bar per Lineup column (attention on / bypassed / trained without it)."""
    figure = go.Figure([go.Bar(name=column, x=probabilities.index, y=probabilities[column],
                               text=[f"{p:.0%}" if p >= 0.005 else "" for p in probabilities[column]],
                               textposition="outside", textangle=-90, cliponaxis=False)  # upright labels overlap
                        for column in probabilities.columns])
    figure.update_layout(barmode="group", yaxis=dict(range=[0, 1.2], tickvals=[0, 0.25, 0.5, 0.75, 1],
                                                      tickformat=".0%", title="probability"),  # room for labels
                         legend=dict(orientation="h", y=1.12), margin=dict(t=40, b=10, l=10, r=10), height=340)
    return _readable(figure)


def importance_curves(importance: pd.DataFrame, current_frame: int | None = None) -> go.Figure:
    """Each stream's share of the relevance per frame (the temporal stream's flow field i is drawn at frame i+1)."""
    figure = go.Figure([go.Scatter(x=importance["frame"], y=importance[stream], name=f"{stream} stream",
                                   mode="lines+markers", line=dict(color=colour))
                        for stream, colour in STREAM_COLOURS.items()])
    if current_frame is not None:
        figure.add_vline(x=current_frame, line_dash="dot", line_color="grey")
    figure.update_layout(xaxis_title="frame", yaxis=dict(title="share of relevance", tickformat=".0%"),
                         legend=dict(orientation="h", y=1.12), margin=dict(t=40, b=10, l=10, r=10), height=300)
    return _readable(figure)


def confusion_heatmap(matrix: np.ndarray, title: str, normalized: bool, selected: tuple[str, str] | None = None
                      ) -> go.Figure:
    """A confusion matrix (rows: true class, columns: prediction), with the ``selected`` (true, predicted) cell
    outlined."""
    text = [[f"{v:.0%}" if normalized else f"{int(v)}" for v in row] for row in matrix]
    return _class_grid(matrix, text, title, selected, colorscale="Blues", showscale=False)


def difference_heatmap(difference: np.ndarray, better: np.ndarray, title: str) -> go.Figure:
    """A difference matrix (on - off), each cell coloured by whether that change is good (``better`` > 0: more clips
    right on the diagonal, fewer wrong elsewhere), so that blue always reads "better" and red "worse"."""
    limit = float(np.abs(better).max()) or 1.0
    text = [[f"{v:+.0%}" for v in row] for row in difference]
    return _class_grid(better, text, title, colorscale="RdBu", zmid=0, zmin=-limit, zmax=limit, colorbar=dict(
        tickvals=[-limit, 0, limit], ticktext=["worse", "same", "better"], thickness=12))


def _class_grid(colour: np.ndarray, text: list[list[str]], title: str, selected: tuple[str, str] | None = None,
                **heatmap) -> go.Figure:
    """A class-by-class heatmap that a click can select a cell of.

    Plotly reports no selected points for heatmap cells, so st.plotly_chart(on_select=...) gets an empty selection
    from a click on one. An invisible marker on every cell carries the click (x = prediction, y = true class) and the
    hover text instead, and the pointer always picks the nearest one: the cell it is in.
    """
    cells = [(true, predicted) for true in CLASSES for predicted in CLASSES]
    figure = go.Figure(go.Heatmap(z=colour, x=list(CLASSES), y=list(CLASSES), text=text, texttemplate="%{text}",
                                  textfont=dict(size=13), hoverinfo="skip", **heatmap))
    figure.add_trace(go.Scatter(
        x=[p for _, p in cells], y=[t for t, _ in cells], text=[cell for row in text for cell in row],
        mode="markers", marker=dict(opacity=0), showlegend=False,
        hovertemplate="true %{y}<br>predicted %{x}<br>%{text}<extra></extra>"))
    if selected is not None:
        row, column = (CLASSES.index(name) for name in selected)
        figure.add_shape(type="rect", x0=column - 0.5, x1=column + 0.5, y0=row - 0.5, y1=row + 0.5,
                         line=dict(color="#ff7f0e", width=3))
    edges = [-0.5, len(CLASSES) - 0.5]  # the heatmap's own, not widened around the markers
    figure.update_layout(title=title, hovermode="closest", hoverdistance=-1,
                         xaxis=dict(title="predicted", range=edges, fixedrange=True, tickmode="array",
                                    tickvals=list(CLASSES), tickangle=-45),  # every class named, even when narrow
                         yaxis=dict(title="true", range=edges[::-1], fixedrange=True, tickmode="array",
                                    tickvals=list(CLASSES)),
                         margin=dict(t=40, b=10, l=10, r=10), height=360)
    return _readable(figure)


def attention_heatmap(matrix: np.ndarray, query_labels: list[str], key_labels: list[str], query: str, key: str
                      ) -> go.Figure:
    figure = go.Figure(go.Heatmap(z=matrix, x=key_labels, y=query_labels, colorscale="Viridis",
                                  hovertemplate=f"{query} %{{y}} → {key} %{{x}}<br>%{{z:.2f}}<extra></extra>"))
    figure.update_layout(xaxis_title=f"{key} stream, looked at", yaxis=dict(title=f"{query} stream, asking",
                                                                            autorange="reversed"),
                         margin=dict(t=10, b=10, l=10, r=10), height=320)
    return _readable(figure)


def real_face_curves(per_frame: np.ndarray, height: int = 260) -> go.Figure:
    """The real-face network's probability of each class, frame by frame (model/real_face.py); frames are numbered as
    on the other tabs."""
    frames = np.arange(len(per_frame))
    figure = go.Figure([go.Scatter(x=frames, y=per_frame[:, i], name=name, mode="lines+markers",
                                   line=dict(color=colour))
                        for i, (name, colour) in enumerate(zip(CLASSES, cycle(qualitative.Plotly)))])
    figure.update_layout(xaxis_title="frame", yaxis=dict(title="probability", range=[0, 1.02], tickformat=".0%"),
                         legend=dict(orientation="h", y=1.18), margin=dict(t=40, b=10, l=10, r=10), height=height)
    return _readable(figure)


def class_count_bars(counts: pd.DataFrame) -> go.Figure:
    figure = go.Figure([go.Bar(name=split, x=counts.index, y=counts[split]) for split in counts.columns])
    figure.update_layout(barmode="group", yaxis_title="clips", margin=dict(t=10, b=10, l=10, r=10), height=320)
    return _readable(figure)


def au_curves(curves: pd.DataFrame, onset: int | None, apex: int | None, offset: int | None) -> go.Figure:
    """AU intensity per frame, with the expression's onset, apex and offset marked."""
    figure = go.Figure([go.Scatter(x=curves.index, y=curves[au], name=au_label(au), mode="lines")
                        for au in curves.columns])
    for frame, name, dash in ((onset, "onset", "dash"), (apex, "apex", "solid"), (offset, "offset", "dot")):
        if frame is not None:
            figure.add_vline(x=frame, line_dash=dash, line_color="black", annotation_text=name)
    figure.update_layout(xaxis_title="frame", yaxis=dict(title="AU intensity", range=[0, 1.05]),
                         margin=dict(t=30, b=10, l=10, r=10), height=320)
    return _readable(figure)


def effect_bars(effects: pd.DataFrame, target: str) -> go.Figure:
    """Horizontal bars: how the target's probability changes when each AU is removed (columns AU, attention,
    effect), one bar per attention setting; red where removing the AU lowers the target."""
    figure = go.Figure([go.Bar(name=AttentionMode(attention).label, y=rows["AU"], x=rows["effect"], orientation="h",
                               marker_color=np.where(rows["effect"] < 0, "#d62728", "#2ca02c"),
                               marker_pattern_shape="/" if attention == AttentionMode.BYPASSED else "",
                               text=[f"{e:+.0%}".replace("-", "−") for e in rows["effect"]], textposition="outside",
                               cliponaxis=False)
                        for attention, rows in effects.groupby("attention", sort=False)])
    figure.update_layout(barmode="group", xaxis=dict(title=f"change of p({target}) when removed", tickformat="+.0%",
                                                     range=[-1.35, 1.35]),  # room for a -100% bar's label
                         legend=dict(orientation="h", y=1.12), margin=dict(t=40, b=10, l=10, r=10),
                         height=120 + 40 * effects["AU"].nunique())
    return _readable(figure)


def quality_curves(curves: pd.DataFrame, kind: str) -> go.Figure:
    """One grading curve kind (lab.grading.runner): each method's mean with its 95% confidence band, random maps
    dotted."""
    figure = go.Figure()
    for (method, rows), colour in zip(curves.groupby("method", sort=False), cycle(qualitative.Plotly)):
        rows = rows.sort_values("x")
        figure.add_scatter(x=rows.x_label, y=rows["mean"], name=method, mode="lines+markers", line_color=colour,
                           line_dash="dot" if method == runner.RANDOM else None)
        figure.add_scatter(x=[*rows.x_label, *rows.x_label[::-1]], y=[*rows.ci_high, *rows.ci_low[::-1]],
                           fill="toself", opacity=0.15, line_width=0, showlegend=False, hoverinfo="skip",
                           fillcolor=colour, name=f"{method} 95% CI")
    y_title = "Spearman ρ" if kind == "randomization" else "target-class probability"
    x_title = "randomized down to" if kind == "randomization" else "share removed / inserted"
    figure.update_layout(title=QUALITY_CURVE_TITLES[kind], xaxis_title=x_title, yaxis_title=y_title, height=420)
    return _readable(figure)
