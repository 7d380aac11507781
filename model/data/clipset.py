"""A split of a corpus as in-memory tensors, ready for batching: what training and evaluation iterate over.

Every clip goes through the same cached processing layer the app uses (model.data.processing.process_video), in a pool of
worker processes; the tensors are kept in float16 to halve memory.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch
from tqdm import tqdm

from model import locations
from model.config import ProcessConfig
from model.data.datasets import ClipRecord
from model.parallel import process_pool
from model.data.processing import NoFaceError, process_video, to_tensors


@dataclass
class ClipSet:
    records: list[ClipRecord]
    rgb: torch.Tensor  # (N, 3, T, S, S) float16, normalized
    flow: torch.Tensor  # (N, 2, T-1, S, S) float16, normalized
    labels: torch.Tensor  # (N,) int64; -1 where the clip has no label

    def __len__(self) -> int:
        return len(self.records)

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.rgb[index].float(), self.flow[index].float(), self.labels[index]


def _tensors_of(args: tuple[Path, ProcessConfig, Path]) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """A clip's tensors; a clip where no face is found is centre-cropped (and reported) rather than dropped, so a
    split is always evaluated whole."""
    path, config, cache_dir = args
    try:
        clip, centred = process_video(path, config, cache_dir=cache_dir), False
    except NoFaceError:
        clip, centred = process_video(path, replace(config, center_crop=True), cache_dir=cache_dir), True
    rgb, flow = to_tensors(clip)
    return rgb.half(), flow.half(), centred


def load_clipset(records: list[ClipRecord], config: ProcessConfig, cache_dir: Path | None = None,
                 workers: int = 2, desc: str = "clips", progress: bool = True) -> ClipSet:
    """Process (or read from ``cache_dir``, by default the processing cache) every clip of ``records`` and stack
    the results."""
    cache_dir = cache_dir or locations.processing_cache()
    jobs = [(r.path, config, cache_dir) for r in records]
    if workers > 1 and len(jobs) > 1:
        with process_pool(workers) as pool:
            results = list(tqdm(pool.imap(_tensors_of, jobs, chunksize=4), total=len(jobs), desc=desc,
                                disable=not progress))
    else:
        results = [_tensors_of(j) for j in tqdm(jobs, desc=desc, disable=not progress)]
    centred = [r.path.name for r, (_, _, c) in zip(records, results) if c]
    if centred and progress:
        print(f"{desc}: no face found in {len(centred)} clip(s), centre-cropped instead: {', '.join(centred)}")
    labels = torch.tensor([-1 if r.label is None else r.label for r in records], dtype=torch.long)
    return ClipSet(records, torch.stack([r for r, _, _ in results]), torch.stack([f for _, f, _ in results]), labels)
