"""Every page of the Streamlit app, headless (AppTest), on the tiny lab: it renders, reacts, and never raises."""
import json
import tempfile

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from app import ENTRY, ui
from lab import glossary, sources
from lab.admission import Admission
from model import locations
from model.ablation import BYPASSED_ROW, VARIANTS
from model.config import CLASSES, AttentionMode
from model.predict import Predictor
from tests.app.test_gradio_app import curve_values

pytestmark = pytest.mark.timeout(300)


def open_page(page: str, **query) -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=120)
    at.query_params.update(query)
    at.run()
    at.switch_page(ui.page(page)).run()
    assert not at.exception, at.exception
    return at


def metric(at: AppTest, label_start: str) -> str:
    return next(m.value for m in at.metric if m.label.startswith(label_start))


def test_overview_shows_architecture_model_card_and_ablation(lab_env):
    at = open_page("pages/overview.py")
    glossary = next(e for e in at.sidebar.expander if e.label == "Glossary")  # on every page: the frame draws it
    for term in ("AU (action unit)", "WAR", "UAR", "Optical flow (Farneback)", "Deletion and insertion (RISE)", "TCAV",
                 "Randomization check"):  # the terms of art the pages use
        assert f"**{term}**" in glossary.markdown[0].value
    dot = at.get("graphviz_chart")[0].proto.spec  # the checkpoint's own architecture, module included
    assert "Inter-stream attention" in dot and "Per-stream classifiers" in dot
    assert "two_stream_attention" in at.dataframe[0].value["checkpoint"].tolist()
    shown = at.table[0].value.reset_index()  # from model.ablation's table of lab_env's ABLATION_RUNS
    assert shown.to_dict("records") == [
        {"model": VARIANTS["temporal"][0], "seeds": "1 seed", "Test WAR": "0.500", "Test UAR": "0.400"},  # no "±"
        {"model": VARIANTS["two_stream_attention"][0], "seeds": "2 seeds", "Test WAR": "0.850 ± 0.071",
         "Test UAR": "0.750 ± 0.071"},
        {"model": BYPASSED_ROW, "seeds": "2 seeds", "Test WAR": "0.600 ± 0.141", "Test UAR": "0.600 ± 0.000"},
    ]
    assert not any("Does the inter-stream attention module help" in i.value for i in at.info), \
        "no takeaway: lab_env's table has no model trained without the module"


@pytest.mark.parametrize("page, term", [("pages/analyze.py", "Reliability panel"), ("pages/confusion.py", "UAR"),
                                        ("pages/dataset.py", "AU (action unit)"),
                                        ("pages/explanation_quality.py", "Randomization check"),
                                        ("pages/concepts.py", "TCAV")])
def test_each_page_opens_with_a_sentence_whose_help_explains_its_terms(lab_env, page, term):
    at = open_page(page, **({"source": "Shipped sample"} if page == "pages/analyze.py" else {}))
    opening = at.main.caption[0]
    assert opening.proto.help.count("- **") >= 2, f"{page}: its opening sentence has no help for its terms"
    assert f"**{term}**: {glossary.TERMS[term]}" in opening.proto.help


def page_text(at: AppTest) -> str:
    """Every text the page shows (markdown, captions, notes, metrics)."""
    parts = [e.value for kind in ("markdown", "caption", "info", "warning", "error", "success") for e in at.get(kind)]
    return "\n".join([*map(str, parts), *(m.value for m in at.metric)])


def upload(at: AppTest, name: str, data: bytes) -> None:
    at.radio(key="source").set_value("Upload a video").run()
    at.file_uploader(key="upload").set_value((name, data, "video/x-msvideo")).run()
    assert not at.exception and not at.error


def test_a_fresh_analyze_page_opens_on_a_sample_the_shipped_model_reads_right(lab_env, monkeypatch):
    monkeypatch.setenv("LAB_ASSETS", str(locations.REPO_ROOT / "assets"))
    at = open_page("pages/analyze.py")
    opening = at.selectbox(key="sample").value
    assert opening.stem == sources.OPENING_SAMPLE
    assert metric(at, "Prediction (attention on)") == opening.stem.split("_")[0].capitalize()


def test_the_same_bytes_uploaded_in_two_sessions_keep_their_own_names(lab_env):
    data = sources.sample_clips()[0].read_bytes()
    first, second = open_page("pages/analyze.py"), open_page("pages/analyze.py")
    upload(first, "private_interview_17.avi", data)
    upload(second, "mine.avi", data)  # the shared analysis of the first session's upload
    assert "Clip: mine.avi" in page_text(second) and "private_interview" not in page_text(second)
    assert "Clip: private_interview_17.avi" in page_text(first)


def test_a_full_line_is_said_in_one_line_and_the_page_stays_usable(lab_env, monkeypatch):
    full = Admission(workers=1, max_waiting=0)
    monkeypatch.setattr(ui, "ADMISSION", full)
    with full.slot():  # another session's clip holds the only slot
        at = open_page("pages/analyze.py")
    assert [e.value for e in at.error] == ["The lab is busy (1 clip ahead of yours): try again in a minute."]
    monkeypatch.setattr(ui, "ADMISSION", Admission(workers=1))
    at.run()
    assert not at.error and metric(at, "Prediction (attention on)")


def test_analyze_upload_attention_switch_and_methods(lab_env, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the upload's private folder goes
    at = open_page("pages/analyze.py")
    sample = sources.sample_clips()[0]
    upload(at, sample.name, sample.read_bytes())
    assert metric(at, "Prediction (attention on)") in ("Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad",
                                                       "Surprise")
    assert not list(tmp_path.iterdir()), "uploads are deleted after processing"
    notes = [box.value for box in [*at.info, *at.warning] if "in the face crops alone" in box.value]
    library = Predictor.load(sources.checkpoint_choices()["two_stream_attention"]).predict_file(sample).to_dict()
    assert notes == [library["real_face"]["note"]], "the real-face networks' own reading, as cli.predict says it"
    at.toggle(key="attention").set_value(False).run()
    modes = Predictor.load(sources.checkpoint_choices()["two_stream_attention"]).predict_file(sample).probabilities
    assert metric(at, "Prediction (attention bypassed)") == CLASSES[int(modes[AttentionMode.BYPASSED].argmax())]
    charts = at.get("plotly_chart")
    drawn = {trace["name"]: curve_values(trace["y"]) for trace in json.loads(charts[0].proto.spec)["data"]}
    for mode in (AttentionMode.ON, AttentionMode.BYPASSED):  # the bars are the library's, mode by mode
        np.testing.assert_allclose(drawn[mode.label], modes[mode], atol=1e-6)
    assert np.abs(modes[AttentionMode.ON] - modes[AttentionMode.BYPASSED]).max() > 0.01, "the switch shows"
    assert len(charts) == 2, "only the open tab runs: the probabilities and the real-face networks' frames"
    at.session_state["tab"] = "Saliency"
    at.run()
    for method in ("Integrated Gradients", "Temporal occlusion"):
        at.selectbox(key="method").set_value(method).run()
        assert not at.exception
        assert float(metric(at, "Spatial").rstrip("%")) + float(
            metric(at, "Temporal").rstrip("%")) == pytest.approx(100, abs=1)
    at.toggle(key="as_video").set_value(True).run()
    assert at.get("video"), "the overlay video is shown on request"
    at.multiselect(key="compare").set_value(["Grad-CAM"]).run()
    captions = [caption for image in at.get("image") for caption in image.captions]
    assert sum(c.startswith("Grad-CAM for ") for c in captions) == 1, "a second method side by side"
    at.session_state["tab"] = "Inter-stream attention"
    at.run()
    at.radio(key="direction").set_value("temporal_to_spatial").run()
    at.selectbox(key="query_region").set_value((0, 0)).run()
    assert not at.exception


def test_analyze_bad_upload_is_one_line_error_and_app_stays_usable(lab_env):
    at = open_page("pages/analyze.py")
    at.radio(key="source").set_value("Upload a video").run()
    at.file_uploader(key="upload").set_value(("broken.mp4", b"not a video at all", "video/mp4")).run()
    assert not at.exception
    assert len(at.error) == 1 and "\n" not in at.error[0].value
    at.radio(key="source").set_value("Shipped sample").run()
    assert not at.exception and metric(at, "Prediction (attention on)") in CLASSES


def test_sidebar_choice_survives_a_page_switch(lab_env):
    at = open_page("pages/overview.py")
    at.selectbox(key="checkpoint").set_value("two_stream_no_attention").run()
    at.switch_page(ui.page("pages/analyze.py")).run()
    assert at.selectbox(key="checkpoint").value == "two_stream_no_attention"
    assert metric(at, "Prediction (no attention module)") in CLASSES  # the one mode of a model without it
    assert not at.exception


def test_typed_corpus_folder_survives_the_embedded_corpus_and_a_page_switch(lab_env, tmp_path):
    at = open_page("pages/dataset.py")
    at.radio(key="data_source").set_value("A corpus folder").run()
    at.text_input(key="data_path").input(str(tmp_path / "nowhere")).run()
    at.radio(key="data_source").set_value("Embedded corpus").run()
    at.switch_page(ui.page("pages/overview.py")).run()
    at.switch_page(ui.page("pages/dataset.py")).run()
    assert not at.error
    at.radio(key="data_source").set_value("A corpus folder").run()
    assert at.text_input(key="data_path").value == str(tmp_path / "nowhere")
    assert len(at.error) == 1 and "not a folder" in at.error[0].value


def test_analyze_opens_a_linked_corpus_clip(lab_env):
    at = open_page("pages/analyze.py", clip="Val/Happy/" + sources.sample_clips()[0].name, split="Val")
    assert at.radio(key="source").value == "Corpus clip"
    assert not at.error and metric(at, "Prediction")


def test_what_if_draws_the_sample_again_with_an_action_unit_removed(lab_env):
    at = open_page("pages/analyze.py")
    headlines = [alert.value for alert in [*at.success, *at.warning]]
    assert any(h.startswith("Ground truth: **Happy**") for h in headlines), headlines  # the sample's own label
    assert not any("✗ wrong" in alert.value for alert in at.success), "a wrong answer is never shown in green"
    at.session_state["tab"] = "What if"
    at.run()
    assert any("Original:" in c.value for c in at.caption)
    smile = next(s for s in at.slider if s.label.startswith("AU12"))
    smile.set_value(0).run()
    assert not at.exception
    assert any(c.value.startswith("Edited:") for c in at.caption)
    assert next(m for m in at.metric if m.label.endswith("after the edit")).delta.endswith(" points")
    videos = at.get("video")
    assert len(videos) == 2 and all(v.proto.autoplay and v.proto.loop for v in videos), "both play together"
    at.toggle(key="whatif_difference").set_value(True).run()
    assert any(i.proto.imgs[0].caption.startswith("Original (top), edited (middle)") for i in at.get("image"))
    charts = len(at.get("plotly_chart"))
    at.button(key="whatif_removals").click().run()
    assert not at.exception and len(at.get("plotly_chart")) == charts + 1  # the effect of each AU removed


def test_the_decision_page_compares_interventions_tcav_and_the_recipe(lab_env):
    at = open_page("pages/concepts.py")
    assert any("No precomputed results" in i.value for i in at.info)  # and it says how to compute them
    tcav = pd.DataFrame({"layer": ["spatial", "temporal", "fusion"], "module": "m", "class": "Happy",
                         "concept": "AU12", "tcav_score": 0.9, "magnitude": 0.2, "p_value": 0.01, "significant": True})
    dependence = pd.DataFrame({"label": "Happy", "attention": ["on", "bypassed"], "target": "AU12", "drop": 0.8,
                               "changes": 0.9, "clips": 12})
    for kind, table in (("concepts", tcav), ("interventions", dependence)):
        path = sources.results_file(kind, "two_stream_attention")
        path.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(path, index=False)
    at = open_page("pages/concepts.py")
    shown = at.dataframe[0].value
    assert shown["action unit"].tolist() == ["AU12 lip corner puller"] and shown["in the recipe"].tolist() == ["core"]
    assert shown["TCAV, fusion"].tolist() == ["rises"]
    assert metric(at, "TCAV after the attention module") == "100% found"
    assert any(m.value.startswith("- **Happy** depends most on AU12 lip corner puller (80% lost") for m in at.markdown)


def test_confusion_matrices_cells_link_to_analyze(lab_env):
    at = open_page("pages/confusion.py")
    assert [m.value for m in at.metric if m.label == "UAR"], "every labelled split shows UAR"
    at.radio(key="cm_scale").set_value("counts").run()
    first_cell = at.session_state["cm_cell"]
    assert first_cell[1] != first_cell[2], "the largest error is offered first"
    links = [link.proto for link in at.get("page_link")]
    assert links and all("analyze" in link.page for link in links)
    assert len(at.get("plotly_chart")) >= 6, "three splits, then attention on, bypassed and their difference"
    assert not at.exception
    at.toggle(key="cm_conditions").set_value(True).run()
    by_condition = next(frame.value for frame in at.dataframe if "condition" in frame.value.columns)
    assert {"Train clips", "Val accuracy", "Test accuracy"} <= set(by_condition.columns)
    assert (by_condition.groupby("condition")["Test clips"].sum() == 7).all(), "every Test clip once per condition"
    assert not at.exception


def test_dataset_explorer_plays_clips_and_shows_action_units(lab_env):
    at = open_page("pages/dataset.py")
    assert len(at.get("video")) == 1 and at.get("video")[0].proto.url  # the picked clip, converted for the browser
    assert any("onset" in m.value for m in at.markdown)
    at.selectbox(key="browse_split").set_value("Test").run()
    assert not at.exception


def test_missing_corpus_folder_is_one_line_error(lab_env, tmp_path):
    at = open_page("pages/dataset.py")
    at.radio(key="data_source").set_value("A corpus folder").run()
    at.text_input(key="data_path").input(str(tmp_path / "nowhere")).run()
    assert not at.exception
    assert len(at.error) == 1 and "not a folder" in at.error[0].value


def test_the_guided_demo_box_shows_the_pages_step_only_while_the_toggle_is_on(lab_env):
    """The entry file draws the box above every page; app/tour.py's tests check the steps and their order."""
    at = AppTest.from_file(ENTRY, default_timeout=120)
    at.run()
    assert not at.exception and at.toggle(key="guided_demo").value is False
    assert not any(m.value.startswith(("**Guided demo", "**Step ")) for m in at.markdown)
    at = AppTest.from_file(ENTRY, default_timeout=120)
    at.query_params["guided_demo"] = "true"  # the toggle lives in the address bar: a reload keeps the tour on
    at.run()
    assert not at.exception
    assert at.markdown[0].value.startswith("**Step 1 of 9: The model and what the ablation says.** Read the blue box "
                                           "first"), "the step box comes first, above the page"
    [link] = [link.proto for link in at.get("page_link") if link.proto.label.startswith("Next: step")]
    assert link.label == "Next: step 2" and link.help == "Step 2 of 9: Analyze one clip" and "analyze" in link.page
    at.switch_page(ui.page("pages/confusion.py")).run()
    assert not at.exception
    assert at.markdown[0].value.startswith("**Step 6 of 9: Which expressions are confused.** Find")
