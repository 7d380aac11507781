"""Batch jobs under torchrun: two CPU ranks share the work, and the result equals one plain process's."""
import os
import subprocess
import sys

import numpy as np
import pytest

from model.data.datasets import open_corpus
from tests.conftest import TINY_PROCESS

ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}  # one thread in every run, so sums add up in the same order
pytestmark = pytest.mark.timeout(300)


def run(command: list[str], ranks: int = 0) -> str:
    """Run a command in one plain process (``ranks=0``) or under torchrun with that many ranks; its stdout."""
    if ranks:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(ranks),
                   *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, env=ONE_THREAD)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def python_code(code: str) -> list[str]:
    """A torchrun command line that runs ``code`` in each rank's Python."""
    return ["--no-python", sys.executable, "-c", code]


def test_shares_are_strided_and_gather_restores_the_order():
    code = ("from model.parallel import gather_shares, is_writer, my_share, setup_distributed\n"
            "rank, world, _ = setup_distributed()\n"
            "share = my_share(list(range(7)))\n"
            "assert share == list(range(rank, 7, world)), share\n"
            "assert gather_shares([10 * i for i in share]) == [10 * i for i in range(7)]\n"
            "assert gather_shares(my_share([1])) == [1]  # the second rank has nothing to do\n"
            "import os\n"
            "os.write(1, f'{world} {is_writer()}\\n'.encode())  # one write: the two ranks share the pipe\n")
    assert sorted(run(python_code(code), ranks=2).split("\n")) == ["", "2 False", "2 True"]


def test_evaluation_over_two_ranks_writes_the_one_process_table(tiny_corpus, tiny_checkpoint, tmp_path):
    command = ["-m", "cli.evaluate", "--checkpoint", str(tiny_checkpoint), "--data", str(tiny_corpus),
               "--split", "Val", "--workers", "1", "--cache", str(tmp_path / "cache"), "--out"]
    alone = run([sys.executable, *command, str(tmp_path / "alone.csv")])
    shared = run([*command, str(tmp_path / "shared.csv")], ranks=2)
    table = (tmp_path / "alone.csv").read_bytes()
    assert table.count(b"\n") == 1 + 7  # a header and every Val clip, not just one rank's share
    assert (tmp_path / "shared.csv").read_bytes() == table
    assert shared == alone  # the metrics of all clips, printed once


def test_preprocessing_over_two_ranks_fills_the_cache_like_one_process(tiny_corpus, tmp_path):
    command = ["-m", "cli.preprocess", "--data", str(tiny_corpus), "--frames", str(TINY_PROCESS.frames),
               "--size", str(TINY_PROCESS.size), "--workers", "1", "--cache"]
    alone = run([sys.executable, *command, str(tmp_path / "alone")]).splitlines()
    shared = run([*command, str(tmp_path / "shared")], ranks=2).splitlines()
    corpus = open_corpus(tiny_corpus)
    clips = sum(len(corpus.clips(split)) for split in corpus.splits)
    assert alone[0].startswith(f"clips: {clips} (0 failed)") and shared[0].startswith(f"clips: {clips} (0 failed)")
    assert shared[1:] == alone[1:]  # face statistics of all clips, printed once
    entries = sorted(p.name for p in (tmp_path / "alone").iterdir())
    assert len(entries) == clips and sorted(p.name for p in (tmp_path / "shared").iterdir()) == entries
    for name in entries:
        with np.load(tmp_path / "alone" / name) as one, np.load(tmp_path / "shared" / name) as other:
            assert set(one.files) == set(other.files)
            for key in one.files:  # NaN boxes where no face was detected count as equal
                np.testing.assert_array_equal(one[key], other[key], strict=True)


def test_grading_over_two_ranks_gives_the_one_process_report(tiny_corpus, tiny_checkpoint, tmp_path):
    command = ["-m", "cli.grade", "--checkpoint", str(tiny_checkpoint), "--data", str(tiny_corpus), "--split", "Test",
               "--clips", "2", "--check-clips", "0", "--causal-clips", "0", "--methods", "Saliency",
               "--attention", "on", "--deletion-steps", "2", "--workers", "1", "--cache", str(tmp_path / "cache"),
               "--out"]
    run([sys.executable, *command, str(tmp_path / "alone.csv")])
    run([*command, str(tmp_path / "shared.csv")], ranks=2)
    for name in ("alone.csv", "alone_curves.csv"):
        table = (tmp_path / name).read_bytes()
        assert table.count(b"\n") > 1
        assert (tmp_path / name.replace("alone", "shared")).read_bytes() == table
