"""The admission line: bounded slots, first come first served, each waiter told its place, refusal past the bound."""
import threading
import time

import pytest

from lab.admission import Admission, AdmissionRefused


def wait_until(condition, seconds: float = 5.0) -> None:
    deadline = time.time() + seconds
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.01)


def test_requests_wait_in_line_are_told_their_place_and_run_in_order():
    line = Admission(workers=1, max_waiting=5)
    release, order, places = {"first": threading.Event(), "second": threading.Event()}, [], {}

    def request(name: str) -> None:
        with line.slot(lambda ahead: places.setdefault(name, []).append(ahead), poll_s=0.01):
            order.append(name)
            if name in release:
                release[name].wait(5)

    threads = [threading.Thread(target=request, args=(name,)) for name in ("first", "second", "third")]
    threads[0].start()
    wait_until(lambda: order == ["first"])
    threads[1].start()
    wait_until(lambda: line.waiting == 1)
    threads[2].start()
    wait_until(lambda: line.waiting == 2)
    assert places == {"second": [1], "third": [2]}, "one running ahead of the second; that one and the second ahead"
    release["first"].set()
    wait_until(lambda: order == ["first", "second"])
    wait_until(lambda: places["third"] == [2, 1])  # told again when its place changed
    release["second"].set()
    for thread in threads:
        thread.join(5)
    assert order == ["first", "second", "third"] and line.waiting == 0


def test_a_full_line_refuses_in_one_line_and_a_leaver_frees_its_place():
    line = Admission(workers=1, max_waiting=1)
    release = threading.Event()
    def hold() -> None:
        with line.slot():
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    wait_until(lambda: line._running == 1)

    def leave(ahead: int) -> None:
        raise KeyboardInterrupt  # what a session that goes away raises inside the wait

    with pytest.raises(KeyboardInterrupt):
        with line.slot(leave):
            pass
    assert line.waiting == 0, "the leaver is out of the line"

    def wait() -> None:
        with line.slot():
            pass

    waiter = threading.Thread(target=wait)
    waiter.start()
    wait_until(lambda: line.waiting == 1)
    refusal = r"^The lab is busy \(2 clips ahead of yours\): try again in a minute\.$"
    with pytest.raises(AdmissionRefused, match=refusal):
        with line.slot():
            pass
    release.set()
    holder.join(5)
    waiter.join(5)
