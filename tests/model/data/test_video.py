"""Decoding: every container we can write here, rotation, variable frame rate, pixel formats, and broken files.

The small video writers and the drawn face here are also used by test_processing.py.
"""
from __future__ import annotations

from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from model.data import video as video_module
from model.data.video import MAX_FPS, ClipError, read_video


def draw_face(image: np.ndarray, centre: tuple[int, int], width: int, mouth_open: float = 0.0) -> None:
    """A cartoon frontal face (RGB) that OpenCV's Haar cascade detects; mouth_open 0..1 animates the mouth."""
    cx, cy = centre
    cv2.ellipse(image, (cx, cy), (width // 2, int(width * 0.62)), 0, 0, 360, (225, 180, 150), -1)
    eye_dx, eye_dy = int(width * 0.2), int(width * 0.12)
    for dx in (-eye_dx, eye_dx):
        cv2.ellipse(image, (cx + dx, cy - eye_dy), (int(width * 0.11), int(width * 0.06)), 0, 0, 360, (40, 40, 40), -1)
        brow_y = cy - eye_dy - int(width * 0.13)
        cv2.line(image, (cx + dx - int(width * 0.13), brow_y), (cx + dx + int(width * 0.13), brow_y), (60, 30, 30),
                 max(1, width // 25))
    cv2.line(image, (cx, cy - eye_dy), (cx - int(width * 0.05), cy + int(width * 0.12)), (170, 130, 110),
             max(1, width // 30))
    mouth = (int(width * 0.18), int(width * (0.06 + 0.08 * mouth_open)))
    cv2.ellipse(image, (cx, cy + int(width * 0.3)), mouth, 0, 0, 360, (150, 60, 60), -1)


def background(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Smooth random texture, so optical flow and scene-cut histograms have something to work with."""
    noise = np.random.default_rng(seed).integers(40, 200, (height, width, 3), dtype=np.uint8)
    return cv2.GaussianBlur(noise, (0, 0), 3)


def face_frames(count: int = 30, height: int = 240, width: int = 320, face: int = 90) -> tuple[np.ndarray, np.ndarray]:
    """RGB frames of a face gliding sideways over a textured background, and its true centres (count, 2)."""
    base = background(height, width)
    frames, centres = [], []
    for i in range(count):
        centre = (int(width / 2 + width * 0.1 * np.sin(i / 8)), height // 2)
        image = base.copy()
        draw_face(image, centre, face, mouth_open=(i % 6) / 5)
        frames.append(image)
        centres.append(centre)
    return np.stack(frames), np.array(centres, dtype=np.float32)


def write_video(path, frames: np.ndarray, fps: int = 25, codec: str = "libx264", pix_fmt: str = "yuv420p",
                rotation: int = 0, times: list[float] | None = None) -> None:
    """Encode RGB frames with PyAV; times (seconds) gives each frame its own pts, for variable frame rates."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
        if rotation:
            stream.set_display_rotation(rotation)
        if times is not None:
            stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            if times is not None:
                frame.pts, frame.time_base = round(times[i] * 1000), Fraction(1, 1000)
            for packet in stream.encode(frame.reformat(format=pix_fmt)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def write_avi(path, frames: np.ndarray, fps: int = 25) -> None:
    """MJPG in AVI through OpenCV, the way the embedded corpus is written."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (frames.shape[2], frames.shape[1]))
    for rgb in frames:
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()


NOT_CODED_VOP = b"\0\0\1\xb6\x50\x4f"  # a P-VOP header with vop_coded = 0 (5-bit time increment, as at 25 fps)


def write_mpeg4_avi(path, frames: np.ndarray, fps: int = 25, packed: bool = False) -> None:
    """MPEG-4 Part 2 (DivX/Xvid) in AVI with two B-frames between references, chunks muxed by hand.

    packed: the DivX "packed bitstream" of movie rips (AFEW, OpenCV's Megamind.avi): a reference frame's chunk also
    carries the B-frame after it, and a not-coded VOP fills the slot left over, so AVI keeps one chunk per frame.
    """
    with av.open(str(path), "w", format="avi") as container:
        stream = container.add_stream("mpeg4", rate=fps, options={"bf": "2", "qmax": "2"})
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        images = [av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p") for rgb in frames]
        chunks = [bytes(packet) for image in [*images, None] for packet in stream.encode(image)]  # I P B B P B B ...
        kinds = [chunk[chunk.find(b"\0\0\1\xb6") + 4] >> 6 for chunk in chunks]  # vop_coding_type: 0 I, 1 P, 2 B
        if packed:
            chunks[0] = chunks[0].replace(b"\0\0\1\xb2", b"\0\0\1\xb2DivX503b1393p\0\0\1\xb2", 1)  # p: packed
            repacked = []
            for i, (chunk, kind) in enumerate(zip(chunks, kinds)):
                if kind == 2 and kinds[i - 1] != 2:
                    repacked[-1] += chunk  # the first B-frame rides with its reference
                else:
                    repacked.append(chunk)
                if kind == 2 and kinds[i + 1:i + 2] != [2]:
                    repacked.append(NOT_CODED_VOP)
            chunks = repacked
        for index, chunk in enumerate(chunks):
            packet = av.Packet(chunk)
            packet.stream, packet.time_base, packet.pts, packet.dts = stream, Fraction(1, fps), index, index
            container.mux(packet)


def numbered_frames(count: int, height: int = 48, width: int = 64) -> np.ndarray:
    """Flat grey frames whose brightness 10 + 4 i tells their index i after lossy coding (see frame_numbers)."""
    return np.stack([np.full((height, width, 3), 10 + 4 * i, np.uint8) for i in range(count)])


def frame_numbers(frames: np.ndarray) -> np.ndarray:
    return np.round((frames.mean(axis=(1, 2, 3)) - 10) / 4).astype(int)


def _out_of_order(values) -> bool:
    return any(later < earlier for earlier, later in zip(values, values[1:]))


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    return face_frames(count=12, height=96, width=128, face=40)[0]


@pytest.mark.parametrize("name, codec, pix_fmt", [
    ("clip.mp4", "libx264", "yuv420p"),
    ("clip.mkv", "libx264", "yuv420p"),
    ("clip.webm", "libvpx-vp9", "yuv420p"),
    ("clip.mov", "mpeg4", "yuv420p"),
    ("clip_gray.mkv", "ffv1", "gray"),
])
def test_containers_decode_to_rgb(tmp_path, frames, name, codec, pix_fmt):
    write_video(tmp_path / name, frames, codec=codec, pix_fmt=pix_fmt)
    video = read_video(tmp_path / name, max_seconds=10)
    assert video.frames.shape == frames.shape and video.frames.dtype == np.uint8
    assert video.fps == pytest.approx(25, rel=0.01) and video.duration == pytest.approx(12 / 25, rel=0.05)
    assert not video.truncated and video.warnings == []
    expected = frames if pix_fmt != "gray" else np.repeat(cv2.cvtColor(frames[0], cv2.COLOR_RGB2GRAY)[..., None], 3, 2)
    assert np.abs(video.frames[0].astype(int) - expected[0]).mean() < 12


def test_avi_mjpg(tmp_path, frames):
    write_avi(tmp_path / "clip.avi", frames)
    video = read_video(tmp_path / "clip.avi", max_seconds=10)
    assert video.frames.shape == frames.shape and np.abs(video.frames.astype(int) - frames).mean() < 8


@pytest.mark.parametrize("packed", [False, True])
def test_avi_with_b_frames_is_read_whole_in_display_order(tmp_path, packed):
    write_mpeg4_avi(tmp_path / "divx.avi", numbered_frames(60), fps=25, packed=packed)
    with av.open(str(tmp_path / "divx.avi")) as container:
        assert _out_of_order([packet.pts for packet in container.demux(video=0) if packet.size])  # B-frames present
    if packed:  # the decoder swaps the timestamps of the frames around each B-frame, as in Megamind.avi
        with av.open(str(tmp_path / "divx.avi")) as container:
            assert _out_of_order([frame.pts for frame in container.decode(video=0)])
    video = read_video(tmp_path / "divx.avi", max_seconds=10)
    np.testing.assert_array_equal(frame_numbers(video.frames), np.arange(60))  # every frame, in display order
    np.testing.assert_allclose(video.times, np.arange(60) / 25, atol=1e-6)
    assert video.fps == pytest.approx(25) and not video.truncated and video.warnings == []
    cut = read_video(tmp_path / "divx.avi", max_seconds=1)
    np.testing.assert_array_equal(frame_numbers(cut.frames), np.arange(25))
    assert cut.times[0] == 0 and cut.truncated and len(cut.warnings) == 1 and "1 s" in cut.warnings[0]


def test_clips_faster_than_max_fps_are_thinned(tmp_path):
    write_video(tmp_path / "fast.mp4", numbered_frames(60), fps=60)  # x264 B-frames: reordered, with true pts
    video = read_video(tmp_path / "fast.mp4", max_seconds=10)
    np.testing.assert_array_equal(frame_numbers(video.frames), np.arange(0, 60, 2))
    assert video.fps == pytest.approx(MAX_FPS) and np.diff(video.times).min() > 0.9 / MAX_FPS
    assert not video.truncated and len(video.warnings) == 1 and "30 of them are skipped" in video.warnings[0]


def test_rotation_metadata_makes_frames_upright(tmp_path):
    image = np.zeros((48, 64, 3), np.uint8)
    image[:12, :16] = 255  # a bright patch in the stored top-left corner
    write_video(tmp_path / "rotated.mp4", np.stack([image] * 5), rotation=90)
    video = read_video(tmp_path / "rotated.mp4", max_seconds=10)
    assert video.frames.shape == (5, 64, 48, 3) and video.original_size == (48, 64)
    assert video.frames[0, -12:, :12].mean() > 200  # rotated 90 degrees counter-clockwise: now bottom-left
    assert video.frames[0, :12, :12].mean() < 50


def test_variable_frame_rate_uses_timestamps(tmp_path, frames):
    times = [0.0, 0.04, 0.08, 0.5, 0.54, 0.58, 1.0, 1.04, 1.08, 1.5, 1.54, 1.58]
    write_video(tmp_path / "vfr.mkv", frames, times=times)
    video = read_video(tmp_path / "vfr.mkv", max_seconds=10)
    np.testing.assert_allclose(video.times, times, atol=0.002)
    assert video.fps == pytest.approx(11 / 1.58, rel=0.01)


def test_large_frames_are_downscaled_and_long_clips_cut(tmp_path):
    big = np.repeat(face_frames(count=3, height=360, width=640, face=120)[0], 10, axis=0)  # 30 frames, 1.2 s
    write_video(tmp_path / "big.mp4", big)
    video = read_video(tmp_path / "big.mp4", max_seconds=0.5, max_side=160)
    assert video.frames.shape[1:] == (90, 160, 3) and video.original_size == (640, 360)
    assert len(video.frames) == 13 and video.truncated
    assert len(video.warnings) == 1 and "0.5 s" in video.warnings[0]


@pytest.mark.parametrize("rotation", [0, 90])
def test_a_long_clip_is_decoded_within_the_frame_budget_all_frames_kept(tmp_path, monkeypatch, rotation):
    frames = np.repeat(face_frames(count=4, height=240, width=320, face=90)[0], 10, axis=0)  # 40 frames
    write_video(tmp_path / "long.mp4", frames, rotation=rotation)
    monkeypatch.setattr(video_module, "MAX_FRAME_BYTES", 10 * 320 * 240 * 3)  # 10 full-size frames' worth
    video = read_video(tmp_path / "long.mp4", max_seconds=10)
    upright = (320, 240) if rotation == 0 else (240, 320)
    assert len(video.frames) == 40 and video.frames.nbytes <= video_module.MAX_FRAME_BYTES
    assert video.frames.shape[2] / video.frames.shape[1] == pytest.approx(upright[0] / upright[1], rel=0.05)
    assert video.original_size == upright and not video.warnings
    early, late = video.frames[0].astype(float), video.frames[-1].astype(float)  # shrunk after, and before, decoding
    assert np.abs(early - late).mean() < 12, "frames held before a shrink match the frames decoded after it"


def _assert_one_line_clip_error(path, *words):
    with pytest.raises(ClipError) as caught:
        read_video(path, max_seconds=10)
    message = str(caught.value)
    assert "\n" not in message and path.name in message and ":" in message
    for word in words:
        assert word in message
    return message


def test_zero_byte_file(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    _assert_one_line_clip_error(tmp_path / "empty.mp4", "empty", "upload a video")


def test_random_bytes(tmp_path):
    (tmp_path / "noise.mp4").write_bytes(np.random.default_rng(0).bytes(5000))
    _assert_one_line_clip_error(tmp_path / "noise.mp4", "upload a video")


def test_missing_file(tmp_path):
    _assert_one_line_clip_error(tmp_path / "nowhere.mp4", "not found")


def test_audio_only(tmp_path):
    with av.open(str(tmp_path / "speech.mp4"), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        samples = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        samples.sample_rate = 16000
        for packet in [*stream.encode(samples), *stream.encode()]:
            container.mux(packet)
    _assert_one_line_clip_error(tmp_path / "speech.mp4", "no video stream")


def test_truncated_mp4_is_a_clip_error(tmp_path, frames):
    write_video(tmp_path / "full.mp4", frames)
    data = (tmp_path / "full.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])  # the index (moov atom) is at the end: lost
    _assert_one_line_clip_error(tmp_path / "cut.mp4", "upload a video")


def test_truncated_avi_keeps_the_frames_before_the_cut(tmp_path, frames):
    write_avi(tmp_path / "full.avi", frames)
    data = (tmp_path / "full.avi").read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[: len(data) // 2])
    video = read_video(tmp_path / "cut.avi", max_seconds=10)
    assert 0 < len(video.frames) < len(frames) and video.truncated and "cut.avi" in video.warnings[0]
