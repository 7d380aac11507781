"""Grade the explanations: how well each attribution method localizes what really happened in a clip, how faithful it
is to the model, and whether it depends on the model at all (``python -m cli.grade`` grades a checkpoint).

The embedded corpus knows, frame by frame, which action units (AUs) are active and where every facial region is, so
for each method x stream x attention setting we measure (metric names as in the CSV):

- localization (spatial stream: regions of the AUs active in a frame; temporal stream: regions of the AUs that change
  between the two frames of a flow field): ``mass_accuracy``, ``pointing_game`` and their ``_apex`` variants on the
  frames where the expression (or its motion) is near its peak; ``curve_pearson`` / ``curve_spearman`` between each
  frame's relevance and the AU intensity curve (its frame-to-frame change for the flow stream); ``onset_apex_share``;
- faithfulness: ``deletion_*_auc`` / ``insertion_*_auc`` of the target-class probability, removing the most relevant
  pixels of every frame (spatial) or the most relevant frames (temporal) first;
- sanity, on the first ``check_clips`` clips: ``randomization_spearman`` after the full parameter-randomization
  cascade, and ``completeness_error`` at 32 steps for the methods whose attributions should add up to the score
  change (Integrated Gradients);
- causal agreement, on the first ``causal_clips`` clips: each facial region's AUs are removed in turn and the clip is
  drawn again (lab.intervene), which measures how much the target-class probability really depends on that region;
  ``causal_agreement`` is the Spearman correlation, over the regions, between that dependence and the share of the
  map's relevance inside the region.

Every metric is also computed for uniform random maps on the same clips (method "Random"), the chance level. The
target is the clip's true class (the expression whose AUs are the ground truth), or the predicted one when unlabelled.
The page pages/explanation_quality.py and ``python -m cli.grade`` both call ``grade_corpus``, so they report the same
numbers. The measures themselves are lab.grading.measure's; lab.grading.verdicts puts the table into words.
"""
from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.stats import t as student_t

from lab.attribution import attribute, baseline, fast, method_named, offered
from lab.grading.measure import (
    MapsOfModel,
    Predictor,
    auc,
    box_masks,
    curve_correlations,
    frame_mass,
    mass_accuracy,
    perturbation_inputs,
    pointing_game,
    randomization_correlations,
    removal_order,
    window_share,
)
from lab.intervene import causal_effects, corpus_clip, model_predictors
from model import locations
from model.checkpoint import load_checkpoint
from model.config import CLASSES, INFERENCE_BATCH, AttentionMode, ProcessConfig, check, setting
from model.data.corpus import AU_REGIONS, REGIONS, AUEdit
from model.data.datasets import ClipRecord, CorpusError, open_corpus
from model.data.processing import (
    ClipError,
    ProcessedClip,
    process_video,
    to_tensors,
)
from model.network import TwoStreamNet
from model.parallel import gather_shares, my_share, process_pool

RANDOM = baseline().name  # the method column of the chance level's rows
STREAMS = ("spatial", "temporal")  # rgb, flow
SANITY_MAX_SPEARMAN = 0.5  # maps still this rank-correlated after the full randomization cascade fail the check
COMPLETENESS_MAX_ERROR = 0.05

Progress = Callable[[int, int, str], None]  # (clips done, clips in all, what is happening)


@dataclass(frozen=True)
class GradeSettings:
    """What to grade and how finely; the defaults grade 100 clips with the four fast methods in about 10 minutes."""

    methods: tuple[str, ...] = fast()
    attention: tuple[AttentionMode, ...] = (AttentionMode.ON, AttentionMode.BYPASSED)  # those the model runs in
    clips: int = setting(100, "clips graded", minimum=1)
    check_clips: int = setting(4, "of them, the first get the randomization and completeness checks (costly)",
                               minimum=0)
    causal_clips: int = setting(50, "embedded-corpus clips that also get the region interventions (causal "
                                "agreement)", minimum=0)
    ig_steps: int = setting(16, "Integrated Gradients' steps when it is graded", minimum=1)
    completeness_steps: int = setting(32, "Integrated Gradients' steps of the completeness check", minimum=1)
    deletion_steps: int = setting(4, "points of the faithfulness curves past 0 (4: 0, 25, 50, 75 and 100 % removed)",
                                  minimum=1)
    active_threshold: float = setting(0.15, "an AU at least this intense is active", minimum=0, maximum=1)
    change_threshold: float = setting(0.05, "an AU whose intensity changes this much between two sampled frames "
                                      "moves", minimum=0, maximum=1)
    apex_share: float = setting(0.8, "apex frames: the ground-truth curve is at least this share of its peak",
                                minimum=0, maximum=1)
    tolerance_px: float = setting(2.0, "pointing-game margin around the regions, in crop pixels", minimum=0)
    batch_size: int = setting(INFERENCE_BATCH, "clips per forward pass", minimum=1)
    seed: int = setting(0, "of the random baseline maps")

    def __post_init__(self) -> None:
        check(self)


@dataclass(frozen=True)
class StreamTruth:
    """What really happened in each frame of one stream (F frames for the spatial stream, F flow fields for the
    temporal one)."""

    boxes: torch.Tensor  # (F, R, 4) every facial region's box [x0, y0, x1, y1] in crop pixels
    active: torch.Tensor  # (F, R) bool: the region's AUs are active (spatial) or moving (temporal)
    curve: torch.Tensor  # (F,) summed intensity of the active AUs (spatial) or summed absolute AU change (temporal)
    window: torch.Tensor  # (F,) bool: the frame lies in the onset-to-apex window


@dataclass(frozen=True)
class GradedClip:
    name: str
    rgb: torch.Tensor  # (3, T, S, S)
    flow: torch.Tensor  # (2, T-1, S, S)
    target: int
    truth: dict[str, StreamTruth] | None  # by stream; None without a corpus sidecar (only faithfulness and sanity)
    region_dependence: dict[str, torch.Tensor] | None = None  # attention mode -> (R,) drop of the target's
    # probability when each region's AUs are removed; None when not measured


@dataclass
class GradeReport:
    table: pd.DataFrame  # method, stream, attention, metric, mean, ci_low, ci_high, random_mean, n, flag
    curves: pd.DataFrame  # method, stream, attention, curve, x, x_label, mean, ci_low, ci_high, n
    clips: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # clips that could not be processed, with the reason
    seconds: float = 0.0


# --- ground truth ----------------------------------------------------------------------------------------------------

def ground_truth(sidecar: dict, clip: ProcessedClip, settings: GradeSettings) -> dict[str, StreamTruth]:
    """Both streams' ground truth from an embedded-corpus sidecar and the processed clip (its sampled frames and
    crop transforms; decoded frame i is sidecar frame i)."""
    frames = clip.frame_indices
    au = torch.tensor(sidecar["au"], dtype=torch.float32)[frames]  # (T, AUs)
    region_of_au = torch.zeros(au.shape[1], len(REGIONS))
    for i, name in enumerate(sidecar["au_names"]):
        region_of_au[i, REGIONS.index(AU_REGIONS[name])] = 1
    boxes = torch.tensor([sidecar["regions"][r] for r in REGIONS], dtype=torch.float32).permute(1, 0, 2)[frames]
    corners = boxes[..., [[0, 1], [2, 1], [0, 3], [2, 3]]]  # (T, R, 4 corners, 2) in frame pixels
    transforms = torch.from_numpy(clip.crop_transforms).float()  # (T, 2, 3) frame pixels -> crop pixels
    corners = corners @ transforms[:, None, :, :2].transpose(-1, -2) + transforms[:, None, None, :, 2]
    boxes = torch.cat([corners.amin(2), corners.amax(2)], -1)  # (T, R, 4) upright boxes in crop pixels
    field_boxes = torch.cat([torch.minimum(boxes[:-1, :, :2], boxes[1:, :, :2]),  # a region's extent over both
                             torch.maximum(boxes[:-1, :, 2:], boxes[1:, :, 2:])], -1)  # frames of a flow field

    active = au >= settings.active_threshold
    change = (au[1:] - au[:-1]).abs()
    onset, apex = sidecar["onset_frame"], sidecar["apex_frame"]
    frames = torch.from_numpy(frames)
    return {
        "spatial": StreamTruth(boxes, (active.float() @ region_of_au) > 0, (au * active).sum(1),
                               (frames >= onset) & (frames <= apex)),
        "temporal": StreamTruth(field_boxes, ((change >= settings.change_threshold).float() @ region_of_au) > 0,
                                change.sum(1), (frames[1:] > onset) & (frames[:-1] < apex)),
    }


# --- one clip --------------------------------------------------------------------------------------------------------

def method_maps(method: str, rgb: torch.Tensor, flow: torch.Tensor, target: int, attention: AttentionMode | None,
                settings: GradeSettings) -> MapsOfModel:
    """A method's relevance maps of one clip as a function of the model: the randomization check asks again for
    every randomized copy."""
    def maps(model: TwoStreamNet) -> tuple[torch.Tensor, torch.Tensor]:
        return attribute(model, rgb, flow, target, method, attention, steps=settings.ig_steps).maps()
    return maps


def target_probability(model: TwoStreamNet, target: int, attention: AttentionMode | None, batch_size: int) -> Predictor:
    def predict(rgb: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return torch.cat([model(r, f, attention=attention).softmax(1)[:, target]
                              for r, f in zip(rgb.split(batch_size), flow.split(batch_size))])
    return predict


def localization_scores(maps: torch.Tensor, truth: StreamTruth, settings: GradeSettings) -> dict[str, float]:
    """Spatial and temporal localization of one stream's (F, S, S) maps against its ground truth."""
    size = maps.shape[-1]
    evaluated = truth.active.any(1)  # frames with something to point at: from the onset on
    apex = evaluated & (truth.curve >= settings.apex_share * truth.curve.max())
    mass = mass_accuracy(maps, box_masks(truth.boxes, truth.active, size))
    hits = pointing_game(maps, box_masks(truth.boxes, truth.active, size, settings.tolerance_px))
    pearson, spearman = curve_correlations(frame_mass(maps), truth.curve)

    def mean_over(values: torch.Tensor, where: torch.Tensor) -> float:
        return float(values[where].mean()) if where.any() else math.nan
    return {
        "mass_accuracy": mean_over(mass, evaluated), "mass_accuracy_apex": mean_over(mass, apex),
        "pointing_game": mean_over(hits, evaluated), "pointing_game_apex": mean_over(hits, apex),
        "curve_pearson": pearson, "curve_spearman": spearman,
        "onset_apex_share": window_share(frame_mass(maps), truth.window),
    }


def region_dependence(path: Path, model: TwoStreamNet, process_config: ProcessConfig, target: int
                      ) -> dict[str, torch.Tensor]:
    """How much the target-class probability drops when each facial region's AUs are removed from the clip (drawn
    again by the corpus generator), in each attention mode the model runs in."""
    table = causal_effects(corpus_clip(path), model_predictors(model), process_config,
                           edits=[AUEdit(region) for region in REGIONS])
    table = table[table["class"] == CLASSES[target]].set_index(["attention", "target"])["effect"]
    return {attention: -torch.tensor([table[attention, region] for region in REGIONS], dtype=torch.float32)
            for attention in table.index.unique("attention")}


def causal_agreement(maps: torch.Tensor, boxes: torch.Tensor, dependence: torch.Tensor) -> float:
    """Spearman correlation over the facial regions between the share of one stream's (F, S, S) relevance inside
    each region's boxes (F, R, 4) and how much the decision depends on that region (R,); NaN when either is flat."""
    frames, regions = boxes.shape[:2]
    size = maps.shape[-1]
    masks = box_masks(boxes.reshape(frames * regions, 1, 4), torch.ones(frames * regions, 1, dtype=torch.bool), size)
    inside = (maps[:, None] * masks.view(frames, regions, size, size)).sum((0, 2, 3))
    return curve_correlations(inside / maps.sum().clamp_min(1e-30), dependence)[1]


def faithfulness_curves(predict: Predictor, inputs: tuple[torch.Tensor, torch.Tensor], stream: int,
                        maps: torch.Tensor, ends: tuple[float, float], fractions: torch.Tensor,
                        generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Deletion and insertion curves (spatial and temporal orders) of one stream, the other stream left intact.

    ``ends`` = (probability of the intact clip, probability with this stream at the baseline): the curves' shared
    end points, computed once per clip; only the interior fractions are evaluated, in one batch.
    """
    interior = fractions[1:-1]
    orders = {version: removal_order(maps, version == "temporal", generator) for version in ("spatial", "temporal")}
    batch = torch.cat([perturbation_inputs(inputs[stream], order, interior) for order in orders.values()])
    other = inputs[1 - stream][None].expand(len(batch), *inputs[1 - stream].shape)
    probabilities = predict(*((batch, other) if stream == 0 else (other, batch))).view(len(orders), 2, -1)
    full, empty = (torch.tensor([p]) for p in ends)
    curves = {}
    for version, (deleted, inserted) in zip(orders, probabilities):
        curves[f"deletion_{version}"] = torch.cat([full, deleted, empty])
        curves[f"insertion_{version}"] = torch.cat([empty, inserted, full])
    return curves


def completeness_error(model: TwoStreamNet, rgb: torch.Tensor, flow: torch.Tensor, target: int,
                       attention: AttentionMode | None, steps: int, method: str) -> float:
    """|sum of the attributions - (f(x) - f(baseline))| / |f(x) - f(baseline)| for the target logit (baseline: the
    normalized zero that Integrated Gradients integrates from)."""
    result = attribute(model, rgb, flow, target, method, attention, steps=steps)
    with torch.inference_mode():
        logits = model(torch.stack([rgb, torch.zeros_like(rgb)]), torch.stack([flow, torch.zeros_like(flow)]),
                       attention=attention)[:, target]
    difference = float(logits[0] - logits[1])
    return abs(float(result.rgb.sum() + result.flow.sum()) - difference) / max(abs(difference), 1e-12)


def grade_clip(model: TwoStreamNet, clip: GradedClip, settings: GradeSettings, seed: int,
               with_checks: bool) -> tuple[list[dict], list[dict]]:
    """Score rows (clip, method, stream, attention, metric, value) and curve rows (..., curve, x, x_label, value) of
    one clip, for every method, the random baseline and every attention setting."""
    generator = torch.Generator().manual_seed(seed)
    inputs = (clip.rgb, clip.flow)
    # chance: drawn once per clip, so that every attention setting is compared with the same random maps
    random_maps = attribute(model, clip.rgb, clip.flow, clip.target, RANDOM, generator=generator).maps()
    graded = {name: method_named(name) for name in (*settings.methods, RANDOM)}
    fractions = torch.linspace(0, 1, settings.deletion_steps + 1)
    scores, curves = [], []
    for attention in [mode for mode in settings.attention if mode in model.modes] or model.modes[:1]:
        predict = target_probability(model, clip.target, attention, settings.batch_size)
        zeros = tuple(torch.zeros_like(x) for x in inputs)
        full, no_rgb, no_flow = predict(torch.stack([clip.rgb, zeros[0], clip.rgb]),
                                        torch.stack([clip.flow, clip.flow, zeros[1]])).tolist()
        dependence = (clip.region_dependence or {}).get(attention)
        for name, method in graded.items():
            row = {"clip": clip.name, "method": name, "attention": str(attention)}
            maps_of = method_maps(name, clip.rgb, clip.flow, clip.target, attention, settings)
            maps = random_maps if method.baseline else maps_of(model)
            for index, (stream, ends) in enumerate(zip(STREAMS, ((full, no_rgb), (full, no_flow)))):
                values = localization_scores(maps[index], clip.truth[stream], settings) if clip.truth else {}
                if dependence is not None:
                    values["causal_agreement"] = causal_agreement(maps[index], clip.truth[stream].boxes, dependence)
                stream_curves = faithfulness_curves(predict, inputs, index, maps[index], ends, fractions, generator)
                values.update({f"{kind}_auc": auc(curve, fractions) for kind, curve in stream_curves.items()})
                scores += [dict(row, stream=stream, metric=k, value=v) for k, v in values.items()]
                curves += [dict(row, stream=stream, curve=kind, x=float(x), x_label=f"{float(x):.0%}", value=float(y))
                           for kind, curve in stream_curves.items() for x, y in zip(fractions, curve)]
            if with_checks and not method.baseline:
                cascade = randomization_correlations(model, maps_of, maps, settings.seed)
                for step, (step_name, *rhos) in enumerate(cascade):
                    curves += [dict(row, stream=s, curve="randomization", x=float(step), x_label=step_name, value=rho)
                               for s, rho in zip(STREAMS, rhos)]
                scores += [dict(row, stream=s, metric="randomization_spearman", value=rho)
                           for s, rho in zip(STREAMS, cascade[-1][1:])]
            if with_checks and method.completeness_checked:
                error = completeness_error(model, clip.rgb, clip.flow, clip.target, attention,
                                           settings.completeness_steps, name)
                scores.append(dict(row, stream="both", metric="completeness_error", value=error))
    return scores, curves


# --- the corpus ------------------------------------------------------------------------------------------------------

def load_clip(path: Path, label: int | None, model: TwoStreamNet, process_config, settings: GradeSettings,
              cache_dir: Path | None, with_interventions: bool = False) -> GradedClip:
    """Process a clip (through the shared cache) and read its ground truth from the sidecar, if it has one; with
    interventions, also measure how much the decision depends on each facial region."""
    processed = process_video(path, process_config, cache_dir=cache_dir)
    rgb, flow = to_tensors(processed)
    if label is None:
        with torch.inference_mode():
            label = int(model(rgb[None], flow[None]).argmax(1))
    sidecar = path.with_suffix(".json")
    truth = ground_truth(json.loads(sidecar.read_text()), processed, settings) if sidecar.is_file() else None
    dependence = region_dependence(path, model, process_config, label) if truth and with_interventions else None
    return GradedClip(path.stem, rgb, flow, label, truth, dependence)


def grade_record(model: TwoStreamNet, process_config: ProcessConfig, settings: GradeSettings,
                 cache_dir: Path | None, index: int, record: ClipRecord) -> tuple[str, list[dict], list[dict]]:
    """(clip name, score rows, curve rows) of the ``index``-th drawn clip; the rows are empty if it was skipped, and
    the name then says why. Its seed and whether it gets the checks depend on ``index`` only, so any worker gives
    the same numbers."""
    try:
        clip = load_clip(record.path, record.label, model, process_config, settings, cache_dir,
                         with_interventions=index < settings.causal_clips)
    except (ClipError, CorpusError) as error:
        return f"{record.path.name}: {error}", [], []
    return clip.name, *grade_clip(model, clip, settings, seed=settings.seed + index,
                                  with_checks=index < settings.check_clips)


_worker_state: tuple = ()  # (model, process config, settings, cache dir) of a grading worker process


def _start_worker(checkpoint: Path, settings: GradeSettings, cache_dir: Path | None) -> None:
    """Each worker loads the checkpoint once (process_pool already limits it to one thread)."""
    global _worker_state
    model, process_config, _ = load_checkpoint(checkpoint)
    _worker_state = (model, process_config, settings, cache_dir)


def _grade_in_worker(job: tuple[int, ClipRecord]) -> tuple[str, list[dict], list[dict]]:
    return grade_record(*_worker_state, *job)


def grade_corpus(checkpoint: Path, data: Path | None = None, split: str = "Test",
                 settings: GradeSettings = GradeSettings(), progress: Progress | None = None,
                 cache_dir: Path | None = None, workers: int = 1, fold: int = 1) -> GradeReport:
    """Grade ``settings.clips`` clips of a split (of the embedded corpus unless ``data`` is given; processed through
    the processing cache unless ``cache_dir`` is), drawn at random (seeded) so that every class is represented, in
    this process or in ``workers`` processes (same numbers either way). Under torchrun each rank grades its share of
    the drawn clips (``progress`` counts that share) and every rank returns the report of them all. ``fold`` picks
    DFEW's split files (open_corpus)."""
    for method in settings.methods:
        if method not in offered():
            raise ValueError(f"cannot grade {method!r}: choose from {', '.join(offered())}")
    started = time.perf_counter()
    cache_dir = cache_dir or locations.processing_cache()
    records = open_corpus(data or locations.corpus(), fold).clips(split)
    jobs = my_share(list(enumerate(random.Random(settings.seed).sample(records, min(settings.clips, len(records))))))
    share_results = []
    if progress:
        progress(0, len(jobs), f"grading {len(jobs)} clips")
    with (process_pool(workers, _start_worker, (checkpoint, settings, cache_dir))
          if workers > 1 else nullcontext()) as pool:
        if pool is None:
            model, process_config, _ = load_checkpoint(checkpoint)
            results = (grade_record(model, process_config, settings, cache_dir, *job) for job in jobs)
        else:
            results = pool.imap(_grade_in_worker, jobs)
        for done, result in enumerate(results, start=1):
            share_results.append(result)
            if progress:
                progress(done, len(jobs), f"graded {result[0]}")
    scores, curves, graded, skipped = [], [], [], []
    for name, clip_scores, clip_curves in gather_shares(share_results):
        (graded if clip_scores else skipped).append(name)
        scores += clip_scores
        curves += clip_curves
    table, curve_table = summarize(pd.DataFrame(scores), pd.DataFrame(curves))
    return GradeReport(table, curve_table, graded, skipped, time.perf_counter() - started)


# --- tables, flags, verdicts -----------------------------------------------------------------------------------------

def mean_ci(frame: pd.DataFrame, keys: list[str], value: str = "value") -> pd.DataFrame:
    """Mean, 95 % t-interval over clips and n per group (NaN values are left out, so n counts real values)."""
    groups = frame.dropna(subset=[value]).groupby(keys, sort=False)[value]
    table = groups.agg(mean="mean", std="std", n="size").reset_index()
    half = student_t.ppf(0.975, (table.n - 1).clip(lower=1)) * table["std"] / np.sqrt(table.n)
    table["ci_low"], table["ci_high"] = table["mean"] - half, table["mean"] + half
    return table.drop(columns="std")


def summarize(scores: pd.DataFrame, curves: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-clip rows -> the tidy table (with the random baseline on the same clips, and flags) and mean curves."""
    keys = ["method", "stream", "attention", "metric"]
    chance = (scores[scores.method == RANDOM].drop(columns="method")
              .rename(columns={"value": "random_value"}))
    paired = scores.merge(chance, on=["clip", "stream", "attention", "metric"], how="left")
    paired = paired[paired.value.notna()]
    table = mean_ci(paired, keys).merge(
        paired.groupby(keys, sort=False).random_value.mean().rename("random_mean").reset_index(), on=keys)
    table = table[[*keys, "mean", "ci_low", "ci_high", "random_mean", "n"]]
    table["flag"] = [flag(row) for row in table.itertuples()]
    curve_table = mean_ci(curves, ["method", "stream", "attention", "curve", "x", "x_label"])
    return table, curve_table


def flag(row) -> str:
    """Why a method fails a sanity or completeness check (empty when it passes or the metric is not a check)."""
    if row.metric == "randomization_spearman" and row.mean > SANITY_MAX_SPEARMAN:
        return (f"maps barely change when the model's weights are randomized (Spearman {row.mean:.2f} > "
                f"{SANITY_MAX_SPEARMAN} after the full cascade): they do not explain this model")
    if row.metric == "completeness_error" and row.mean > COMPLETENESS_MAX_ERROR:
        return (f"attributions miss f(input) - f(baseline) by {row.mean:.1%} on average (target <= "
                f"{COMPLETENESS_MAX_ERROR:.0%}): use more integration steps")
    return ""
