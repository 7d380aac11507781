"""The bad-input corpus, written by the tests themselves: every kind of file a phone, a screen recorder or a
careless click can produce. ``write_bad_clips(folder)`` returns {case: path}; ``EXPECTED`` says what each must give.
"""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from tests.model.data.test_video import background, draw_face, face_frames, write_avi, write_video

# case -> "error" (a one-line ClipError), "no face" (a NoFaceError: the app offers a centre crop) or "result" (a
# prediction, maybe with warnings)
EXPECTED = {
    "zero_byte": "error", "random_bytes": "error", "truncated": "result", "bit_flipped": "result",
    "audio_only": "error", "one_frame": "result", "tiny_16x16": "no face", "uhd_3840x2160": "result",
    "ten_minutes": "result", "grayscale": "result", "variable_frame_rate": "result", "rotated": "result",
    "no_face": "no face", "many_faces": "result", "odd_name": "result",
}
ODD_NAME = "../..\\é ü; rm -rf $(x) `y` |.mp4"  # path separators, shell and non-ASCII characters


def _face_clip(count: int = 12, height: int = 96, width: int = 128) -> np.ndarray:
    return face_frames(count=count, height=height, width=width, face=min(height, width) * 2 // 5)[0]


def _many_faces(count: int = 10) -> np.ndarray:
    frames = []
    for i in range(count):
        image = background(160, 320, seed=1)
        for x in (50, 130, 210, 280):
            draw_face(image, (x + i % 3, 80), 44, mouth_open=(i % 4) / 3)
        frames.append(image)
    return np.stack(frames)


def _ten_minutes(path: Path, fps: int = 5, seconds: int = 600) -> None:
    """128x96 at 5 fps for 10 minutes: a long clip that encodes in about a second."""
    clip = _face_clip(count=30)
    write_video(path, np.concatenate([clip] * (fps * seconds // len(clip))), fps=fps)


def _audio_only(path: Path) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        samples = np.zeros((1, 1024), np.float32)
        for i in range(20):
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, i * 1024
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def write_bad_clips(folder: Path) -> dict[str, Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    paths = {case: folder / f"{case}.mp4" for case in EXPECTED}
    paths["truncated"], paths["bit_flipped"] = folder / "truncated.avi", folder / "bit_flipped.avi"
    paths["grayscale"] = folder / "grayscale.mkv"
    paths["odd_name"] = folder / "odd_name.mp4"  # the odd name is the upload name, not a file name on this disk

    paths["zero_byte"].write_bytes(b"")
    paths["random_bytes"].write_bytes(rng.integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    good = folder / "good.avi"
    write_avi(good, _face_clip(count=24))
    data = good.read_bytes()
    paths["truncated"].write_bytes(data[: len(data) * 2 // 3])
    flipped = np.frombuffer(data, np.uint8).copy()
    where = rng.integers(len(flipped) // 4, len(flipped), 200)  # keep the header, damage the frames
    flipped[where] ^= np.uint8(1) << rng.integers(0, 8, len(where)).astype(np.uint8)
    paths["bit_flipped"].write_bytes(flipped.tobytes())
    _audio_only(paths["audio_only"])
    write_video(paths["one_frame"], _face_clip(count=1))
    write_video(paths["tiny_16x16"], _face_clip(count=8, height=16, width=16))
    write_video(paths["uhd_3840x2160"], np.repeat(np.repeat(_face_clip(count=3, height=216, width=384), 10, 1), 10, 2),
                fps=25)
    _ten_minutes(paths["ten_minutes"])
    write_video(paths["grayscale"], _face_clip(), codec="ffv1", pix_fmt="gray")
    times = np.cumsum(rng.uniform(0.01, 0.15, 12))
    write_video(paths["variable_frame_rate"], _face_clip(), times=list(times - times[0]))
    write_video(paths["rotated"], np.rot90(_face_clip(), k=-1, axes=(1, 2)), rotation=90)  # upright once turned
    write_video(paths["no_face"], np.stack([background(96, 128, seed=i) for i in range(8)]))
    write_video(paths["many_faces"], _many_faces())
    write_video(paths["odd_name"], _face_clip())
    good.unlink()
    return paths
