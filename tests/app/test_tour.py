"""The guided demo's steps: they lead through pages and tabs that exist, each says what to look at, and the box
knows which step a page shows and which comes next."""
import re
from types import SimpleNamespace

import pytest

from app import ENTRY, tour
from app.analyze_tabs import TABS
from tests.lab_env import REPO


def app_pages() -> list[str]:
    """The page files app/main.py's st.Page lines name."""
    return re.findall(r'st\.Page\(ui\.page\("([^"]+)"\)', ENTRY.read_text())


def analyze_tabs() -> list[str]:
    """The labels of the Analyze page's tabs, bound to the address bar as ``tab``."""
    return list(TABS)


def test_the_steps_lead_through_pages_and_tabs_that_exist():
    pages = app_pages()
    assert pages and all((REPO / page).is_file() for page in pages)
    for step in tour.STEPS:
        assert step.page in pages, f"{step.title}: {step.page} is not a page of app/main.py"
        assert set(step.query) <= {"tab"} and (not step.query or step.page == "pages/analyze.py")
        assert step.query.get("tab", analyze_tabs()[0]) in analyze_tabs()


def test_the_demo_follows_the_lesson_covers_every_page_and_every_step_says_what_to_look_at():
    assert [(step.page, dict(step.query)) for step in tour.STEPS] == [
        ("pages/overview.py", {}), ("pages/analyze.py", {}), ("pages/analyze.py", {"tab": "Saliency"}),
        ("pages/analyze.py", {"tab": "What if"}), ("pages/analyze.py", {"tab": "Inter-stream attention"}),
        ("pages/confusion.py", {}), ("pages/dataset.py", {}), ("pages/explanation_quality.py", {}),
        ("pages/concepts.py", {})]
    assert {step.page for step in tour.STEPS} == set(app_pages())
    assert all(step.title.strip() and len(step.text.split()) >= 12 for step in tour.STEPS)
    assert "AU12" in tour.STEPS[3].text and len({step.title for step in tour.STEPS}) == len(tour.STEPS)


def test_the_analyze_steps_load_the_sample_their_text_names():
    for step in tour.STEPS[1:5]:
        assert step.loads == {"source": "Shipped sample", "sample": "happy_test_00012"}
        assert (REPO / "assets" / "samples" / f"{step.loads['sample']}.avi").is_file()
    assert "happy_test_00012" in tour.STEPS[1].text


@pytest.mark.parametrize(("page", "values", "expected"), [
    ("pages/overview.py", {}, 0),
    ("pages/analyze.py", {}, 1),
    ("pages/analyze.py", {"tab": "Processing steps", "clip": "x"}, 1),  # another tab: the page's own step
    ("pages/analyze.py", {"tab": "Saliency", "method": "Grad-CAM"}, 2),
    ("pages/analyze.py", {"tab": "What if", "sample": "angry_test_00000"}, 3),  # another clip: the same step
    ("pages/confusion.py", {"tab": "Saliency"}, 5),  # another page's values play no part
    ("pages/explanation_quality.py", {}, 7),
    ("pages/concepts.py", {}, 8),
    (None, {}, None),  # a page the tour skips
])
def test_the_step_a_page_shows(page, values, expected):
    assert tour.current_step(page, values) == expected


def test_the_next_step_goes_on_then_starts_again():
    assert [tour.next_step(i) for i in range(len(tour.STEPS))] == [*range(1, len(tour.STEPS)), 0]
    assert tour.next_step(None) == 0  # from a page the tour skips: back to its start


def test_a_page_is_known_by_its_file():
    """st.Page keeps its resolved script as ``_page`` (outside a script run st.Page builds nothing, hence the
    stand-ins; the app test checks the real one)."""
    assert tour.page_file(SimpleNamespace(_page=REPO / "pages" / "confusion.py")) == "pages/confusion.py"
    assert tour.page_file(SimpleNamespace(_page=ENTRY)) == "app/main.py"
    assert tour.page_file(SimpleNamespace(_page=print)) is None and tour.page_file(object()) is None
