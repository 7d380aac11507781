"""Explanation-quality metrics on relevance maps, vectorized with torch; lab/grading/runner.py runs them over a corpus.

A map is the (F, S, S) per-pixel relevance of one stream (F frames or flow fields), as ``Attribution.rgb_map()`` gives.

- Localization against known facial regions: relevance mass accuracy and the pointing game per frame.
- Temporal localization: correlation of each frame's relevance with a ground-truth curve, and the share of relevance
  inside a window of frames.
- Faithfulness (RISE, Petsiuk et al. 2018): deletion and insertion curves. Spatial and temporal versions differ only in
  the order pixels are removed in (within each frame, or whole frames at a time), so one function draws both.
- Sanity (Adebayo et al. 2018): cascading model-parameter randomization, compared by Spearman rank correlation.
"""
from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch
from scipy.stats import pearsonr, spearmanr

from model.network import TwoStreamNet

# model -> one method's (rgb map (T,S,S), flow map (T-1,S,S)) of one clip, the method and clip fixed
# (lab.grading.runner)
MapsOfModel = Callable[[TwoStreamNet], tuple[torch.Tensor, torch.Tensor]]
# (rgb batch (B,3,T,S,S), flow batch (B,2,T-1,S,S)) -> target-class probability (B,)
Predictor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
FRESH_SEED_OFFSET = 7_919


# --- localization ----------------------------------------------------------------------------------------------------

def box_masks(boxes: torch.Tensor, active: torch.Tensor, size: int, margin: float = 0.0) -> torch.Tensor:
    """(F, S, S) union of each frame's active boxes: boxes (F, R, 4) [x0, y0, x1, y1] in pixels, active (F, R).

    A pixel is inside when its centre is; ``margin`` grows every box by that many pixels (the pointing game's
    tolerance).
    """
    centres = torch.arange(size, dtype=torch.float32) + 0.5
    x0, y0, x1, y1 = (boxes.float() + torch.tensor([-margin, -margin, margin, margin])).unbind(-1)
    inside_x = (centres >= x0[..., None]) & (centres <= x1[..., None])  # (F, R, S)
    inside_y = (centres >= y0[..., None]) & (centres <= y1[..., None])
    inside = inside_y[..., :, None] & inside_x[..., None, :]  # (F, R, S, S)
    return (inside & active[..., None, None]).any(1)


def mass_accuracy(maps: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """(F,) share of each frame's relevance inside its mask; a frame without relevance scores its mask's area share
    (what a uniform map scores), not a division by zero."""
    total = maps.sum((1, 2))
    inside = (maps * masks).sum((1, 2))
    return torch.where(total > 0, inside / total.clamp_min(1e-30), masks.float().mean((1, 2)))


def pointing_game(maps: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """(F,) whether each frame's most relevant pixel is inside its mask. Tied maxima (blocky Grad-CAM or occlusion
    maps) are broken at random, so a frame scores the share of its tied maxima inside the mask: the expected hit."""
    peaks = maps == maps.amax((1, 2), keepdim=True)
    return (peaks & masks).sum((1, 2)) / peaks.sum((1, 2))


def frame_mass(maps: torch.Tensor) -> torch.Tensor:
    """(F,) relevance of each frame."""
    return maps.sum((1, 2))


def curve_correlations(values: torch.Tensor, curve: torch.Tensor) -> tuple[float, float]:
    """(Pearson, Spearman) between two (F,) curves; NaN when either is constant (no ranking to compare)."""
    a, b = values.double().numpy(), curve.double().numpy()
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan"), float("nan")
    return float(pearsonr(a, b).statistic), float(spearmanr(a, b).statistic)


def window_share(values: torch.Tensor, window: torch.Tensor) -> float:
    """Share of a (F,) curve's total inside the frames where ``window`` is true; NaN for an empty window."""
    total = float(values.sum())
    return float(values[window].sum()) / total if window.any() and total > 0 else float("nan")


def map_rank_correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman rank correlation between two maps of the same shape. A constant map (e.g. Grad-CAM's ReLU leaving
    nothing) has no ranking: against a non-constant one that is a complete change (0), against another constant one
    no change at all (1)."""
    a, b = a.flatten().double().numpy(), b.flatten().double().numpy()
    constant = (np.ptp(a) == 0) + (np.ptp(b) == 0)
    return float(spearmanr(a, b).statistic) if constant == 0 else float(constant == 2)


# --- faithfulness ----------------------------------------------------------------------------------------------------

def removal_order(maps: torch.Tensor, whole_frames: bool, generator: torch.Generator) -> torch.Tensor:
    """(F, S, S) position of every pixel in the removal order, as a fraction in [0, 1): most relevant first.

    Spatially, each frame's pixels are ranked within that frame; temporally, whole frames are ranked by their
    relevance. Ties are broken at random, so a flat map removes pixels in a random order rather than a raster one.
    """
    frames = maps.shape[0]
    scores = frame_mass(maps) if whole_frames else maps.reshape(frames, -1)  # (F,) or (F, S*S)
    shuffle = torch.randperm(scores.shape[-1], generator=generator)
    order = shuffle[torch.argsort(scores[..., shuffle], dim=-1, descending=True, stable=True)]
    ranks = torch.empty_like(order)
    ranks.scatter_(-1, order, torch.arange(scores.shape[-1]).expand_as(order).contiguous())
    fraction = ranks.float() / scores.shape[-1]
    return fraction[:, None, None].expand_as(maps) if whole_frames else fraction.reshape(maps.shape)


def perturbation_inputs(x: torch.Tensor, order: torch.Tensor, fractions: torch.Tensor) -> torch.Tensor:
    """(2P, C, F, S, S): the stream input ``x`` with the first ``fractions`` of ``order`` deleted (set to the
    normalized-zero baseline), then with only those inserted into the baseline."""
    removed = (order[None] < fractions[:, None, None, None])[:, None]  # (P, 1, F, S, S)
    return torch.cat([x[None] * ~removed, x[None] * removed])


def auc(curve: torch.Tensor, fractions: torch.Tensor) -> float:
    """Area under a curve sampled at ``fractions`` of [0, 1] (trapezoid rule)."""
    return float(torch.trapezoid(curve, fractions))


# --- sanity: cascading model-parameter randomization -----------------------------------------------------------------

def cascade_steps(model: TwoStreamNet) -> list[tuple[str, tuple[str, ...]]]:
    """(step name, parameter-name prefixes) from the top of the network down: classifier, fully connected, fusion,
    attention, then both streams' stages from the last to the first."""
    streams = [name for name in ("spatial", "temporal") if getattr(model, name) is not None]
    steps = [("classifier", ("classifier.",)), ("fc", ("fc.",)), ("fusion", ("fusion.",))]
    if model.attention is not None:
        steps.append(("attention", ("attention.",)))
    stages = [getattr(model, s).stage_modules for s in streams]
    steps += [(f"stage {i + 1}", tuple(f"{s}.{m}." for s, modules in zip(streams, stages) for m in modules[i]))
              for i in reversed(range(len(stages[0])))]
    return steps


def randomized_cascade(model: TwoStreamNet, seed: int):
    """Yield (step name, model copy) with the layers re-initialized cumulatively from the top; the given model is
    never touched. Re-initialized layers take the weights (and batch-norm statistics) of a fresh network of the same
    configuration, i.e. exactly what training started from."""
    with torch.random.fork_rng():  # the fresh network's initialisation draws from the global generator; the offset
        torch.manual_seed(FRESH_SEED_OFFSET + seed)  # keeps it apart from untrained models made after manual_seed(0)
        fresh_model = type(model)(model.config, model.process).eval()
        if model.reads_faces:  # the real-face network comes pretrained: its baseline is a random one
            fresh_model.spatial.backbone = fresh_model.spatial.untrained_backbone()
        fresh = fresh_model.state_dict()
    randomized = copy.deepcopy(model).eval()
    for name, prefixes in cascade_steps(model):
        randomized.load_state_dict({k: v for k, v in fresh.items() if k.startswith(prefixes)}, strict=False)
        yield name, randomized


def randomization_correlations(model: TwoStreamNet, maps_of: MapsOfModel, original: tuple[torch.Tensor, torch.Tensor],
                               seed: int = 0) -> list[tuple[str, float, float]]:
    """(step, Spearman of the spatial maps, Spearman of the temporal maps) between the original maps and the maps of
    the cumulatively randomized model: a method whose maps explain the model must lose the correlation."""
    rows = []
    for step, randomized in randomized_cascade(model, seed):
        maps = maps_of(randomized)
        rows.append((step, *(map_rank_correlation(a, b) for a, b in zip(original, maps))))
    return rows
