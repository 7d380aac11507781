"""Plotly figures of the lab (interactive in the app, gr.Plot in the Gradio demo)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from model.config import CLASSES

STREAM_COLOURS = {"spatial": "#1f77b4", "temporal": "#ff7f0e"}


def probability_bars(probabilities: pd.DataFrame) -> go.Figure:
    """Grouped bars: one group per class, one bar per variant (attention on / off / trained without it)."""
    figure = go.Figure([go.Bar(name=column, x=probabilities.index, y=probabilities[column],
                               text=[f"{p:.0%}" for p in probabilities[column]], textposition="outside")
                        for column in probabilities.columns])
    figure.update_layout(barmode="group", yaxis=dict(range=[0, 1.1], tickformat=".0%", title="probability"),
                         legend=dict(orientation="h", y=1.12), margin=dict(t=40, b=10, l=10, r=10), height=340)
    return figure


def importance_curves(importance: pd.DataFrame, current_frame: int | None = None) -> go.Figure:
    """Each stream's share of the relevance per frame (the temporal stream's flow field i is drawn at frame i+1)."""
    figure = go.Figure([go.Scatter(x=importance["frame"], y=importance[stream], name=f"{stream} stream",
                                   mode="lines+markers", line=dict(color=colour))
                        for stream, colour in STREAM_COLOURS.items()])
    if current_frame is not None:
        figure.add_vline(x=current_frame, line_dash="dot", line_color="grey")
    figure.update_layout(xaxis_title="frame", yaxis=dict(title="share of relevance", tickformat=".0%"),
                         legend=dict(orientation="h", y=1.12), margin=dict(t=40, b=10, l=10, r=10), height=300)
    return figure


def confusion_heatmap(matrix: np.ndarray, title: str, normalized: bool, diverging: bool = False) -> go.Figure:
    """A confusion matrix (rows: true class, columns: prediction); ``diverging`` for difference matrices."""
    text = [[f"{v:+.0%}" if diverging else f"{v:.0%}" if normalized else f"{int(v)}" for v in row] for row in matrix]
    limit = float(np.abs(matrix).max()) or 1.0
    colours = dict(colorscale="RdBu", zmid=0, zmin=-limit, zmax=limit) if diverging else dict(colorscale="Blues")
    figure = go.Figure(go.Heatmap(z=matrix, x=list(CLASSES), y=list(CLASSES), text=text, texttemplate="%{text}",
                                  showscale=False, hovertemplate="true %{y}<br>predicted %{x}<br>%{text}<extra></extra>",
                                  **colours))
    figure.update_layout(title=title, xaxis_title="predicted", yaxis=dict(title="true", autorange="reversed"),
                         margin=dict(t=40, b=10, l=10, r=10), height=360)
    return figure


def attention_heatmap(matrix: np.ndarray, query_labels: list[str], key_labels: list[str], query: str, key: str
                      ) -> go.Figure:
    figure = go.Figure(go.Heatmap(z=matrix, x=key_labels, y=query_labels, colorscale="Viridis",
                                  hovertemplate=f"{query} %{{y}} → {key} %{{x}}<br>%{{z:.2f}}<extra></extra>"))
    figure.update_layout(xaxis_title=f"{key} stream: frames", yaxis=dict(title=f"{query} stream: frames",
                                                                         autorange="reversed"),
                         margin=dict(t=10, b=10, l=10, r=10), height=320)
    return figure


def class_count_bars(counts: pd.DataFrame) -> go.Figure:
    figure = go.Figure([go.Bar(name=split, x=counts.index, y=counts[split]) for split in counts.columns])
    figure.update_layout(barmode="group", yaxis_title="clips", margin=dict(t=10, b=10, l=10, r=10), height=320)
    return figure


def au_curves(curves: pd.DataFrame, onset: int | None, apex: int | None, offset: int | None) -> go.Figure:
    """AU intensity per frame, with the expression's onset, apex and offset marked."""
    figure = go.Figure([go.Scatter(x=curves.index, y=curves[au], name=au, mode="lines") for au in curves.columns])
    for frame, name, dash in ((onset, "onset", "dash"), (apex, "apex", "solid"), (offset, "offset", "dot")):
        if frame is not None:
            figure.add_vline(x=frame, line_dash=dash, line_color="black", annotation_text=name)
    figure.update_layout(xaxis_title="frame", yaxis=dict(title="AU intensity", range=[0, 1.05]),
                         margin=dict(t=30, b=10, l=10, r=10), height=320)
    return figure
