"""The data processing layer: one video -> face crops (spatial stream) and optical flow between them (temporal stream).

Every path goes through here (training corpus, AFEW/DFEW clips, the app's uploads), so a clip is always seen the
same way. Steps: decode -> find the main face (Haar detector, dlib's HOG detector where it finds nothing, and a
tracker across the clip) -> crop T frames sampled uniformly in time, aligned by five facial landmarks -> optical flow
between consecutive crops -> an on-disk cache keyed by file bytes and settings.
"""
from __future__ import annotations

import hashlib
import io
import json
import threading
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import dlib
import numpy as np
import torch

from model.atomic import atomic_write_bytes
from model.config import ProcessConfig
from model.data.landmarks import TEMPLATE, five_points, similarity
from model.data.video import ClipError, Video, read_video

__all__ = [
    "ClipError", "NoFaceError", "ProcessedClip", "process_video", "process_decoded", "process_frames",
    "to_tensors", "rgb_for_display", "cache_path",
]

SCHEMA_VERSION = 4  # bump when the processing changes, so old cache entries are rebuilt
# Settings that act after the cache (to_tensors, the network): a cached clip is the same whatever their values.
INPUT_SCALING = ("rgb_mean", "rgb_std", "flow_scale", "flow_clip", "displacement_scale")

# Face detection and tracking settings that are not worth exposing.
_CASCADE_FILE = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
# A CascadeClassifier is not thread-safe: concurrent sessions would corrupt each other's boxes.
_PER_THREAD = threading.local()
_DETECT_SCALE_STEP = 1.2  # detectMultiScale scaleFactor: 1.2 is about twice as fast as 1.1 and finds the same faces
_DETECT_NEIGHBOURS = 4  # overlapping raw hits needed to accept a detection (fewer = more false positives)
_MIN_FACE = 24  # pixels in the detection image: the cascade's window size
# Where the cascade finds nothing, dlib's HOG detector looks again on a padded copy of this long side: it finds the
# faces that fill the frame (the cascade's window never sees their edges) and the stills the cascade misses on every
# frame alike. Its boxes are tighter than the cascade's: a cascade box is this much wider, its centre this much higher
# (in HOG box widths; medians over corpus and real frames where both found one face).
_HOG_SIDE = 320
_HOG_PAD = 0.2
_HOG_TO_CASCADE = (1.256, -0.093)
_LINK_IOU = 0.3  # a detection continues a track if it overlaps the track's last box this much...
_LINK_CENTRE = 0.5  # ...or its centre is within this fraction of the box width (fast head motion)
_MIN_TRACK_SHARE = 0.1  # a track hit on fewer than this share of a shot's detector runs is noise
_CUT_DISTANCE = 0.5  # Bhattacharyya distance between consecutive frames' gray histograms that marks a scene cut
# ...or a change of the picture itself, where two shots share their gray levels (two people before one backdrop): the
# mean absolute HSV difference of small thumbnails (as PySceneDetect's content detector), above this and this many
# times the clip's typical change over the last frames (a fast head turn changes every frame alike)
_CUT_THUMB = (48, 36)
_CUT_CHANGE = 12.0
_CUT_CHANGE_RATIO = 4.0
_CUT_HISTORY = 8
_SMOOTH_SECONDS = 0.2  # box and landmark smoothing window (both jitter by a few pixels from frame to frame)
_ALIGN_SCALE_RANGE = 1.5  # landmarks whose crop is this many times larger or smaller than the box's are misplaced
_ALIGN_MAX_TURN = np.deg2rad(30)  # ...or that turn the crop further than this


class NoFaceError(ClipError):
    """No face anywhere in the clip."""


@dataclass(frozen=True)
class ProcessedClip:
    rgb: np.ndarray  # (T, S, S, 3) uint8 RGB face crops
    flow: np.ndarray  # (T-1, S, S, 2) float16 optical flow in crop pixels between consecutive crops
    frame_indices: np.ndarray  # (T,) int64 index of each crop's frame among the decoded frames
    crop_transforms: np.ndarray  # (T, 2, 3) float32 affine map from original frame pixels to crop pixels
    track_boxes: np.ndarray  # (N, 4) float32 face box per decoded frame in original pixels (NaN: no face in shot)
    detected: np.ndarray  # (N,) bool: the detector hit the chosen face on this frame
    detection_boxes: np.ndarray  # (N, 4) float32 the detector's raw box of the chosen face (NaN where not hit)
    config: ProcessConfig  # the settings it was made with; to_tensors scales it by them
    stats: dict = field(default_factory=dict)

    @property
    def crop_inverses(self) -> np.ndarray:
        """(T, 2, 3) float64 affine maps from crop pixels back to original frame pixels."""
        return np.stack([cv2.invertAffineTransform(t.astype(np.float64)) for t in self.crop_transforms])

    @property
    def crop_corners(self) -> np.ndarray:
        """(T, 4, 2) each crop's corners (top left, top right, bottom right, bottom left) in original frame pixels."""
        size = self.rgb.shape[1]
        corners = np.array([[0, 0, 1], [size, 0, 1], [size, size, 1], [0, size, 1.0]]).T
        return (self.crop_inverses @ corners).transpose(0, 2, 1)

    @property
    def crop_squares(self) -> np.ndarray:
        """(T, 4) [x0, y0, x1, y1]: each crop's centre and side as an upright square in original frame pixels."""
        size, inverse = self.rgb.shape[1], self.crop_inverses
        centres, sides = inverse @ [size / 2, size / 2, 1.0], size * np.hypot(inverse[:, 0, 0], inverse[:, 1, 0])
        return np.column_stack([centres - sides[:, None] / 2, centres + sides[:, None] / 2])


def process_video(path: str | Path, config: ProcessConfig, cache_dir: Path | None = None) -> ProcessedClip:
    """Decode and process a video file, reading from / writing to the cache when cache_dir is given."""
    path = Path(path)
    entry = cache_path(path, config, cache_dir) if cache_dir is not None and path.is_file() else None
    if entry is not None and (cached := _load(entry, config)) is not None:
        return cached
    clip = process_decoded(read_video(path, config.max_seconds, config.max_side), config, path.name)
    if entry is not None:
        _save(entry, clip)
    return clip


def process_decoded(video: Video, config: ProcessConfig, name: str) -> ProcessedClip:
    """Process a decoded video, adding the decoder's duration, truncation and warnings to the stats.

    For callers that keep the decoded frames (the lab draws the face track on them); the error names the clip.
    """
    try:
        clip = process_frames(video.frames, video.fps, config, times=video.times, original_size=video.original_size)
    except NoFaceError as error:
        raise NoFaceError(f"{name}: {error}") from None
    return replace(clip, stats=dict(clip.stats, duration=video.duration, truncated=video.truncated,
                                    frames_skipped=video.skipped, warnings=video.warnings + clip.stats["warnings"]))


def process_frames(frames: np.ndarray, fps: float, config: ProcessConfig, *, times: np.ndarray | None = None,
                   original_size: tuple[int, int] | None = None) -> ProcessedClip:
    """Process in-memory RGB frames (N, H, W, 3); boxes are reported in original_size pixels (default: the frames')."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0 or frames.dtype != np.uint8:
        raise ClipError(f"expected frames as a non-empty uint8 array (N, H, W, 3), got {frames.dtype} {frames.shape}")
    count, height, width = frames.shape[:3]
    times = np.arange(count) / fps if times is None else np.asarray(times, dtype=np.float64)
    original_size = original_size or (width, height)
    warnings = []
    indices = _sample_indices(times, config.frames)

    if config.center_crop:
        side = min(width, height)
        box = np.array([(width - side) / 2, (height - side) / 2, (width + side) / 2, (height + side) / 2])
        track_boxes = np.tile(box, (count, 1)).astype(np.float32)
        squares = np.tile(box, (len(indices), 1))
        detection_boxes = np.full((count, 4), np.nan, np.float32)
        face_stats = dict(detection_rate=0.0, track_coverage=0.0, num_faces_seen=0, scene_cuts=0, detector_runs=0)
    elif min(width, height) < _MIN_FACE:
        raise NoFaceError(f"the frames are only {width}x{height} pixels, too small to find a face in: use a larger "
                          "video, or crop the frame centre instead (the lab's retry button, or --center-crop)")
    else:
        track_boxes, detection_boxes, shot_of, face_stats = _track_main_face(frames, fps, config)
        if face_stats["num_faces_seen"] > 1:
            warnings.append("several faces are visible: the largest, most persistent one is used")
        if face_stats["track_coverage"] < 0.5:
            warnings.append(f"a face is tracked in only {face_stats['track_coverage']:.0%} of the frames: "
                            "the other frames are cropped at the nearest face position")
        nearest = _nearest_known(track_boxes)
        squares = np.stack([_square_box(track_boxes[nearest[i]], config.margin, width, height) for i in indices])
    transforms = np.stack([_square_transform(square) for square in squares])  # frame pixels -> unit crop coordinates
    align, aligned = config.align and not config.center_crop, 0
    if align:
        transforms, aligned = _landmark_transforms(frames, track_boxes, nearest, shot_of, indices, fps, transforms)

    if count == 1:
        warnings.append("the video has a single frame: the motion stream sees no motion")
    elif count < config.frames:
        warnings.append(f"the video has only {count} frames for {config.frames} samples: some frames repeat")
    rgb = _crops(frames, indices, squares, transforms if align else None, config.size)
    flow_size = config.size * config.flow_oversample
    flow_crops = rgb if flow_size == config.size else \
        _crops(frames, indices, squares, transforms if align else None, flow_size)
    flow = _optical_flow(flow_crops, config.flow, config.size)

    scale = np.array([original_size[0] / width, original_size[1] / height] * 2, dtype=np.float32)
    crop_transforms = np.concatenate([transforms[:, :, :2] / scale[:2], transforms[:, :, 2:]], axis=2) * config.size
    stats = dict(
        face_stats, fps=float(fps), num_frames=int(count), duration=float(times[-1] - times[0] + 1.0 / fps),
        width=int(original_size[0]), height=int(original_size[1]), truncated=False, warnings=warnings,
        flow_method=config.flow, center_crop=config.center_crop, aligned_share=aligned / len(indices),
    )
    return ProcessedClip(
        rgb=rgb, flow=flow, frame_indices=indices.astype(np.int64), crop_transforms=crop_transforms.astype(np.float32),
        track_boxes=(track_boxes * scale).astype(np.float32), detected=~np.isnan(detection_boxes[:, 0]),
        detection_boxes=(detection_boxes * scale).astype(np.float32), config=config, stats=stats,
    )


# --- face detection and tracking -------------------------------------------------------------------------------------

@dataclass
class _Track:
    """One face followed within a shot: the frames the detector hit it on, and its boxes there."""

    shot: int
    frames: list[int]
    boxes: list[np.ndarray]

    @property
    def score(self) -> float:
        """Length x size: the main face is on screen longest and largest."""
        return float(sum((b[2] - b[0]) * (b[3] - b[1]) for b in self.boxes))


def _track_main_face(frames: np.ndarray, fps: float, config: ProcessConfig):
    """Box of the main face on every frame: detect, link into tracks, pick one per shot, interpolate and smooth."""
    count, height, width = frames.shape[:3]
    scale = min(1.0, config.detect_side / max(width, height))
    small_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    shot_starts, detections = [], {}
    previous_hist = previous_hsv = None
    changes: list[float] = []
    for i, frame in enumerate(frames):
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        hist = cv2.normalize(cv2.calcHist([gray], [0], None, [32], [0, 256]), None)
        hsv = cv2.cvtColor(cv2.resize(frame, _CUT_THUMB, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2HSV)
        if previous_hist is not None:
            change = float(cv2.absdiff(hsv, previous_hsv).mean())
            typical = float(np.median(changes[-_CUT_HISTORY:])) if len(changes) >= 3 else np.inf  # a few first
            if cv2.compareHist(previous_hist, hist, cv2.HISTCMP_BHATTACHARYYA) > _CUT_DISTANCE or \
                    change > max(_CUT_CHANGE, _CUT_CHANGE_RATIO * (typical + 1)):
                shot_starts.append(i)  # a scene cut: this frame's gray levels or its picture differ sharply
            changes.append(change)
        previous_hist, previous_hsv = hist, hsv
        if i % config.detect_every == 0 or shot_starts[-1:] == [i]:
            detections[i] = _detect_faces(cv2.resize(gray, small_size, interpolation=cv2.INTER_AREA)) / scale
            if not len(detections[i]):
                detections[i] = _detect_faces_hog(gray)
    run_on = sorted(detections)
    shot_of = np.cumsum(np.isin(np.arange(count), shot_starts))
    tracks = _link_tracks(detections, shot_of, max_gap=max(config.detect_every, round(fps)))

    track_boxes = np.full((count, 4), np.nan, np.float32)
    detection_boxes = np.full((count, 4), np.nan, np.float32)
    window = 2 * round(_SMOOTH_SECONDS * fps / 2) + 1
    bounds = [0, *shot_starts, count]
    shots_with_face = 0
    for shot, (start, end) in enumerate(zip(bounds[:-1], bounds[1:])):
        runs = sum(1 for i in run_on if start <= i < end)
        candidates = [t for t in tracks if t.shot == shot and len(t.frames) >= _MIN_TRACK_SHARE * runs]
        if not candidates:
            continue
        main = max(candidates, key=lambda t: t.score)
        shots_with_face += 1
        hit_boxes = np.stack(main.boxes)
        span = np.arange(start, end)
        filled = np.column_stack([np.interp(span, main.frames, hit_boxes[:, c]) for c in range(4)]).astype(np.float32)
        track_boxes[start:end] = cv2.blur(filled, (1, window), borderType=cv2.BORDER_REPLICATE)
        detection_boxes[main.frames] = hit_boxes

    detected = ~np.isnan(detection_boxes[:, 0])
    if not detected.any():
        raise NoFaceError("no face was found in any frame: use a clip with a visible frontal face, or crop the "
                          "frame centre instead (the lab's retry button, or --center-crop)")
    covered = ~np.isnan(track_boxes[:, 0])
    stats = dict(
        detection_rate=float(detected.sum() / len(run_on)),
        track_coverage=float(covered.mean()),
        num_faces_seen=int(max(len(d) for d in detections.values())),
        scene_cuts=len(shot_starts),
        detector_runs=len(run_on),
        shots_with_face=shots_with_face,
    )
    return track_boxes, detection_boxes, shot_of, stats


def _detect_faces(gray: np.ndarray) -> np.ndarray:
    """Haar face boxes (K, 4) as [x0, y0, x1, y1] in the detection image's pixels."""
    if not hasattr(_PER_THREAD, "cascade"):
        _PER_THREAD.cascade = cv2.CascadeClassifier(_CASCADE_FILE)
    found = _PER_THREAD.cascade.detectMultiScale(cv2.equalizeHist(gray), scaleFactor=_DETECT_SCALE_STEP,
                                                  minNeighbors=_DETECT_NEIGHBOURS, minSize=(_MIN_FACE, _MIN_FACE))
    boxes = np.asarray(found, dtype=np.float32).reshape(-1, 4)
    boxes[:, 2:] += boxes[:, :2]
    return boxes


def _detect_faces_hog(gray: np.ndarray) -> np.ndarray:
    """dlib's HOG face boxes (K, 4) in the frame's pixels, made the cascade's shape (see _HOG_TO_CASCADE)."""
    if not hasattr(_PER_THREAD, "hog"):
        _PER_THREAD.hog = dlib.get_frontal_face_detector()
    scale = _HOG_SIDE / max(gray.shape)
    small = cv2.resize(gray, (round(gray.shape[1] * scale), round(gray.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    pad = round(_HOG_PAD * _HOG_SIDE)
    padded = cv2.copyMakeBorder(small, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=int(np.median(small)))
    found = np.array([[r.left(), r.top(), r.right(), r.bottom()] for r in _PER_THREAD.hog(padded, 0)], np.float32)
    if not len(found):
        return np.zeros((0, 4), np.float32)
    found = (found.reshape(-1, 4) - pad) / scale
    width, (grow, lift) = found[:, 2] - found[:, 0], _HOG_TO_CASCADE
    cx, cy = (found[:, 0] + found[:, 2]) / 2, (found[:, 1] + found[:, 3]) / 2 + lift * width
    half = grow * width / 2
    return np.column_stack([cx - half, cy - half, cx + half, cy + half]).astype(np.float32)


def _link_tracks(detections: dict[int, np.ndarray], shot_of: np.ndarray, max_gap: int) -> list[_Track]:
    """Greedy frame-by-frame linking: each detection extends the best-overlapping open track of the same shot."""
    tracks: list[_Track] = []
    for frame in sorted(detections):
        open_tracks = [t for t in tracks if t.shot == shot_of[frame] and frame - t.frames[-1] <= max_gap]
        pairs = sorted(((_iou(t.boxes[-1], box), ti, di) for ti, t in enumerate(open_tracks)
                        for di, box in enumerate(detections[frame]) if _same_face(t.boxes[-1], box)), reverse=True)
        used_tracks, used_boxes = set(), set()
        for _, ti, di in pairs:
            if ti not in used_tracks and di not in used_boxes:
                open_tracks[ti].frames.append(frame)
                open_tracks[ti].boxes.append(detections[frame][di])
                used_tracks.add(ti)
                used_boxes.add(di)
        tracks += [_Track(int(shot_of[frame]), [frame], [box])
                   for di, box in enumerate(detections[frame]) if di not in used_boxes]
    return tracks


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _same_face(last: np.ndarray, box: np.ndarray) -> bool:
    centre_shift = np.hypot((box[0] + box[2] - last[0] - last[2]) / 2, (box[1] + box[3] - last[1] - last[3]) / 2)
    return _iou(last, box) >= _LINK_IOU or centre_shift <= _LINK_CENTRE * (last[2] - last[0])


def _nearest_known(boxes: np.ndarray) -> np.ndarray:
    """For every frame, the nearest frame that has a face box: frames of faceless shots are cropped where it was."""
    known = np.flatnonzero(~np.isnan(boxes[:, 0]))
    return known[np.abs(np.arange(len(boxes))[:, None] - known[None, :]).argmin(axis=1)]


def _landmark_transforms(frames: np.ndarray, track_boxes: np.ndarray, nearest: np.ndarray, shot_of: np.ndarray,
                         indices: np.ndarray, fps: float, box_transforms: np.ndarray) -> tuple[np.ndarray, int]:
    """Each sampled crop's transform from its five landmarks, averaged over the smoothing window within the shot, and
    how many crops it aligned; a crop whose landmarks disagree wildly with its face box keeps the box's transform."""
    half = round(_SMOOTH_SECONDS * fps / 2)
    found: dict[int, np.ndarray] = {}
    transforms, aligned = [], 0
    for i, box_transform in zip(indices, box_transforms):
        centre = nearest[i]
        window = [j for j in range(max(0, centre - half), min(len(frames), centre + half + 1))
                  if shot_of[j] == shot_of[centre] and not np.isnan(track_boxes[j, 0])]
        for j in window:
            if j not in found:
                found[j] = five_points(cv2.cvtColor(frames[j], cv2.COLOR_RGB2GRAY), track_boxes[j])
        transform = similarity(np.mean([found[j] for j in window], axis=0), TEMPLATE)
        scale_ratio = np.hypot(*transform[:, 0]) / box_transform[0, 0]
        plausible = 1 / _ALIGN_SCALE_RANGE < scale_ratio < _ALIGN_SCALE_RANGE and \
            abs(np.arctan2(transform[1, 0], transform[0, 0])) < _ALIGN_MAX_TURN
        transforms.append(transform if plausible else box_transform)
        aligned += plausible
    return np.stack(transforms), aligned


# --- sampling, cropping, optical flow --------------------------------------------------------------------------------

def _sample_indices(times: np.ndarray, count: int) -> np.ndarray:
    """The frame on screen at the middle of each of `count` equal time slices (uniform in time, even at a variable
    frame rate); clips with fewer frames than slices repeat frames."""
    period = (times[-1] - times[0]) / max(1, len(times) - 1) if len(times) > 1 else 1.0
    duration = times[-1] - times[0] + period
    targets = times[0] + (np.arange(count) + 0.5) * duration / count
    return np.clip(np.searchsorted(times, targets, side="right") - 1, 0, len(times) - 1)


def _square_box(box: np.ndarray, margin: float, width: int, height: int) -> np.ndarray:
    """Square around the face box enlarged by margin on each side, moved inside the frame when it fits."""
    side = max(box[2] - box[0], box[3] - box[1]) * (1 + 2 * margin)
    centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
    for axis, limit in enumerate((width, height)):
        half = side / 2
        centre[axis] = np.clip(centre[axis], half, limit - half) if side <= limit else limit / 2
    return np.array([centre[0] - side / 2, centre[1] - side / 2, centre[0] + side / 2, centre[1] + side / 2])


def _square_transform(square: np.ndarray) -> np.ndarray:
    """The affine map (2, 3) from frame pixels to unit crop coordinates of an upright square [x0, y0, x1, y1]."""
    side = square[2] - square[0]
    return np.array([[1 / side, 0, -square[0] / side], [0, 1 / side, -square[1] / side]])


def _crops(frames: np.ndarray, indices: np.ndarray, squares: np.ndarray, transforms: np.ndarray | None,
           size: int) -> np.ndarray:
    """(T, size, size, 3) crops: warped by the landmark transforms when given, else cut from the upright squares."""
    if transforms is None:
        return np.stack([_crop(frames[i], square, size) for i, square in zip(indices, squares)])
    return np.stack([_warp_crop(frames[i], transform, size) for i, transform in zip(indices, transforms)])


def _warp_crop(frame: np.ndarray, transform: np.ndarray, size: int) -> np.ndarray:
    """The turned crop that ``transform`` (frame pixels -> unit crop coordinates) describes, at size x size.

    The upright square around it is first cut and area-resized to about the output's resolution (as for upright
    crops, so a large face is not aliased), then turned with bilinear sampling; black outside the frame.
    """
    pixels = transform * size
    corners = cv2.invertAffineTransform(pixels) @ np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1.0]]).T
    side = (corners.max(1) - corners.min(1)).max()
    x0, y0, x1, y1 = np.round([*corners.min(1), *(corners.min(1) + side)]).astype(int)
    resized = max(size, int(np.ceil(side * np.hypot(*pixels[:, 0]))))
    region = _crop(frame, np.array([x0, y0, x1, y1]), resized)
    to_region = np.array([[resized / (x1 - x0), 0, -x0 * resized / (x1 - x0)],
                          [0, resized / (y1 - y0), -y0 * resized / (y1 - y0)], [0, 0, 1]])
    return cv2.warpAffine(region, pixels @ np.linalg.inv(to_region), (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _crop(frame: np.ndarray, square: np.ndarray, size: int) -> np.ndarray:
    """Cut the square out of the frame, padding with black where it leaves the frame, and resize to size x size."""
    height, width = frame.shape[:2]
    x0, y0, x1, y1 = np.round(square).astype(int)
    inside = frame[max(y0, 0):min(y1, height), max(x0, 0):min(x1, width)]
    padded = cv2.copyMakeBorder(inside, max(0, -y0), max(0, y1 - height), max(0, -x0), max(0, x1 - width),
                                cv2.BORDER_CONSTANT, value=0)
    return cv2.resize(padded, (size, size), interpolation=cv2.INTER_AREA)


def _optical_flow(crops: np.ndarray, method: str, size: int) -> np.ndarray:
    """Dense flow (T-1, S, S, 2) in S-pixel units from each crop to the next, on grayscale.

    The crops may be larger than S (``ProcessConfig.flow_oversample``): a brow that moves half an S-pixel moves a whole
    pixel on crops twice as large, which the flow methods resolve better (tests/model/data/test_processing.py measures
    it on a sliding texture); the fields are then area-pooled to S x S and rescaled to S-pixels."""
    grays = [cv2.cvtColor(c, cv2.COLOR_RGB2GRAY) for c in crops]
    side = crops.shape[1]
    if method == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        fields = [dis.calc(a, b, None) for a, b in zip(grays, grays[1:])]
    else:  # farneback; the window is scaled to the crop so small crops keep a few pixels of context
        window = max(5, side // 8 | 1)
        fields = [cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, window, 3, 5, 1.1, 0)
                  for a, b in zip(grays, grays[1:])]
    if side != size:
        fields = [cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) * (size / side) for f in fields]
    return np.stack(fields).astype(np.float16) if fields else np.zeros((0, size, size, 2), np.float16)


# --- network inputs --------------------------------------------------------------------------------------------------

def to_tensors(clip: ProcessedClip) -> tuple[torch.Tensor, torch.Tensor]:
    """Network inputs: rgb (3, T, S, S) standardized, flow (2, T-1, S, S) scaled to O(1) and clipped, by the clip's
    processing settings (``rgb_mean``, ``rgb_std``, ``flow_scale``, ``flow_clip``).

    Each flow field has its median subtracted (as in classic two-stream networks' camera-motion compensation): what
    is left of head motion and crop jitter is mostly global, the expression's motion is local.
    """
    config = clip.config
    mean = torch.tensor(config.rgb_mean).view(3, 1, 1, 1)
    std = torch.tensor(config.rgb_std).view(3, 1, 1, 1)
    rgb = torch.from_numpy(clip.rgb).permute(3, 0, 1, 2).float().div(255.0)
    flow = torch.from_numpy(clip.flow.astype(np.float32)).permute(3, 0, 1, 2)
    flow = (flow - flow.flatten(2).median(dim=2).values[..., None, None]) / config.flow_scale
    return ((rgb - mean) / std).contiguous(), flow.clamp(-config.flow_clip, config.flow_clip).contiguous()


def rgb_for_display(tensor: torch.Tensor, config: ProcessConfig) -> np.ndarray:
    """Undo to_tensors on an rgb tensor (3, T, S, S) (or (1, 3, T, S, S)) made with ``config``: uint8 (T, S, S, 3)
    for showing."""
    tensor = tensor.detach().cpu().float().reshape(3, *tensor.shape[-3:])
    rgb = tensor * torch.tensor(config.rgb_std).view(3, 1, 1, 1) + torch.tensor(config.rgb_mean).view(3, 1, 1, 1)
    return (rgb.clamp(0, 1) * 255).round().byte().permute(1, 2, 3, 0).numpy()


# --- on-disk cache ---------------------------------------------------------------------------------------------------

_ARRAYS = {  # name -> (dtype, shape with T, S, N placeholders)
    "rgb": (np.uint8, ("T", "S", "S", 3)),
    "flow": (np.float16, ("T-1", "S", "S", 2)),
    "frame_indices": (np.int64, ("T",)),
    "crop_transforms": (np.float32, ("T", 2, 3)),
    "track_boxes": (np.float32, ("N", 4)),
    "detected": (np.bool_, ("N",)),
    "detection_boxes": (np.float32, ("N", 4)),
}


def cache_path(path: Path, config: ProcessConfig, cache_dir: Path) -> Path:
    """cache_dir/<sha256 of the file's bytes and the settings>.npz: a changed file or setting misses the cache (the
    input scaling is left out of the key: it changes no cached array)."""
    with open(path, "rb") as file:
        digest = hashlib.file_digest(file, "sha256")
    settings = {name: value for name, value in config.to_dict().items() if name not in INPUT_SCALING}
    digest.update(json.dumps({"schema": SCHEMA_VERSION, **settings}, sort_keys=True).encode())
    return Path(cache_dir) / f"{digest.hexdigest()}.npz"


def _save(entry: Path, clip: ProcessedClip) -> None:
    """Write atomically (temp file + rename), so a crash or a parallel worker never leaves half an entry."""
    arrays = {name: getattr(clip, name) for name in _ARRAYS}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays, stats=np.array(json.dumps(clip.stats)), schema=np.array(SCHEMA_VERSION),
             key=np.array(entry.stem))
    atomic_write_bytes(entry, buffer.getvalue())


def _load(entry: Path, config: ProcessConfig) -> ProcessedClip | None:
    """The cached clip, or None when the entry is missing, corrupt, from another schema or for another key."""
    try:
        with np.load(entry, allow_pickle=False) as data:
            if set(data.files) != {*_ARRAYS, "stats", "schema", "key"}:
                return None
            if int(data["schema"]) != SCHEMA_VERSION or str(data["key"]) != entry.stem:
                return None
            stats = json.loads(str(data["stats"]))
            sizes = {"T": config.frames, "T-1": config.frames - 1, "S": config.size, "N": stats["num_frames"]}
            arrays = {name: data[name] for name in _ARRAYS}
    except (OSError, ValueError, KeyError, TypeError, EOFError, json.JSONDecodeError, zipfile.BadZipFile):
        return None
    for name, (dtype, shape) in _ARRAYS.items():
        expected = tuple(sizes.get(d, d) for d in shape)
        if arrays[name].dtype != dtype or arrays[name].shape != expected:
            return None
    return ProcessedClip(**arrays, config=config, stats=stats)
