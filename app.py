"""The explainability lab: `streamlit run app.py`. Pages only lay out widgets; the logic is in lab/."""
import streamlit as st

st.set_page_config(page_title="Expression explainability lab", page_icon=":material/sentiment_satisfied:", layout="wide")

LAB_PAGES = [
    st.Page("pages/overview.py", title="Overview", icon=":material/explore:", default=True),
    st.Page("pages/analyze.py", title="Analyze a clip", icon=":material/search:"),
    st.Page("pages/confusion.py", title="Confusion matrices", icon=":material/grid_on:"),
    st.Page("pages/dataset.py", title="Dataset explorer", icon=":material/movie:"),
]
# The "Explanation quality" page (lab/quality*.py, lab/grade.py) goes in this section:
# st.Page("pages/quality.py", title="Explanation quality", icon=":material/rule:")
EXPLANATION_PAGES: list = []

sections = {"Lab": LAB_PAGES}
if EXPLANATION_PAGES:
    sections["Explanations"] = EXPLANATION_PAGES
st.navigation(sections).run()  # every page draws the sidebar itself (lab.ui.sidebar)
