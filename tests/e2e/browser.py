"""What the browser tests share: Debian's Chromium, a Streamlit server on a free port, and waiting for a page.

The fixtures built on these live in conftest.py; every browser test module marks itself with ``BROWSER_TESTS``.
"""
import os
from pathlib import Path

import pytest

from tests.lab_env import REPO
from tools.browser_bench import CHROMIUM, idle
from tools.serve import serving  # noqa: F401 (the test modules take it from here)

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = REPO / "artifacts" / "screenshots"
SLOW = 120_000  # ms: the first prediction loads torch models on a shared 2-core machine

BROWSER_TESTS = [
    pytest.mark.timeout(600),
    pytest.mark.skipif(os.environ.get("CI") != "true" and not Path(CHROMIUM).is_file(),
                       reason="chromium is not installed (apt-get install chromium); CI always runs this test"),
]


def settle(page, name: str) -> None:
    """Wait until the script run is over, check that nothing raised, and keep a screenshot of the whole page."""
    page.wait_for_timeout(300)
    if page.locator('[data-testid="stApp"]').count():  # a Streamlit page (the Gradio demo has its own)
        idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0, f"an exception is shown on {name}"
    whole_page_screenshot(page, SCREENSHOTS / f"{name}.png")


def whole_page_screenshot(page, path: Path) -> None:
    """Streamlit scrolls inside its main block, so a full-page screenshot shows only the window: the window is made
    as tall as the content for the picture, then put back."""
    path.parent.mkdir(parents=True, exist_ok=True)
    window = page.viewport_size
    height = page.evaluate("() => Math.max(...['stMain', 'stSidebarContent'].map(id => "
                           "document.querySelector(`[data-testid=${id}]`)?.scrollHeight || 0))")
    page.set_viewport_size({"width": window["width"], "height": max(window["height"], min(height, 6000))})
    page.wait_for_timeout(300)
    page.screenshot(path=str(path))
    page.set_viewport_size(window)
