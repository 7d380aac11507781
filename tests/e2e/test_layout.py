"""Every page at 1280x720 in Chromium: no chart text under 11 px, every confusion-matrix axis label drawn, no table or
page wider than its place (no horizontal scroll), and each step of the guided demo opens with what it is about in
view."""
from urllib.parse import urlencode

import pytest

from app.tour import STEPS, TOGGLE
from model.config import CLASSES
from tests.e2e.browser import BROWSER_TESTS, SLOW, settle
from tools.browser_bench import idle

pytestmark = BROWSER_TESTS
MIN_PX = 11
IN_VIEW = 100  # px of a tour step's result that must show in the window without scrolling
PAGES = ["", "analyze", "analyze?tab=Saliency", "analyze?tab=Processing+steps", "confusion", "dataset",
         "explanation_quality", "concepts"]

CHART_TEXT = """() => [...document.querySelectorAll('.js-plotly-plot text')]
    .filter(t => t.textContent.trim() && t.getBBox().width > 0 && getComputedStyle(t).display !== 'none'
                 && getComputedStyle(t).visibility !== 'hidden' && (t.style.opacity || '1') !== '0')
    .map(t => [t.textContent.trim(), parseFloat(getComputedStyle(t).fontSize)])"""
WIDER_THAN_THEIR_PLACE = """() => [...document.querySelectorAll(
        '[data-testid="stTable"], [data-testid="stDataFrame"] .dvn-scroller, [data-testid="stMain"]')]
    .filter(e => e.scrollWidth > e.clientWidth + 1)
    .map(e => `${e.dataset.testid || e.className}: ${e.scrollWidth} px in ${e.clientWidth}`)"""
X_LABELS = """() => [...document.querySelectorAll('.js-plotly-plot')]
    .filter(p => p.querySelector('.hm, .heatmaplayer'))
    .map(p => [...p.querySelectorAll('.xtick text')].map(t => t.textContent))"""


@pytest.mark.parametrize("path", PAGES)
def test_page_text_is_readable_and_nothing_is_wider_than_the_window(page, app_url, path):
    page.goto(f"{app_url}/{path}", timeout=SLOW)
    page.wait_for_timeout(300)
    idle(page)
    page.wait_for_timeout(500)  # plotly lays its text out after the script run
    small = [(text, px) for text, px in page.evaluate(CHART_TEXT) if px < MIN_PX]
    assert not small, f"chart text under {MIN_PX} px on /{path}: {small[:10]}"
    assert page.evaluate(WIDER_THAN_THEIR_PLACE) == [], f"horizontal scroll on /{path}"
    for labels in page.evaluate(X_LABELS):
        assert labels == list(CLASSES), f"a class grid on /{path} names only {labels}"


def step_link(step) -> str:
    """The address of a tour step, as the step before it links to it."""
    path = step.page.removeprefix("pages/").removesuffix(".py")
    return f"{'' if path == 'overview' else path}?{urlencode({**step.loads, **step.query, TOGGLE: 'true'})}"


@pytest.mark.parametrize("number", range(1, len(STEPS) + 1))
def test_each_tour_step_opens_with_its_result_in_view(page, shipped_app_url, number):
    step = STEPS[number - 1]
    page.goto(f"{shipped_app_url}/{step_link(step)}", timeout=SLOW)
    page.locator(".st-key-tour_box").get_by_text(f"step {number} of {len(STEPS)}").wait_for(timeout=SLOW)
    result = page.locator(f".st-key-{step.shows}").first
    result.wait_for(timeout=SLOW)
    idle(page)
    page.wait_for_timeout(500)  # plotly and images take their size after the script run
    top = result.bounding_box()["y"]
    window = page.viewport_size["height"]
    settle(page, f"tour-step-{number}")  # a picture of the whole page, also when the step fails
    assert top + IN_VIEW <= window, f"step {number} ({step.title}): {step.shows} starts at y = {top:.0f} px"
