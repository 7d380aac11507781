"""Interventional explanations: how the model's prediction changes when an action unit is taken out of a clip.

An attribution map shows where the model looked; an intervention shows what it needed. The embedded corpus is a
generator, so any of its clips can be drawn again with an action unit (AU) removed and nothing else changed: same
person, motion, lighting and noise (model/data/corpus.py, AUEdit). The change in every class probability between the
edited clip and the original is that AU's causal effect on the model. Both clips are drawn in memory and go through
the processing every other clip goes through (model.data.processing), with the checkpoint's settings.

``causal_effects`` has one row per clip x removed AU (or facial region: all its AUs at once) x attention setting x
class; ``python -m cli.intervene`` writes them for clips of a corpus.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lab.dataset import read_sidecar
from model.checkpoint import load_checkpoint
from model.config import CLASSES, INFERENCE_BATCH, AttentionMode, ProcessConfig
from model.data.corpus import (
    AU_INDEX,
    AU_NAMES,
    AU_REGIONS,
    CORPUS_VERSION,
    REGIONS,
    AUEdit,
    CorpusDifficulty,
    RenderedClip,
    render_clip,
)
from model.data.datasets import CorpusError, open_corpus
from model.data.processing import process_decoded, to_tensors
from model.data.video import Video
from model.network import TwoStreamNet

PRESENT = 0.1  # an AU drawn at least this intense in some frame is present (resting faces show every AU at < 0.05)
COLUMNS = ["clip", "label", "target", "kind", "attention", "class", "p_original", "p_edited", "effect"]

# (rgb batch (B, 3, T, S, S), flow batch (B, 2, T-1, S, S)) -> class probabilities (B, classes) in CLASSES order
ClassProbabilities = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Progress = Callable[[int, int, str], None]  # (counterfactuals done, counterfactuals in all, what is happening)


@dataclass(frozen=True)
class CorpusClip:
    """Where an embedded-corpus clip comes from, so that it can be drawn again, edited or not."""

    seed: int
    split: str
    index: int
    difficulty: CorpusDifficulty = CorpusDifficulty()
    edits: tuple[AUEdit, ...] = ()  # made in every version of the clip (a constructed clip: one AU alone, ...)

    @property
    def name(self) -> str:
        return f"{self.split.lower()}_{self.index:05d}"  # the corpus's file name (ClipSpec.stem)

    def render(self, edit: AUEdit | None = None) -> RenderedClip:
        return render_clip(self.seed, self.split, self.index, self.difficulty,
                           edit=self.edits + ((edit,) if edit is not None else ()))


def corpus_clip(path: Path) -> CorpusClip:
    """The address of a clip file of an embedded corpus (``root/Split/Class/name.avi``, or a shipped sample with
    the corpus's corpus.json beside it), from its sidecar and corpus.json (which holds the difficulty the corpus was
    drawn with)."""
    path = Path(path).resolve()
    meta = read_sidecar(path)
    summary_file = next((folder / "corpus.json" for folder in (path.parents[2], path.parent)
                         if (folder / "corpus.json").is_file()), None)
    if meta is None or summary_file is None:
        raise CorpusError(f"{path.name} is not a clip of the embedded corpus: expected its .json sidecar beside it and "
                          "corpus.json two folders up (python -m cli.corpus writes both)")
    summary = json.loads(summary_file.read_text())
    if summary.get("version") != CORPUS_VERSION:
        raise CorpusError(f"{summary_file.parent} was written by another version of model.data.corpus, so its clips "
                          f"cannot be drawn again: regenerate it (python -m cli.corpus --out {summary_file.parent})")
    return CorpusClip(meta["seed"], meta["split"], meta["index"], CorpusDifficulty(**summary["difficulty"]))


def drawable_clip(path: Path | None) -> CorpusClip | None:
    """corpus_clip, or None for a clip the corpus generator cannot draw again (an upload, another corpus)."""
    try:
        return corpus_clip(path) if path is not None else None
    except CorpusError:
        return None


def rendered_video(clip: RenderedClip) -> Video:
    """A clip drawn in memory as if it had been decoded from a file (RGB frames, their times)."""
    frames = np.ascontiguousarray(clip.frames[..., ::-1])
    fps = float(clip.meta["fps"])
    height, width = frames.shape[1:3]
    return Video(frames=frames, times=np.arange(len(frames)) / fps, fps=fps, duration=len(frames) / fps,
                 original_size=(width, height), truncated=False)


def network_inputs(clip: RenderedClip, process: ProcessConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """A drawn clip's (rgb, flow) network inputs, through the same processing as any video."""
    name = f"{clip.meta['split'].lower()}_{clip.meta['index']:05d}"  # the corpus's file name, for error messages
    return to_tensors(process_decoded(rendered_video(clip), process, name))


def counterfactual_inputs(clip: CorpusClip, process: ProcessConfig, edit: AUEdit | None = None
                          ) -> tuple[torch.Tensor, torch.Tensor]:
    """The network inputs of the clip drawn with ``edit`` made (as it is without one)."""
    return network_inputs(clip.render(edit), process)


def removal_edits(drawn_au: np.ndarray, threshold: float = PRESENT) -> list[AUEdit]:
    """Removing each AU present in a clip ((frames, AUs) drawn intensities), then each region that has one."""
    present = [name for name in AU_NAMES if drawn_au[:, AU_INDEX[name]].max() >= threshold]
    regions = [region for region in REGIONS if any(AU_REGIONS[name] == region for name in present)]
    return [AUEdit(target) for target in present + regions]


def model_predictors(model: TwoStreamNet, batch_size: int = INFERENCE_BATCH) -> dict[AttentionMode, ClassProbabilities]:
    """The model's class probabilities in each attention mode it runs in (on and bypassed, or absent). The model, in
    eval mode, is only called, never changed."""
    def predictor(attention: AttentionMode) -> ClassProbabilities:
        @torch.inference_mode()
        def predict(rgb: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
            return torch.cat([model(r, f, attention).softmax(1)
                              for r, f in zip(rgb.split(batch_size), flow.split(batch_size))])
        return predict
    return {mode: predictor(mode) for mode in model.modes}


def checkpoint_predictors(folder: Path) -> tuple[dict[str, ClassProbabilities], ProcessConfig]:
    """A checkpoint's predictors (model_predictors) and the processing settings it was trained with."""
    model, process, _ = load_checkpoint(folder)
    return model_predictors(model), process


def causal_effects(clip: CorpusClip, predictors: dict[str, ClassProbabilities], process: ProcessConfig,
                   threshold: float = PRESENT, progress: Progress | None = None,
                   edits: list[AUEdit] | None = None) -> pd.DataFrame:
    """The effect of each edit (default: removing each AU present in the clip, and each facial region's AUs
    together) on every class probability: p(edited) - p(original), for every predictor (named by its attention
    setting). Columns: COLUMNS."""
    original = clip.render()
    edits = removal_edits(original.drawn_au, threshold) if edits is None else edits
    inputs = [network_inputs(original, process)]
    for done, edit in enumerate(edits):
        if progress is not None:
            progress(done, len(edits), f"{clip.name}: removing {edit.target}")
        inputs.append(counterfactual_inputs(clip, process, edit))
    rgb, flow = (torch.stack(stream) for stream in zip(*inputs))
    rows = []
    for attention, predict in predictors.items():
        before, *after = predict(rgb, flow).tolist()
        rows += [{"clip": clip.name, "label": original.meta["label"], "target": edit.target,
                  "kind": "au" if edit.target in AU_INDEX else "region", "attention": attention, "class": name,
                  "p_original": p_original, "p_edited": p_edited, "effect": p_edited - p_original}
                 for edit, probabilities in zip(edits, after)
                 for name, p_original, p_edited in zip(CLASSES, before, probabilities)]
    if progress is not None:
        progress(len(edits), len(edits), f"{clip.name}: done")
    return pd.DataFrame(rows, columns=COLUMNS)


def strongest_effects(table: pd.DataFrame) -> pd.DataFrame:
    """Per clip and attention setting, the removal that lowers the originally most probable class the most."""
    predicted = table[table["p_original"] == table.groupby(["clip", "attention"])["p_original"].transform("max")]
    return predicted.loc[predicted.groupby(["clip", "attention"])["effect"].idxmin()].reset_index(drop=True)


def class_dependence(table: pd.DataFrame) -> pd.DataFrame:
    """What each true class depends on: per class, attention setting and removed AU, how much removing the AU lowers
    the probability of the clip's true class on average over the clips that show it (``drop``), how often it changes
    the predicted class (``changes``), and over how many clips (``clips``); largest drops first."""
    au = table[table["kind"] == "au"]
    keys = ["clip", "target", "attention"]
    before = au.loc[au.groupby(keys)["p_original"].idxmax()].set_index(keys)["class"]
    after = au.loc[au.groupby(keys)["p_edited"].idxmax()].set_index(keys)["class"]
    own = au[au["class"] == au["label"]].set_index(keys)
    own = own.assign(changes=(before != after).reindex(own.index).astype(float), drop=-own["effect"]).reset_index()
    summary = own.groupby(["label", "attention", "target"], as_index=False).agg(
        drop=("drop", "mean"), changes=("changes", "mean"), clips=("drop", "size"))
    return summary.sort_values(["label", "attention", "drop"], ascending=[True, True, False], ignore_index=True)


# --- clips of a corpus -----------------------------------------------------------------------------------------------

def find_clips(data: Path, names: list[str] | None, split: str, count: int, fold: int = 1) -> list[CorpusClip]:
    """The named clips (file names such as test_00012, or paths under the corpus), else the first ``count`` clips
    of ``split`` in corpus index order (its classes come shuffled); ``fold`` picks DFEW's split files."""
    corpus = open_corpus(data, fold)
    if names is None:
        return [corpus_clip(r.path) for r in sorted(corpus.clips(split), key=lambda r: r.path.stem)[:count]]
    paths = {key: record.path for split_name in corpus.splits for record in corpus.clips(split_name)
             for key in (record.path.stem, record.path.relative_to(corpus.root).as_posix())}
    unknown = [name for name in names if name not in paths]
    if unknown:
        raise CorpusError(f"{unknown[0]} is not a clip of the corpus at {data}: give file names such as "
                          f"{next(iter(paths))} or paths under the corpus")
    return [corpus_clip(paths[name]) for name in names]
