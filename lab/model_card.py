"""The Overview page's content: the architecture as a Graphviz diagram, metrics of every checkpoint, the ablation
and its takeaway in words."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from model import ablation, locations
from model.checkpoint import CheckpointError, read_config
from model.config import AttentionMode, ModelConfig, ProcessConfig
from model.network import stream_grid

ATTENTION, NO_ATTENTION = locations.SHIPPED  # model.ablation's variants of those names


def architecture_dot(config: ModelConfig, process: ProcessConfig = ProcessConfig()) -> str:
    """The network of ``config`` with its tensor shapes (st.graphviz_chart renders DOT text in the browser).

    Drawn left to right in four columns of short nodes in large type, so that scaled to the page's width it stays
    legible in a 1280x720 window (face tracking is the crops' line, pooling and the fully connected layer the
    classifier's); the details are in the README's model card.
    """
    t, s = process.frames, process.size
    spatial_grid, temporal_grid = stream_grid(t, s, config.width), stream_grid(t - 1, s, config.width)
    (st_, sh, sw), tt, c = spatial_grid.shape, temporal_grid.times, spatial_grid.channels
    both = config.streams == "both"
    attention = (f'attention [label="Inter-stream attention\\nspatial ⇄ temporal\\n'
                 f'{config.attention_heads} heads, dim {config.attention_dim}", fillcolor="#fde2b5"];'
                 if AttentionMode.ON in config.modes else "")
    into_fusion = ("spatial -> attention; temporal -> attention; attention -> fusion;"
                   if attention else "spatial -> fusion; temporal -> fusion;")
    heads_from = "attention -> heads [style=dashed];" if attention else \
        "spatial -> heads [style=dashed]; temporal -> heads [style=dashed];"
    stream_heads = (f'heads [label="Per-stream classifiers\\ntraining loss only", style="rounded,dashed"]; '
                    f'{heads_from}' if config.stream_heads and both else "")
    real_face = config.spatial_backbone != "cnn" and config.streams != "frame"
    spatial = ("Spatial stream\\nfrozen real-face CNN\\n+ temporal conv" if real_face
               else "Spatial stream\\n(2+1)D CNN")
    evidence = (f'evidence [label="Real-face evidence\\n{config.num_classes} log-probabilities", shape=note, '
                'fillcolor="#ffffff"]; spatial -> evidence; evidence -> fusion;' if real_face else "")
    classifier = (f"Fusion, classifier\\nmean over time\\n{sh}×{sw} face grid, FC {c}\\n"
                  f"→ {config.num_classes} expressions")
    aligned = "\\naligned on 5 landmarks" if process.align and not process.center_crop else ""
    return f"""digraph {{
  rankdir=LR; nodesep=0.15; ranksep=0.35;
  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica", fontsize=14, margin="0.1,0.05"];
  edge [arrowsize=0.7];
  rgb [label="{t} face crops{aligned}\\n3×{t}×{s}×{s}", shape=note, fillcolor="#ffffff"];
  flow [label="Optical flow\\nbetween the crops\\n2×{t - 1}×{s}×{s}", shape=note, fillcolor="#ffffff"];
  spatial [label="{spatial}\\n→ {c}×{st_}×{sh}×{sw}", fillcolor="#d6e6fa"];
  temporal [label="Temporal stream\\n(2+1)D CNN\\n→ {c}×{tt}×{sh}×{sw}", fillcolor="#fbe0cf"];
  {attention}
  fusion [label="{classifier}", fillcolor="#dff2df"];
  rgb -> spatial; flow -> temporal;
  {into_fusion}
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
        row = {"checkpoint": name, "streams": model["streams"],
               "attention module": ModelConfig.from_dict(model).attention == "on", "width": model["width"]}
        for split, values in config.get("metrics", {}).items():
            if isinstance(values, dict) and "war" in values:
                row[f"{split} WAR"], row[f"{split} UAR"] = values["war"], values.get("uar")
        rows.append(row)
    return pd.DataFrame(rows)


def read_ablation(path: Path) -> dict | list | None:
    """model.ablation's results file (assets/results/ablation.json) as stored, or None when missing or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def _seeds(n: int) -> str:
    return f"{n} seed" if n == 1 else f"{n} seeds"


def ablation_table(path: Path) -> pd.DataFrame | None:
    """The ablation table: model.ablation's rows, made again from the runs the file stores (so a row added since it
    was written, such as the module bypassed at inference, is there without retraining). Older files: a JSON
    list of row objects, {"rows": [...]}, or {variant: {metric: value}}. A single seed shows its value alone."""
    data = read_ablation(path)
    if isinstance(data, dict) and isinstance(data.get("variants"), dict):
        try:
            data = ablation.table_rows(data["variants"])
        except (KeyError, TypeError, ValueError):  # runs in an older shape: the rows as written
            data = data.get("rows")
    elif isinstance(data, dict):
        data = data.get("rows") or [{"variant": name, **values} for name, values in data.items()
                                    if isinstance(values, dict)]
    if not (isinstance(data, list) and data):
        return None
    table = pd.json_normalize(data)
    if "seeds" in table and pd.api.types.is_integer_dtype(table["seeds"]):
        table["seeds"] = table["seeds"].map(_seeds)
    return table.fillna("")


def bypassed_note(path: Path) -> str | None:
    """What the table cannot show: the attention model's runs were never evaluated with the module bypassed."""
    data = read_ablation(path)
    variants = data.get("variants") if isinstance(data, dict) else None
    entry = variants.get(ATTENTION) if isinstance(variants, dict) else None
    if isinstance(entry, dict) and ablation.BYPASSED_KEY not in entry:
        return ("The attention model bypassed at inference has no row: its runs were not evaluated that way "
                "(`python -m cli.evaluate --attention bypassed` on their checkpoints would).")
    return None


def _figure(summary: dict, metric: str = "war") -> str:
    mean = f"{summary[metric]:.3f}"
    return mean if len(summary["seeds"]) == 1 else f"{mean} ± {summary[metric + '_std']:.3f}"


def _points(difference: float) -> str:
    return f"{abs(difference) * 100:.1f} point" + ("" if round(abs(difference) * 100, 1) == 1 else "s")


def ablation_takeaway(path: Path) -> str | None:
    """The inter-stream attention module's ablation in one sentence, from the numbers in ablation.json: Test WAR
    with and without it (mean ± standard deviation over seeds), whether the difference exceeds the seeds' spread (the
    larger of the two standard deviations), and what switching it off at inference costs the models trained with it.
    None when the file lacks either two-stream variant."""
    data = read_ablation(path)
    variants = data.get("variants") if isinstance(data, dict) else None
    try:
        with_, without = variants[ATTENTION]["test"], variants[NO_ATTENTION]["test"]
        difference = with_["war"] - without["war"]
    except (KeyError, TypeError):
        return None
    n_with, n_without = len(with_["seeds"]), len(without["seeds"])
    seeds = (f" over {_seeds(n_with)}" if n_with == n_without else "", "" if n_with == n_without else
             f" ({_seeds(n_with)})", "" if n_with == n_without else f" ({_seeds(n_without)})")
    sentence = (f"With the module: {_figure(with_)}{seeds[1]} Test WAR{seeds[0]}; without it "
                f"{_figure(without)}{seeds[2]}")
    higher = "higher" if difference > 0 else "lower"
    if n_with == 1 or n_without == 1:
        sentence += (f". With the module {_points(difference)} {higher}, but a single seed has no spread to tell "
                     "that from chance") if difference else ": the same"
    elif abs(difference) <= max(with_["war_std"], without["war_std"]):
        verdict = "does not measurably help" if difference > 0 else "does not help"
        sentence += (f", {_points(difference)} {'lower' if difference > 0 else 'higher'}, within the seeds' spread: "
                     f"on this corpus the module {verdict}")
    elif difference > 0:
        sentence += f": on this corpus the module adds {_points(difference)}, more than the seeds' spread"
    else:
        sentence += f": on this corpus the module costs {_points(difference)}, more than the seeds' spread"
    off = variants[ATTENTION].get(ablation.BYPASSED_KEY)
    if isinstance(off, dict) and "war" in off:
        cost = with_["war"] - off["war"]
        sentence += (f"; bypassed at inference it costs {_points(cost)} ({_figure(off)}): the models trained with "
                     "it lean on it" if cost > 0 else
                     f"; bypassed at inference the same models do no worse ({_figure(off)})")
    return sentence + "."
