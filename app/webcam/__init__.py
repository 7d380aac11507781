"""Record a few seconds from the browser's webcam: a tiny Streamlit component (plain HTML + JS, no build step).

Streamlit embeds ``frontend/index.html`` in an iframe whose feature policy allows ``camera``, so getUserMedia works
inside it; MediaRecorder makes a short WebM that comes back as base64 and is analysed exactly like an upload.
A WebRTC component (streamlit-webrtc) would stream frames to the server instead and need aiortc: more than a
few-second clip calls for.
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path

import streamlit as st
import streamlit.components.v1 as components

from model.data.video import THINNED

SOURCE = "Record from the webcam"
MAX_SECONDS = 10  # at the recorder's 1 Mbit/s, at most ~1.3 MB of video (1.7 MB as base64)


def clip_warnings(warnings: list[str]) -> list[str]:
    """A recording's warnings, less the browser's own timing quirk: MediaRecorder stamps some frames closer than
    1/30 s, which the decoder thins (model.data.video.THINNED); that says nothing about the clip."""
    return [warning for warning in warnings if THINNED not in warning]


_recorder = components.declare_component("webcam_recorder", path=str(Path(__file__).parent / "frontend"))


@dataclass(frozen=True)
class Recording:
    data: bytes
    name: str  # webcam-<hash>.webm: the hash keeps the clip id stable over reruns, so it is analysed once

    @property
    def clip_id(self) -> tuple[str, str]:
        return "webcam", self.name


def record(seconds: int = 3, key: str = "webcam") -> Recording | None:
    """The browser's latest recording, or None before the first one; a camera error is shown as one line."""
    value = _recorder(seconds=min(int(seconds), MAX_SECONDS), key=key, default=None)
    if not value:
        return None
    if value.get("error"):
        st.error(value["error"])
        return None
    data = base64.b64decode(value["video"])
    extension = "mp4" if "mp4" in value.get("type", "") else "webm"  # Safari records mp4
    return Recording(data, f"webcam-{hashlib.sha1(data).hexdigest()[:10]}.{extension}")
