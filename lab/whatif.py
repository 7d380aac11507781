"""What if: an embedded-corpus clip drawn again with some of its action units weakened, strengthened or removed, and
analysed exactly like any other clip (processing, the whole lineup, reliability, saliency).

The Analyze page's What-if tab is layout over this module. Its "remove each AU in turn" chart is lab.intervene's
causal_effects, the same counterfactuals that the grading's causal-agreement metric uses.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import cv2
import numpy as np
import pandas as pd

from lab import visuals
from lab.analysis import ClipAnalysis, Lineup, analyze_decoded
from lab.intervene import PRESENT, CorpusClip, causal_effects, model_predictors, rendered_video
from lab.video_export import webm_bytes
from model.data.corpus import AU_REGIONS, NUISANCE_AUS, REGIONS, AUEdit
from model.data.face_render import AU_DESCRIPTIONS, AU_INDEX, AU_NAMES

MAX_STRENGTH = 2.0  # a slider goes from 0 (AU removed) to twice the AU as drawn (capped at full intensity)


@dataclass(frozen=True)
class Counterfactual:
    edits: tuple[AUEdit, ...]
    analysis: ClipAnalysis  # the edited clip, through the same processing and lineup as any clip
    video: bytes  # the edited clip as drawn (WebM), to play beside the original
    frames: np.ndarray  # (N, H, W, 3) its RGB frames, for the difference strip
    saliencies: dict = field(default_factory=dict)  # the page's explanations of the edited clip, computed once each


def au_label(name: str) -> str:
    """'AU12 lip corner puller'."""
    return f"{name} {AU_DESCRIPTIONS[name]}"


def present_aus(clip: CorpusClip) -> dict[str, list[tuple[str, float]]]:
    """The AUs the clip draws at least PRESENT intense somewhere, with their peak, grouped by facial region: the
    region of the clip's strongest expression AU first, regions of blinks and speech alone (NUISANCE_AUS, drawn in
    every class) last, so the slider that matters most is the first one seen."""
    peaks = clip.render().drawn_au.max(axis=0)
    regions = {region: found for region in REGIONS
               if (found := [(name, float(peaks[AU_INDEX[name]])) for name in AU_NAMES
                             if AU_REGIONS[name] == region and peaks[AU_INDEX[name]] >= PRESENT])}
    expression = {region: max((peak for name, peak in found if name not in NUISANCE_AUS), default=-1.0)
                  for region, found in regions.items()}
    return dict(sorted(regions.items(), key=lambda item: -expression[item[0]]))


def strength_edits(strengths: dict[str, float]) -> tuple[AUEdit, ...]:
    """AU name -> strength (1 = as drawn, 0 = removed) as the edits that make it; AUs left at 1 are not edited."""
    return tuple(AUEdit(name, "remove") if strength == 0 else AUEdit(name, "scale", strength)
                 for name, strength in strengths.items() if strength != 1)


def counterfactual(clip: CorpusClip, edits: tuple[AUEdit, ...], lineup: Lineup) -> Counterfactual:
    """The clip drawn with ``edits`` made, analysed with the lineup, and its video."""
    video = rendered_video(replace(clip, edits=clip.edits + edits).render())
    analysis = analyze_decoded(lambda _: video, lineup, center_crop=False, name=f"{clip.name} (edited)")
    return Counterfactual(edits, analysis, webm_bytes(video.frames, video.fps), video.frames)


def difference_strip(clip: CorpusClip, edited: Counterfactual, count: int = 6, full_scale: float = 0.25,
                     side: int = 160) -> np.ndarray:
    """``count`` frames spread over the clip, the original above the edited one, and beneath them what the edit
    changed: the edited minus the original brightness, red where the edited face is brighter, blue where it is
    darker (``full_scale``: the change, as a share of full brightness, drawn at full colour). Every tile shows the
    square around what changed anywhere in the clip (the whole frame when nothing did), enlarged to ``side``."""
    original = rendered_video(clip.render()).frames
    picked = np.linspace(0, len(original) - 1, count).round().astype(int)
    change = (edited.frames[picked].astype(np.float32) - original[picked]).mean(axis=3) / 255
    rows = [original[picked], edited.frames[picked], np.stack([visuals.diverging_colours(c / full_scale)
                                                               for c in change])]
    top, left, bottom, right = _changed_square(np.abs(change).max(axis=0) > 1 / 255)
    tiles = [cv2.resize(tile[top:bottom, left:right], (side, side), interpolation=cv2.INTER_AREA)
             for tile in np.concatenate(rows)]
    return visuals.montage(np.stack(tiles), columns=count)


def _changed_square(changed: np.ndarray, margin: float = 0.5) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of a square around the changed pixels, ``margin`` of its side added around them."""
    height, width = changed.shape
    rows, columns = np.nonzero(changed)
    if not len(rows):
        return 0, 0, height, width
    centre = np.array([(rows.min() + rows.max()) / 2, (columns.min() + columns.max()) / 2])
    half = min(max(np.ptp(rows), np.ptp(columns), 16) * (1 + margin) / 2, min(height, width) / 2)
    top, left = np.clip(np.round(centre - half).astype(int), 0, [height - 2 * half, width - 2 * half])
    return int(top), int(left), int(top + 2 * half), int(left + 2 * half)


def removal_effects(clip: CorpusClip, lineup: Lineup, target: str) -> pd.DataFrame:
    """How the probability of ``target`` changes when each AU present in the clip is removed in turn, with the
    model in each attention mode it runs in: columns AU (named), attention, effect."""
    predictor = lineup.predictor
    table = causal_effects(clip, model_predictors(predictor.model), predictor.process)
    table = table[(table["kind"] == "au") & (table["class"] == target)]
    return pd.DataFrame({"AU": table["target"].map(au_label), "attention": table["attention"],
                         "effect": table["effect"]}).reset_index(drop=True)
