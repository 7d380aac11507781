"""Settings are written once: every settings class checks its fields' bounds and choices in one place, and a command's
flag outside them is answered in one line."""
import dataclasses

import pytest

from cli import concepts, grade, train
from lab.concepts import ConceptSettings
from lab.grading.runner import GradeSettings
from model.config import ModelConfig, ProcessConfig, SettingError, TrainConfig

SETTINGS = [ProcessConfig, ModelConfig, TrainConfig, GradeSettings, ConceptSettings]


@pytest.mark.parametrize("settings", SETTINGS)
def test_every_bounded_field_refuses_a_value_past_its_bound_and_takes_the_bound(settings):
    bounded = [f for f in dataclasses.fields(settings) if {"minimum", "maximum", "exclusiveMinimum", "choices"}
               & set(f.metadata)]
    assert bounded, f"{settings.__name__} checks nothing"
    for f in bounded:
        bounds = f.metadata
        if "choices" in bounds:
            bad, good = "no such choice", bounds["choices"][-1]
        elif "minimum" in bounds:
            bad, good = bounds["minimum"] - 1, bounds["minimum"]
        elif "exclusiveMinimum" in bounds:
            bad, good = bounds["exclusiveMinimum"], None
        else:
            bad, good = bounds["maximum"] + 1, bounds["maximum"]
        with pytest.raises(SettingError, match=f"^{f.name} is "):
            settings(**{f.name: bad})
        if good is not None:
            assert getattr(settings(**{f.name: good}), f.name) == good


@pytest.mark.parametrize("main, argv, words", [
    (grade.main, ["--checkpoint", "x", "--out", "y.csv", "--clips", "0"], "clips is 0: use at least 1"),
    (concepts.main, ["--checkpoint", "x", "--out", "y.csv", "--random-concepts", "2"],
     "random_concepts is 2: use at least 3"),
    (train.main, ["--data", "x", "--out", "y", "--epochs", "0"], "epochs is 0: use at least 1"),
])
def test_a_flag_outside_its_bounds_is_answered_in_one_line(main, argv, words, capsys):
    assert main(argv) == 2
    assert capsys.readouterr().err.strip() == f"error: {words}"
