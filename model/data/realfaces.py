"""Build the real-face validation set: short labelled clips cut from media that registry packages ship.

No labelled expression video can be downloaded here, and nothing may be fetched at run time, so the clips come from
files inside packages installed at set-up time (PyPI, npm, Debian). ``assets/realfaces/manifest.json`` names each
source file (package, version, path, sha256, licence) and each clip (label given by eye, person, time window or crop).
Building checks every source's sha256 before writing anything, then writes a class-folder corpus that
``model.data.datasets.open_corpus`` reads as kind "folders", split "All":

    out/<Class>/<clip id>.mp4     out/realfaces.json (per-clip metadata: person, source, window, note)

    python -m cli.realfaces --out data/realfaces [--node-modules DIR] [--downloads DIR]

Source kinds: "pip" (a file inside an installed package, found with importlib.util.find_spec, never imported),
"pip-download" (a member of a wheel or sdist that ``pip download`` put in the downloads folder: test images are
often only in the sdist), "npm" (a file under node_modules/<package>/), "apt" (an absolute path) and "repo" (a file
from a public repository whose licence allows redistribution, committed small beside the manifest: ``package`` is the
repository, ``version`` its commit, ``path`` the committed file relative to the manifest's folder, ``origin`` the
file's path in the repository).
"""
from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import re
import shutil
import tarfile
import zipfile
from collections import Counter
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from model import locations
from model.config import CLASSES

INSTALLERS = ("pip", "pip-download", "npm", "apt", "repo")


class RealFacesError(ValueError):
    """A manifest, source or output problem; the message is one line saying what to fix."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


def build(out: Path, manifest: Path | None = None, node_modules: Path | None = None,
          downloads: Path | None = None) -> Path:
    """Write the clip corpus of ``manifest`` (default: the shipped one) to ``out`` and return it.

    Every source is located and checked first, and the corpus is written to a hidden sibling folder that replaces
    ``out`` only when complete, so a failure leaves ``out`` as it was (absent, or the previous build).
    """
    out, manifest = Path(out), Path(manifest or locations.realfaces_manifest())
    spec = _load_manifest(manifest)
    node_modules, downloads = _folders(node_modules, downloads)
    if out.exists() and not (out.is_dir() and ((out / "realfaces.json").is_file() or not any(out.iterdir()))):
        raise RealFacesError(f"{out} exists and is not a real-face build (no realfaces.json): choose another --out")
    data, problems = {}, []
    for name in dict.fromkeys(clip["source"] for clip in spec["clips"]):
        try:
            data[name] = _fetch(name, spec["sources"][name], node_modules, downloads, manifest.parent)
        except RealFacesError as error:
            problems.append((name, str(error)))
    if problems:  # name them all, so one set-up pass can fix them all
        more = f" (and {len(problems) - 1} more: {', '.join(n for n, _ in problems[1:])})" if len(problems) > 1 else ""
        raise RealFacesError(problems[0][1] + more)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        records = [_write_clip(tmp, clip, spec, data[clip["source"]]) for clip in spec["clips"]]
        counts = Counter(r["label"] for r in records)
        summary = {"manifest": str(manifest), "manifest_sha256": _sha256(manifest.read_bytes()),
                   "counts": {c: counts[c] for c in CLASSES if counts[c]}, "clips": records}
        (tmp / "realfaces.json").write_text(json.dumps(summary, indent=1))
        _replace_dir(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def missing_sources(manifest: Path | None = None, node_modules: Path | None = None,
                    downloads: Path | None = None) -> list[str]:
    """One message per source that is absent or altered; empty when ``build`` can run (tests skip on it)."""
    manifest = Path(manifest or locations.realfaces_manifest())
    spec, problems = _load_manifest(manifest), []
    node_modules, downloads = _folders(node_modules, downloads)
    for name, source in spec["sources"].items():
        try:
            _fetch(name, source, node_modules, downloads, manifest.parent)
        except RealFacesError as error:
            problems.append(str(error))
    return problems


def _folders(node_modules: Path | None, downloads: Path | None) -> tuple[Path, Path]:
    """Where npm and pip-download sources live: the argument, else their location (model/locations.py)."""
    return (Path(node_modules or locations.realfaces_node_modules()),
            Path(downloads or locations.realfaces_downloads()))


# --------------------------------------------------------------------------------------------- manifest
def _load_manifest(path: Path) -> dict:
    """Parse and check the manifest up front, so that a typo fails before any file is written."""
    try:
        spec = json.loads(path.read_text())
        sources, clips = spec["sources"], spec["clips"]
    except FileNotFoundError:
        raise RealFacesError(f"manifest {path} was not found") from None
    except OSError as error:
        raise RealFacesError(f"manifest {path} cannot be read ({error.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RealFacesError(f"manifest {path} is not valid JSON: {error}") from None
    except (KeyError, TypeError):
        raise RealFacesError(f"manifest {path} needs a 'sources' object and a 'clips' list") from None
    for name, source in sources.items():
        missing = [k for k in ("package", "version", "installer", "path", "sha256") if k not in source]
        if missing:
            raise RealFacesError(f"manifest source {name!r} lacks {', '.join(missing)}")
        if source["installer"] not in INSTALLERS:
            raise RealFacesError(f"manifest source {name!r} has installer {source['installer']!r}: "
                                 f"expected one of {', '.join(INSTALLERS)}")
    seen = set()
    for clip in clips:
        cid = clip.get("id", "?")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", str(cid)) or cid in seen:
            raise RealFacesError(f"manifest clip id {cid!r} is missing, repeated or not a plain file name")
        seen.add(cid)
        if clip.get("source") not in sources:
            raise RealFacesError(f"manifest clip {cid!r} names source {clip.get('source')!r}, which is not listed")
        if clip.get("label") not in CLASSES:
            raise RealFacesError(f"manifest clip {cid!r} has label {clip.get('label')!r}: expected {' '.join(CLASSES)}")
        if clip.get("kind") not in ("video", "still"):
            raise RealFacesError(f"manifest clip {cid!r} has kind {clip.get('kind')!r}: expected video or still")
        if (clip["kind"] == "video" or "start" in clip or "end" in clip) and not (
                isinstance(clip.get("start"), (int, float)) and isinstance(clip.get("end"), (int, float))
                and 0 <= clip["start"] < clip["end"]):
            raise RealFacesError(f"manifest clip {cid!r} needs numbers 0 <= start < end (seconds)")
        crop = clip.get("crop")
        if crop is not None and not (isinstance(crop, list) and len(crop) == 4 and all(isinstance(v, int) for v in crop)
                                     and crop[0] >= 0 and crop[1] >= 0 and crop[2] >= 2 and crop[3] >= 2):
            raise RealFacesError(f"manifest clip {cid!r} has crop {crop!r}: expected [x, y, width, height] in pixels")
    return spec


# --------------------------------------------------------------------------------------------- sources
def _fetch(name: str, source: dict, node_modules: Path, downloads: Path, committed: Path) -> bytes:
    """The source file's bytes, after checking its sha256; errors say which package to install."""
    package = f"{source['package']}=={source['version']}"
    hint = source.get("install") or f"install {package}"
    kind, rel = source["installer"], source["path"]
    if kind == "pip":
        found = importlib.util.find_spec(source.get("module") or source["package"].replace("-", "_"))
        if found is None or not found.submodule_search_locations:
            raise RealFacesError(f"source {name!r}: {source['package']} is not installed (run: {hint})")
        where = Path(list(found.submodule_search_locations)[0]) / rel
        payload = where.read_bytes() if where.is_file() else None
    elif kind == "pip-download":
        where, payload = _archive_member(downloads, source)
        if where is None:
            raise RealFacesError(f"source {name!r}: no {package} wheel or sdist in {downloads} (run: {hint})")
    elif kind == "npm":
        where = node_modules / source["package"] / rel
        payload = where.read_bytes() if where.is_file() else None
    elif kind == "repo":
        where = committed / rel
        payload = where.read_bytes() if where.is_file() and committed.resolve() in where.resolve().parents else None
    else:
        where = Path(rel)
        payload = where.read_bytes() if where.is_absolute() and where.is_file() else None
    if payload is None:
        raise RealFacesError(f"source {name!r}: {where} is missing (run: {hint})")
    digest = _sha256(payload)
    if digest != source["sha256"].lower():
        raise RealFacesError(f"source {name!r}: {where} has sha256 {digest[:12]}..., expected "
                             f"{source['sha256'][:12]}...: install {package} (run: {hint})")
    return payload


def _archive_member(downloads: Path, source: dict) -> tuple[Path | None, bytes | None]:
    """(archive, member bytes) from a ``pip download`` wheel (.whl) or sdist (.tar.gz, .zip), or (None, None)."""
    stems = {re.sub(r"[-_.]+", sep, source["package"]) + "-" + source["version"] for sep in ("_", "-")}
    archives = sorted(p for p in downloads.glob("*") if p.is_file() and any(
        p.name.lower().startswith((s.lower() + ".", s.lower() + "-")) and p.name.endswith((".whl", ".tar.gz", ".zip"))
        for s in stems))
    for archive in archives:
        try:
            if archive.name.endswith(".tar.gz"):
                with tarfile.open(archive) as tar:
                    member = tar.extractfile(source["path"])
                    return archive, member.read() if member else None
            with zipfile.ZipFile(archive) as zipped:
                return archive, zipped.read(source["path"])
        except (KeyError, tarfile.TarError, zipfile.BadZipFile, OSError):
            return archive, None
    return None, None


def _sha256(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


# --------------------------------------------------------------------------------------------- clips
def _write_clip(tmp: Path, clip: dict, spec: dict, payload: bytes) -> dict:
    source = spec["sources"][clip["source"]]
    max_side = int(spec.get("max_side", 320))
    if clip["kind"] == "video":
        frames, rate = _video_window(clip, payload)
    else:
        image = cv2.imdecode(np.frombuffer(payload, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise RealFacesError(f"clip {clip['id']!r}: source {clip['source']!r} is not a readable image")
        rate = Fraction(spec.get("still_fps", 15))
        seconds = clip.get("end", spec.get("still_seconds", 2.0)) - clip.get("start", 0.0)
        frames = [cv2.cvtColor(image, cv2.COLOR_BGR2RGB)] * max(2, round(seconds * rate))  # a still, not motion
    frames = [_shape(frame, clip, max_side) for frame in frames]
    path = tmp / clip["label"] / f"{clip['id']}.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    _encode(path, frames, rate)
    height, width = frames[0].shape[:2]
    return {"id": clip["id"], "label": clip["label"], "person": clip.get("person"), "kind": clip["kind"],
            "file": f"{clip['label']}/{clip['id']}.mp4", "start": clip.get("start", 0.0),
            "end": clip.get("end", round(clip.get("start", 0.0) + len(frames) / float(rate), 3)), "frames": len(frames),
            "fps": round(float(rate), 3), "width": width, "height": height, "crop": clip.get("crop"),
            "note": clip.get("note", ""),
            "source": {k: source.get(k) for k in ("package", "version", "installer", "path", "origin", "sha256",
                                                 "licence") if k in source}}


def _video_window(clip: dict, payload: bytes) -> tuple[list[np.ndarray], Fraction]:
    """The RGB frames whose time falls in [start, end), sorted by pts (B-frames can arrive out of order)."""
    try:
        with av.open(io.BytesIO(payload)) as container:
            stream = container.streams.video[0]
            rate = Fraction(stream.average_rate or stream.guessed_rate or 25)
            decoded = sorted(((Fraction(f.pts * f.time_base), f.to_ndarray(format="rgb24"))
                              for f in container.decode(stream) if f.pts is not None), key=lambda item: item[0])
    except (av.FFmpegError, IndexError, OSError) as error:
        raise RealFacesError(f"clip {clip['id']!r}: source {clip['source']!r} is not a readable video "
                             f"({error})") from None
    first = decoded[0][0] if decoded else Fraction(0)
    start, end = Fraction(str(clip["start"])), Fraction(str(clip["end"]))  # exact: no frame lost to rounding
    frames = [frame for t, frame in decoded if start <= t - first < end]
    if len(frames) < 2:
        length = float(decoded[-1][0] - first) if decoded else 0.0
        raise RealFacesError(f"clip {clip['id']!r}: window {clip['start']}-{clip['end']} s holds {len(frames)} frames "
                             f"(the video is {length:.2f} s long)")
    return frames, rate


def _shape(frame: np.ndarray, clip: dict, max_side: int) -> np.ndarray:
    """Crop, shrink to max_side and trim to even sides (yuv420p needs them)."""
    if clip.get("crop"):
        x, y, w, h = clip["crop"]
        if x + w > frame.shape[1] or y + h > frame.shape[0]:
            raise RealFacesError(f"clip {clip['id']!r}: crop {clip['crop']} leaves the {frame.shape[1]}x"
                                 f"{frame.shape[0]} source")
        frame = frame[y:y + h, x:x + w]
    scale = max_side / max(frame.shape[:2])
    if scale < 1:
        frame = cv2.resize(frame, (round(frame.shape[1] * scale), round(frame.shape[0] * scale)),
                           interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(frame[:frame.shape[0] // 2 * 2, :frame.shape[1] // 2 * 2])


def _encode(path: Path, frames: list[np.ndarray], rate: Fraction) -> None:
    """H.264 (libx264, near-lossless) where PyAV has it, else MPEG-4 Part 2: both decode everywhere."""
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "16", "preset": "medium"} if codec == "libx264" else {"qscale": "2"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def _replace_dir(tmp: Path, out: Path) -> None:
    """Swap the finished folder in; the old build is moved aside first and removed only after the swap."""
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)
