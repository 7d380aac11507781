"""Speed figures of the model targets, as a user of the commands meets them.

Prints the network's forward and forward-plus-backward passes at batch 1, 4 and 16 (both streams, attention on) with
their FLOPs and their share of this machine's limit, beside the same passes with face-api's network in NCHW (the
layout before it ran channels-last) and their ratio, a 3 s 640x480 clip file to probabilities and the time of each
of its preprocessing stages, the recorded training time of the checkpoint, and with ``--data`` the preprocessing of
the whole corpus into a fresh cache. Medians over repeats; the machine is shared, so read the figures as of this run.
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import torch

from cli import common
from model import locations
from model.bench import (
    machine_peak_flops,
    median_seconds,
    pass_flops,
    run_pass,
    stage_seconds,
    with_nchw_face_network,
    write_test_clip,
)
from model.checkpoint import load_checkpoint
from model.data.datasets import open_corpus
from model.data.preprocess import preprocess_corpus, summary
from model.predict import Predictor
from model.reliability import Calibration


def build() -> argparse.ArgumentParser:
    p = common.parser(__spec__.name, __doc__)
    p.add_argument("--checkpoint", type=Path, default=None, help="default: the shipped inter-stream attention model")
    common.add_data(p, required=False, help="also time preprocessing this whole corpus into a fresh cache")
    common.add_fold(p)
    common.add_workers(p)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--batches", type=int, nargs="+", default=[1, 4, 16], help="batch sizes to time (the lab's "
                   "inference runs model.config.INFERENCE_BATCH clips at once)")
    p.add_argument("--compile", action="store_true", help="also time torch.compile's path (compiling takes minutes)")
    return p


def run(args: argparse.Namespace) -> None:
    checkpoint = args.checkpoint or locations.default_checkpoint()
    model, process, config = load_checkpoint(checkpoint)
    calibration = Calibration.read(checkpoint)
    print(f"checkpoint {checkpoint.name}; torch threads {torch.get_num_threads()}")

    peak, reckoning = machine_peak_flops()
    print(f"this machine's fp32 limit: {peak / 1e9:.0f} GFLOP/s ({reckoning}, an upper bound)")
    paths = {"shipped": model, "NCHW face-api": with_nchw_face_network(model)}
    if args.compile:
        paths["torch.compile"] = torch.compile(model)
    for batch in args.batches:
        rgb = torch.randn(batch, 3, process.frames, process.size, process.size)
        flow = torch.randn(batch, 2, process.frames - 1, process.size, process.size)
        for backward in (False, True):
            flops = pass_flops(model, rgb, flow, backward) / batch
            seconds = {}
            for name, network in paths.items():
                run_pass(network, rgb, flow, backward)  # warm-up (and compilation)
                once = partial(run_pass, network, rgb, flow, backward)
                seconds[name] = median_seconds(once, args.repeats) / batch
                print(f"{'forward + backward' if backward else 'forward':18s} batch {batch:2d}, {name:13s}: "
                      f"{seconds[name] * 1000:6.1f} ms a clip, {flops / 1e9:.2f} GFLOP a clip = "
                      f"{flops / seconds[name] / 1e9:5.1f} GFLOP/s, {flops / seconds[name] / peak:.1%} of the limit "
                      f"({flops / peak * 1000:.1f} ms)")
            print(f"{'':18s} shipped {seconds['NCHW face-api'] / seconds['shipped']:.2f}x as fast as NCHW face-api")

    with tempfile.TemporaryDirectory() as tmp:
        clip_path = write_test_clip(Path(tmp) / "clip_640x480_3s.mp4")

        def file_to_probabilities():  # what cli.predict computes
            return Predictor(model, process, calibration).predict_file(clip_path, modes=model.modes[:1])
        file_to_probabilities()
        end_to_end = median_seconds(file_to_probabilities, max(3, args.repeats // 4))
        stages, profiled = stage_seconds(file_to_probabilities)
    print(f"3 s 640x480 H.264 clip file to probabilities: {end_to_end:.2f} s  (target <= 1 s)")
    print("  its stages (one profiled call): " + ", ".join(f"{stage} {s:.3f} s" for stage, s in stages.items()) +
          f", the network and the reliability panel {profiled - sum(stages.values()):.3f} s")

    train_seconds = config.get("metrics", {}).get("train_seconds")
    if train_seconds is not None:
        print(f"training run of this checkpoint (recorded, preprocessing cached): {train_seconds / 60:.1f} min  "
              f"(target <= 10 min)")

    if args.data is not None:
        corpus = open_corpus(args.data, fold=args.fold)
        with tempfile.TemporaryDirectory() as cache:
            print(f"preprocessing {args.data} into a fresh cache with {args.workers} workers (target <= 5 min):")
            start = time.perf_counter()
            results = preprocess_corpus(corpus, process, Path(cache), args.workers)
            print(summary(results, time.perf_counter() - start))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process: {peak:.0f} MB")


main = common.command(build, run)

if __name__ == "__main__":
    sys.exit(main())
