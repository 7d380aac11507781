"""Evaluation of a checkpoint on a split: one row per clip, probabilities, and metrics that agree with sklearn's."""
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix

from model.config import CLASSES
from model.data.datasets import CorpusError, open_corpus
from model.evaluate import classification_metrics, evaluate


def test_evaluate_predicts_every_clip_of_the_split_and_scores_the_table(tiny_corpus, tiny_checkpoint, tmp_path):
    table, metrics = evaluate(tiny_checkpoint, tiny_corpus, "Val", tmp_path / "Val.csv", workers=1, progress=False)
    clips = open_corpus(tiny_corpus).clips("Val")
    assert sorted(table["clip"]) == sorted(str(r.path.resolve().relative_to(tiny_corpus.resolve())) for r in clips)
    assert set(table["split"]) == {"Val"}
    probabilities = table[list(CLASSES)].to_numpy()
    np.testing.assert_allclose(probabilities.sum(1), 1.0, atol=1e-4)  # the table keeps 5 decimals
    assert table["prediction"].tolist() == [CLASSES[i] for i in probabilities.argmax(1)]
    assert metrics["war"] == round(accuracy_score(table["label"], table["prediction"]), 4)
    assert metrics["uar"] == round(balanced_accuracy_score(table["label"], table["prediction"]), 4)
    assert metrics["confusion"] == confusion_matrix(table["label"], table["prediction"], labels=list(CLASSES)).tolist()
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "Val.csv", keep_default_na=False), table, check_dtype=False)


def test_an_unknown_split_names_the_splits_there_are(tiny_corpus, tiny_checkpoint):
    with pytest.raises(CorpusError, match="no split 'Validation': it has Train, Val, Test"):
        evaluate(tiny_checkpoint, tiny_corpus, "Validation", None, workers=1, progress=False)


def test_uar_averages_the_recall_of_the_classes_present_only():
    angry, disgust, fear, surprise = (CLASSES.index(c) for c in ("Angry", "Disgust", "Fear", "Surprise"))
    labels = np.array([angry, angry, angry, angry, disgust, fear])
    predictions = np.array([angry, angry, angry, surprise, disgust, angry])
    metrics = classification_metrics(labels, predictions)
    assert metrics["war"] == round(4 / 6, 4)
    assert metrics["uar"] == round((3 / 4 + 1 + 0) / 3, 4)  # four of the seven classes have no clip here
    assert metrics["per_class"]["Angry"] == {"precision": 0.75, "recall": 0.75, "f1": 0.75, "support": 4}
    assert metrics["per_class"]["Surprise"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert metrics["confusion"][angry][surprise] == 1 and metrics["confusion"][fear][angry] == 1
    assert sum(map(sum, metrics["confusion"])) == len(labels)
