"""Admission control: at most WORKERS analyses or explanations run at once, the others wait in line and are told
their place, and past MAX_WAITING a request is refused in one line.

Each analysis holds its clip's frames, crops and flow, and each explanation many forward and backward passes: without
a bound, a class uploading at once fills the machine's memory. A cached answer passes through a slot in a moment.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def _setting(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.isdigit() and int(value) > 0 else default


WORKERS = _setting("LAB_WORKERS", 2)  # analyses and explanations at once (one per core here)
MAX_WAITING = _setting("LAB_MAX_WAITING", 40)  # requests in line before new ones are refused


def clips(count: int) -> str:
    return f"{count} clip" if count == 1 else f"{count} clips"


class AdmissionRefused(RuntimeError):
    """The line is full; the message says so and what to do."""


class Admission:
    """A first-come, first-served line in front of ``workers`` slots."""

    def __init__(self, workers: int = WORKERS, max_waiting: int = MAX_WAITING):
        self.workers, self.max_waiting = workers, max_waiting
        self._changed = threading.Condition()
        self._running = 0
        self._line: list[object] = []

    @contextmanager
    def slot(self, told: Callable[[int], None] = lambda ahead: None, poll_s: float = 0.5) -> Iterator[None]:
        """Wait for a free slot, telling ``told`` how many requests are ahead (those running and those in line before
        this one) whenever that changes, then hold the slot for the ``with`` body."""
        ticket, told_ahead = object(), None
        with self._changed:
            if len(self._line) >= self.max_waiting and (self._line or self._running >= self.workers):
                raise AdmissionRefused(f"The lab is busy ({clips(self._running + len(self._line))} ahead of yours): "
                                       "try again in a minute.")
            self._line.append(ticket)
        try:
            while True:
                with self._changed:
                    if self._running < self.workers and self._line[0] is ticket:
                        self._line.pop(0)
                        self._running += 1
                        break
                    ahead = self._running + self._line.index(ticket)
                    if ahead == told_ahead:
                        self._changed.wait(poll_s)
                        continue
                told_ahead = ahead
                told(ahead)  # outside the lock: it may draw on a page
        except BaseException:  # the session went away while waiting: leave the line
            with self._changed:
                self._line.remove(ticket)
                self._changed.notify_all()
            raise
        try:
            yield
        finally:
            with self._changed:
                self._running -= 1
                self._changed.notify_all()

    @property
    def waiting(self) -> int:
        with self._changed:
            return len(self._line)


ADMISSION = Admission()  # one line for the whole server: every session's analyses and explanations
