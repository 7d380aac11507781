"""Chromium tabs uploading long clips at once, and tabs opening different corpus links at once, against one server:
each is answered (queued or served), a link's tab with its own clip, and the latency row is filled."""
from tests.e2e.browser import BROWSER_TESTS
from tools import loadtest

pytestmark = BROWSER_TESTS


def test_concurrent_browser_uploads_and_corpus_links_are_each_answered(tmp_path):
    clips = loadtest.write_clips(tmp_path / "clips", 2)
    env = loadtest.stand_in_lab(tmp_path, clips, checkpoint=None)
    uploads = loadtest.write_clips(tmp_path / "uploads", 2, seconds=4, size=(640, 480))
    links = loadtest.corpus_links(tmp_path / "corpus", 3)
    rows = loadtest.browser_load(env, uploads, 4, links)
    assert [row["sessions"] for row in rows.values()] == [4, 3]
    for name, row in rows.items():
        assert row["problems"] == [], name
        assert 0 < row["p50"] <= row["p95"] <= row["seconds"] and row["server_peak_mb"] > 100, name
