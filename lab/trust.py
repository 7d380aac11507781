"""The reliability panel in words and as a table: what the Analyze page and the Gradio demo show beside a prediction.

The judgement itself is model/reliability.py; this module only says it to a person.
"""
from __future__ import annotations

import pandas as pd

from model.reliability import (
    MAX_FRAMES_WITHOUT_FACE,
    MAX_SKIPPED_SHARE,
    MIN_DETECTION_RATE,
    MIN_FRAMES,
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
    """One row per check: what was measured, what the lab trusts, and whether the value is within it."""
    r, unfamiliar = reliability, reliability.unfamiliarity
    decoded = r.frames + r.frames_skipped
    rows = [
        ("Frames read", f"{r.frames} of {decoded} decoded", f"at least {MIN_FRAMES}, at most {MAX_SKIPPED_SHARE:.0%} "
         "dropped", r.frames >= MIN_FRAMES and r.frames_skipped <= MAX_SKIPPED_SHARE * decoded),
        ("Face found by the detector", f"{r.face_detection_rate:.0%} of its runs", f"at least {MIN_DETECTION_RATE:.0%}",
         r.face_detection_rate >= MIN_DETECTION_RATE),
        ("Frames without a face", f"{r.frames_without_face:.0%}", f"at most {MAX_FRAMES_WITHOUT_FACE:.0%}",
         r.frames_without_face <= MAX_FRAMES_WITHOUT_FACE),
        ("Scene cuts", str(r.scene_cuts), "none", r.scene_cuts == 0),
        ("People", f"{r.faces_at_once} face(s) at once, a face in {r.shots_with_face} shot(s)",
         "one face, in one shot", r.faces_at_once <= 1 and r.shots_with_face <= 1),
        ("The model's own confidence", "unknown" if r.confidence is None else f"{r.confidence:.0%} for its best class",
         f"at least {r.min_confidence:.0%}", r.confidence is None or r.confidence >= r.min_confidence),
        ("Unlike the clips the model was checked on",
         "not calibrated for this checkpoint" if unfamiliar is None else f"more unusual than {unfamiliar:.0%} of them",
         f"more usual than {UNFAMILIAR_QUANTILE:.0%} of them", unfamiliar is None or unfamiliar < UNFAMILIAR_QUANTILE),
    ]
    return pd.DataFrame([{"check": c, "measured": v, "trusted when": t, "verdict": "ok" if ok else "weak"}
                         for c, v, t, ok in rows])


def markdown(reliability: Reliability, prediction: str, confidence: float) -> str:
    """The headline in bold and the checks as a Markdown table (the Gradio demo's panel)."""
    rows = panel(reliability)
    lines = ["| check | measured | trusted when | verdict |", "|---|---|---|---|"]
    lines += [f"| {check} | {measured} | {trusted} | {verdict} |" for check, measured, trusted, verdict in rows.values]
    return f"**{headline(reliability, prediction, confidence)}**\n\n" + "\n".join(lines)


def listed(items: list[str]) -> str:
    """Words joined as a sentence lists them: "a", "a and b", "a, b and c"."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
