"""Images made with numpy and OpenCV only: heatmap overlays, colour-wheel flow, the face track, montages, PNG bytes.

Everything returns uint8 RGB arrays, so the same pictures go to st.image, into the overlay video and into the PNG
downloads (plotly's PNG export would need kaleido and a browser on the server).
"""
from __future__ import annotations

import cv2
import numpy as np

TRACK_COLOUR = (255, 200, 0)  # interpolated or smoothed face box
DETECTED_COLOUR = (0, 220, 80)  # the detector hit the face on this frame
CROP_COLOUR = (255, 60, 60)  # the square the model's crop was cut from


def normalize_maps(maps: np.ndarray, percentile: float = 99.5, signed: bool = False) -> np.ndarray:
    """Scale relevance maps (N, H, W) with one shared scale, so frames can be compared with each other: to [0, 1]
    (magnitude), or to [-1, 1] with the sign kept (``signed``).

    A high percentile instead of the maximum keeps one hot pixel from washing out every other frame.
    """
    maps = np.asarray(maps, dtype=np.float32)
    magnitude = np.abs(maps)
    top = float(np.percentile(magnitude, percentile)) if maps.size else 0.0
    if top <= 0:
        return np.zeros_like(maps)
    return np.clip((maps if signed else magnitude) / top, -1.0, 1.0)


def heat_colours(unit_map: np.ndarray) -> np.ndarray:
    """A [0, 1] map (H, W) as an RGB image (inferno: dark = irrelevant, yellow = most relevant)."""
    grey = np.round(np.clip(unit_map, 0, 1) * 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(grey, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)


def diverging_colours(signed_map: np.ndarray) -> np.ndarray:
    """A [-1, 1] map (H, W) as an RGB image: blue = against the class, white = 0, red = for it (RdBu-like)."""
    value = np.clip(signed_map, -1, 1)[..., None]
    white, red, blue = np.array([255.0, 255, 255]), np.array([200.0, 30, 40]), np.array([30.0, 80, 200])
    colours = np.where(value >= 0, white + (red - white) * value, white + (blue - white) * -value)
    return np.round(colours).astype(np.uint8)


def overlay(image: np.ndarray, unit_map: np.ndarray, alpha: float = 0.55, signed: bool = False) -> np.ndarray:
    """Blend a relevance map over an RGB image; irrelevant pixels keep the image, relevant ones take the map's colour.

    A [0, 1] map is drawn in inferno; a ``signed`` [-1, 1] map on the diverging scale. The blend weight is ``alpha``
    times the magnitude, so the opacity control fades every map alike.
    """
    if unit_map.shape != image.shape[:2]:
        unit_map = cv2.resize(unit_map, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
    colours = diverging_colours(unit_map) if signed else heat_colours(unit_map)
    weight = (alpha * np.clip(np.abs(unit_map), 0, 1))[..., None]
    blended = image.astype(np.float32) * (1 - weight) + colours.astype(np.float32) * weight
    return np.round(blended).astype(np.uint8)


def colour_bar(signed: bool, width: int, height: int = 14) -> np.ndarray:
    """The legend of overlay's colours, as wide as the picture it explains, with its ends named below the bar."""
    ramp = np.linspace(-1 if signed else 0, 1, width, dtype=np.float32)[None].repeat(height, axis=0)
    bar = diverging_colours(ramp) if signed else heat_colours(ramp)
    words = ("against the class", "0", "for the class") if signed else ("no relevance", "", "most relevant")
    legend = np.full((height + 18, width, 3), 255, np.uint8)
    legend[:height] = bar
    for text, anchor in zip(words, (0.0, 0.5, 1.0)):
        (text_width, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)
        x = int(np.clip(anchor * width - anchor * text_width, 0, max(width - text_width, 0)))
        cv2.putText(legend, text, (x, height + 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (40, 40, 40), 1, cv2.LINE_AA)
    return legend


def caption_tile(image: np.ndarray, text: str) -> np.ndarray:
    """The image with a short text written across its middle on a darkened band (the first frame's 'no motion'),
    as large as fits in nine tenths of its width."""
    tile = image.copy()
    height, width = tile.shape[:2]
    (unit_width, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 1.0, 1)
    scale = min(0.9 * width / unit_width, 0.8)
    (text_width, text_height), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    top = (height - text_height) // 2 - 6
    tile[top:top + text_height + 12] = (tile[top:top + text_height + 12] * 0.4).astype(np.uint8)
    cv2.putText(tile, text, ((width - text_width) // 2, top + text_height + 5), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (255, 255, 255), 1, cv2.LINE_AA)
    return tile


def number_tiles(images: np.ndarray, first: int = 0) -> np.ndarray:
    """Each tile (N, H, W, 3) with its frame number in the top left corner, so montages and sliders agree."""
    numbered = images.copy()
    for index, tile in enumerate(numbered):
        text = str(first + index)
        (text_width, text_height), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.35, 1)
        tile[:text_height + 6, :text_width + 6] = 255
        cv2.putText(tile, text, (3, text_height + 3), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
    return numbered


def flow_to_rgb(flow: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """Colour-wheel images (N, H, W, 3) of flow fields (N, H, W, 2): hue = direction, brightness = speed.

    One scale for all fields (the clip's 99th-percentile speed unless given), so a still frame stays dark.
    """
    flow = np.asarray(flow, dtype=np.float32)
    magnitude, angle = cv2.cartToPolar(flow[..., 0].ravel(), flow[..., 1].ravel(), angleInDegrees=True)
    magnitude, angle = magnitude.reshape(flow.shape[:-1]), angle.reshape(flow.shape[:-1])
    if max_magnitude is None:
        max_magnitude = float(np.percentile(magnitude, 99)) if magnitude.size else 0.0
    value = np.clip(magnitude / max_magnitude, 0, 1) if max_magnitude > 0 else np.zeros_like(magnitude)
    hsv = np.stack([angle / 2, np.full_like(angle, 255), value * 255], axis=-1).astype(np.uint8)  # OpenCV hue: 0..180
    return np.stack([cv2.cvtColor(field, cv2.COLOR_HSV2RGB) for field in hsv]) if len(hsv) else hsv


def colour_wheel(size: int = 96) -> np.ndarray:
    """The legend of flow_to_rgb: the colour of every direction, brighter towards the rim."""
    axis = np.linspace(-1, 1, size, dtype=np.float32)
    x, y = np.meshgrid(axis, axis)
    wheel = flow_to_rgb(np.stack([x, y], axis=-1)[None], max_magnitude=1.0)[0]
    wheel[np.hypot(x, y) > 1] = 255
    return wheel


def draw_track(frame: np.ndarray, track_box: np.ndarray, detected: bool, crop_corners: np.ndarray | None = None,
               thickness: int = 2) -> np.ndarray:
    """The frame with its face box (green where the detector hit, yellow where the tracker filled in) and, on a
    sampled frame, the square the crop was cut from (red, turned as the landmarks turned it; corners (4, 2))."""
    frame = frame.copy()
    if not np.isnan(track_box).any():
        x0, y0, x1, y1 = np.round(track_box).astype(int)
        cv2.rectangle(frame, (x0, y0), (x1, y1), DETECTED_COLOUR if detected else TRACK_COLOUR, thickness)
    if crop_corners is not None:
        cv2.polylines(frame, [np.round(crop_corners).astype(np.int32)], True, CROP_COLOUR, thickness)
    return frame


def upscale(images: np.ndarray, side: int) -> np.ndarray:
    """Nearest-neighbour enlargement of small crops (N, S, S, 3) to side x side, so pixels stay honest."""
    return np.stack([cv2.resize(image, (side, side), interpolation=cv2.INTER_NEAREST) for image in images])


def montage(images: np.ndarray, columns: int, gap: int = 2, background: int = 255) -> np.ndarray:
    """Tile equally sized images (N, H, W, 3) into a grid with ``columns`` per row."""
    count, height, width = images.shape[:3]
    rows = -(-count // columns)
    grid = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap, 3), background, np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        grid[r * (height + gap):r * (height + gap) + height, c * (width + gap):c * (width + gap) + width] = image
    return grid


def side_by_side(*images: np.ndarray, gap: int = 4) -> np.ndarray:
    """Images of the same height next to each other (the overlay video's spatial | temporal frame)."""
    spacer = np.full((images[0].shape[0], gap, 3), 255, np.uint8)
    parts = [part for image in images for part in (image, spacer)][:-1]
    return np.concatenate(parts, axis=1)


def png_bytes(image: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError("the image could not be encoded as PNG")
    return encoded.tobytes()
