"""What a visitor waits for, in Chromium (``python -m cli.bench_browser`` prints it; a benchmark, not a test).

Serves the lab (``streamlit run app/main.py``, shipped checkpoints and samples) on a free port and times, from the
click to the result on screen, medians over ``repeats`` fresh sessions after one session that warms the server:

    a new session opening Analyze with a shipped sample, everything drawn            <= 2 s
    a method switch to Integrated Gradients, its maps drawn (explained before)       <= 1.5 s
    the same, for a target class nobody explained yet (a first computation)         <= 1.5 s
    a method switch to Grad-CAM, its maps drawn                                      <= 1 s
    a page switch through the sidebar (to a page visited before)                    <= 1 s
    each other page the first time in the session, from the sidebar, its heading drawn <= 1 s
    What if: the smile removed from happy_test_00012, the edited answer              <= 2 s
    an uploaded 10 s 640x480 clip, from the file chosen to the prediction drawn      <= 5 s

and then ``sessions`` visitors opening the same shared link at once, the p95 of their waits (<= 10 s) and how many
saw an error: as Streamlit sessions over the app's websocket (real sessions running the real page, without drawing it:
the server's share), and as Chromium pages (which here share the server's two cores); then the server's peak memory.

Needs Playwright and Debian's Chromium (``make test`` installs both).
"""
from __future__ import annotations

import asyncio
import re
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from model.bench import write_test_clip
from model.config import CLASSES

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu"]
TARGETS = {"open Analyze": 2.0, "switch to Integrated Gradients": 1.5,
           "switch to Integrated Gradients, first time": 1.5, "switch to Grad-CAM": 1.0, "page switch": 1.0,
           "what if: smile removed": 2.0, "upload a 10 s 640x480 clip": 5.0}
FIRST_VISITS = ("Confusion matrices", "Dataset explorer", "Explanation quality", "What the decision depends on")
TARGETS |= {f"first visit: {page}": 1.0 for page in FIRST_VISITS}  # a sidebar label, and the heading it opens
SHARED_LINK_P95 = 10.0
WAIT = 120_000  # ms
PREDICTION = "Prediction (attention on)"


IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'  # Streamlit's own mark of a finished run


def idle(page) -> None:
    """Until the script run is over and lazily loaded elements are drawn."""
    page.wait_for_selector(IDLE, timeout=WAIT)
    page.wait_for_function("!document.querySelector('[data-testid^=\"stSkeleton\"]')", timeout=WAIT)


def timed(page, act, done_text: str | None = None, heading: str | None = None) -> float:
    """Seconds from ``act()`` to ``done_text`` (or the page heading ``heading``) on screen and the run over."""
    started = time.perf_counter()
    act()
    done = page.get_by_role("heading", name=heading) if heading else page.get_by_text(done_text)
    done.first.wait_for(timeout=WAIT)
    idle(page)
    return time.perf_counter() - started


def choose(page, label: str, option: str) -> None:
    page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first.click()
    page.keyboard.type(option)
    page.keyboard.press("Enter")


def one_session(browser, url: str, first_target: str, clip: Path) -> dict[str, float]:
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(url)
    page.get_by_text("Dynamic facial expression recognition, explained").wait_for(timeout=WAIT)
    idle(page)
    nav = page.locator('[data-testid="stSidebarNav"]')
    times = {"open Analyze": timed(page, lambda: nav.get_by_text("Analyze a clip").click(), PREDICTION)}
    page.get_by_role("tab", name="Saliency").first.click()  # the best graded method, for the predicted class
    shown = page.get_by_text(re.compile(r" for \w+, frame \d"))
    shown.first.wait_for(timeout=WAIT)
    idle(page)
    predicted = re.search(r" for (\w+), frame", shown.first.inner_text())[1]
    times["switch to Grad-CAM"] = timed(page, lambda: choose(page, "Method", "Grad-CAM"),
                                        f"Grad-CAM for {predicted}, frame")
    times["switch to Integrated Gradients"] = timed(page, lambda: choose(page, "Method", "Integrated Gradients"),
                                                    f"Integrated Gradients for {predicted}, frame")
    times["switch to Integrated Gradients, first time"] = timed(
        page, lambda: choose(page, "Target class", first_target), f"Integrated Gradients for {first_target}, frame")
    choose(page, "Sample", "happy_test_00012")
    page.get_by_text("Ground truth: Happy").first.wait_for(timeout=WAIT)
    idle(page)
    page.get_by_role("tab", name="What if").first.click()
    smile = page.locator('[data-testid="stSlider"]').filter(has_text="AU12 lip corner puller").get_by_role("slider")
    smile.wait_for(timeout=WAIT)
    idle(page)
    smile.focus()
    times["what if: smile removed"] = timed(page, lambda: smile.press("Home"), "Edited: ")
    page.get_by_role("tab", name="Prediction").first.click()
    idle(page)
    page.locator('[data-testid="stRadio"]').get_by_text("Upload a video").click()
    idle(page)
    times["upload a 10 s 640x480 clip"] = timed(
        page, lambda: page.locator('input[type="file"]').set_input_files(str(clip)), "Reliability checks")
    times["page switch"] = timed(page, lambda: nav.get_by_text("Overview").click(),
                                 "Dynamic facial expression recognition, explained")
    for name in FIRST_VISITS:
        times[f"first visit: {name}"] = timed(page, nav.get_by_text(name).click, heading=name)
    page.close()
    return times


async def _open_shared_link(browser, link: str) -> tuple[float, int]:
    page = await browser.new_page(viewport={"width": 1280, "height": 720})
    started = time.perf_counter()
    await page.goto(link, timeout=600_000, wait_until="commit")
    await page.get_by_text(PREDICTION).first.wait_for(timeout=600_000)
    await page.wait_for_selector(IDLE, timeout=600_000)
    seconds = time.perf_counter() - started
    errors = await page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]').count()
    await page.close()
    return seconds, errors


async def _shared_link(link: str, sessions: int) -> list[tuple[float, int]]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        answers = await asyncio.gather(*(_open_shared_link(browser, link) for _ in range(sessions)))
        await browser.close()
    return answers


def session_figures(url: str, repeats: int = 3) -> dict[str, float]:
    """The median seconds of each of TARGETS over ``repeats`` fresh sessions, after one session that warms the server
    (models loaded, the sample analysed and explained once: what a class's second visitor meets)."""
    from playwright.sync_api import sync_playwright

    # targets nobody explained yet, one per session: not the opening sample's prediction (lab.sources.OPENING_SAMPLE)
    others = [c for c in CLASSES if c != "Happy"]
    with tempfile.TemporaryDirectory(prefix="lab-bench-") as folder, sync_playwright() as playwright:
        clips = [write_test_clip(Path(folder) / f"upload_{i}.mp4", seconds=10.0, seed=1000 + i)  # unlike bytes:
                 for i in range(repeats + 1)]  # each upload is analysed afresh, not found in the shared cache
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        one_session(browser, url, others[-1], clips[-1])
        runs = [one_session(browser, url, others[i % (len(others) - 1)], clips[i]) for i in range(repeats)]
        browser.close()
    return {name: statistics.median(run[name] for run in runs) for name in TARGETS}


async def _protocol_session(url: str, query: str) -> tuple[float, int]:
    """One Streamlit session over the app's own websocket protocol (what the browser's front end sends and receives,
    without drawing): seconds until its script run finished, and 1 if it showed an error or no prediction."""
    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    started = time.perf_counter()
    async with websockets.connect(url.replace("http", "ws", 1) + "/_stcore/stream", subprotocols=["streamlit"],
                                  max_size=None) as socket:
        request = BackMsg()
        request.rerun_script.query_string, request.rerun_script.page_name = query, "analyze"
        await socket.send(request.SerializeToString())
        predicted, failed = False, False
        while True:
            message = ForwardMsg()
            message.ParseFromString(await socket.recv())
            if message.WhichOneof("type") == "script_finished":
                break
            element = message.delta.new_element if message.WhichOneof("type") == "delta" else None
            if element is not None and element.WhichOneof("type") == "exception":
                failed = True
            if element is not None and element.WhichOneof("type") == "metric":
                predicted |= element.metric.label.startswith("Prediction")
    return time.perf_counter() - started, int(failed or not predicted)


async def _protocol_sessions(url: str, query: str, sessions: int) -> list[tuple[float, int]]:
    return await asyncio.gather(*(_protocol_session(url, query) for _ in range(sessions)))


def shared_link_figures(url: str, sessions: int = 30) -> dict[str, tuple[float, int]]:
    """(p95 seconds, sessions with an error) of ``sessions`` sessions opening one shared link at once, a sample no
    session has opened before (the first arrival computes, the others wait for it): as Streamlit sessions over its
    websocket (the server's share of the wait), and as Chromium pages, which on this machine share the server's
    cores with it."""
    figures = {}
    for client, sample, run in (("sessions", "surprise_test_00016", _protocol_sessions),
                                ("Chromium pages", "sad_test_00001", None)):
        query = f"sample={sample}&tab=Saliency"
        answers = asyncio.run(run(url, query, sessions) if run else _shared_link(f"{url}/analyze?{query}", sessions))
        figures[client] = (statistics.quantiles(sorted(s for s, _ in answers), n=20)[-1], sum(e for _, e in answers))
    return figures
