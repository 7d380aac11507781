"""Videos a browser can play: WebM/VP9 from frames, and cached transcodes of corpus clips.

Browsers (and Debian's Chromium) play WebM/VP9 but not the corpus's MJPG .avi nor MPEG-4 Part 2. PyAV's libvpx-vp9
writes it (OpenCV's writer has no VP9 here and silently falls back to a slow default codec).
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import av
import numpy as np

from model import locations
from model.atomic import FILE_MODE
from model.data.video import read_video


def _write_with_pyav(frames: np.ndarray, fps: float, path: Path) -> None:
    with av.open(str(path), "w", format="webm") as container:
        # realtime settings: about 25x faster than libvpx's default ("good", cpu-used 0) for the same picture size
        stream = container.add_stream("libvpx-vp9", rate=max(1, round(fps)),
                                      options={"deadline": "realtime", "cpu-used": "8"})
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))


def write_webm(frames: np.ndarray, fps: float, path: Path) -> Path:
    """Encode RGB frames (N, H, W, 3) as WebM/VP9 at ``path`` (written beside it, then renamed: never half a file)."""
    frames = np.asarray(frames, dtype=np.uint8)
    height, width = frames.shape[1:3]
    if height % 2 or width % 2:  # 4:2:0 chroma needs even sides
        frames = np.pad(frames, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)), mode="edge")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".webm")
    os.fchmod(fd, FILE_MODE)
    os.close(fd)
    temporary = Path(temporary)
    try:
        _write_with_pyav(frames, fps, temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def webm_bytes(frames: np.ndarray, fps: float) -> bytes:
    """WebM/VP9 of the frames, in memory (for st.video and download buttons)."""
    with tempfile.TemporaryDirectory(prefix="lab-video-") as folder:
        return write_webm(frames, fps, Path(folder) / "video.webm").read_bytes()


def _is_webm(path: Path) -> bool:
    """A cached transcode is used only if it opens as WebM with a video stream; anything else is rebuilt."""
    try:
        with av.open(str(path)) as container:
            return "webm" in container.format.name and bool(container.streams.video)
    except (av.FFmpegError, OSError):
        return False


def browser_playable(path: Path, cache: Path | None = None, max_seconds: float = 20.0, max_side: int = 480) -> Path:
    """A WebM/VP9 copy of any video file, cached under ``cache`` (default: the lab's cache) by the file's content
    (WebM files pass as they are)."""
    path = Path(path)
    if path.suffix.lower() == ".webm":
        return path
    with open(path, "rb") as file:
        key = hashlib.file_digest(file, "sha256").hexdigest()[:20]
    target = Path(cache or locations.lab_cache()) / "videos" / f"{key}-{max_side}.webm"
    if not _is_webm(target):
        video = read_video(path, max_seconds=max_seconds, max_side=max_side)
        write_webm(video.frames, video.fps, target)
    return target
