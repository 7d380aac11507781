"""Eight sessions at once through one process give exactly the answers they get alone (no cross-talk through the
shared model, Captum's hooks or the caches), and every Analyze-page session completes without an error (the Chromium
levels: tests/e2e/test_load_browser.py)."""
import pytest

from tools import loadtest

pytestmark = pytest.mark.timeout(400)
SESSIONS = 8


@pytest.fixture(scope="module")
def load_lab(tmp_path_factory):
    folder = tmp_path_factory.mktemp("load")
    clips = loadtest.write_clips(folder / "clips", 4)
    env = loadtest.stand_in_lab(folder, clips, checkpoint=None)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        yield clips, env


def test_concurrent_core_requests_equal_their_answers_alone(load_lab):
    clips, env = load_lab
    checkpoint = loadtest.Path(env["LAB_ASSETS"]) / "checkpoints" / "two_stream_attention"
    row = loadtest.core_load(checkpoint, clips, SESSIONS)
    assert row["mismatches"] == []


def test_concurrent_analyze_page_sessions_all_complete(load_lab):
    clips, _ = load_lab
    row = loadtest.apptest_load(clips, SESSIONS)
    assert row["problems"] == []

