"""Every location moves with its environment variable, read when asked; unset, it is the repository's folder."""
import pytest

from model import locations
from model.config import ProcessConfig
from model.data.clipset import load_clipset
from model.data.datasets import ClipRecord
from model.data.processing import cache_path
from tests.model.data.test_video import face_frames, write_avi

MOVED_BY = {  # location -> (its variable, the folder it is in the repository)
    locations.assets: ("LAB_ASSETS", "assets"),
    locations.results: ("LAB_RESULTS", "assets/results"),
    locations.corpus: ("LAB_DATA", "data/corpus"),
    locations.realfaces: ("REALFACES_DATA", "data/realfaces"),
    locations.realfaces_downloads: ("REALFACES_DOWNLOADS", "data/realfaces-src"),
    locations.realfaces_node_modules: ("REALFACES_NODE_MODULES", "data/realfaces-src/node_modules"),
    locations.processing_cache: ("LAB_CACHE", "cache"),
    locations.runs: ("LAB_RUNS", "runs"),
    locations.weights: ("LAB_WEIGHTS", "weights"),
}


@pytest.mark.parametrize("location", MOVED_BY, ids=lambda f: f.__name__)
def test_each_variable_moves_its_location(location, tmp_path, monkeypatch):
    variable, in_repository = MOVED_BY[location]
    monkeypatch.setenv(variable, str(tmp_path / "moved"))
    assert location() == tmp_path / "moved"
    for unset, _ in MOVED_BY.values():  # a session fixture may have moved the folder this one lies in
        monkeypatch.delenv(unset, raising=False)
    assert location() == locations.REPO_ROOT / in_repository


def test_what_lies_inside_a_location_follows_it(tmp_path, monkeypatch):
    monkeypatch.delenv("LAB_RESULTS", raising=False)
    monkeypatch.setenv("LAB_ASSETS", str(tmp_path / "assets"))
    monkeypatch.setenv("LAB_CACHE", str(tmp_path / "cache"))
    assert locations.results() == tmp_path / "assets" / "results"
    assert locations.default_checkpoint() == tmp_path / "assets" / "checkpoints" / "two_stream_attention"
    assert locations.realfaces_manifest() == tmp_path / "assets" / "realfaces" / "manifest.json"
    assert locations.lab_cache() == tmp_path / "cache" / "lab"


def test_the_tests_write_into_their_own_folders():
    """tests/conftest.py moved every written location before any test ran."""
    for location in (locations.corpus, locations.processing_cache, locations.runs, locations.realfaces):
        assert not location().is_relative_to(locations.REPO_ROOT), location.__name__


def test_the_processing_cache_follows_the_cache_variable(tmp_path, monkeypatch):
    video = tmp_path / "face.avi"
    write_avi(video, face_frames(count=12, face=90)[0])
    config = ProcessConfig(frames=4, size=32)
    monkeypatch.setenv("LAB_CACHE", str(tmp_path / "moved cache"))
    load_clipset([ClipRecord(video, None, "Test")], config, workers=1, progress=False)  # the default cache
    entry = cache_path(video, config, tmp_path / "moved cache")
    assert [p.name for p in (tmp_path / "moved cache").iterdir()] == [entry.name]
