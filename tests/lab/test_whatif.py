"""What if: sliders become edits, the edited clip is drawn again and analysed like any clip, and the removal chart
covers every AU the clip shows."""
from __future__ import annotations

import numpy as np
import pytest

from lab import analysis, whatif
from lab.intervene import corpus_clip, rendered_video
from model.data.corpus import NUISANCE_AUS, AUEdit
from model.data.face_render import AU_NAMES
from model.predict import Predictor


@pytest.fixture(scope="module")
def setting(tiny_corpus, tiny_checkpoint):
    path = sorted((tiny_corpus / "Test" / "Happy").glob("*.avi"))[0]
    return corpus_clip(path), analysis.Lineup(Predictor.load(tiny_checkpoint))


def test_sliders_left_at_100_percent_make_no_edit():
    assert whatif.strength_edits({"AU12": 0.0, "AU6": 1.0, "AU25": 1.5}) == (
        AUEdit("AU12", "remove"), AUEdit("AU25", "scale", 1.5))
    assert whatif.strength_edits({"AU12": 1.0}) == ()
    assert whatif.au_label("AU12") == "AU12 lip corner puller"
    assert all(whatif.au_label(name) for name in AU_NAMES)


def test_present_aus_are_grouped_by_region_with_their_peaks(setting):
    clip, _ = setting
    present = whatif.present_aus(clip)
    names = [name for aus in present.values() for name, _ in aus]
    assert "AU12" in names and "AU12" in [name for name, _ in present["mouth"]]  # a Happy clip smiles
    assert all(0.1 <= peak <= 1 for aus in present.values() for _, peak in aus)
    assert list(present)[0] == "mouth", "the smile's region first: its slider is the first one seen"
    nuisance_only = [all(name in NUISANCE_AUS for name, _ in aus) for aus in present.values()]
    assert nuisance_only == sorted(nuisance_only), "regions of blinks and speech alone come last"


def test_the_edited_clip_is_analysed_like_any_clip(setting):
    clip, lineup = setting
    unchanged = whatif.counterfactual(clip, (), lineup)
    drawn = analysis.analyze_decoded(lambda _: rendered_video(clip.render()), lineup, False, "drawn")
    np.testing.assert_array_equal(unchanged.analysis.clip.rgb, drawn.clip.rgb)
    np.testing.assert_allclose(unchanged.analysis.probabilities, drawn.probabilities)
    assert list(unchanged.analysis.probabilities.columns) == list(lineup.columns) == ["attention on",
                                                                                      "attention bypassed"]

    smile_removed = whatif.counterfactual(clip, (AUEdit("AU12"),), lineup)
    crops = smile_removed.analysis.clip.rgb.astype(int) - drawn.clip.rgb
    size = crops.shape[1]
    lower, upper = np.abs(crops[:, size // 2:]).mean(), np.abs(crops[:, :size // 3]).mean()
    # the mouth changed most; the rest moves a little too, because the face box and landmarks follow the new face
    assert lower > 0.5 and lower > upper
    assert smile_removed.video[:4] == b"\x1a\x45\xdf\xa3"  # a WebM (Matroska) file the browser can play

    strip = whatif.difference_strip(clip, smile_removed, count=4, side=100)
    assert strip.shape == (3 * 100 + 4, 4 * 100 + 6, 3)  # original, edited, difference; 2-pixel gaps
    changed = (strip[2 * 102:] != 255).any(axis=2)  # white where the edit changed nothing
    assert 0.01 < changed.mean() < 0.5, "the tiles frame what changed, with room around it"
    assert not (whatif.difference_strip(clip, unchanged, count=4, side=100)[2 * 102:] != 255).any()


def test_the_removal_chart_covers_every_present_au_with_the_module_on_and_bypassed(setting):
    clip, lineup = setting
    effects = whatif.removal_effects(clip, lineup, "Happy")
    present = [whatif.au_label(name) for aus in whatif.present_aus(clip).values() for name, _ in aus]
    assert sorted(effects["AU"].unique()) == sorted(present)
    assert set(effects["attention"]) == {"on", "bypassed"}
    assert effects["effect"].between(-1, 1).all()
