"""The Confusion page in Chromium: a click on a heatmap cell selects it, and only clips on disk are linked.

The tiny lab's shipped tables are made on its whole corpus; one misclassified Test clip is then removed from the disk,
as when the app has generated only part of the embedded corpus.
"""
import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest
from playwright.sync_api import expect

from model.config import CLASSES
from tests.e2e.browser import BROWSER_TESTS, SLOW, settle
from tests.lab_env import build_lab_env

pytestmark = BROWSER_TESTS


def shipped(lab_assets, split: str) -> pd.DataFrame:
    return pd.read_csv(Path(lab_assets["LAB_ASSETS"]) / "predictions" / "two_stream_attention" / f"{split}.csv",
                       keep_default_na=False)


def first_error(lab_assets, split: str) -> pd.Series:
    table = shipped(lab_assets, split)
    errors = table[table["label"] != table["prediction"]]
    assert len(errors), f"the tiny model gets every {split} clip right: no error cell to click"
    return errors.iloc[0]


@pytest.fixture(scope="module")
def lab_assets(tmp_path_factory):
    """The tiny lab (app_url starts the app on it) without the first misclassified Test clip on disk."""
    assets = build_lab_env(tmp_path_factory.mktemp("confusion"))
    clip = Path(assets["LAB_DATA"]) / first_error(assets, "Test")["clip"]
    for path in (clip, clip.with_suffix(".json")):
        path.unlink()
    return assets


def click_cell(page, split: str, true_class: str, predicted_class: str) -> None:
    """Click the middle of a cell of a split's heatmap (rows: true class from the top, columns: prediction), once
    the last rerun is over (during one, the old chart and the new one are both in the page)."""
    settle(page, f"confusion-before-{split}-click")
    plot = page.locator(f".st-key-cm-{split} .nsewdrag")  # plotly's plot area
    plot.wait_for(timeout=SLOW)
    box = plot.bounding_box()
    x = box["x"] + (CLASSES.index(predicted_class) + 0.5) * box["width"] / len(CLASSES)
    y = box["y"] + (CLASSES.index(true_class) + 0.5) * box["height"] / len(CLASSES)
    page.mouse.move(x, y)
    page.mouse.click(x, y)


def expect_selected(page, split: str, true_class: str, predicted_class: str) -> None:
    expect(page.locator(".st-key-cm_cell input")).to_have_value(
        re.compile(f"^{split}: {true_class} → {predicted_class} "), timeout=SLOW)
    settle(page, f"confusion-{split}-{true_class}-as-{predicted_class}")


def clips_table(page) -> str:
    """The text of the cell's clips table (the data grid draws on a canvas; this is its accessible copy)."""
    return page.locator('[data-testid="stDataFrame"]').filter(has_text="ground truth").locator("table").inner_text()


def linked_clips(page) -> list[str]:
    return [parse_qs(urlparse(link.get_attribute("href")).query)["clip"][0]
            for link in page.locator('[data-testid="stPageLink"] a').all()]


def test_a_click_on_a_cell_selects_it_and_only_clips_on_disk_are_linked(page, app_url, lab_assets):
    corpus = Path(lab_assets["LAB_DATA"])
    page.goto(app_url)  # the app's navigation first: a fresh server given /confusion shows the bare page
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Confusion matrices").click()
    page.get_by_text("Clips of a cell").wait_for(timeout=SLOW)
    settle(page, "confusion-coverage")
    total = sum(len(shipped(lab_assets, split)) for split in ("Train", "Val", "Test"))
    expect(page.get_by_text(f"Only {total - 1:,} of the {total:,} clips")).to_be_visible()

    removed = first_error(lab_assets, "Test")
    click_cell(page, "Test", removed["label"], removed["prediction"])
    expect_selected(page, "Test", removed["label"], removed["prediction"])
    assert removed["clip"] in clips_table(page)
    assert removed["clip"] not in linked_clips(page)

    page.get_by_text("counts", exact=True).click()
    settle(page, "confusion-counts")
    error = first_error(lab_assets, "Val")
    click_cell(page, "Val", error["label"], error["prediction"])
    expect_selected(page, "Val", error["label"], error["prediction"])
    val = shipped(lab_assets, "Val")
    in_cell = val[(val["label"] == error["label"]) & (val["prediction"] == error["prediction"])]["clip"]
    shown = clips_table(page)
    assert all(clip in shown for clip in in_cell) and removed["clip"] not in shown
    with page.expect_download() as download:
        page.get_by_role("button", name="clips (CSV)").click()
    assert download.value.suggested_filename == f"Val-{error['label']}-as-{error['prediction']}.csv"
    csv = Path(download.value.path()).read_bytes()
    assert csv.split(b"\n")[0].isascii() and set(pd.read_csv(Path(download.value.path()))["clip"]) == set(in_cell)

    links = linked_clips(page)
    assert links and all((corpus / clip).is_file() for clip in links), links
    page.locator('[data-testid="stPageLink"] a').first.click()
    page.get_by_role("heading", name="Analyze a clip").wait_for(timeout=SLOW)
    assert parse_qs(urlparse(page.url).query)["clip"] == links[:1]
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Confusion matrices").click()
    page.get_by_text("Clips of a cell").wait_for(timeout=SLOW)
    expect_selected(page, "Val", error["label"], error["prediction"])  # the page's state is kept
    assert page.get_by_role("radio", name="counts").is_checked()
