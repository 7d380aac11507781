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
numbers.
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
from lab.intervene import causal_effects, corpus_clip, model_predictors
from lab.quality import (
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
from model import locations
from model.checkpoint import load_checkpoint
from model.config import CLASSES, AttentionMode, ProcessConfig, check, setting
from model.corpus import AU_REGIONS, REGIONS, AUEdit
from model.datasets import ClipRecord, CorpusError, open_corpus
from model.network import TwoStreamNet
from model.parallel import gather_shares, my_share, process_pool, write_output
from model.processing import (
    ClipError,
    ProcessedClip,
    process_video,
    to_tensors,
)

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
    batch_size: int = setting(16, "clips per forward pass", minimum=1)
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


# --- readable tables and verdicts (the explanation quality page, the Analyze page's method picker, the CLI) ------

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


def curves_path(table_path: Path) -> Path:
    """Where the curves of a report live: beside its table."""
    return table_path.with_name(f"{table_path.stem}_curves.csv")


def save_report(report: GradeReport, path: Path) -> None:
    """The table and its curves, each written atomically; under torchrun by rank 0 only (every rank holds the whole
    report)."""
    write_output(path, report.table.to_csv(index=False).encode())
    write_output(curves_path(path), report.curves.to_csv(index=False).encode())


def load_table(path: Path) -> pd.DataFrame:
    """A saved report's table alone (what the verdicts need), without its curves."""
    table = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={"flag": str})
    table["flag"] = table["flag"].fillna("")
    return table


def load_report(path: Path) -> GradeReport:
    return GradeReport(load_table(path), pd.read_csv(curves_path(path)))


def results_path(checkpoint_name: str) -> Path:
    """Where the precomputed report of a checkpoint is shipped (``runs/x`` names become ``runs_x``)."""
    return locations.results() / "grading" / f"{checkpoint_name.replace('/', '_')}.csv"
