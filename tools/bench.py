"""Speed of the lab against its targets, which ``python -m cli.bench_lab`` prints (a benchmark to read, not a test).

    upload -> prediction (3 s 640x480 clip, the whole lineup)   <= 2 s
    each offered method's explanation, both streams, its default steps or samples:
        Integrated Gradients (32 steps) <= 1.5 s, every other method    <= 1 s
    page switch (AppTest, warm)                                         <= 1 s
    first render (AppTest, Analyze page with a sample)                  <= 5 s
    what if: one AU removed, the clip drawn again, analysed             <= 2 s
    what if: every AU of the clip removed in turn                       <= 30 s

Uses the shipped checkpoints when present, otherwise a random-initialised network of the default size (the same
cost). Timings are the median of a few runs; other work on the machine shows up in them.
"""
from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

from app import ENTRY, ui
from lab import analysis, sources, whatif
from lab.attribution import attribute, method_named, offered
from lab.intervene import drawable_clip
from model import locations
from model.bench import median_seconds, write_test_clip
from model.checkpoint import save_checkpoint
from model.config import CLASSES, ModelConfig, ProcessConfig
from model.data.corpus import AUEdit
from model.network import TwoStreamNet
from model.predict import Predictor

EXPLAINED = "explanation: "  # the figure of each method is named this, then the method's name
TARGETS = {"upload -> prediction": 2.0,
           **{f"{EXPLAINED}{name}": 1.5 if method_named(name).has_steps else 1.0 for name in offered()},
           "page switch": 1.0, "first render": 5.0, "what if: one AU": 2.0, "what if: every AU": 30.0}


def bench_core(folder: Path) -> dict[str, float]:
    choices = sources.checkpoint_choices()
    if locations.ATTENTION_CHECKPOINT not in choices:  # stand-in assets, also for the page timings below
        os.environ["LAB_ASSETS"] = str(folder / "assets")
        save_checkpoint(folder / "assets" / "checkpoints" / locations.ATTENTION_CHECKPOINT,
                        TwoStreamNet(ModelConfig(), ProcessConfig()), ProcessConfig())
        (folder / "assets" / "samples").mkdir(parents=True)
        shutil.copy(write_test_clip(folder / "bench.mp4"), folder / "assets" / "samples" / "bench.mp4")
        print("checkpoint: none shipped yet; a random-initialised network of the default size")
        choices = sources.checkpoint_choices()
    predictor = Predictor.load(choices[locations.ATTENTION_CHECKPOINT])
    model, process = predictor.model, predictor.process
    no_module = choices.get(locations.NO_MODULE_CHECKPOINT)
    lineup = analysis.Lineup(predictor, Predictor.load(no_module) if no_module else Predictor(TwoStreamNet(
        ModelConfig(attention="absent"), process).eval(), process))
    data = write_test_clip(folder / "bench.mp4").read_bytes()
    uploads = folder / "uploads"
    analyze = lambda: analysis.analyze_upload(data, "bench.mp4", lineup, uploads)  # noqa: E731
    result = analyze()
    target, rgb, flow = CLASSES.index(result.label), result.prediction.rgb, result.prediction.flow
    figures = {"upload -> prediction": median_seconds(analyze)}
    for name in offered():
        figures[f"{EXPLAINED}{name}"] = median_seconds(partial(attribute, model, rgb, flow, target, name))
    return figures | bench_what_if(lineup)


def bench_what_if(lineup: analysis.Lineup) -> dict[str, float]:
    """The What-if tab on the first shipped sample that the corpus generator can draw again (none: not timed)."""
    drawable = next(((path, clip) for path in sources.sample_clips() if (clip := drawable_clip(path))), None)
    if drawable is None:
        print("what if: no shipped sample can be drawn again (assets/samples/corpus.json missing); not timed")
        return {}
    path, clip = drawable
    first_au = next(name for aus in whatif.present_aus(clip).values() for name, _ in aus)
    predicted = analysis.analyze_file(path, lineup).label
    return {"what if: one AU": median_seconds(lambda: whatif.counterfactual(clip, (AUEdit(first_au),), lineup)),
            "what if: every AU": median_seconds(lambda: whatif.removal_effects(clip, lineup, predicted), repeats=1)}


def bench_pages() -> dict[str, float]:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(ENTRY, default_timeout=120)
    at.run()
    started = time.perf_counter()
    at.switch_page(ui.page("pages/analyze.py")).run()  # first render: model load, a sample analyzed, its saliency
    first = time.perf_counter() - started
    switches = []
    for page in ("pages/overview.py", "pages/analyze.py") * 2:
        started = time.perf_counter()
        at.switch_page(ui.page(page)).run()
        switches.append(time.perf_counter() - started)
    if at.exception:
        print(f"note: the app raised: {at.exception[0].value}")
    return {"page switch": statistics.median(switches), "first render": first}


def lab_figures() -> dict[str, float]:
    """Every figure of TARGETS that can be measured here, in seconds; stand-in assets live in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="lab-bench-") as folder:
        return bench_core(Path(folder)) | bench_pages()
