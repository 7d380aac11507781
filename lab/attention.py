"""Reading the inter-stream attention weights: which times and regions of one stream attend to which of the other.

The module's weights (model.network.AttentionWeights, of one clip: a batch of one) are (queries, keys) matrices over
flattened (t, h, w) token grids. "spatial_to_temporal" holds the spatial (appearance) tokens' queries into the temporal
(motion) stream; "temporal_to_spatial" the reverse. Each stream's TokenGrid tells which input frames (or flow fields) a
token time sits over.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lab import visuals
from model.data.processing import ProcessedClip
from model.network import AttentionWeights, TokenGrid

DIRECTIONS = {
    "spatial_to_temporal": ("spatial", "temporal"),  # appearance asks motion: "where does this move?"
    "temporal_to_spatial": ("temporal", "spatial"),  # motion asks appearance: "what is it that moves here?"
}


def grids(weights: AttentionWeights, direction: str) -> tuple[TokenGrid, TokenGrid]:
    """(query grid, key grid) of a direction."""
    query, key = DIRECTIONS[direction]
    return getattr(weights, query), getattr(weights, key)


def clip_matrix(weights: AttentionWeights, direction: str) -> np.ndarray:
    """The direction's (queries, keys) weights of the one clip."""
    return getattr(weights, direction)[0].numpy()


def time_to_time(weights: AttentionWeights, direction: str) -> np.ndarray:
    """(query times, key times): how much attention the query stream's tokens at each time give to each key time,
    summed over key regions and averaged over query regions (every row sums to 1)."""
    query, key = grids(weights, direction)
    matrix = clip_matrix(weights, direction).reshape(query.times, query.regions, key.times, key.regions)
    return matrix.sum(axis=3).mean(axis=1)


def query_map(weights: AttentionWeights, direction: str, t: int, h: int | None = None, w: int | None = None
              ) -> np.ndarray:
    """(key T', H', W') where the query token (t, h, w) attends; with h, w None, the mean over the time's regions."""
    query, key = grids(weights, direction)
    rows = clip_matrix(weights, direction).reshape(*query.shape, -1)[t]
    row = rows.reshape(query.regions, -1).mean(axis=0) if h is None or w is None else rows[h, w]
    return row.reshape(key.shape)


def time_labels(grid: TokenGrid, stream: str) -> list[str]:
    """The frames each token time covers, as text for axis labels, numbered as on the Saliency tab: flow field i
    (the motion from frame i to i+1) counts as frame i+1, the frame it leads to."""
    first = 1 if stream == "temporal" else 0

    def frames(steps: list[int]) -> str:
        low, high = steps[0] + first, steps[-1] + first
        return f"frame {low}" if low == high else f"frames {low}–{high}"

    return [frames(list(grid.steps_of(t))) for t in range(grid.times)]


def region_name(region: tuple[int, int] | None) -> str:
    """A token's place on the face grid in words (the grid is a few cells across, top left first)."""
    if region is None:
        return "the whole face"
    return f"row {region[0] + 1}, column {region[1] + 1} (from the top left)"


def attention_montage(key_images: np.ndarray, key_map: np.ndarray, key_grid: TokenGrid) -> np.ndarray:
    """One tile per key time: the key stream's image at the first frame of that time with the attention over its
    regions laid on top.

    ``key_images`` (N, S, S, 3) are the key stream's crops or flow pictures; ``key_map`` (T', H', W') is query_map's.
    One colour scale for all tiles, so the tiles compare.
    """
    scale = key_map.max() or 1.0
    tiles = [visuals.overlay(key_images[key_grid.steps_of(t)[0]], key_map[t] / scale, alpha=0.6)
             for t in range(key_grid.times)]
    return visuals.montage(np.stack(tiles), columns=len(tiles))


@dataclass(frozen=True)
class DirectionView:
    """One direction of a clip's attention weights as the lab shows it: time × time, labelled with input frames."""

    query: str  # the stream that asks
    key: str  # the stream it attends to
    matrix: np.ndarray  # (query times, key times): time_to_time's
    query_labels: list[str]  # the input frames each query time covers
    key_labels: list[str]
    regions: list[tuple[int, int] | None]  # None (all regions), then every (row, column) of the query grid

    def table(self) -> pd.DataFrame:
        """The matrix with its frame labels, as the CSV download has it."""
        return pd.DataFrame(self.matrix, index=pd.Index(self.query_labels, name=f"{self.query} frames"),
                            columns=self.key_labels)


def direction_view(weights: AttentionWeights, direction: str) -> DirectionView:
    """The clip's weights in one direction, with the frames (spatial) or flow fields (temporal) each time covers."""
    query, key = DIRECTIONS[direction]
    query_grid, key_grid = grids(weights, direction)
    return DirectionView(query, key, time_to_time(weights, direction), time_labels(query_grid, query),
                         time_labels(key_grid, key),
                         [None, *((row, column) for row in range(query_grid.height)
                                  for column in range(query_grid.width))])


def query_montage(weights: AttentionWeights, direction: str, clip: ProcessedClip, t: int,
                  region: tuple[int, int] | None, tile: int) -> np.ndarray:
    """attention_montage of where the query tokens at time t (in one region, or all of them when None) attend, on
    the key stream's crops or flow pictures upscaled to ``tile`` pixels."""
    key = DIRECTIONS[direction][1]
    images = clip.rgb if key == "spatial" else visuals.flow_to_rgb(clip.flow)
    return attention_montage(visuals.upscale(images, tile), query_map(weights, direction, t, *(region or (None, None))),
                             grids(weights, direction)[1])
