"""Corpus loaders on tiny fake trees (empty files stand in for clips: the loaders only list paths)."""
from __future__ import annotations

import pytest

from model.config import CLASSES
from model.data.datasets import CorpusError, open_corpus


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


def test_afew_layout_with_unlabelled_test(tmp_path):
    for split in ("Train", "Val"):
        for label in CLASSES:
            touch(tmp_path / split / label / f"{label}_1.avi")
    touch(tmp_path / "Train" / "Happy" / "notes.txt")  # not a video: ignored
    touch(tmp_path / "Test" / "000123.avi")
    corpus = open_corpus(tmp_path)
    assert corpus.kind == "afew" and corpus.splits == ("Train", "Val", "Test")
    train = corpus.clips("Train")
    assert len(train) == 7 and [r.label for r in train] == list(range(7)) and train[0].split == "Train"
    assert train[3].path.name == "Happy_1.avi" and CLASSES[train[3].label] == "Happy"
    test = corpus.clips("Test")
    assert len(test) == 1 and test[0].label is None


def test_afew_alternative_spellings(tmp_path):
    touch(tmp_path / "train_afew" / "angry" / "a.avi")
    touch(tmp_path / "val_afew" / "Surprise" / "b.mp4")
    corpus = open_corpus(tmp_path)
    assert corpus.splits == ("Train", "Val")
    assert corpus.clips("Val")[0].label == CLASSES.index("Surprise") and corpus.clips("Train")[0].label == 0


def test_class_folders(tmp_path):
    touch(tmp_path / "Sad" / "x.webm")
    touch(tmp_path / "Fear" / "y.MOV")
    corpus = open_corpus(tmp_path)
    assert corpus.kind == "folders" and corpus.splits == ("All",)
    assert sorted(r.label for r in corpus.clips("All")) == [CLASSES.index("Fear"), CLASSES.index("Sad")]


def write_dfew(root):
    """Fold 1: train lists clips 1 (Happy), 2 (Angry), 3 (Fear, missing on disk); test lists clip 4 (Happy)."""
    tables = {"train(single-labeled)": "video_name,label\n1,1\n2,4\n3,7\n", "test(single-labeled)": "4,1\n"}
    for folder, text in tables.items():
        table = root / "EmoLabel_DataSplit" / folder / "set_1.csv"
        table.parent.mkdir(parents=True, exist_ok=True)
        table.write_text(text)
    for number in (1, 2, 4):
        touch(root / "Clip" / "original" / f"{number:05d}.mp4")


def test_dfew_labels_map_onto_classes(tmp_path):
    write_dfew(tmp_path)
    corpus = open_corpus(tmp_path, fold=1)
    assert corpus.kind == "dfew" and corpus.splits == ("Train", "Test")
    train = corpus.clips("Train")
    assert [r.path.name for r in train] == ["00001.mp4", "00002.mp4"]
    assert [CLASSES[r.label] for r in train] == ["Happy", "Angry"]  # DFEW 1 = Happy, 4 = Angry
    assert len(corpus.warnings) == 1 and "1 of 3" in corpus.warnings[0]
    assert CLASSES[corpus.clips("Test")[0].label] == "Happy"
    with pytest.raises(CorpusError, match="set_2.csv is missing"):
        open_corpus(tmp_path, fold=2)
    with pytest.raises(CorpusError, match="1..5"):
        open_corpus(tmp_path, fold=6)


def test_dfew_bad_label(tmp_path):
    write_dfew(tmp_path)
    (tmp_path / "EmoLabel_DataSplit" / "train(single-labeled)" / "set_1.csv").write_text("1,9\n")
    with pytest.raises(CorpusError, match="label 9"):
        open_corpus(tmp_path)


@pytest.mark.parametrize("make, expected", [
    (lambda root: None, "no recognised layout"),  # empty folder
    (lambda root: touch(root / "Train" / "readme.txt"), "Train has no class folders"),
    (lambda root: (root / "Train" / "Happy").mkdir(parents=True), "hold no video clips"),
    (lambda root: touch(root / "random" / "clip.avi"), "no recognised layout"),
])
def test_malformed_roots(tmp_path, make, expected):
    make(tmp_path)
    with pytest.raises(CorpusError) as caught:
        open_corpus(tmp_path)
    assert expected in str(caught.value) and "\n" not in str(caught.value)


def test_missing_root_and_unknown_split(tmp_path):
    with pytest.raises(CorpusError, match="not a folder"):
        open_corpus(tmp_path / "nowhere")
    touch(tmp_path / "Happy" / "a.avi")
    with pytest.raises(CorpusError, match="no split 'Val'"):
        open_corpus(tmp_path).clips("Val")
