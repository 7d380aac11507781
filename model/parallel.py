"""Worker processes for the CPU-heavy loops (corpus rendering, preprocessing, clip loading, grading)."""
from __future__ import annotations

import multiprocessing
import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.pool import Pool

import cv2
import torch


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
