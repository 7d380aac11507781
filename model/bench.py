"""What the benchmarks share: the median of repeated timings and a phone-like test clip (python -m cli.bench_model,
python -m cli.bench_lab)."""
from __future__ import annotations

import statistics
import time
from pathlib import Path

import av
import cv2

from model.corpus import render_clip


def median_seconds(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def write_test_clip(path: Path, seconds: float = 3.0, size: tuple[int, int] = (640, 480), fps: int = 25,
                    seed: int = 987) -> Path:
    """A corpus face clip (drawn with ``seed``) upscaled to ``size``, encoded as H.264 MP4 like a phone video."""
    frames = render_clip(seed=seed, split="Test", index=0).frames
    count = int(seconds * fps)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for i in range(count):
            frame = cv2.resize(frames[i % len(frames)], size, interpolation=cv2.INTER_LINEAR)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame[..., ::-1].copy(), format="rgb24")))
        container.mux(stream.encode())
    return path
