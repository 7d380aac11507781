"""Each tab of the Analyze page is a function of one AnalyzeState: drawn here alone, without the page around it."""
import pytest
from streamlit.testing.v1 import AppTest

pytestmark = pytest.mark.timeout(300)


def draw_one_tab(tab: str) -> None:
    """A script that builds the state the page would, for the tiny lab's sample, and draws only ``tab``."""
    from app import analyze_tabs
    from lab import analysis, dataset, sources
    from model.predict import Predictor

    path = sources.sample_clips()[0]
    lineup = analysis.Lineup(Predictor.load(sources.checkpoint_choices()["two_stream_attention"]))
    result = analysis.analyze_file(path, lineup)
    state = analyze_tabs.AnalyzeState(lineup.predictor.model, lineup, ("sample", str(path)), None, path.name, path,
                                      result, dataset.read_sidecar(path), lineup.predictor.model.modes[0], {})
    analyze_tabs.TABS[tab](state)


def test_the_processing_tab_draws_from_the_state_alone(lab_env):
    at = AppTest.from_function(draw_one_tab, args=("Processing steps",), default_timeout=120).run()
    assert not at.exception
    captions = [image.proto.imgs[0].caption for image in at.get("image")]
    assert any(c.startswith("Face track on the sampled frames") for c in captions)
    assert any(c.startswith("The 8 face crops the spatial stream sees") for c in captions)  # the tiny lab's T = 8
    assert [b.proto.label for b in at.get("download_button")] == ["Face track (PNG)", "Face crops (PNG)",
                                                                   "Flow fields (PNG)"]


def test_the_attention_tab_draws_from_the_state_alone(lab_env):
    at = AppTest.from_function(draw_one_tab, args=("Inter-stream attention",), default_timeout=120).run()
    assert not at.exception
    assert [r.label for r in at.radio] == ["Direction"] and len(at.get("plotly_chart")) == 1
