"""Worker processes for the CPU-heavy loops (corpus rendering, preprocessing, grading)."""
from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Callable

import cv2
import torch


def _one_thread_each(initializer: Callable | None, initargs: tuple) -> None:
    """The pool already uses every core: OpenCV's and torch's own threads would only fight each other."""
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    if initializer is not None:
        initializer(*initargs)


def process_pool(workers: int, initializer: Callable | None = None, initargs: tuple = ()) -> ProcessPoolExecutor:
    """A pool of fresh interpreters ("spawn"): forking a process whose OpenCV or torch thread pools have run can
    deadlock the children (seen here in pytest, the Streamlit server and the benchmark)."""
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_one_thread_each, initargs=(initializer, initargs))
