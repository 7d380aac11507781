"""Bad input through every way in (the predict CLI, the Analyze page, the Gradio demo): one clear line, no traceback,
the app still works afterwards, and no uploaded file is left behind. Plus a fuzz of the decode and processing path."""
import importlib
import pkgutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

import cli
from app import ENTRY, ui
from app.gradio_app import LAUNCH_OPTIONS, build_demo
from cli import predict
from lab import analysis, sources
from model.data.processing import process_video
from model.data.video import MAX_FPS, ClipError, read_video
from tests.conftest import TINY_PROCESS
from tests.hardening.bad_clips import EXPECTED, ODD_NAME
from tests.lab_env import REPO
from tests.model.data.test_video import face_frames, write_video

pytestmark = pytest.mark.timeout(300)


def one_line(text: str) -> bool:
    return "\n" not in text.strip() and "Traceback" not in text and len(text) < 400


@pytest.mark.parametrize("case", EXPECTED)
def test_predict_cli(case, bad_clips, tiny_checkpoint, capsys):
    code = predict.main([str(bad_clips[case]), "--checkpoint", str(tiny_checkpoint)])
    err = capsys.readouterr().err
    if EXPECTED[case] == "result":
        assert code == 0
    else:
        assert code == 2 and err.startswith("error: ") and one_line(err), err


def test_predict_cli_process_exits_2_without_traceback(bad_clips, tiny_checkpoint):
    done = subprocess.run([sys.executable, "-m", "cli.predict", str(bad_clips["random_bytes"]), "--checkpoint",
                           str(tiny_checkpoint)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and one_line(done.stderr) and "not a readable video" in done.stderr


def test_long_clips_are_cut_and_fast_ones_thinned(bad_clips, tmp_path):
    video = read_video(bad_clips["ten_minutes"], max_seconds=20)
    assert video.truncated and len(video.frames) <= 20 * 5 + 1 and "only the first 20 s" in video.warnings[0]
    write_video(tmp_path / "fast.mp4", face_frames(count=60, height=48, width=64, face=24)[0], fps=60)
    video = read_video(tmp_path / "fast.mp4")
    assert len(video.frames) == 30 and video.fps == pytest.approx(MAX_FPS, rel=0.05) and "skipped" in video.warnings[0]


def upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key="upload").set_value((name, data, "video/mp4")).run()
    assert not at.exception, at.exception
    return at


def test_analyze_page(lab_env, bad_clips, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the uploads' private folders go here
    at = AppTest.from_file(ENTRY, default_timeout=120)
    at.run()
    at.switch_page(ui.page("pages/analyze.py")).run()
    at.radio(key="source").set_value("Upload a video").run()
    for case, path in bad_clips.items():
        name = ODD_NAME if case == "odd_name" else path.name
        upload(at, name, path.read_bytes())
        errors = [e.value for e in at.error]
        if EXPECTED[case] == "result":
            assert not errors and at.metric, case
        else:
            assert len(errors) == 1 and one_line(errors[0]), (case, errors)
        if EXPECTED[case] == "no face":
            at.button[0].click().run()  # "Retry with a centre crop"
            assert not at.exception and not at.error and at.metric, case
    monkeypatch.setattr(analysis, "MAX_UPLOAD_MB", 0.01)
    upload(at, "big.mp4", bad_clips["odd_name"].read_bytes() * 4)
    assert len(at.error) == 1 and "over the 0.01 MB limit" in at.error[0].value
    monkeypatch.setattr(analysis, "MAX_UPLOAD_MB", 200)
    upload(at, "notes.txt.mp4", b"")
    assert len(at.error) == 1
    at.radio(key="source").set_value("Shipped sample").run()  # still usable with a good clip
    assert not at.exception and not at.error and at.metric
    assert not list(tmp_path.iterdir()), "no upload is left behind"


def test_gradio_demo(lab_env, bad_clips, tmp_path, monkeypatch):
    demo = build_demo(sources.checkpoint_choices()["two_stream_attention"])
    demo.launch(**LAUNCH_OPTIONS, prevent_thread_lock=True, quiet=True)
    odd = tmp_path / ODD_NAME.replace("/", "")
    odd.write_bytes(bad_clips["odd_name"].read_bytes())
    try:
        client = Client(demo.local_url, verbose=False)
        for case, path in {**bad_clips, "odd_name": odd}.items():
            if EXPECTED[case] == "error":
                with pytest.raises(Exception) as caught:
                    client.predict(handle_file(str(path)), True, "Grad-CAM", api_name="/recognize")
                assert one_line(str(caught.value)) and "upload a video file" in str(caught.value), case
            else:  # no face: the demo falls back to the frame centre and says so
                label, reliability, *_ = client.predict(handle_file(str(path)), True, "Grad-CAM",
                                                          api_name="/recognize")
                assert label["label"], case
                if case == "ten_minutes":  # the decoder's warnings, as the Analyze page lists them
                    assert "is longer than 20 s: only the first 20 s are used" in reliability
                if EXPECTED[case] == "no face":  # centre-cropped: never shown as a trustworthy answer
                    assert "Unreliable" in reliability and "no face was detected" in reliability, case
        monkeypatch.setattr(analysis, "MAX_UPLOAD_MB", 0.001)
        with pytest.raises(Exception, match="over the 0.001 MB limit"):
            client.predict(handle_file(str(odd)), True, "Grad-CAM", api_name="/recognize")
    finally:
        demo.close()


@pytest.fixture(scope="module")
def small_video(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("fuzz") / "small.mp4"
    write_video(path, face_frames(count=6, height=48, width=64, face=26)[0])
    return path.read_bytes()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_video_gives_a_result_or_a_clip_error(small_video, tmp_path, data):
    """Flipped bytes, cut-off tails and inserted junk: a result or a ClipError, never another exception."""
    raw = bytearray(small_video)
    for _ in range(data.draw(st.integers(1, 20))):
        if not raw:
            break
        kind = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        at = data.draw(st.integers(0, len(raw) - 1))
        if kind == "flip":
            raw[at] ^= data.draw(st.integers(1, 255))
        elif kind == "cut":
            del raw[at:]
        else:
            raw[at:at] = data.draw(st.binary(min_size=1, max_size=64))
    path = tmp_path / "fuzzed.mp4"
    path.write_bytes(bytes(raw))
    try:
        clip = process_video(path, TINY_PROCESS)
    except ClipError as error:
        assert one_line(str(error))
    else:
        assert clip.rgb.shape == (TINY_PROCESS.frames, TINY_PROCESS.size, TINY_PROCESS.size, 3)


COMMANDS = sorted(f"cli.{m.name}" for m in pkgutil.iter_modules(cli.__path__) if m.name != "common")


def test_every_command_answers_help_with_its_module_name():
    """`python -m X -h` prints a usage line that can be typed back, and runs nothing (one process for all)."""
    script = ("import contextlib, io, runpy, sys\n"
              "for name in sys.argv[1:]:\n"
              "    sys.argv = [name, '-h']\n"
              "    out = io.StringIO()\n"
              "    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
              "        runpy.run_module(name, run_name='__main__')\n"
              "    print(name, out.getvalue().split(chr(10))[0])\n")
    done = subprocess.run([sys.executable, "-c", script, *COMMANDS], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    usage = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    assert {name: line.startswith(f"usage: python -m {name}") for name, line in usage.items()} == \
        dict.fromkeys(COMMANDS, True)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_help_reads_as_written(name):
    """A `%` in a setting's help once printed argparse's internals instead of the text."""
    text = importlib.import_module(name).build().format_help()
    assert "'option_strings'" not in text and "%(" not in text


REQUIRED_CHOICE = {"cli.intervene": ["--count", "1"]}  # one of a required group of options that are not paths


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_answers_a_bad_path_in_one_line(name, tmp_path, capsys):
    """Every path the command takes (required or not) points under a plain file, so it can be neither read nor
    written: the command says so in one line and exits 2, whatever it does."""
    command = importlib.import_module(name)
    (tmp_path / "file").write_text("not a folder")
    bad = str(tmp_path / "file" / "missing")
    argv = []
    for action in command.build()._actions:
        if action.type is not Path:
            continue
        argv += [bad] if not action.option_strings else [action.option_strings[0], bad]
    if not argv:
        pytest.skip(f"{name} takes no path")
    argv += REQUIRED_CHOICE.get(name, [])
    code = command.main(argv)
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and one_line(err), (argv, err)
