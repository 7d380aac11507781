"""A link as the first request of a fresh server and of a new visitor: the entry file frames the page (sidebar, tour)
and the link's picks hold, also after a reload. Its own module, so that its server has served nothing before."""
from tests.e2e.browser import BROWSER_TESTS, SLOW, settle

pytestmark = BROWSER_TESTS


def test_a_deep_link_is_framed_on_a_fresh_server_and_the_tour_survives_a_reload(page, app_url):
    page.goto(f"{app_url}/analyze?tab=Saliency&guided_demo=true")
    box = page.locator(".st-key-tour_box")
    box.get_by_text("step 3 of 9").wait_for(timeout=SLOW)
    settle(page, "deep-link-first-request")
    assert page.locator('[data-testid="stSidebar"]').get_by_text("Checkpoint").count() == 1, "no sidebar"
    assert page.get_by_role("tab", name="Saliency").get_attribute("aria-selected") == "true"
    page.reload()
    box.get_by_text("step 3 of 9").wait_for(timeout=SLOW)
    assert page.get_by_role("tab", name="Saliency").get_attribute("aria-selected") == "true"
    box.get_by_role("button", name="Next: step 4").click()
    box.get_by_text("step 4 of 9").wait_for(timeout=SLOW)
    settle(page, "deep-link-tour-next")
    assert page.get_by_role("tab", name="What if").get_attribute("aria-selected") == "true"
    assert "guided_demo=true" in page.url and "tab=What+if" in page.url.replace("%20", "+")
