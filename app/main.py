"""The explainability lab: `python -m streamlit run app/main.py` from the repository. Pages only lay out widgets; the
logic is in lab/.

This file is the frame around every page: it draws the sidebar, then runs the page, which reads the sidebar's pick
with app.ui.selection(). A new page is its file in pages/ and one st.Page line below.

It lives in app/, not beside pages/: Streamlit takes a pages/ folder beside the entry file for its older multipage
layout, and then runs a session's first page, or a deep link on a fresh server, without this frame.
"""
import streamlit as st

from app import tour, ui
from model.locations import REPO_ROOT

# A local favicon: a Material icon would be fetched from fonts.gstatic.com, which an offline classroom lacks.
st.set_page_config(page_title="Expression explainability lab", page_icon=REPO_ROOT / "assets/favicon.png",
                   layout="wide")

LAB_PAGES = [
    st.Page(ui.page("pages/overview.py"), title="Overview", icon=":material/explore:", default=True),
    st.Page(ui.page("pages/analyze.py"), title="Analyze a clip", icon=":material/search:"),
    st.Page(ui.page("pages/confusion.py"), title="Confusion matrices", icon=":material/grid_on:"),
    st.Page(ui.page("pages/dataset.py"), title="Dataset explorer", icon=":material/movie:"),
]
EXPLANATION_PAGES = [
    st.Page(ui.page("pages/explanation_quality.py"), title="Explanation quality", icon=":material/rule:"),
    st.Page(ui.page("pages/concepts.py"), title="What the decision depends on", icon=":material/science:"),
]
# Less empty space above each page, so that Analyze's tabs and their content fit a 1280x720 window.
st.html("<style>[data-testid='stMainBlockContainer'] {padding-top: 2.5rem;}</style>")
ui.sidebar()
page = st.navigation({"Lab": LAB_PAGES, "Explanations": EXPLANATION_PAGES})
tour.guide(page)  # the sidebar's "Guided demo" toggle and, while it is on, this page's step
page.run()
