"""What the benchmarks share: the median of repeated timings and a phone-like test clip (python -m cli.bench_model,
python -m cli.bench_lab)."""
from __future__ import annotations

import copy
import cProfile
import os
import pstats
import statistics
import time
from pathlib import Path

import av
import cv2
import torch
from torch.utils.flop_counter import FlopCounterMode

from model.data.corpus import render_clip
from model.faceapi_backbone import FaceExpressionNet

# Each stage of a clip file's way to the network (model.data): (the file that defines it, its function)
PREPROCESSING_STAGES = {
    "decode": ("model/data/video.py", "read_video"),
    "face detection and tracking": ("model/data/processing.py", "_track_main_face"),
    "landmarks and alignment": ("model/data/processing.py", "_landmark_transforms"),
    "crops": ("model/data/processing.py", "_crops"),
    "optical flow": ("model/data/processing.py", "_optical_flow"),
}


def stage_seconds(fn) -> tuple[dict[str, float], float]:
    """Seconds spent in each of PREPROCESSING_STAGES during one call of ``fn``, and the whole call: the real path,
    timed by cProfile's cumulative times rather than by a copy of it (the stages run in C, so its overhead is small)."""
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.runcall(fn)
    total = time.perf_counter() - start
    profiled = pstats.Stats(profiler).stats
    seconds = {stage: sum(timing[3] for (file, _, name), timing in profiled.items()
                          if name == function and file.replace(os.sep, "/").endswith(defined_in))
               for stage, (defined_in, function) in PREPROCESSING_STAGES.items()}
    return seconds, total


def median_seconds(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def machine_peak_flops() -> tuple[float, str]:
    """An upper bound of this CPU's fp32 rate (flop/s) and how it was reckoned: cores x clock x vector lanes x 2 FMA
    units x 2 flops, the lanes from /proc/cpuinfo's flags (AVX-512: 16, AVX2: 8, else 4)."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), [])
    lanes, unit = (16, "AVX-512") if "avx512f" in flags else (8, "AVX2") if "avx2" in flags else (4, "SSE")
    mhz = next((float(line.split(":", 1)[1]) for line in info.splitlines() if line.startswith("cpu MHz")), 2500.0)
    cores = len(os.sched_getaffinity(0))
    peak = cores * mhz * 1e6 * lanes * 2 * 2
    return peak, f"{cores} cores x {mhz / 1000:.2f} GHz x {unit} ({lanes} fp32 lanes) x 2 FMA x 2"


def pass_flops(model, rgb: torch.Tensor, flow: torch.Tensor, backward: bool) -> float:
    """The flops of one forward (and backward, towards the inputs as the attribution methods need) pass."""
    rgb, flow = rgb.clone().requires_grad_(backward), flow.clone().requires_grad_(backward)
    with FlopCounterMode(display=False) as counter:
        run_pass(model, rgb, flow, backward)
    return float(counter.get_total_flops())


def run_pass(model, rgb: torch.Tensor, flow: torch.Tensor, backward: bool) -> None:
    """One pass as the lab makes it: a prediction (no graph), or a forward and a backward to the inputs."""
    if not backward:
        with torch.inference_mode():
            model(rgb, flow)
        return
    rgb, flow = rgb.detach().requires_grad_(True), flow.detach().requires_grad_(True)
    model(rgb, flow)[:, 0].sum().backward()


def with_nchw_face_network(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of the model whose face-api network runs in NCHW, the layout before it ran channels-last: the baseline
    that python -m cli.bench_model times beside the shipped path, in the same run (the model is not touched)."""
    baseline = copy.deepcopy(model)
    for module in baseline.modules():
        if isinstance(module, FaceExpressionNet):
            module.memory_format = torch.contiguous_format
            module.to(memory_format=torch.contiguous_format)
    return baseline


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
