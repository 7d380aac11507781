"""Decode a video file into RGB frames with PyAV, turning every failure into a one-line ``ClipError``.

Uploads come from anywhere (phones, screen recorders, movie rips), so decoding must survive rotation tags, variable
frame rates, odd pixel formats, huge resolutions and broken files, and tell the user in one sentence what went wrong.
"""
from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv")
UPLOAD_HINT = "upload a video file (mp4, avi, mov, mkv, webm)"
MAX_FPS = 30.0  # faster clips are thinned to this rate while decoding: 20 s of 60 fps would hold 1,200 frames
MAX_FRAME_BYTES = 192 * 2**20  # one clip's decoded frames: 20 s at 30 fps and 640x480 would otherwise hold 553 MB
SHRINK = 0.75  # past that budget, every frame kept so far and every later one is downscaled by this, as often as needed
THINNED = f"frames under 1/{MAX_FPS:g} s apart"  # the warning's words when frames are skipped for coming too fast
REORDER_DEPTH = 8  # frames: how far apart a frame and its timestamp can be in DivX/Xvid AVIs (see _in_time_order)


class ClipError(ValueError):
    """A clip cannot be used; the message is one line saying what is wrong and what to do."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


@dataclass(frozen=True)
class Video:
    frames: np.ndarray  # (N, H, W, 3) uint8 RGB, upright, long side <= max_side, within MAX_FRAME_BYTES
    times: np.ndarray  # (N,) float64 seconds since the first frame, from the frames' pts (variable frame rate safe)
    fps: float  # mean frame rate over the decoded frames
    duration: float  # seconds covered by the decoded frames
    original_size: tuple[int, int]  # (width, height) of the upright video before downscaling
    truncated: bool  # only part of the clip was decoded (max_seconds reached, or the file is damaged further on)
    warnings: list[str] = field(default_factory=list)
    skipped: int = 0  # decoded frames dropped for coming under 1 / MAX_FPS after the last kept one (broken timing)


def read_video(path: str | Path, max_seconds: float = 20.0, max_side: int = 640) -> Video:
    """Decode at most ``max_seconds`` of the first video stream, downscaling frames whose long side exceeds max_side,
    and further when a long clip's frames would exceed MAX_FRAME_BYTES (the face crops need far fewer pixels)."""
    path = Path(path)
    if not path.is_file():
        raise ClipError(f"{path.name} was not found: check the path or upload the file again")
    if path.stat().st_size == 0:
        raise ClipError(f"{path.name} is empty (0 bytes): {UPLOAD_HINT}")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, UnicodeDecodeError) as error:
        raise ClipError(f"{path.name} is not a readable video ({_reason(error)}): {UPLOAD_HINT}") from None
    with container:
        if not container.streams.video:
            raise ClipError(f"{path.name} has no video stream (audio only?): {UPLOAD_HINT}")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # frame and slice threads: decoding is the largest cost for long clips
        return _decode(path.name, container, stream, max_seconds, max_side)


def _decode(name: str, container, stream, max_seconds: float, max_side: int) -> Video:
    frames, times, warnings = [], [], []
    truncated = False
    nominal_rate = float(stream.average_rate or stream.guessed_rate or 25.0)
    first_time = None
    next_time = -np.inf  # the next frame kept is at least 1 / MAX_FPS after the last one (a tolerance for jitter)
    skipped = 0
    out_size = rotation = None
    try:
        for frame, time in _in_time_order(container.decode(stream), nominal_rate):
            if out_size is None:  # fix the output size on the first frame, so every frame stacks
                rotation = _rotation_degrees(frame, stream)
                out_size = _fit(frame.width, frame.height, max_side)
                original = (frame.width, frame.height) if rotation % 180 == 0 else (frame.height, frame.width)
            first_time = time if first_time is None else first_time  # times come sorted: this is the earliest
            if time - first_time >= max_seconds:
                truncated = True
                warnings.append(f"{name} is longer than {max_seconds:g} s: only the first {max_seconds:g} s are used")
                break
            if time < next_time:  # a repeated timestamp, or a clip faster than MAX_FPS
                skipped += 1
                continue
            next_time = time + 0.9 / MAX_FPS
            if (len(frames) + 1) * out_size[0] * out_size[1] * 3 > MAX_FRAME_BYTES:
                out_size = (max(1, round(out_size[0] * SHRINK)), max(1, round(out_size[1] * SHRINK)))
                frames = [_shrink(held, out_size, rotation) for held in frames]
            rgb = frame.reformat(width=out_size[0], height=out_size[1], format="rgb24").to_ndarray()
            frames.append(np.rot90(rgb, k=rotation // 90) if rotation else rgb)
            times.append(time - first_time)
    except av.FFmpegError as error:
        if not frames:
            raise ClipError(f"{name} could not be decoded ({_reason(error)}): {UPLOAD_HINT}") from None
        truncated = True
        warnings.append(f"{name} is damaged after frame {len(frames)}: only the frames before it are used")
    if skipped:
        warnings.append(f"{name} has {THINNED}: {skipped} of them are skipped "
                        f"(at most {MAX_FPS:g} frames per second are read)")
    if not frames:
        raise ClipError(f"{name} contains no decodable video frames (empty or truncated file): {UPLOAD_HINT}")
    # the container's index promised more frames: a cut-off download?
    if not truncated and len(frames) + skipped < stream.frames - 1:
        truncated = True
        warnings.append(f"{name} ends after {len(frames)} of {stream.frames} frames (incomplete file?): "
                        "only the frames present are used")

    times = np.asarray(times, dtype=np.float64)
    span = times[-1] - times[0]
    fps = (len(times) - 1) / span if len(times) > 1 and span > 0 else nominal_rate
    return Video(
        frames=_stack_releasing(frames),
        times=times,
        fps=float(fps),
        duration=float(span + 1.0 / fps),
        original_size=original,
        truncated=truncated,
        warnings=warnings,
        skipped=skipped,
    )


def _in_time_order(decoded, nominal_rate: float):
    """Yield (frame, seconds) with the seconds ascending and the frames in the order they were decoded.

    Decoders emit pictures in display order, but DivX/Xvid AVIs with packed B-frames (AFEW's clips, OpenCV's
    Megamind.avi) label them with swapped timestamps: 0.125, 0.209, 0.167, ... Sorting the pictures by their pts would
    scramble them, and the check against MAX_FPS would drop every "early" one; so the k-th frame gets the k-th smallest
    timestamp, found in a window of REORDER_DEPTH frames (held full size, but only a few).
    """
    pending, stamps, error = deque(), [], None
    try:
        for index, frame in enumerate(decoded):
            pending.append(frame)
            heapq.heappush(stamps, _seconds(frame, index, nominal_rate))
            if len(pending) > REORDER_DEPTH:
                yield pending.popleft(), heapq.heappop(stamps)
    except av.FFmpegError as caught:  # damaged further on: still hand over the frames decoded before the damage
        error = caught
    while pending:
        yield pending.popleft(), heapq.heappop(stamps)
    if error is not None:
        raise error


def _seconds(frame, index: int, nominal_rate: float) -> float:
    """Best-effort presentation time: the pts, else the dts (all some AVIs carry), else the count at the nominal
    rate."""
    stamp = frame.pts if frame.pts is not None else frame.dts
    if stamp is None or not frame.time_base:
        return index / nominal_rate
    return float(stamp * frame.time_base)


def _rotation_degrees(frame, stream) -> int:
    """Counter-clockwise rotation (0, 90, 180, 270) that makes the frame upright.

    The display matrix travels with the frames; older files carry a clockwise ``rotate`` tag on the stream instead.
    """
    degrees = frame.rotation or -float(stream.metadata.get("rotate", 0) or 0)
    return int(round(degrees / 90.0)) % 4 * 90


def _fit(width: int, height: int, max_side: int) -> tuple[int, int]:
    """Output size with the long side at most max_side, keeping the aspect ratio."""
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _shrink(frame: np.ndarray, size: tuple[int, int], rotation: int) -> np.ndarray:
    """A held (upright) frame at the new decoding size (width, height, before rotation)."""
    width, height = size if rotation % 180 == 0 else size[::-1]
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)


def _stack_releasing(frames: list[np.ndarray]) -> np.ndarray:
    """np.stack that frees each frame once copied, so a long clip is never held twice."""
    stacked = np.empty((len(frames), *frames[0].shape), frames[0].dtype)
    for index in range(len(frames)):
        stacked[index] = frames[index]
        frames[index] = None
    return stacked


def _reason(error: Exception) -> str:
    """The library's own short reason, without paths or errno noise."""
    return getattr(error, "strerror", None) or type(error).__name__
