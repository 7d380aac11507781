"""The Confusion page's logic without a browser: clicked cells, a cell's clips with their conditions, what is on disk,
and the signs of the attention on vs bypassed difference."""
import numpy as np
import pandas as pd
import pytest

from lab import conditions, confusion, dataset, figures
from model import locations
from model.config import CLASSES
from tests.app.test_app_pages import open_page


def table(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    """A prediction table in model.evaluate's format from (clip, label, prediction), the prediction at 90%."""
    probabilities = {c: [0.9 if prediction == c else 0.1 / 6 for _, _, prediction in rows] for c in CLASSES}
    clips, labels, predictions = zip(*rows) if rows else ((), (), ())
    return pd.DataFrame({"clip": clips, "split": "Val", "label": labels, "prediction": predictions, **probabilities})


def event(*points: dict) -> dict:
    """st.plotly_chart's selection state as a click on a heatmap cell's marker leaves it in Chromium."""
    return {"selection": {"points": list(points), "point_indices": [p["point_index"] for p in points], "box": [],
                          "lasso": []}}


def test_a_click_on_a_cell_marker_names_that_cell_and_other_points_do_not():
    happy_as_sad = {"curve_number": 1, "point_number": 26, "point_index": 26, "x": "Sad", "y": "Happy", "text": "3"}
    assert confusion.clicked_cell({"Train": None, "Val": event(), "Test": event(happy_as_sad)}) == (
        "Test", "Happy", "Sad")
    assert confusion.clicked_cell({"Val": event({"point_index": 4, "x": 4, "y": 3})}) is None, "not a cell"
    assert confusion.clicked_cell({"Val": event(), "Test": None}) is None


def test_every_cell_of_the_heatmap_carries_a_click_that_names_it():
    counts = np.arange(len(CLASSES) ** 2).reshape(len(CLASSES), len(CLASSES))
    figure = figures.confusion_heatmap(counts, "Val", normalized=False, selected=("Fear", "Sad"))
    heatmap, markers = figure.data
    assert heatmap.hoverinfo == "skip", "the markers, not the heatmap, answer the pointer"
    assert len(markers.x) == counts.size
    for index, (x, y) in enumerate(zip(markers.x, markers.y)):
        clicked = confusion.clicked_cell({"Val": event({"point_index": index, "x": x, "y": y})})
        assert clicked == ("Val", y, x)
        assert markers.text[index] == str(counts[CLASSES.index(y), CLASSES.index(x)]), "the hover shows that cell"
    outline = figure.layout.shapes[0]
    fear, sad = CLASSES.index("Fear"), CLASSES.index("Sad")
    assert (outline.x0 + outline.x1) / 2 == sad and (outline.y0 + outline.y1) / 2 == fear
    assert not figures.confusion_heatmap(counts, "Val", normalized=False).layout.shapes


def test_improvement_is_positive_wherever_the_module_does_better():
    happy, sad = CLASSES.index("Happy"), CLASSES.index("Sad")
    on = confusion.confusion_of("Val", table([("a", "Happy", "Happy"), ("b", "Happy", "Happy"), ("c", "Sad", "Happy")]))
    off = confusion.confusion_of("Val", table([("a", "Happy", "Happy"), ("b", "Happy", "Sad"), ("c", "Sad", "Sad")]))
    difference = confusion.rate_difference(on, off)
    better = confusion.improvement(difference)
    assert difference[happy, happy] == pytest.approx(0.5) and better[happy, happy] == pytest.approx(0.5)
    assert difference[happy, sad] == pytest.approx(-0.5) and better[happy, sad] == pytest.approx(0.5), \
        "one error fewer with the module"
    assert difference[sad, happy] == pytest.approx(1.0) and better[sad, happy] == pytest.approx(-1.0), \
        "one error more with the module"
    assert better[sad, sad] == pytest.approx(-1.0)

    heatmap = figures.difference_heatmap(difference, better, "on - off").data[0]
    assert np.array_equal(heatmap.z, better), "the colour says better or worse"
    assert heatmap.text[sad][happy] == "+100%", "the number says what changed"
    colorbar = heatmap.colorbar
    assert colorbar.ticktext == ("worse", "same", "better") and colorbar.tickvals[2] > 0
    assert heatmap.colorscale[-1][1] == "rgb(5,48,97)", "RdBu: the top of the scale (better) is blue"


@pytest.fixture(scope="module")
def corpus(tiny_corpus):
    return dataset.resolve_corpus(tiny_corpus)


def val_table(corpus, missing: str) -> pd.DataFrame:
    """Every Val clip predicted Neutral, plus one Happy clip that the table lists but the disk lacks."""
    listed = [(dataset.relative_clip(corpus, r.path), r.path.parent.name) for r in corpus.clips("Val")]
    return table([(clip, label, "Neutral") for clip, label in listed] + [(missing, "Happy", "Neutral")])


def test_coverage_counts_the_clips_on_disk_and_says_how_to_write_the_rest(corpus):
    listed = confusion.listed_clips(corpus)
    shipped = {"Val": val_table(corpus, "Val/Happy/val_09999.avi"), "Train": table([("Train/Sad/x.avi", "Sad", "Sad")])}
    covered = confusion.coverage(shipped, listed)
    assert covered == {"Train": (0, 1), "Val": (len(corpus.clips("Val")), len(corpus.clips("Val")) + 1)}
    note = confusion.coverage_note(covered, corpus.root)
    assert f"{len(listed & set(shipped['Val']['clip']))} of the {len(shipped['Val']) + 1} clips" in note
    assert f"python -m cli.corpus --out {corpus.root}" in note and "make corpus" in note
    assert confusion.coverage_note({"Val": (7, 7), "Test": (7, 7)}, corpus.root) is None


def test_a_cells_table_has_each_clips_conditions_and_marks_what_is_not_on_disk(corpus):
    missing = "Val/Happy/val_09999.avi"
    cell = confusion.cell_table(val_table(corpus, missing), "Happy", "Neutral", corpus.root,
                                confusion.listed_clips(corpus))
    here = [dataset.relative_clip(corpus, r.path) for r in corpus.clips("Val") if r.path.parent.name == "Happy"]
    assert set(cell["clip"][:-1]) == set(here) and cell["clip"].iloc[-1] == missing, "clips on disk first"
    assert cell["on disk"].tolist() == [True] * len(here) + [False]
    assert (cell["ground truth"] == "Happy").all() and (cell["prediction"] == "Neutral").all()
    assert cell["confidence"].tolist() == pytest.approx([0.9] * len(cell))
    expected = conditions.clip_conditions(dataset.read_sidecar(corpus.root / here[0]))
    assert list(cell.columns) == list(confusion.CELL_COLUMNS) + list(expected)
    assert cell.iloc[0][list(expected)].to_dict() == expected
    assert cell.iloc[-1][list(expected)].isna().all(), "no conditions without the sidecar"
    assert cell.to_csv(index=False).split("\n")[0].isascii()


def test_filters_keep_the_wanted_condition_values_in_the_conditions_order():
    clips = pd.DataFrame({"clip": ["a", "b", "c", "d"], "on disk": [True, True, True, False],
                          "occluder over the face": ["at the apex", "never", "at the apex", None],
                          "fades back to neutral": ["yes", "no", "no", None]})
    assert confusion.condition_options(clips) == {"occluder over the face": ["never", "at the apex"],
                                                  "fades back to neutral": ["no", "yes"]}
    assert confusion.filter_clips(clips, {"occluder over the face": ["at the apex"], "fades back to neutral": []}
                                  )["clip"].tolist() == ["a", "c"]
    assert confusion.filter_clips(clips, {"occluder over the face": ["at the apex"],
                                          "fades back to neutral": ["no"]})["clip"].tolist() == ["c"]
    assert len(confusion.filter_clips(clips, {"occluder over the face": []})) == 4


def test_download_names_are_clean():
    assert confusion.download_name("Test", "Happy", "Neutral") == "Test-Happy-as-Neutral.csv"
    assert confusion.download_name("All (fold 1)", "Sad", "Fear") == "All_fold_1-Sad-as-Fear.csv"


def test_per_class_tables_of_the_labelled_splits_side_by_side_count_support_in_clips():
    per_split = confusion.confusion_by_split({"Val": table([("a", "Happy", "Happy"), ("b", "Sad", "Happy")]),
                                              "Test": table([("c", "", "Happy")])})
    per_class = confusion.per_class_by_split(per_split)
    assert list(per_class.columns) == [("Val", "precision"), ("Val", "recall"), ("Val", "f1"), ("Val", "support")]
    assert per_class["Val", "support"].dtype.kind == "i" and per_class.loc["Happy", ("Val", "support")] == 1
    assert per_class.loc["Happy", ("Val", "precision")] == pytest.approx(0.5)


def test_one_click_evaluates_attention_on_and_bypassed_and_the_button_goes(lab_env):
    at = open_page("pages/confusion.py")
    at.radio(key="data_source").set_value("A corpus folder").run()
    at.text_input(key="data_path").input(lab_env["LAB_DATA"]).run()  # a folder: no shipped tables apply
    assert [button.key for button in at.button] == ["evaluate"] and not at.get("plotly_chart")
    at.button(key="evaluate").click().run(timeout=600)
    assert not at.exception
    assert not at.button, "the button has gone once it has run"
    assert len(at.get("plotly_chart")) == 6, "three splits, then attention on, bypassed and their difference"
    assert at.selectbox(key="cm_compare_split").value == "Test", "the comparison opens on the held-out split"
    cached = list((locations.lab_cache() / "evaluations").glob("*.csv"))
    assert len(cached) >= 6, "three splits, attention on and bypassed, cached on disk"
    for table in cached:  # gone from the disk: the session keeps what the click computed
        table.unlink()
    at.radio(key="cm_scale").set_value("counts").run()
    assert not at.exception and not at.button, "the results stay in place of the button"
    assert len(at.get("plotly_chart")) == 6
