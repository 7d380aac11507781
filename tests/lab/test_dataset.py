"""The embedded corpus on first use: an interrupted generation resumes with the clips it had written, and a finished
one leaves no private folder behind."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lab import dataset

# 53 clips (about 6 s at 9 clips/s): enough that the generator cannot finish while the test, stalled on a busy
# machine, has not yet stopped it; at one clip per class and split (21) a CI run once saw every clip written first.
SCALE = 0.03
CLIPS = 53
pytestmark = pytest.mark.timeout(300)


class Interrupted(Exception):
    """What the page's progress line raises when the visitor leaves (Streamlit stops the script run)."""


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def partials(parent: Path) -> list[Path]:
    return sorted(parent.glob(".corpus.partial-*"))


def dead_pid() -> int:
    """The id of a process that has exited."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(child.stdout)


@pytest.mark.slow  # a minute of grading, killing or regenerating: make test runs it
def test_an_interrupted_generation_resumes_with_the_clips_it_had_and_leaves_no_partial_folder(tmp_path):
    reference = dataset.generate_embedded_corpus(tmp_path / "reference" / "corpus", scale=SCALE, workers=1)
    assert len(list(reference.rglob("*.avi"))) == CLIPS and not partials(reference.parent)

    root = tmp_path / "data" / "corpus"

    def stop_after_five(line: str) -> None:
        if (done := re.search(r"(\d+)/\d+", line)) and int(done.group(1)) >= 5:
            raise Interrupted

    with pytest.raises(Interrupted):
        dataset.generate_embedded_corpus(root, scale=SCALE, on_line=stop_after_five, workers=1)
    [left] = partials(root.parent)
    assert not root.exists(), "half a corpus is never moved into place"
    # The server restarts: the folder's owner is gone, and a write it cut short left a temporary file.
    left = left.rename(left.with_name(f".corpus.partial-{dead_pid()}"))
    stray = left / "Test" / "Angry" / ".test_00000.12345.tmp.avi"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"half a video")
    kept = {p.relative_to(left): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in left.rglob("*.avi") if not p.name.startswith(".") and p.with_suffix(".json").is_file()}
    assert 5 <= len(kept) < CLIPS
    busy = root.with_name(f".corpus.partial-{os.getppid()}")  # a live process's generation: not ours to touch
    busy.mkdir()

    lines = []
    dataset.generate_embedded_corpus(root, scale=SCALE, on_line=lines.append, workers=1)
    assert files(root) == files(reference), "the resumed corpus is the uninterrupted one, byte for byte"
    assert partials(root.parent) == [busy], "no partial folder is left behind but a live process's"
    assert re.search(rf"\b{len(kept)}/{CLIPS}\b", lines[0]), "the resumed run starts at the clips it kept"
    for relative, stamp in kept.items():
        path = root / relative
        assert (path.stat().st_ino, path.stat().st_mtime_ns) == stamp, f"{relative} was rendered again"


def test_a_finished_generation_takes_over_or_removes_the_leftovers_of_dead_runs(tmp_path):
    root = tmp_path / "corpus"
    for pid in (dead_pid(), dead_pid()):
        (root.with_name(f".corpus.partial-{pid}") / "Train").mkdir(parents=True, exist_ok=True)
    assert len(partials(tmp_path)) == 2
    dataset.generate_embedded_corpus(root, scale=SCALE, workers=1)
    assert dataset.embedded_corpus_ready(root) and not partials(tmp_path)
