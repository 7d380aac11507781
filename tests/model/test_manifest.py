"""assets/manifest.json says what the assets hold, and the assets, the pages' grades and the README agree with it."""
import json
import shutil

import pytest

from lab.grading import verdicts
from model import locations, manifest

README = locations.REPO_ROOT / "README.md"


@pytest.fixture
def shipped(monkeypatch) -> dict:
    monkeypatch.delenv("LAB_ASSETS", raising=False)  # the shipped assets, whatever a lab fixture pointed at before
    return json.loads((locations.assets() / manifest.MANIFEST).read_text())


def test_the_assets_are_what_the_manifest_says(shipped):
    assert manifest.describe(locations.assets()) == {k: v for k, v in shipped.items() if k != "code_version"}, \
        "an asset changed without the manifest: rerun python -m cli.ship --manifest"
    assert list(shipped["checkpoints"]) == list(locations.SHIPPED)
    assert shipped["checkpoints"]["two_stream_attention"]["modes"] == ["on", "bypassed"]


def test_the_pages_grades_are_the_manifests(shipped):
    for name, entry in shipped["checkpoints"].items():
        assert sorted(verdicts.method_grades(name)) == entry["results"]["grading"]["methods"], name


def test_the_readme_quotes_the_shipped_models_metrics(shipped):
    test = shipped["checkpoints"]["two_stream_attention"]["metrics"]["test"]
    assert f"Test {test['war']:.3f} WAR, {test['uar']:.3f} UAR" in README.read_text()


def test_a_changed_asset_shows(tmp_path, shipped):
    assets = tmp_path / "assets"
    shutil.copytree(locations.assets(), assets)
    written = json.loads(manifest.write(assets).read_text())
    assert {k: v for k, v in written.items() if k != "code_version"} == manifest.describe(assets)
    (assets / "results" / "grading" / "two_stream_attention.csv").write_text("method,stream,attention,metric,n\n")
    assert manifest.describe(assets) != {k: v for k, v in written.items() if k != "code_version"}
