"""What every command shares: the common options, flags made from the settings' dataclass fields, and the one
wrapper that turns a library error into one line and exit status 2."""
from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm

from model import locations
from model.config import AttentionMode, setting_help
from model.data.landmarks import LandmarkModelError

# What the library raises for bad input: its own errors (CorpusError, CheckpointError, ClipError, ... are
# ValueErrors), a missing or unreadable file, a missing landmark model. Anything else is a bug and keeps its traceback.
USER_ERRORS = (ValueError, OSError, LandmarkModelError)
PROCESS_FLAGS = ("frames", "size", "flow", "flow_oversample", "margin", "align")  # the commands that process clips


def parser(module: str, description: str) -> argparse.ArgumentParser:
    """The command's parser; its usage line says how to run it (``python -m cli.train``). ``module`` is the command
    module's ``__spec__.name``: its ``__name__`` is "__main__" when it runs."""
    return argparse.ArgumentParser(prog=f"python -m {module}", description=description.strip().split("\n\n")[0])


def command(build: Callable[[], argparse.ArgumentParser], run: Callable[[argparse.Namespace], int | None]):
    """``main(argv)`` of a command: parse, run, and answer bad input with one line and exit status 2."""
    def main(argv: list[str] | None = None) -> int:
        args = build().parse_args(argv)
        try:
            return run(args) or 0
        except USER_ERRORS as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("interrupted: rerun the same command to go on where it stopped", file=sys.stderr)
            return 130
    return main


def add_data(p: argparse.ArgumentParser, required: bool = True, default: Path | None = None,
             help: str = "corpus root: the embedded corpus, an AFEW or DFEW folder, or a folder of class folders"):
    p.add_argument("--data", type=Path, required=required, default=default,
                   help=help + ("" if required or default is None else " (default: %(default)s)"))


def add_fold(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fold", type=int, default=1, choices=range(1, 6), metavar="{1..5}",
                   help="DFEW's cross-validation fold (other layouts have one split and ignore it)")


def add_cache(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cache", type=Path, default=None,
                   help=f"processed-clip cache (default: {locations.processing_cache()}, or $LAB_CACHE)")


def add_workers(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=int, default=2, help="processes working in parallel, one thread each")


def add_corpus_options(p: argparse.ArgumentParser, data_required: bool = True, data_default: Path | None = None):
    """--data, --fold, --cache and --workers: every command that reads a corpus takes all four."""
    add_data(p, required=data_required, default=data_default)
    add_fold(p)
    add_cache(p)
    add_workers(p)


def add_attention(p: argparse.ArgumentParser, several: bool = False) -> None:
    """--attention: the AttentionMode to run a checkpoint in (``several``: a list of them)."""
    choices = [AttentionMode.ON, AttentionMode.BYPASSED]
    if several:
        p.add_argument("--attention", nargs="+", type=AttentionMode, default=choices, choices=choices,
                       help="the inter-stream attention module on, bypassed, or both (default); a model without the "
                            "module runs as it is")
    else:
        p.add_argument("--attention", type=AttentionMode, default=None, choices=choices,
                       help="run the checkpoint with its inter-stream attention module on or bypassed (its trained "
                            "weights stay; default: the model's own mode)")


def add_settings(p: argparse.ArgumentParser, settings: type, names: tuple[str, ...]) -> None:
    """A ``--flag`` for each of ``names``, fields of the dataclass ``settings``: its type, default, choices and help
    come from the field, so a setting is written once (model/config.py)."""
    fields = {f.name: f for f in dataclasses.fields(settings)}
    for name in names:
        field = fields[name]
        text = setting_help(field).replace("%", "%%")  # argparse formats help with %
        flag = "--" + name.replace("_", "-")
        if field.type in ("bool", bool):
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=field.default,
                           help=text)
            continue
        kind = {"int": int, "float": float, "str": str}[str(field.type)]
        p.add_argument(flag, type=kind, default=field.default, choices=field.metadata.get("choices"),
                       help=text + " (default: %(default)s)")


def settings_from(args: argparse.Namespace, settings: type, **fixed):
    """The dataclass ``settings`` filled from the parsed flags of its fields (and ``fixed`` values)."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(settings) if hasattr(args, f.name)}
    return settings(**{**given, **fixed})


@contextmanager
def progress_bar(desc: str, unit: str) -> Iterator[Callable[[int, int, str], None]]:
    """A ``progress(done, total, what)`` callback for the library's long loops. The bar is made on the first step,
    so that bad input is answered in one line, not under a drawn bar."""
    bar = None

    def progress(done: int, total: int, _: str) -> None:
        nonlocal bar
        bar = bar or tqdm(total=total, desc=desc, unit=unit)
        bar.update(done - bar.n)
    try:
        yield progress
    finally:
        if bar is not None:
            bar.close()
