"""Many sessions at once against one process (``python -m cli.loadtest`` runs them and prints the figures).

Each session analyzes a different clip with its own saliency method and attention setting, all at the same time,
through the same shared model (as st.cache_resource shares it). Every answer must equal the one the same request gets
alone: any cross-talk through the model, hooks or caches shows up as a difference. Measures throughput and peak memory.

Three levels: the lab core in threads (what the pages call), Analyze-page sessions (AppTest) in threads, and real
Chromium tabs against one ``streamlit run`` server: long uploads all at once (the admission line queues them), and
corpus links all at once (each must show its own clip). The browser levels report latency percentiles and the
server's peak memory.
"""
from __future__ import annotations

import asyncio
import itertools
import os
import resource
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import cv2
import numpy as np
import torch

from app import ENTRY, ui
from lab import analysis, explain
from lab.attribution import fast
from model import locations
from model.checkpoint import read_config, save_checkpoint
from model.config import CLASSES, AttentionMode, ModelConfig, ProcessConfig
from model.data.corpus import FPS, render_clip, write_corpus
from model.network import TwoStreamNet
from model.predict import Predictor
from tools.browser_bench import CHROMIUM, CHROMIUM_ARGS
from tools.serve import serving

TINY_PROCESS = ProcessConfig(frames=8, size=32)
TINY_MODEL = ModelConfig(width=4, attention_dim=8)


@dataclass(frozen=True)
class Request:
    clip: Path
    method: str
    attention: AttentionMode


@dataclass
class Answer:
    probabilities: np.ndarray  # (classes, lineup columns)
    rgb: np.ndarray  # the spatial stream's attribution
    flow: np.ndarray  # the temporal stream's attribution


def peak_memory_mb() -> float:
    """This process's peak resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_clips(folder: Path, count: int, seconds: float | None = None,
                size: tuple[int, int] | None = None) -> list[Path]:
    """``count`` different face clips (embedded-corpus renders, MJPG .avi); with ``seconds``, each render is played
    forth and back to that length, and with ``size`` (width, height) it is scaled to it (a long upload)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        frames = render_clip(0, "Val", index).frames
        if size is not None:
            frames = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_LINEAR) for f in frames])
        if seconds is not None:
            loop = np.concatenate([frames, frames[::-1]])
            frames = np.resize(loop, (round(seconds * FPS), *loop.shape[1:]))
        path = folder / f"clip{index}.avi"
        height, width = frames.shape[1:3]
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (width, height))
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        writer.release()
        paths.append(path)
    return paths


def requests_for(clips: list[Path], sessions: int) -> list[Request]:
    """One request per session: clips, methods and attention settings all vary."""
    methods = itertools.cycle(fast())
    modes = itertools.cycle((AttentionMode.ON, AttentionMode.BYPASSED))
    return [Request(clips[i % len(clips)], next(methods), next(modes)) for i in range(sessions)]


def answer(lineup: analysis.Lineup, request: Request) -> Answer:
    """What the Analyze page computes for one request: the lineup's probabilities and the method's attribution."""
    result = analysis.analyze_file(request.clip, lineup)
    shown = explain.explain(lineup.predictor.model, result.prediction, request.method, CLASSES.index(result.label),
                            request.attention, steps=8)
    return Answer(result.probabilities.to_numpy(), shown.attribution.rgb.numpy(), shown.attribution.flow.numpy())


def differences(alone: list[Answer], together: list[Answer]) -> list[str]:
    """Requests whose concurrent answer differs from their answer alone."""
    return [f"request {i}: {field}" for i, (a, b) in enumerate(zip(alone, together))
            for field in ("probabilities", "rgb", "flow")
            if not np.allclose(getattr(a, field), getattr(b, field), rtol=1e-5, atol=1e-6)]


def core_load(checkpoint: Path, clips: list[Path], sessions: int) -> dict:
    """The lab core: every request alone, then all at once in threads on the one shared model."""
    lineup = analysis.Lineup(Predictor.load(checkpoint))
    requests = requests_for(clips, sessions)
    alone = [answer(lineup, r) for r in requests]
    started = time.perf_counter()
    with ThreadPoolExecutor(sessions) as pool:
        together = list(pool.map(lambda r: answer(lineup, r), requests))
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
            at = AppTest.from_file(str(ENTRY), default_timeout=600)
            step(at)
            step(at.switch_page(ui.page("pages/analyze.py")))
            step(at, at.radio(key="source"), "Upload a video")
            step(at, at.file_uploader(key="upload"), (request.clip.name, request.clip.read_bytes(), "video/avi"))
            if request.attention is AttentionMode.BYPASSED:
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


@dataclass
class TabOutcome:
    seconds: float  # from the tab's request to its answer (or its refusal)
    answered: bool
    queued: bool  # it was told its place in line on the way
    own_clip: bool = True  # a corpus link's tab shows the linked clip


ANSWERED, QUEUED = "Prediction (attention on)", "ahead of yours"


async def _until_answered(tab, started: float) -> TabOutcome:
    """Poll the tab until its prediction (or a refusal) is on screen, noting whether it was told its queue place."""
    queued = False
    while time.perf_counter() - started < 900:
        if await tab.get_by_text(ANSWERED).count():
            return TabOutcome(time.perf_counter() - started, True, queued)
        if await tab.locator('[data-testid="stAlertContentError"]').count():
            return TabOutcome(time.perf_counter() - started, False, queued)
        queued = queued or await tab.get_by_text(QUEUED).count() > 0
        await asyncio.sleep(0.2)
    return TabOutcome(time.perf_counter() - started, False, queued)


async def new_tab(browser):
    """A tab whose every wait allows for a loaded machine (Playwright's default is 30 s)."""
    tab = await browser.new_page()
    tab.set_default_timeout(600_000)
    tab.set_default_navigation_timeout(600_000)
    return tab


async def _uploads(browser, url: str, clips: list[Path], count: int) -> list[TabOutcome]:
    """``count`` tabs made ready to upload one after another (30 pages loading at once swamp two cores), then every
    upload in flight at once."""
    async def ready():
        tab = await new_tab(browser)
        await tab.goto(f"{url}/analyze")
        await tab.get_by_text("Upload a video").click()
        await tab.locator('input[type="file"]').wait_for(state="attached")
        return tab

    async def upload(tab, clip: Path) -> TabOutcome:
        started = time.perf_counter()
        await tab.locator('input[type="file"]').set_input_files(str(clip))
        return await _until_answered(tab, started)

    tabs = [await ready() for _ in range(count)]
    return await asyncio.gather(*(upload(tab, clips[i % len(clips)]) for i, tab in enumerate(tabs)))


async def _links(browser, url: str, links: list[str]) -> list[TabOutcome]:
    """One tab per corpus link, all opened at once; each must show its own clip."""
    async def open_link(link: str) -> TabOutcome:
        tab = await new_tab(browser)
        split = link.split("/", 1)[0]
        started = time.perf_counter()
        await tab.goto(f"{url}/analyze?{urlencode({'clip': link, 'split': split})}")
        outcome = await _until_answered(tab, started)
        shown = await tab.locator('[data-testid="stSelectbox"]').evaluate_all(
            "boxes => boxes.map(box => box.innerText + ' ' + [...box.querySelectorAll('input')].map(i => i.value))")
        outcome.own_clip = f"Corpus clip {link}" in shown
        return outcome

    return await asyncio.gather(*map(open_link, links))


def browser_load(env: dict[str, str], clips: list[Path], uploads: int, links: list[str]) -> dict[str, dict]:
    """Real Chromium tabs against one ``streamlit run`` server: ``uploads`` tabs upload clips at the same time, then
    one tab per corpus link opens it at the same time."""
    from playwright.async_api import async_playwright

    async def drive() -> dict[str, list[TabOutcome]]:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            outcomes = {}
            if uploads:
                outcomes["browser uploads (streamlit run)"] = await _uploads(browser, server.url, clips, uploads)
            if links:
                outcomes["browser corpus links (streamlit run)"] = await _links(browser, server.url, links)
            await browser.close()
            return outcomes

    with serving(env) as server:
        outcomes = asyncio.run(drive())
        server_mb = server.peak_memory_mb()
    return {name: latency_row(tabs, server_mb) for name, tabs in outcomes.items()}


def latency_row(tabs: list[TabOutcome], server_mb: float) -> dict:
    """A browser level's row: latencies (p50, p95, max) and what went wrong."""
    seconds = np.array([t.seconds for t in tabs])
    problems = [f"tab {i}: " + ("not answered" if not t.answered else "shows another clip")
                for i, t in enumerate(tabs) if not (t.answered and t.own_clip)]
    return {"sessions": len(tabs), "seconds": float(seconds.max()), "per_minute": 60 * len(tabs) / seconds.max(),
            "p50": float(np.percentile(seconds, 50)), "p95": float(np.percentile(seconds, 95)),
            "queued": sum(t.queued for t in tabs), "problems": problems, "server_peak_mb": server_mb}


def stand_in_lab(folder: Path, clips: list[Path], checkpoint: Path | None) -> dict[str, str]:
    """LAB_* locations for the app: the given (or a tiny random) checkpoint and the clips as samples."""
    target = folder / "assets" / "checkpoints" / locations.ATTENTION_CHECKPOINT
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


def load_figures(sessions: int = 8, uploads: int = 0, upload_seconds: float = 20.0, links: int = 0,
                 checkpoint: Path | None = None) -> dict[str, dict]:
    """Each level's row (sessions, seconds, per_minute and what went wrong; latencies and server memory for the
    browser levels), on stand-in assets in a temporary folder: ``checkpoint``, or a tiny random network. The browser
    uploads are ``upload_seconds`` long at 640x480; the corpus links open clips of a small generated corpus."""
    if checkpoint is not None:
        read_config(checkpoint)  # a bad checkpoint is answered before any clip is drawn
    with tempfile.TemporaryDirectory(prefix="lab-load-") as folder:
        folder = Path(folder)
        clips = write_clips(folder / "clips", min(sessions, 6))
        env = stand_in_lab(folder, clips, checkpoint)
        os.environ.update(env)
        served = Path(env["LAB_ASSETS"]) / "checkpoints" / locations.ATTENTION_CHECKPOINT
        rows = {"core (threads)": core_load(served, clips, sessions),
                "Analyze page (AppTest threads)": apptest_load(clips, sessions)}
        if uploads or links:
            long_clips = write_clips(folder / "uploads", uploads, upload_seconds, (640, 480))  # all different
            rows.update(browser_load(env, long_clips, uploads, corpus_links(Path(env["LAB_DATA"]), links)))
    return rows


def corpus_links(corpus: Path, count: int) -> list[str]:
    """``count`` different clips of a small embedded corpus written at ``corpus``, as the Analyze page links them."""
    if not count:
        return []
    write_corpus(corpus, scale=max(0.001, count / 1809), workers=1, progress=False)
    return sorted(str(p.relative_to(corpus)) for p in corpus.glob("*/*/*.avi"))[:count]
