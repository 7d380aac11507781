"""The Overview page's content: the architecture as a Graphviz diagram, metrics of every checkpoint, the ablation."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from model.checkpoint import CheckpointError, read_config
from model.config import ModelConfig, ProcessConfig
from model.network import stream_grid


def architecture_dot(config: ModelConfig, process: ProcessConfig = ProcessConfig()) -> str:
    """The network of ``config`` with its tensor shapes (st.graphviz_chart renders DOT text in the browser)."""
    t, s = process.frames, process.size
    spatial_grid, temporal_grid = stream_grid(t, s, config.width), stream_grid(t - 1, s, config.width)
    (st_, sh, sw), tt, c = spatial_grid.shape, temporal_grid.times, spatial_grid.channels
    attention = (f'attention [label="Inter-stream attention\\nspatial ⇄ temporal cross-attention\\n'
                 f'bottleneck {config.attention_dim}, {config.attention_heads} heads, residual", '
                 f'shape=box, style="rounded,filled", fillcolor="#fde2b5"];'
                 if config.inter_stream_attention and config.streams == "both" else "")
    into_pool = ("spatial -> attention; temporal -> attention; attention -> pool_s; attention -> pool_t;"
                 if attention else "spatial -> pool_s; temporal -> pool_t;")
    stream_heads = ('heads [label="Per-stream classifiers\\ntraining loss only", style="rounded,dashed"]; '
                    'pool_s -> heads [style=dashed]; pool_t -> heads [style=dashed];'
                    if config.stream_heads and config.streams == "both" else "")
    real_face = config.spatial_backbone == "fer" and config.streams != "frame"
    spatial = ("Spatial stream\\nfrozen real-face network (fer's mini-Xception)\\n"
               "per frame, then a temporal convolution" if real_face else "Spatial stream\\n(2+1)D CNN, 4 stages")
    evidence = (f'evidence [label="Real-face class evidence\\n{config.num_classes} log-probabilities, clip average", '
                'shape=note, '
                'fillcolor="#ffffff"]; spatial -> evidence; evidence -> fusion;'
                if real_face else "")
    landmarks = ", 5 landmarks" if process.align and not process.center_crop else ""
    return f"""digraph {{
  rankdir=LR; node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica", fontsize=11];
  edge [fontname="Helvetica", fontsize=9];
  video [label="Face video", shape=oval, fillcolor="#ffffff"];
  process [label="Data processing\\nface track{landmarks} → {t} crops {s}×{s}\\noptical flow between crops"];
  rgb [label="RGB crops\\n3×{t}×{s}×{s}", shape=note, fillcolor="#ffffff"];
  flow [label="Flow fields\\n2×{t - 1}×{s}×{s}\\n+ running sum (displacement)", shape=note, fillcolor="#ffffff"];
  spatial [label="{spatial}\\n→ {c}×{st_}×{sh}×{sw} tokens", fillcolor="#d6e6fa"];
  temporal [label="Temporal stream\\n(2+1)D CNN, 4 stages\\n→ {c}×{tt}×{sh}×{sw} tokens", fillcolor="#fbe0cf"];
  {attention}
  pool_s [label="average over time\\nkeeps the {sh}×{sw} face grid"];
  pool_t [label="average over time\\nkeeps the {sh}×{sw} face grid"];
  fusion [label="Feature fusion\\nconcat {c}×{sh}×{sw} per stream → {2 * c}"]; fc [label="Fully connected\\n{c}"];
  classifier [label="Classifier\\n{config.num_classes} expressions", fillcolor="#dff2df"];
  video -> process; process -> rgb; process -> flow; rgb -> spatial; flow -> temporal;
  {into_pool}
  pool_s -> fusion; pool_t -> fusion; fusion -> fc; fc -> classifier;
  {stream_heads}
  {evidence}
}}"""


def metrics_table(checkpoints: dict[str, Path]) -> pd.DataFrame:
    """One row per checkpoint: its recipe and the WAR/UAR of every split its config reports."""
    rows = []
    for name, folder in checkpoints.items():
        try:
            config = read_config(folder)
        except CheckpointError as error:
            rows.append({"checkpoint": name, "note": str(error)})
            continue
        model = config["model"]
        row = {"checkpoint": name, "streams": model["streams"], "attention module": model["inter_stream_attention"],
               "width": model["width"]}
        for split, values in config.get("metrics", {}).items():
            if isinstance(values, dict) and "war" in values:
                row[f"{split} WAR"], row[f"{split} UAR"] = values["war"], values.get("uar")
        rows.append(row)
    return pd.DataFrame(rows)


def ablation_table(path: Path) -> pd.DataFrame | None:
    """The lead's ablation results: a JSON list of row objects, {"rows": [...]}, or {variant: {metric: value}}."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if isinstance(data, dict):
        data = data.get("rows") or [{"variant": name, **values} for name, values in data.items()
                                    if isinstance(values, dict)]
    return pd.json_normalize(data) if isinstance(data, list) and data else None
