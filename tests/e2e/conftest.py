"""Fixtures of the browser tests: the tiny lab served by Streamlit, and one Chromium page on it."""
import os

import pytest

from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS, serving
from tests.lab_env import REPO, build_lab_env


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
    with serving(lab_assets) as server:
        yield server.url


@pytest.fixture(scope="module")
def shipped_app_url(lab_assets):
    """The app with the shipped checkpoints, samples and results (and lab_assets' corpus): the What-if test needs a
    model that reads faces, the tour's steps the shipped grades and interventions."""
    with serving({**lab_assets, "LAB_ASSETS": str(REPO / "assets")}) as server:
        yield server.url


@pytest.fixture(scope="module")
def playwright():
    """One Playwright for the module: its sync API cannot run twice at once, and the two browsers below share it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def page(playwright, app_url):
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser.new_page(viewport={"width": 1280, "height": 720})  # the layout's target window
    browser.close()
