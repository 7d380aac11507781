"""The reliability panel in words and as a table: what the Analyze page and the Gradio demo show beside a prediction.

The judgement itself is model/reliability.py; this module only says it to a person.
"""
from __future__ import annotations

import pandas as pd

from model.reliability import (
    MAX_FRAMES_WITHOUT_FACE,
    MIN_CONFIDENCE,
    MIN_DETECTION_RATE,
    UNFAMILIAR_QUANTILE,
    Reliability,
)


def headline(reliability: Reliability, prediction: str, confidence: float) -> str:
    """One sentence: the prediction and whether it can be trusted."""
    if reliability.reliable:
        return f"{prediction} ({confidence:.0%}): nothing in the clip argues against this reading."
    return (f"Unreliable: the model's best guess is {prediction}, but it cannot be trusted here, because "
            + "; ".join(reliability.reasons) + ".")


def panel(reliability: Reliability) -> pd.DataFrame:
    """One row per check: what was measured, the value, and whether it is within what the lab trusts."""
    unfamiliar = reliability.unfamiliarity
    rows = [
        ("Face found by the detector", f"{reliability.face_detection_rate:.0%} of its runs",
         reliability.face_detection_rate >= MIN_DETECTION_RATE),
        ("Frames without a face", f"{reliability.frames_without_face:.0%}",
         reliability.frames_without_face <= MAX_FRAMES_WITHOUT_FACE),
        ("Scene cuts", str(reliability.scene_cuts), reliability.scene_cuts == 0),
        ("People", f"{reliability.faces_at_once} face(s) at once, a face in {reliability.shots_with_face} shot(s)",
         reliability.faces_at_once <= 1 and reliability.shots_with_face <= 1),
        ("The model's own confidence", "unknown" if reliability.confidence is None else
         f"{reliability.confidence:.0%} for its best class",
         reliability.confidence is None or reliability.confidence >= MIN_CONFIDENCE),
        ("Unlike the clips the model was checked on",
         "not calibrated for this checkpoint" if unfamiliar is None else f"more unusual than {unfamiliar:.0%} of them",
         unfamiliar is None or unfamiliar < UNFAMILIAR_QUANTILE),
    ]
    return pd.DataFrame([{"check": c, "measured": v, "verdict": "ok" if ok else "weak"} for c, v, ok in rows])


def markdown(reliability: Reliability, prediction: str, confidence: float) -> str:
    """The headline in bold and the checks as a Markdown table (the Gradio demo's panel)."""
    rows = panel(reliability)
    lines = ["| check | measured | verdict |", "|---|---|---|"]
    lines += [f"| {r.check} | {r.measured} | {r.verdict} |" for r in rows.itertuples()]
    return f"**{headline(reliability, prediction, confidence)}**\n\n" + "\n".join(lines)
