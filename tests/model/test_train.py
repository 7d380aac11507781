import json
import os
import subprocess
import sys
import time
from dataclasses import replace

import pytest
import torch
from safetensors.torch import load_file

from model.config import TrainConfig
from model.data.clipset import load_clipset
from model.data.datasets import open_corpus
from model.evaluate import evaluate, read_faces
from model.network import TwoStreamNet
from model.train import train
from tests.conftest import TINY_MODEL, TINY_PROCESS


def config(data, out, epochs, **kw):
    return TrainConfig(data=str(data), out=str(out), epochs=epochs, batch_size=4, workers=1, seed=3,
                       process=TINY_PROCESS, **{"model": TINY_MODEL, **kw})


def test_training_lowers_the_loss_and_keeps_the_best_epoch_as_evaluated(tiny_corpus, tmp_path):
    best = train(config(tiny_corpus, tmp_path / "run", epochs=4), progress=False)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in log] == [1, 2, 3, 4]
    assert log[-1]["train_loss"] < 0.95 * log[0]["train_loss"], "four epochs on the same 8 clips lower the loss"
    assert best == max(log, key=lambda row: (row["val_uar"], row["val_war"], -row["epoch"]))  # the first best
    recorded = json.loads((tmp_path / "run" / "best" / "config.json").read_text())
    assert recorded["metrics"]["epoch"] == best["epoch"] and recorded["model"]["width"] == 4
    _, evaluated = evaluate(tmp_path / "run" / "best", tiny_corpus, "Val", None, workers=1, progress=False)
    assert recorded["metrics"]["val"] == evaluated  # the saved weights are the ones that were scored
    assert (tmp_path / "run" / "last" / "model.safetensors").is_file()


def test_per_stream_heads_are_trained_and_can_be_left_out(tiny_corpus, tmp_path):
    train(config(tiny_corpus, tmp_path / "heads", epochs=1), progress=False)
    trained = load_file(str(tmp_path / "heads" / "last" / "model.safetensors"))
    torch.manual_seed(3)  # the run's seed: the weights the heads started from
    initial = TwoStreamNet(TINY_MODEL, TINY_PROCESS).state_dict()
    heads = [k for k in trained if k.startswith("stream_heads.")]
    assert len(heads) == 4 and all(not torch.equal(trained[k], initial[k]) for k in heads)
    train(config(tiny_corpus, tmp_path / "none", epochs=1, stream_loss=0.0,
                 model=replace(TINY_MODEL, stream_heads=False)), progress=False)
    untrained = load_file(str(tmp_path / "none" / "last" / "model.safetensors"))
    assert not any(k.startswith("stream_heads.") for k in untrained)


def test_the_real_face_reading_is_kept_for_the_next_run(tiny_corpus, tmp_path):
    clips = load_clipset(open_corpus(tiny_corpus).records["Val"], TINY_PROCESS, workers=1, progress=False)
    model = TwoStreamNet(TINY_MODEL, TINY_PROCESS).eval()
    first = read_faces(model, clips, cache_dir=tmp_path)
    assert len(list((tmp_path / "faces").iterdir())) == 1
    assert torch.equal(read_faces(model, clips, cache_dir=tmp_path), first)
    assert torch.equal(read_faces(model, clips), first), "the kept reading is the one computed"
    read_faces(model, clips, mirrored=True, cache_dir=tmp_path)
    with torch.no_grad():
        next(model.spatial.backbone.parameters()).add_(1.0)
    changed = read_faces(model, clips, cache_dir=tmp_path)
    assert len(list((tmp_path / "faces").iterdir())) == 3, "mirrored crops and other weights are read anew"
    assert not torch.equal(changed, first)


def test_a_run_folder_refuses_other_settings_in_one_line(tiny_corpus, tmp_path, capsys):
    train(config(tiny_corpus, tmp_path / "run", epochs=1), progress=False)
    command = train_command(tiny_corpus, tmp_path / "run", 2)
    command[command.index("--width") + 1] = "8"
    finished = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 2
    assert finished.stderr.strip().splitlines()[-1].endswith(
        "holds a run with model width=4, not 8: resume it with its own settings, or train into another --out")
    assert "Traceback" not in finished.stderr


def train_command(data, out, epochs):
    return [sys.executable, "-m", "cli.train", "--data", str(data), "--out", str(out), "--epochs", str(epochs),
            "--batch-size", "2", "--workers", "1", "--width", "4", "--frames", "8", "--size", "32", "--seed", "5"]


@pytest.mark.slow  # a minute of grading, killing or regenerating: make test runs it
@pytest.mark.timeout(600)
def test_training_killed_mid_run_resumes_to_the_same_result(tiny_corpus, tmp_path):
    subprocess.run(train_command(tiny_corpus, tmp_path / "straight", 6), check=True, capture_output=True, timeout=300)
    log = tmp_path / "killed" / "log.jsonl"
    run = subprocess.Popen(train_command(tiny_corpus, tmp_path / "killed", 6), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (log.is_file() and log.read_text().count("\n") >= 1) and time.time() < deadline:
        time.sleep(0.05)
    run.kill()  # somewhere after epoch 1: the work since the last epoch boundary is lost
    run.wait()
    rows = log.read_text().splitlines()
    assert 1 <= len(rows) < 6, "the run was not interrupted; the test machine is too fast for this test"
    debris = tmp_path / "killed" / "last" / ".model.safetensors.x1y2.tmp"  # what a kill during a write leaves
    debris.write_bytes(b"")
    subprocess.run(train_command(tiny_corpus, tmp_path / "killed", 6), check=True, capture_output=True, timeout=300)
    assert not debris.exists()
    straight = load_file(str(tmp_path / "straight" / "last" / "model.safetensors"))
    resumed = load_file(str(tmp_path / "killed" / "last" / "model.safetensors"))
    assert all((straight[k] == resumed[k]).all() for k in straight)
    assert (tmp_path / "straight" / "log.jsonl").read_text().count("val_war") == 6
    strip = [{k: v for k, v in json.loads(line).items() if k != "seconds"}
             for line in (tmp_path / "killed" / "log.jsonl").read_text().splitlines()]
    assert strip == [{k: v for k, v in json.loads(line).items() if k != "seconds"}
                     for line in (tmp_path / "straight" / "log.jsonl").read_text().splitlines()]


@pytest.mark.timeout(600)
def test_torchrun_with_two_processes(tiny_corpus, tmp_path):
    out = tmp_path / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "cli.train", "--data", str(tiny_corpus), "--out", str(out), "--epochs", "2",
               "--batch-size", "2", "--workers", "1", "--width", "4", "--frames", "8", "--size", "32",
               "--dropout", "0.2", "--label-smoothing", "0.1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    saved = json.loads((out / "best" / "config.json").read_text())
    assert saved["train"]["world_size"] == 2
    assert saved["model"]["dropout"] == 0.2 and saved["train"]["label_smoothing"] == 0.1


def test_a_corpus_without_val_holds_out_every_tenth_training_clip(tmp_path):
    from model.data.datasets import open_corpus
    from model.train import train_and_val_records
    for name in ("Happy", "Sad"):
        (tmp_path / name).mkdir()
        for i in range(10):
            (tmp_path / name / f"{name}_{i}.avi").write_bytes(b"")
    train_records, val_records = train_and_val_records(open_corpus(tmp_path))
    assert len(train_records) == 18 and len(val_records) == 2
    assert not {r.path for r in train_records} & {r.path for r in val_records}
