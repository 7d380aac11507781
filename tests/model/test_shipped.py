"""The shipped checkpoints still predict what their shipped prediction tables say: a refactor that changes behaviour
fails here. The samples are Test clips of the corpus the tables were evaluated on, copied byte for byte."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from model.checkpoint import load_checkpoint
from model.config import CLASSES, AttentionMode
from model.data.clipset import load_clipset
from model.data.datasets import ClipRecord
from model.evaluate import predict_clipset

ASSETS = Path(__file__).resolve().parents[2] / "assets"
SAMPLES = sorted((ASSETS / "samples").glob("*.avi"))
VARIANTS = {  # prediction table: (checkpoint, attention mode at inference)
    "two_stream_attention": ("two_stream_attention", AttentionMode.ON),
    "two_stream_attention_bypassed": ("two_stream_attention", AttentionMode.BYPASSED),
    "two_stream_no_attention": ("two_stream_no_attention", AttentionMode.ABSENT),
}


@pytest.mark.parametrize("table", VARIANTS)
def test_shipped_checkpoints_reproduce_their_prediction_tables(table, tmp_path):
    checkpoint, attention = VARIANTS[table]
    model, process, _ = load_checkpoint(ASSETS / "checkpoints" / checkpoint)
    clips = load_clipset([ClipRecord(path, None, "Test") for path in SAMPLES], process, cache_dir=tmp_path,
                         workers=1, progress=False)  # the path model.evaluate takes, so the same float16 inputs
    probs = predict_clipset(model, clips, attention=attention)
    shipped = pd.read_csv(ASSETS / "predictions" / table / "Test.csv").set_index("clip")
    rows = shipped.loc[[f"Test/{p.stem.split('_')[0].capitalize()}/test_{p.stem.split('_')[2]}.avi" for p in SAMPLES]]
    assert len(SAMPLES) == 7
    np.testing.assert_allclose(probs, rows[list(CLASSES)].to_numpy(float), atol=1e-5)  # the tables keep 5 decimals
    assert [CLASSES[i] for i in probs.argmax(1)] == rows["prediction"].tolist()
