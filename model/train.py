"""Train the two-stream network (``python -m cli.train``).

Training also runs under ``torchrun --nproc_per_node N`` with DistributedDataParallel (gloo on CPU, nccl on GPU).
Every epoch ends with an evaluation on Val, a line in ``RUN/log.jsonl``, the checkpoints ``RUN/last`` and, when Val
improves, ``RUN/best``, and ``RUN/resume.safetensors``. Rerunning the same run resumes from the last finished epoch:
each epoch's shuffling, augmentation and dropout are seeded by (seed, epoch), so a resumed run ends exactly where an
uninterrupted one would.
"""
from __future__ import annotations

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

from model import locations
from model.atomic import atomic_write_bytes
from model.checkpoint import save_checkpoint
from model.config import CLASSES, ModelConfig, ProcessConfig, TrainConfig
from model.data.clipset import load_clipset
from model.data.datasets import ClipRecord, Corpus, open_corpus
from model.evaluate import classification_metrics, predict_clipset, read_faces
from model.network import NetworkOutput, TwoStreamNet
from model.parallel import setup_distributed

RESUME_FILE = "resume.safetensors"


class TrainingError(ValueError):
    """A run that cannot start as asked; the message says what to change."""


class TrainingPass(torch.nn.Module):
    """The network with ``outputs`` as its forward: the loss needs the per-stream logits beside the fused ones, and
    DistributedDataParallel synchronizes gradients only for calls through the forward of the module it wraps."""

    def __init__(self, model: TwoStreamNet):
        super().__init__()
        self.model = model

    def forward(self, rgb: torch.Tensor, flow: torch.Tensor, faces: torch.Tensor | None) -> NetworkOutput:
        return self.model.outputs(rgb, flow, faces=faces)


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
    corpus = open_corpus(cfg.data, fold=cfg.fold)
    show = progress and rank == 0
    if rank != 0:
        dist.barrier()  # rank 0 fills the processing cache first; the others then read it
    train_records, val_records = train_and_val_records(corpus)
    train_set = load_clipset(train_records, cfg.process, cache_dir=cfg.cache, workers=cfg.workers, desc="Train",
                             progress=show)
    val_set = load_clipset(val_records, cfg.process, cache_dir=cfg.cache, workers=cfg.workers, desc="Val",
                           progress=show)
    if rank == 0 and world > 1:
        dist.barrier()

    torch.manual_seed(cfg.seed)
    model = TwoStreamNet(cfg.model, cfg.process).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    labels = train_set.labels.numpy()
    weights = compute_class_weight("balanced", classes=np.arange(len(CLASSES)), y=labels) \
        if len(set(labels)) == len(CLASSES) else [1.0] * len(CLASSES)
    class_weights = torch.tensor(weights, dtype=torch.float32, device=device)
    criterion = partial(F.cross_entropy, weight=class_weights, label_smoothing=cfg.label_smoothing)

    history, start_epoch, best = [], 0, None
    _refuse_other_settings(out, model, cfg)
    if rank == 0:  # a killed run's half-written files (model.atomic names them .NAME.*.tmp): the run folder is ours
        for debris in out.glob("**/.*.tmp"):
            debris.unlink()
    if (out / RESUME_FILE).is_file():
        state = load_resume_state(out / RESUME_FILE, model, optimizer)
        start_epoch, best, history = state["epoch"] + 1, state["best"], state["history"]
        if show:
            print(f"resuming {out} after epoch {state['epoch'] + 1}")
    training_pass = TrainingPass(model)
    net = torch.nn.parallel.DistributedDataParallel(training_pass) if world > 1 else training_pass
    faces_cache = Path(cfg.cache) if cfg.cache else locations.processing_cache()
    train_faces = tuple(read_faces(model, train_set, mirrored=m, cache_dir=faces_cache) for m in (False, True))
    val_faces = read_faces(model, val_set, cache_dir=faces_cache)

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
            output = net(rgb.to(device), flow.to(device), None if faces is None else faces.to(device))
            y = y.to(device)
            loss = criterion(output.logits, y)
            for head_logits in output.stream_logits:
                loss = loss + cfg.stream_loss * criterion(head_logits, y)
            if output.real_face is not None and model.config.real_face_prior:
                correction = output.logits - output.real_face
                loss = loss + cfg.prior_penalty * (correction - correction.mean(dim=1, keepdim=True)).pow(2).mean()
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
    return best


def _refuse_other_settings(out: Path, model: TwoStreamNet, cfg: TrainConfig) -> None:
    """A run folder resumes only the run it holds: other network or processing settings are refused in one line
    (loading its weights into another shape would fail deep inside torch)."""
    saved = out / "last" / "config.json"
    if not (out / RESUME_FILE).is_file() or not saved.is_file():
        return
    previous = json.loads(saved.read_text())
    for section, kind, now in (("model", ModelConfig, model.config), ("process", ProcessConfig, cfg.process)):
        before, now = kind.from_dict(previous[section]).to_dict(), now.to_dict()
        changed = [k for k in now if before.get(k) != now[k]]
        if changed:
            k = changed[0]
            raise TrainingError(f"{out} holds a run with {section} {k}={before.get(k)!r}, not {now[k]!r}: resume it "
                                "with its own settings, or train into another --out")


def corpus_info(data: str) -> dict:
    """What the embedded corpus says of itself (seed, scale), so a checkpoint records what it was trained on."""
    path = Path(data) / "corpus.json"
    return json.loads(path.read_text()) if path.is_file() else {"root": str(data)}
