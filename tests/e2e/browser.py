"""What the browser tests share: Debian's Chromium, a Streamlit server on a free port, and waiting for a page.

The fixtures built on these live in conftest.py; every browser test module marks itself with ``BROWSER_TESTS``.
"""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, seconds: float = 120) -> None:
    """Poll until the server answers: it imports torch and loads a checkpoint first, slow on a shared machine."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"{url} did not answer in {seconds:g} s")


@contextmanager
def serving(locations: dict[str, str], gradio_checkpoint: Path | None = None):
    """`streamlit run app.py` (or the Gradio demo on a checkpoint) with these LAB_* locations on a free port, for as
    long as the block runs."""
    port = free_port()
    if gradio_checkpoint is None:
        command = ["-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address", "127.0.0.1",
                   "--server.headless", "true"]
    else:
        command = ["-m", "lab.gradio_app", "--checkpoint", str(gradio_checkpoint), "--port", str(port)]
    server = subprocess.Popen([sys.executable, *command], cwd=REPO, env={**os.environ, **locations},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/_stcore/health" if gradio_checkpoint is None else f"{url}/")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def settle(page, name: str) -> None:
    """Wait until the script run is over, check that nothing raised, and keep a screenshot."""
    page.wait_for_timeout(500)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=SLOW)
    # Lazily loaded elements (data frames, charts) show a skeleton until their code has arrived and drawn.
    page.wait_for_function("!document.querySelector('[data-testid^=\"stSkeleton\"]')", timeout=SLOW)
    assert page.locator('[data-testid="stException"]').count() == 0, f"an exception is shown on {name}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
