"""Every page at 1280x720 in Chromium: no chart text under 11 px, every confusion-matrix axis label drawn, no table or
page wider than its place (no horizontal scroll)."""
import pytest

from model.config import CLASSES
from tests.e2e.browser import BROWSER_TESTS, SLOW
from tools.browser_bench import idle

pytestmark = BROWSER_TESTS
MIN_PX = 11
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
