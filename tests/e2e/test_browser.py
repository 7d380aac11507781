"""The app in a real browser: `streamlit run app.py` on a free port, driven with Playwright and Debian's Chromium.

Screenshots go to artifacts/screenshots/. Runs in CI always (CI=true); elsewhere it skips when chromium is missing.
"""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.lab.lab_env import REPO, build_lab_env

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = REPO / "artifacts" / "screenshots"
SLOW = 120_000  # ms: the first prediction loads torch models on a shared 2-core machine

pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.skipif(os.environ.get("CI") != "true" and not Path(CHROMIUM).is_file(),
                       reason="chromium is not installed (apt-get install chromium); CI always runs this test"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab_assets(tmp_path_factory):
    """A tiny lab; with LAB_E2E_REAL=1 the shipped assets and the embedded corpus in data/corpus instead (that is how
    the README's screenshots are taken: ``LAB_E2E_REAL=1 CI=true pytest tests/e2e``)."""
    root = tmp_path_factory.mktemp("e2e")
    if os.environ.get("LAB_E2E_REAL") == "1":
        return {"LAB_ASSETS": str(REPO / "assets"), "LAB_DATA": str(REPO / "data" / "corpus"),
                "LAB_RUNS": str(root / "runs"), "LAB_CACHE": str(root / "cache")}
    return build_lab_env(root)


@pytest.fixture(scope="module")
def app_url(lab_assets):
    env = {**os.environ, **lab_assets}
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                               "--server.address", "127.0.0.1", "--server.headless", "true"],
                              cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("streamlit did not become healthy in 60 s")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def page(app_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        yield tab
        browser.close()


def settle(page, name: str) -> None:
    """Wait until the script run is over, check that nothing raised, and keep a screenshot."""
    page.wait_for_timeout(500)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=SLOW)
    # Lazily loaded elements (data frames, charts) show a skeleton until their code has arrived and drawn.
    page.wait_for_function("!document.querySelector('[data-testid^=\"stSkeleton\"]')", timeout=SLOW)
    assert page.locator('[data-testid="stException"]').count() == 0, f"an exception is shown on {name}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_every_page_in_a_real_browser(page, app_url, lab_assets):
    page.goto(app_url)
    page.get_by_text("Dynamic facial expression recognition, explained").wait_for(timeout=SLOW)
    settle(page, "overview")

    page.goto(f"{app_url}/analyze")
    page.get_by_text("Upload a video").click()
    sample = sorted((Path(lab_assets["LAB_ASSETS"]) / "samples").glob("*.avi"))[0]
    page.locator('input[type="file"]').set_input_files(str(sample))
    page.get_by_text("Prediction (attention on)").wait_for(timeout=SLOW)
    settle(page, "analyze-prediction")
    page.get_by_text("Inter-stream attention", exact=True).first.click()
    page.get_by_text("Prediction (attention off)").wait_for(timeout=SLOW)
    settle(page, "analyze-attention-off")
    page.get_by_role("tab", name="Saliency").first.click()
    settle(page, "analyze-saliency")
    page.get_by_role("tab", name="Inter-stream attention").first.click()
    settle(page, "analyze-attention")
    page.get_by_role("tab", name="Processing steps").first.click()
    settle(page, "analyze-processing")

    page.goto(f"{app_url}/confusion")
    page.get_by_text("Clips of a cell").wait_for(timeout=SLOW)
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Cell").click()
    page.get_by_role("option").nth(1).click()
    settle(page, "confusion")
    page.get_by_text("Accuracy by condition").click()
    page.get_by_text("Each clip counted once per condition").wait_for(timeout=SLOW)
    settle(page, "confusion-conditions")
    link = page.locator('[data-testid="stPageLink"] a').filter(has_text=".avi").first
    clip = link.inner_text().split(" ")[0]
    link.click()
    page.get_by_text("Prediction (attention on)").wait_for(timeout=SLOW)
    assert "clip=" in page.url and clip.split("/")[-1] in page.url
    settle(page, "analyze-linked-clip")

    page.goto(f"{app_url}/dataset")
    page.get_by_text("Browse").wait_for(timeout=SLOW)
    settle(page, "dataset")

    page.goto(f"{app_url}/explanation_quality")
    page.get_by_role("heading", name="Explanation quality").wait_for(timeout=SLOW)
    settle(page, "explanation-quality")
