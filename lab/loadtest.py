"""Many sessions at once against one process (``python -m cli.loadtest`` runs them and prints the figures).

Each session analyzes a different clip with its own saliency method and attention setting, all at the same time,
through the same shared model (as st.cache_resource shares it). Every answer must equal the one the same request gets
alone: any cross-talk through the model, hooks or caches shows up as a difference. Measures throughput and peak memory.

Three levels: the lab core in threads (what the pages call), Analyze-page sessions (AppTest) in threads, and with
``browsers`` > 0 real Chromium pages against one ``streamlit run`` server.
"""
from __future__ import annotations

import itertools
import os
import resource
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from lab import analysis, explain, sources
from lab.attribution import fast
from lab.browser_bench import CHROMIUM, CHROMIUM_ARGS
from lab.serve import serving
from model import locations
from model.checkpoint import load_checkpoint, read_config, save_checkpoint
from model.config import CLASSES, ModelConfig, ProcessConfig
from model.corpus import FPS, render_clip
from model.network import TwoStreamNet

TINY_PROCESS = ProcessConfig(frames=8, size=32)
TINY_MODEL = ModelConfig(width=4, attention_dim=8)


@dataclass(frozen=True)
class Request:
    clip: Path
    method: str
    attention: bool


@dataclass
class Answer:
    probabilities: np.ndarray  # (classes, variants)
    rgb: np.ndarray  # the spatial stream's attribution
    flow: np.ndarray  # the temporal stream's attribution


def peak_memory_mb() -> float:
    """This process's peak resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_clips(folder: Path, count: int) -> list[Path]:
    """``count`` different face clips (embedded-corpus renders, MJPG .avi)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        clip = render_clip(0, "Val", index)
        path = folder / f"clip{index}.avi"
        height, width = clip.frames.shape[1:3]
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (width, height))
        for frame in clip.frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        writer.release()
        paths.append(path)
    return paths


def requests_for(clips: list[Path], sessions: int) -> list[Request]:
    """One request per session: clips, methods and attention settings all vary."""
    methods = itertools.cycle(fast())
    return [Request(clips[i % len(clips)], next(methods), i % 2 == 0) for i in range(sessions)]


def answer(model: TwoStreamNet, variants: list[analysis.Variant], request: Request) -> Answer:
    """What the Analyze page computes for one request: the variants' probabilities and the method's attribution."""
    result = analysis.analyze_file(request.clip, variants)
    shown = explain.explain(model, result, request.method, CLASSES.index(result.prediction), request.attention,
                            steps=8)
    return Answer(result.probabilities.to_numpy(), shown.attribution.rgb.numpy(), shown.attribution.flow.numpy())


def differences(alone: list[Answer], together: list[Answer]) -> list[str]:
    """Requests whose concurrent answer differs from their answer alone."""
    return [f"request {i}: {field}" for i, (a, b) in enumerate(zip(alone, together))
            for field in ("probabilities", "rgb", "flow")
            if not np.allclose(getattr(a, field), getattr(b, field), rtol=1e-5, atol=1e-6)]


def core_load(checkpoint: Path, clips: list[Path], sessions: int) -> dict:
    """The lab core: every request alone, then all at once in threads on the one shared model."""
    model, process, _ = load_checkpoint(checkpoint)
    variants = analysis.attention_variants(model, process)
    requests = requests_for(clips, sessions)
    alone = [answer(model, variants, r) for r in requests]
    started = time.perf_counter()
    with ThreadPoolExecutor(sessions) as pool:
        together = list(pool.map(lambda r: answer(model, variants, r), requests))
    seconds = time.perf_counter() - started
    return {"sessions": sessions, "seconds": seconds, "per_minute": 60 * sessions / seconds,
            "mismatches": differences(alone, together)}


def apptest_load(clips: list[Path], sessions: int) -> dict:
    """Analyze-page sessions (AppTest, one per thread, sharing st.cache_resource) with different clips and settings.

    AppTest swaps one process-wide mock Runtime in and out around each script run, so runs of different sessions
    take turns (a lock); the sessions' steps interleave. Truly parallel page runs are the browser level's job.
    """
    from streamlit.testing.v1 import AppTest

    requests = requests_for(clips, sessions)
    problems, turn = [], threading.Lock()

    def step(at: AppTest, widget=None, value=None) -> None:
        with turn:
            (at if widget is None else widget.set_value(value)).run()

    def session(request: Request) -> None:
        try:
            at = AppTest.from_file(str(locations.REPO_ROOT / "app.py"), default_timeout=600)
            step(at)
            step(at.switch_page("pages/analyze.py"))
            step(at, at.radio(key="source"), "Upload a video")
            step(at, at.file_uploader(key="upload"), (request.clip.name, request.clip.read_bytes(), "video/avi"))
            if not request.attention:
                step(at, at.toggle(key="attention"), False)
            at.session_state["tab"] = "Saliency"  # only the open tab runs
            step(at)
            if request.method != at.selectbox(key="method").value:
                step(at, at.selectbox(key="method"), request.method)
            trouble = [e.value for e in (*at.exception, *at.error)]
            if not any(m.label.startswith("Prediction") for m in at.metric):
                trouble.append("no prediction shown")
        except Exception as error:  # noqa: BLE001  (a crashed session is a finding, not the end of the run)
            trouble = [f"{type(error).__name__}: {error}"]
        problems.extend(f"{request.clip.name}/{request.method}: {t}" for t in trouble)

    started = time.perf_counter()
    threads = [threading.Thread(target=session, args=(r,)) for r in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    return {"sessions": sessions, "seconds": seconds, "per_minute": 60 * sessions / seconds, "problems": problems}


def browser_load(clips: list[Path], pages: int, env: dict[str, str]) -> dict:
    """``pages`` Chromium tabs upload different clips to one ``streamlit run`` server at the same time."""
    from playwright.sync_api import sync_playwright

    with serving(env) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        tabs = [browser.new_page() for _ in range(pages)]
        for tab in tabs:
            tab.goto(f"{server.url}/analyze")
            tab.get_by_text("Upload a video").click()
        started = time.perf_counter()
        for i, tab in enumerate(tabs):  # every upload is in flight before the first answer is awaited
            tab.locator('input[type="file"]').set_input_files(str(clips[i % len(clips)]))
        for tab in tabs:
            tab.get_by_text("Prediction (attention on)").wait_for(timeout=600_000)
        seconds = time.perf_counter() - started
        errors = sum(tab.locator('[data-testid="stException"]').count() for tab in tabs)
        browser.close()
        server_mb = server.peak_memory_mb()
    return {"sessions": pages, "seconds": seconds, "per_minute": 60 * pages / seconds, "exceptions": errors,
            "server_peak_mb": server_mb}


def stand_in_lab(folder: Path, clips: list[Path], checkpoint: Path | None) -> dict[str, str]:
    """LAB_* locations for the app: the given (or a tiny random) checkpoint and the clips as samples."""
    target = folder / "assets" / "checkpoints" / sources.ATTENTION_CHECKPOINT
    if checkpoint is None:
        torch.manual_seed(0)
        save_checkpoint(target, TwoStreamNet(TINY_MODEL, TINY_PROCESS).eval(), TINY_PROCESS)
    else:
        target.parent.mkdir(parents=True)
        target.symlink_to(Path(checkpoint).resolve())
    samples = folder / "assets" / "samples"
    samples.mkdir(parents=True)
    for clip in clips:
        (samples / clip.name).symlink_to(clip)
    return {"LAB_ASSETS": str(folder / "assets"), "LAB_RUNS": str(folder / "runs"), "LAB_CACHE": str(folder / "cache"),
            "LAB_DATA": str(folder / "corpus")}


def load_figures(sessions: int = 8, browsers: int = 0, checkpoint: Path | None = None) -> dict[str, dict]:
    """Each level's row (sessions, seconds, per_minute and what went wrong), on stand-in assets in a temporary
    folder: ``checkpoint``, or a tiny random network."""
    if checkpoint is not None:
        read_config(checkpoint)  # a bad checkpoint is answered before any clip is drawn
    with tempfile.TemporaryDirectory(prefix="lab-load-") as folder:
        clips = write_clips(Path(folder) / "clips", min(sessions, 6))
        env = stand_in_lab(Path(folder), clips, checkpoint)
        os.environ.update(env)
        served = Path(env["LAB_ASSETS"]) / "checkpoints" / sources.ATTENTION_CHECKPOINT
        rows = {"core (threads)": core_load(served, clips, sessions),
                "Analyze page (AppTest threads)": apptest_load(clips, sessions)}
        if browsers:
            rows["browser pages (streamlit run)"] = browser_load(clips, browsers, env)
    return rows
