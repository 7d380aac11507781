"""Saliency of one analyzed clip, turned into what people look at: overlays per frame, importance curves, a video.

Attribution itself is lab.attribution's job (one interface for every method); this module only presents it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lab import visuals
from lab.analysis import ClipAnalysis
from lab.attribution import Attribution, attribute
from lab.video_export import webm_bytes
from model.network import TwoStreamNet

VIDEO_SIDE = 192  # each stream's panel in the overlay video, in pixels
MIN_VIDEO_FPS = 4.0  # a 16-frame clip of half a second would otherwise flash by


@dataclass
class Explanation:
    attribution: Attribution
    spatial: np.ndarray  # (T, S, S, 3) face crops with the spatial stream's relevance on top
    temporal: np.ndarray  # (T, S, S, 3) flow pictures with the temporal stream's relevance; frame 0 (no motion in) dark
    importance: pd.DataFrame  # per frame: time, spatial and temporal share of the relevance
    seconds: float  # how long the attribution took

    @property
    def shares(self) -> tuple[float, float]:
        return self.attribution.stream_share()


def explain(model: TwoStreamNet, analysis: ClipAnalysis, method: str, target: int, inter_stream_attention: bool = True,
            steps: int | None = None) -> Explanation:
    started = time.perf_counter()
    result = attribute(model, analysis.rgb, analysis.flow, target=target, method=method,
                       inter_stream_attention=inter_stream_attention, steps=steps)
    seconds = time.perf_counter() - started
    clip = analysis.clip
    flow_pictures = visuals.flow_to_rgb(clip.flow)
    # Flow field i moves crop i to crop i+1: it is shown at frame i+1, "the motion that led here".
    flow_maps = result.flow_map().numpy()
    temporal = np.concatenate([np.zeros_like(flow_pictures[:1]), visuals.overlay_all(flow_pictures, flow_maps)])
    rgb_mass, flow_mass = (m.numpy() for m in result.frame_mass())
    fps = clip.stats.get("fps") or 25.0
    importance = pd.DataFrame({
        "frame": np.arange(len(rgb_mass)),
        "time_s": np.round(clip.frame_indices / fps, 3),
        "spatial": rgb_mass,
        "temporal": np.concatenate([[np.nan], flow_mass]),
    })
    return Explanation(result, visuals.overlay_all(clip.rgb, result.rgb_map().numpy()), temporal, importance, seconds)


def frame_panel(explanation: Explanation, frame: int, side: int = VIDEO_SIDE) -> np.ndarray:
    """Frame ``frame`` of both streams' overlays, enlarged and side by side (spatial | temporal)."""
    pair = np.stack([explanation.spatial[frame], explanation.temporal[frame]])
    return visuals.side_by_side(*visuals.upscale(pair, side))


def overlay_video(explanation: Explanation, duration_s: float) -> bytes:
    """WebM/VP9 of the overlays (spatial | temporal), paced like the clip."""
    frames = np.stack([frame_panel(explanation, t) for t in range(len(explanation.spatial))])
    fps = max(MIN_VIDEO_FPS, len(frames) / max(duration_s, 1e-3))
    return webm_bytes(frames, fps)


def overview_png(explanation: Explanation) -> bytes:
    """Every frame of both overlays as one PNG: the spatial stream on top, the temporal stream below."""
    columns = len(explanation.spatial)
    strip = np.concatenate([visuals.upscale(explanation.spatial, 96), visuals.upscale(explanation.temporal, 96)])
    return visuals.png_bytes(visuals.montage(strip, columns=columns))
