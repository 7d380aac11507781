"""Reading the inter-stream attention weights: which times and regions of one stream attend to which of the other.

The module's weights come as (queries, keys) matrices over flattened (t, h, w) token grids (row-major, see
model/network.py). "spatial_to_temporal" holds the spatial (appearance) tokens' queries into the temporal (motion)
stream; "temporal_to_spatial" the reverse. A stream's token t' sits over input frames 2t' and 2t'+1 (the third stage
halves time).
"""
from __future__ import annotations

import numpy as np

from lab import visuals

DIRECTIONS = {
    "spatial_to_temporal": ("spatial", "temporal"),  # appearance asks motion: "where does this move?"
    "temporal_to_spatial": ("temporal", "spatial"),  # motion asks appearance: "what is it that moves here?"
}
TIME_STRIDE = 2


def grids(weights: dict, direction: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """(query grid, key grid) as (T', H', W') each."""
    query, key = DIRECTIONS[direction]
    return tuple(weights[f"{query}_grid"]), tuple(weights[f"{key}_grid"])


def time_to_time(weights: dict, direction: str) -> np.ndarray:
    """(query times, key times): how much attention the query stream's tokens at each time give to each key time,
    summed over key regions and averaged over query regions (every row sums to 1)."""
    (tq, hq, wq), (tk, hk, wk) = grids(weights, direction)
    matrix = np.asarray(weights[direction]).reshape(tq, hq * wq, tk, hk * wk)
    return matrix.sum(axis=3).mean(axis=1)


def query_map(weights: dict, direction: str, t: int, h: int | None = None, w: int | None = None) -> np.ndarray:
    """(key T', H', W') where the query token (t, h, w) attends; with h, w None, the mean over the time's regions."""
    (tq, hq, wq), key_grid = grids(weights, direction)
    rows = np.asarray(weights[direction]).reshape(tq, hq, wq, -1)[t]
    row = rows.reshape(hq * wq, -1).mean(axis=0) if h is None or w is None else rows[h, w]
    return row.reshape(key_grid)


def token_frames(t: int, frames: int) -> str:
    """The input frames (or flow fields) a token time covers, as text for axis labels."""
    first = TIME_STRIDE * t
    return f"{first}–{min(first + TIME_STRIDE - 1, frames - 1)}"


def attention_montage(key_images: np.ndarray, key_map: np.ndarray) -> np.ndarray:
    """One tile per key time: the key stream's image at that time with the attention over its regions laid on top.

    ``key_images`` (N, S, S, 3) are the key stream's crops or flow pictures; ``key_map`` (T', H', W') is query_map's.
    One colour scale for all tiles, so the tiles compare.
    """
    scale = key_map.max() or 1.0
    tiles = [visuals.overlay(key_images[min(TIME_STRIDE * t, len(key_images) - 1)], key_map[t] / scale, alpha=0.6)
             for t in range(key_map.shape[0])]
    return visuals.montage(np.stack(tiles), columns=len(tiles))
