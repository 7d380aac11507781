"""What the browser tests share: Debian's Chromium, a Streamlit server on a free port, and waiting for a page.

The fixtures built on these live in conftest.py; every browser test module marks itself with ``BROWSER_TESTS``.
"""
import os
import shutil
from pathlib import Path

import pytest

from lab.serve import serving  # noqa: F401 (the test modules take it from here)
from tests.lab.lab_env import REPO

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
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
    """Wait until the script run is over, check that nothing raised, and keep a screenshot."""
    page.wait_for_timeout(500)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=SLOW)
    # Lazily loaded elements (data frames, charts) show a skeleton until their code has arrived and drawn.
    page.wait_for_function("!document.querySelector('[data-testid^=\"stSkeleton\"]')", timeout=SLOW)
    assert page.locator('[data-testid="stException"]').count() == 0, f"an exception is shown on {name}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
