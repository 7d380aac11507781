"""Saliency of one analyzed clip, turned into what people look at: overlays per frame, importance curves, a video.

Attribution itself is lab.attribution's job (one interface for every method); this module only presents it. An
Explanation is computed once and may be shared by several sessions, so it is never changed: every picture is drawn
from it on request, with the reader's own ``MapStyle`` (magnitude or signed, opacity).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lab import visuals
from lab.attribution import Attribution, attribute
from lab.video_export import webm_bytes
from model.config import AttentionMode
from model.network import TwoStreamNet
from model.predict import Prediction

VIDEO_SIDE = 192  # each stream's panel in the overlay video, in pixels
MIN_VIDEO_FPS = 4.0  # a 16-frame clip of half a second would otherwise flash by
NO_MOTION = "no motion into frame 0"  # written on the first frame's temporal panel


@dataclass(frozen=True)
class MapStyle:
    """How a reader wants the maps drawn: relevance magnitude (inferno) or its sign (blue against, red for)."""

    signed: bool = False
    opacity: float = 0.55


@dataclass(frozen=True)
class Explanation:
    attribution: Attribution
    crops: np.ndarray  # (T, S, S, 3) the face crops the spatial stream saw
    flow_pictures: np.ndarray  # (T-1, S, S, 3) colour-wheel pictures of the flow fields the temporal stream saw
    importance: pd.DataFrame  # per frame: time, spatial and temporal share of the relevance
    seconds: float  # how long the attribution took

    @property
    def shares(self) -> tuple[float, float]:
        return self.attribution.stream_share()

    @property
    def frames(self) -> int:
        return len(self.crops)

    @property
    def has_sign(self) -> bool:
        """Whether the method says which way a pixel pushes (some give magnitudes only)."""
        return any(bool((m < 0).any()) for m in self.attribution.signed_maps())

    def most_relevant_frame(self) -> int:
        """The frame where both streams together hold the most relevance (the slider starts there)."""
        return int(np.nanargmax(self.importance[["spatial", "temporal"]].fillna(0).sum(axis=1)))

    def overlays(self, style: MapStyle = MapStyle(), frames: list[int] | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
        """(spatial, temporal) overlays of the given frames (default all), (N, S, S, 3) each, with one colour scale
        per stream for the whole clip.

        Flow field i moves crop i to crop i+1: it is shown at frame i+1, "the motion that led here"; frame 0 has no
        motion into it and says so.
        """
        frames = list(range(self.frames)) if frames is None else frames
        maps = self.attribution.signed_maps() if style.signed else self.attribution.maps()
        rgb_units, flow_units = (visuals.normalize_maps(m.numpy(), signed=style.signed) for m in maps)
        spatial = [visuals.overlay(self.crops[t], rgb_units[t], style.opacity, style.signed) for t in frames]
        temporal = [visuals.overlay(self.flow_pictures[t - 1], flow_units[t - 1], style.opacity, style.signed)
                    if t > 0 else visuals.caption_tile(np.full_like(self.crops[0], 40), "no motion") for t in frames]
        return np.stack(spatial), np.stack(temporal)


def explain(model: TwoStreamNet, prediction: Prediction, method: str, target: int,
            attention: AttentionMode | None = None, steps: int | None = None) -> Explanation:
    """A method's attribution of the clip of ``prediction`` (its network inputs), with what the page draws."""
    started = time.perf_counter()
    result = attribute(model, prediction.rgb, prediction.flow, target=target, method=method,
                       attention=attention, steps=steps)
    seconds = time.perf_counter() - started
    clip = prediction.clip
    rgb_mass, flow_mass = (m.numpy() for m in result.frame_mass())
    fps = clip.stats.get("fps") or 25.0
    importance = pd.DataFrame({
        "frame": np.arange(len(rgb_mass)),
        "time_s": np.round(clip.frame_indices / fps, 3),
        "spatial": rgb_mass,
        "temporal": np.concatenate([[np.nan], flow_mass]),
    })
    return Explanation(result, clip.rgb, visuals.flow_to_rgb(clip.flow), importance, seconds)


def frame_panel(explanation: Explanation, frame: int, style: MapStyle = MapStyle(), side: int = VIDEO_SIDE,
                legend: bool = False) -> np.ndarray:
    """Frame ``frame`` of both streams' overlays, enlarged and side by side (spatial | temporal); with ``legend``, the
    colour bar below."""
    return _panels(explanation, style, [frame], side, legend)[0]


def _panels(explanation: Explanation, style: MapStyle, frames: list[int], side: int, legend: bool) -> list[np.ndarray]:
    spatial, temporal = explanation.overlays(style, frames)
    panels = []
    for t, pair in zip(frames, zip(visuals.upscale(spatial, side), visuals.upscale(temporal, side))):
        if t == 0:  # the temporal half says why it is empty, in words readable at full size
            pair = (pair[0], visuals.caption_tile(np.full_like(pair[1], 40), NO_MOTION))
        panel = visuals.side_by_side(*pair)
        panels.append(np.concatenate([panel, visuals.colour_bar(style.signed, panel.shape[1])]) if legend else panel)
    return panels


def overlay_video(explanation: Explanation, duration_s: float, style: MapStyle = MapStyle()) -> bytes:
    """WebM/VP9 of the overlays (spatial | temporal), paced like the clip."""
    frames = np.stack(_panels(explanation, style, list(range(explanation.frames)), VIDEO_SIDE, legend=False))
    fps = max(MIN_VIDEO_FPS, len(frames) / max(duration_s, 1e-3))
    return webm_bytes(frames, fps)


def overview_png(explanation: Explanation, style: MapStyle = MapStyle()) -> bytes:
    """Every frame of both overlays as one PNG, numbered: the spatial stream on top, the temporal stream below, and
    the colour bar."""
    spatial, temporal = explanation.overlays(style)
    strip = visuals.number_tiles(np.concatenate([visuals.upscale(spatial, 96), visuals.upscale(temporal, 96)]))
    grid = visuals.montage(strip, columns=explanation.frames)
    return visuals.png_bytes(np.concatenate([grid, visuals.colour_bar(style.signed, grid.shape[1])]))
