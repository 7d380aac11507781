"""Fill the processing cache for a whole corpus and report how well faces were found.

    python -m cli.preprocess --data data/corpus [--workers 2] [--flow farneback|dis] [--frames T] [--size S]

Training then reads every clip from the cache. For embedded-corpus clips (a .json sidecar with per-frame "face_box")
the detector and tracker are also checked against the ground truth.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from model.config import ProcessConfig
from model.data.datasets import Corpus
from model.parallel import gather_shares, is_writer, my_share, process_pool
from model.data.processing import ClipError, ProcessedClip, process_video

HIT_IOU = 0.3  # a detection "hits" the true face when it overlaps it at least this much


def ground_truth_check(clip: ProcessedClip, face_boxes) -> dict:
    """Compare a processed clip with the true per-frame face boxes [x0, y0, x1, y1] (original pixels).

    hit_rate: share of detector runs whose box of the chosen face overlaps the truth (IoU >= 0.3);
    track_coverage: share of frames whose track box overlaps the truth (IoU >= 0.3).
    """
    truth = np.asarray(face_boxes, dtype=np.float32).reshape(-1, 4)
    count = min(len(truth), len(clip.track_boxes))
    hits = _iou(clip.detection_boxes[:count], truth[:count]) >= HIT_IOU
    covered = _iou(clip.track_boxes[:count], truth[:count]) >= HIT_IOU
    runs = max(1, clip.stats["detector_runs"])
    return {"hit_rate": float(hits.sum() / runs), "track_coverage": float(covered.mean())}


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise IoU of two (N, 4) box arrays; rows with NaN give 0."""
    inter = (np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
             * np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None))
    union = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    return np.nan_to_num(inter / np.maximum(union, 1e-6))


def _process_one(job: tuple[Path, ProcessConfig, Path]) -> dict:
    """Process (or read from cache) one clip; returns its face statistics, or its one-line error."""
    path, config, cache_dir = job
    try:
        clip = process_video(path, config, cache_dir=cache_dir)
    except ClipError as error:
        return {"path": str(path), "error": str(error)}
    result = {"path": str(path), "detection_rate": clip.stats["detection_rate"],
              "track_coverage": clip.stats["track_coverage"]}
    sidecar = path.with_suffix(".json")
    if sidecar.is_file():
        meta = json.loads(sidecar.read_text())
        if "face_box" in meta:
            result["ground_truth"] = ground_truth_check(clip, meta["face_box"])
    return result


def preprocess_corpus(corpus: Corpus, config: ProcessConfig, cache_dir: Path, workers: int = 2,
                      progress: bool = True) -> list[dict]:
    """Process every clip of the corpus into the cache, in ``workers`` processes; returns each clip's face
    statistics (see _process_one), in corpus order. Under torchrun each rank processes its share into the shared
    cache (keyed per clip, written atomically) and every rank returns the statistics of all clips."""
    jobs = my_share([(record.path, config, cache_dir) for split in corpus.splits for record in corpus.clips(split)])
    hide = not (progress and is_writer())
    if workers > 1:
        with process_pool(workers) as pool:
            results = list(tqdm(pool.imap(_process_one, jobs, chunksize=4), total=len(jobs), unit="clip",
                                disable=hide))
    else:
        results = [_process_one(job) for job in tqdm(jobs, unit="clip", disable=hide)]
    return gather_shares(results)


def summary(results: list[dict], seconds: float) -> str:
    """How many clips were processed, how fast, how well faces were found, and the first failures."""
    done = [r for r in results if "error" not in r]
    errors = [r for r in results if "error" in r]
    truth = [r["ground_truth"] for r in done if "ground_truth" in r]
    lines = [f"clips: {len(results)} ({len(errors)} failed) in {seconds:.1f} s = {len(results) / seconds:.2f} clips/s"]
    if done:
        lines.append(f"mean detection rate: {np.mean([r['detection_rate'] for r in done]):.3f}, "
                     f"mean track coverage: {np.mean([r['track_coverage'] for r in done]):.3f}")
    if truth:
        lines.append(f"ground truth ({len(truth)} clips with face_box, IoU >= {HIT_IOU}): "
                     f"raw hit rate {np.mean([t['hit_rate'] for t in truth]):.3f}, "
                     f"track coverage {np.mean([t['track_coverage'] for t in truth]):.3f}")
    lines += [f"failed: {r['error']}" for r in errors[:10]]
    return "\n".join(lines)

