"""Speed figures of the model targets: ``python -m model.bench [--checkpoint CKPT] [--corpus DIR]``.

Prints the forward pass of one clip (both streams, attention on), a 3 s 640x480 clip file to probabilities, the
recorded training time of the checkpoint, and with ``--corpus`` the preprocessing of the whole corpus into a fresh
cache. Medians over repeats; the machine is shared, so read the figures as of this run.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

import av
import cv2
import torch

from model import preprocess
from model.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint
from model.corpus import render_clip
from model.processing import process_video, to_tensors
from model.reliability import Calibration, judge


def median_seconds(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def write_test_clip(path: Path, seconds: float = 3.0, size: tuple[int, int] = (640, 480), fps: int = 25) -> Path:
    """A corpus face clip upscaled to ``size``, encoded as H.264 MP4 like a phone video."""
    frames = render_clip(seed=987, split="Test", index=0).frames
    count = int(seconds * fps)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for i in range(count):
            frame = cv2.resize(frames[i % len(frames)], size, interpolation=cv2.INTER_LINEAR)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame[..., ::-1].copy(), format="rgb24")))
        container.mux(stream.encode())
    return path


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m model.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    p.add_argument("--corpus", type=Path, help="also time preprocessing this whole corpus into a fresh cache")
    p.add_argument("--repeats", type=int, default=20)
    a = p.parse_args(argv)
    model, process, config = load_checkpoint(a.checkpoint)
    calibration = Calibration.read(a.checkpoint)
    print(f"checkpoint {a.checkpoint.name}; torch threads {torch.get_num_threads()}")

    rgb = torch.randn(1, 3, process.frames, process.size, process.size)
    flow = torch.randn(1, 2, process.frames - 1, process.size, process.size)
    with torch.inference_mode():
        model(rgb, flow)
        forward = median_seconds(lambda: model(rgb, flow, inter_stream_attention=True), a.repeats)
    print(f"forward pass, one clip, both streams, attention on: {forward * 1000:.1f} ms  (target <= 40 ms)")

    with tempfile.TemporaryDirectory() as tmp:
        clip_path = write_test_clip(Path(tmp) / "clip_640x480_3s.mp4")

        def file_to_probabilities():
            clip = process_video(clip_path, process, cache_dir=None)
            return judge(model, calibration, *to_tensors(clip), clip.stats)  # what model.predict computes
        file_to_probabilities()
        end_to_end = median_seconds(file_to_probabilities, max(3, a.repeats // 4))
    print(f"3 s 640x480 H.264 clip file to probabilities: {end_to_end:.2f} s  (target <= 1 s)")

    train_seconds = config.get("metrics", {}).get("train_seconds")
    if train_seconds is not None:
        print(f"training run of this checkpoint (recorded, preprocessing cached): {train_seconds / 60:.1f} min  "
              f"(target <= 10 min)")

    if a.corpus is not None:
        with tempfile.TemporaryDirectory() as cache:
            print(f"preprocessing {a.corpus} into a fresh cache with 2 workers (target <= 5 min):")
            preprocess.main(["--data", str(a.corpus), "--workers", "2", "--cache", cache])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
