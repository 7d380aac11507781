"""Parallel work: worker processes for the CPU-heavy loops of one process (corpus rendering, preprocessing, clip
loading, grading), and torchrun ranks that share one batch job (training, preprocessing, evaluation, grading).

A job run under ``torchrun --nproc_per_node N`` gives each rank ``my_share`` of its items, collects every rank's
results with ``gather_shares`` (in the items' original order, so the result equals a plain run's) and lets rank 0
alone write the outputs (``write_output``). A plain ``python -m`` run is rank 0 of 1 and does all of it itself.
"""
from __future__ import annotations

import atexit
import multiprocessing
import os
import sys
import types
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from multiprocessing.pool import Pool
from pathlib import Path
from typing import TypeVar

import cv2
import torch
import torch.distributed as dist

from model.atomic import atomic_write_bytes

Item = TypeVar("Item")


def _one_thread_each(initializer: Callable | None, initargs: tuple) -> None:
    """The pool already uses every core: OpenCV's and torch's own threads would only fight each other."""
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    if initializer is not None:
        initializer(*initargs)


@contextmanager
def process_pool(workers: int, initializer: Callable | None = None, initargs: tuple = ()) -> Iterator[Pool]:
    """A pool of fresh interpreters ("spawn"): forking a process whose OpenCV or torch threads have run can deadlock
    the children. A spawned child re-runs the parent's ``__main__`` when it was started from a file path, which inside
    Streamlit (and after AppTest) is a page script; so such a ``__main__`` is hidden while the workers start (all of
    them start in Pool's constructor). A ``python -m`` main is importable by name and is kept."""
    main = sys.modules["__main__"]
    hide = getattr(main, "__spec__", None) is None
    if hide:
        sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        pool = multiprocessing.get_context("spawn").Pool(workers, _one_thread_each, (initializer, initargs))
    finally:
        if hide:
            sys.modules["__main__"] = main
    with pool:
        yield pool


def setup_distributed() -> tuple[int, int, torch.device]:
    """Rank, world size and device; a plain ``python -m`` run is rank 0 of 1. Under torchrun the first call joins the
    process group (gloo on CPU, nccl on GPU), later calls reuse it, and the process leaves it when it exits."""
    use_cuda = torch.cuda.is_available()
    if int(os.environ.get("WORLD_SIZE", 1)) == 1:
        return 0, 1, torch.device("cuda" if use_cuda else "cpu")
    if not dist.is_initialized():
        if use_cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group("nccl" if use_cuda else "gloo")
        atexit.register(dist.destroy_process_group)
    device = torch.device("cuda", torch.cuda.current_device()) if use_cuda else torch.device("cpu")
    return dist.get_rank(), dist.get_world_size(), device


def my_share(items: Sequence[Item]) -> list[Item]:
    """This rank's items: every world-size-th one from its rank on. Strided, so a list sorted by class or size still
    splits evenly, and every rank computes the same split without talking to the others."""
    rank, world, _ = setup_distributed()
    return list(items[rank::world])


def gather_shares(results: list[Item]) -> list[Item]:
    """Every rank's results for its ``my_share`` items, on every rank, in the order of the items they came from."""
    _, world, _ = setup_distributed()
    if world == 1:
        return list(results)
    shares: list[list[Item]] = [[] for _ in range(world)]
    dist.all_gather_object(shares, results)
    return [shares[i % world][i // world] for i in range(sum(len(share) for share in shares))]


def is_writer() -> bool:
    """Whether this process writes the outputs and prints the summaries that all ranks share: rank 0."""
    return setup_distributed()[0] == 0


def write_output(path: Path, data: bytes) -> None:
    """Write a shared output once (by rank 0) and atomically, so a reader never sees half a file."""
    if is_writer():
        atomic_write_bytes(Path(path), data)
