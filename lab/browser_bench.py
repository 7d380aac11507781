"""What a visitor waits for, in Chromium (``python -m cli.bench_browser`` prints it; a benchmark, not a test).

Serves the lab (``streamlit run app.py``, shipped checkpoints and samples) on a free port and times, from the click to
the result on screen, medians over ``repeats`` fresh sessions:

    a new session opening Analyze with a shipped sample, prediction drawn    <= 2 s
    a method switch to Integrated Gradients, its figure drawn                <= 1.5 s
    a page switch through the sidebar                                        <= 1 s
    What if: the smile removed from happy_test_00012, the edited answer      <= 2 s (issue 16's counterfactual target)

Needs Playwright and Debian's Chromium (``make test`` installs both).
"""
from __future__ import annotations

import shutil
import statistics
import time

from lab.serve import serving

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TARGETS = {"open Analyze": 2.0, "switch to Integrated Gradients": 1.5, "page switch": 1.0,
           "what if: smile removed": 2.0}
WAIT = 120_000  # ms


def idle(page) -> None:
    """Until the script run is over (Streamlit shows its status widget while it runs)."""
    page.wait_for_timeout(200)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=WAIT)


def one_session(browser, url: str) -> dict[str, float]:
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(url)
    page.get_by_text("Dynamic facial expression recognition, explained").wait_for(timeout=WAIT)
    idle(page)
    times = {}
    started = time.perf_counter()
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Analyze a clip").click()
    page.get_by_text("Prediction (attention on)").wait_for(timeout=WAIT)
    idle(page)
    times["open Analyze"] = time.perf_counter() - started
    page.get_by_role("tab", name="Saliency").first.click()
    idle(page)
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Method").click()
    page.keyboard.type("Integrated Gradients")
    started = time.perf_counter()
    page.keyboard.press("Enter")
    page.get_by_text("Integrated Gradients:").wait_for(timeout=WAIT)  # the status line once the maps are drawn
    idle(page)
    times["switch to Integrated Gradients"] = time.perf_counter() - started
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Sample").click()
    page.keyboard.type("happy_test_00012")
    page.keyboard.press("Enter")
    page.get_by_text("Processed happy_test_00012.avi").wait_for(timeout=WAIT)
    idle(page)
    page.get_by_role("tab", name="What if").first.click()
    idle(page)
    smile = page.locator('[data-testid="stSlider"]').filter(has_text="AU12 lip corner puller").get_by_role("slider")
    smile.wait_for(timeout=WAIT)
    smile.focus()
    started = time.perf_counter()
    smile.press("Home")
    page.get_by_text("Edited: ").first.wait_for(timeout=WAIT)
    idle(page)
    times["what if: smile removed"] = time.perf_counter() - started
    started = time.perf_counter()
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Overview").click()
    page.get_by_text("Dynamic facial expression recognition, explained").wait_for(timeout=WAIT)
    idle(page)
    times["page switch"] = time.perf_counter() - started
    page.close()
    return times


def browser_figures(repeats: int = 3) -> dict[str, float]:
    """The median seconds of each of TARGETS over ``repeats`` fresh sessions, after one session that warms the server
    (models loaded, samples processed once: what a class's second visitor meets)."""
    from playwright.sync_api import sync_playwright

    with serving({}) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        one_session(browser, url)
        runs = [one_session(browser, url) for _ in range(repeats)]
        browser.close()
    return {name: statistics.median(run[name] for run in runs) for name in TARGETS}
