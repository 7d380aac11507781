"""The guided demo for a class: numbered steps through the lab, one box at the top of the page while the sidebar's
"Guided demo" toggle is on.

The steps are data (``STEPS``); ``guide(page)``, called by app/main.py before it runs the page, draws the toggle and the
box of the step the page shows. A step names its page by file, as app/main.py's st.Page lines do, and may name widget
values bound to the address bar (the Analyze page's ``tab``), which the way to it sets, so it opens on the right
tab, and values it loads (the sample clip its text names). Which step a page shows is worked out from the page and
its tab, so a shared link, the browser's back button or a click on a tab all land on the right step.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from app import ui
from lab import sources
from model.locations import REPO_ROOT

TOGGLE = "guided_demo"  # the toggle's session-state key: one value for every page


@dataclass(frozen=True)
class Step:
    """One step of the demo: where it is, what it is called, what to look at there."""

    page: str  # the page's file, as app/main.py names it
    title: str
    text: str  # Markdown
    query: Mapping[str, str] = field(default_factory=dict)  # values bound to the address bar, e.g. {"tab": "Saliency"}
    loads: Mapping[str, str] = field(default_factory=dict)  # what the way to it also sets: the clip the text names
    shows: str = ""  # the key of the element its text is about, which opens in view (tests/e2e/test_layout.py)


SAMPLE = {"source": "Shipped sample", "sample": sources.OPENING_SAMPLE}  # the Analyze page's widgets, bound to the URL

STEPS: tuple[Step, ...] = (
    Step("pages/overview.py", "The model and what the ablation says",
         "Read the blue box first: does the inter-stream attention module help on this corpus? Then follow the "
         "diagram from left to right: an appearance stream and a motion stream that ask each other before their "
         "features are fused.", shows="ablation_takeaway"),
    Step("pages/analyze.py", "Analyze one clip",
         "The shipped sample **happy_test_00012** is loaded: a rendered face that smiles. Compare the three "
         "predictions: the model with its attention module on, with it bypassed, and the model trained "
         "without it.", loads=SAMPLE, shows="analyze_answer"),
    Step("pages/analyze.py", "Where the evidence is", "On the **Saliency** tab: which pixels and which moments drove "
         "the decision, for each stream, and which stream carries more of it. The tab opens on the best graded "
         "method; whether a method can be trusted is a later step's question.", {"tab": "Saliency"}, SAMPLE,
         "saliency_maps"),
    Step("pages/analyze.py", "What if the smile were gone?",
         "On the **What if** tab, drag the **AU12** slider (lip corner puller: the smile) to 0. The clip is drawn "
         "again without it: does the prediction leave *Happy*?", {"tab": "What if"}, SAMPLE,
         "whatif-test_00012-AU12"),
    Step("pages/analyze.py", "How the two streams ask each other",
         "On the **Inter-stream attention** tab: which moments of the motion each moment of the face listens to, "
         "and back. Switch the module off above to see what it changes.",
         {"tab": "Inter-stream attention"}, SAMPLE, "attention_view"),
    Step("pages/confusion.py", "Which expressions are confused",
         "Find the largest cell off the diagonal, click it and open one of its clips. Further down: what the module "
         "changes, attention on against off.", shows="confusion_matrices"),
    Step("pages/dataset.py", "What the corpus is made of",
         "Every clip of the embedded corpus is drawn from facial action units (AUs) over time. Play a clip and read "
         "its AU curves: the expression's onset, apex and offset are marked.", shows="class_counts"),
    Step("pages/explanation_quality.py", "Which explanations to trust",
         "Every attribution method graded against the corpus's ground truth: does it point at the facial action "
         "that really happened, is it faithful to the model, does it pass the sanity checks? Trust a saliency map "
         "only as far as its method's grades here.", shows="verdicts"),
    Step("pages/concepts.py", "What the decision depends on",
         "Remove one action unit at a time and draw the clip again: how far the class falls is what the model "
         "really uses. Pick **Happy**: does it depend on AU12? Then compare with what TCAV, a correlational "
         "method, finds.", shows="class_sentences"),
)


def current_step(page: str | None, values: Mapping[str, str], steps: tuple[Step, ...] = STEPS) -> int | None:
    """The index of the step that ``page`` shows with these address-bar ``values``: of the page's steps whose values
    all match, the one that asks for the most (a tab's step over the page's own); None when the tour skips the page."""
    matching = [(len(step.query), -index) for index, step in enumerate(steps)
                if step.page == page and all(values.get(key) == value for key, value in step.query.items())]
    return -max(matching)[1] if matching else None


def next_step(index: int | None, steps: tuple[Step, ...] = STEPS) -> int:
    """The step after ``index``: the first after the last one, and after a page the tour skips."""
    return 0 if index is None or index + 1 >= len(steps) else index + 1


def page_file(page) -> str | None:
    """The file of the st.Page that app/main.py runs, relative to the repository (Streamlit keeps it as ``_page``)."""
    script = getattr(page, "_page", None)
    if not isinstance(script, str | Path):
        return None
    script = Path(script)
    return script.relative_to(REPO_ROOT).as_posix() if script.is_relative_to(REPO_ROOT) else script.name


def _values(keys) -> dict[str, str]:
    """The address bar's values, with the session's for the steps' keys (a tab a step's button has just set reaches
    the address bar only once its page draws it)."""
    values = st.query_params.to_dict()
    values.update({key: st.session_state[key] for key in keys if isinstance(st.session_state.get(key), str)})
    return values


def _link(step: Step, here: str | None, label: str) -> None:
    """The way to ``step``: on this page a button that sets the step's values (a widget bound to the address bar
    takes a value set in the session, not one from a link to its own page); elsewhere a link to its page with them
    (st.switch_page cannot leave a page whose widgets are bound to the address bar)."""
    icon, where = ":material/arrow_forward:", f"Step {STEPS.index(step) + 1} of {len(STEPS)}: {step.title}"
    if step.page != here:
        st.page_link(ui.page(step.page), label=label, icon=icon, help=where,
                     query_params={**step.loads, **step.query, TOGGLE: "true"})
    elif st.button(label, key="tour_next", icon=icon, help=where):
        for key, value in {**step.loads, **step.query}.items():
            st.session_state[key] = value
        st.rerun()


def guide(page) -> None:
    """The sidebar's "Guided demo" toggle and, while it is on, the step box at the top of ``page``."""
    if not st.sidebar.toggle("Guided demo", key=TOGGLE, bind="query-params",
                             help="Numbered steps through the lab for a class: what to look at on each page."):
        return
    here = page_file(page)
    index = current_step(here, _values({key for step in STEPS for key in step.query}))
    following = STEPS[next_step(index)]
    box = st.container(border=True, key="tour_box")
    text, way = box.columns([5, 1], vertical_alignment="center")  # one short box: the step's result stays in view
    if index is None:
        text.markdown("**Guided demo**: this page is not on the tour.")
        label = "Back to step 1"
    else:
        title = STEPS[index].title
        text.markdown(f"**Step {index + 1} of {len(STEPS)}: {title}{'' if title[-1] in '.?!' else '.'}** "
                      f"{STEPS[index].text}")
        label = "Start again" if index + 1 == len(STEPS) else f"Next: step {index + 2}"
    with way:
        _link(following, here, label)
