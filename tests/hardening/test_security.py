"""Nothing the app reads can run code, nothing outside the chosen folders is listed or read, and it listens locally."""
import ast
import shutil
import tomllib

import pytest
from streamlit.testing.v1 import AppTest

from app import ENTRY, gradio_app, ui
from cli import demo
from lab import analysis, dataset, sources
from model.data.datasets import CorpusError
from tests.lab_env import REPO

pytestmark = pytest.mark.timeout(300)

UNSAFE_MODULES = {"pickle", "cPickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}


def unsafe_calls(tree: ast.AST) -> list[str]:
    """Calls and imports that can run code from data: unpickling loaders, eval/exec, unsafe YAML, shells."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [f"import {n}" for n in names if n.split(".")[0] in UNSAFE_MODULES]
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func)
        keywords = {k.arg: ast.unparse(k.value) for k in node.keywords}
        if name in ("eval", "exec", "compile", "__import__") or name.endswith(("read_pickle", "torch.load")):
            found.append(name)
        elif name in ("np.load", "numpy.load") and keywords.get("allow_pickle") != "False":
            found.append(f"{name} without allow_pickle=False")
        elif name == "yaml.load" and "SafeLoader" not in keywords.get("Loader", ""):
            found.append("yaml.load without SafeLoader")
        if keywords.get("shell") not in (None, "False"):
            found.append(f"{name}(shell=...)")
    return [f"line {getattr(node, 'lineno', '?')}: {what}" for what in found]


def test_no_code_runs_from_data_anywhere_in_the_project():
    skipped = {".venv", "tests", "node_modules"}
    sources_ = [p for p in REPO.rglob("*.py") if not skipped & set(p.relative_to(REPO).parts)]
    assert len(sources_) > 20
    problems = {str(p.relative_to(REPO)): found for p in sources_ if (found := unsafe_calls(ast.parse(p.read_text())))}
    assert not problems, problems


def test_the_scanner_finds_what_it_looks_for():
    code = ("import pickle\nimport torch, yaml, subprocess\nimport numpy as np\ntorch.load('x')\nnp.load('x')\n"
            "np.load('x', allow_pickle=False)\nyaml.load(s)\nyaml.load(s, Loader=yaml.SafeLoader)\neval(s)\n"
            "model.eval()\nsubprocess.run('ls', shell=True)\n")
    assert len(unsafe_calls(ast.parse(code))) == 6


def test_servers_listen_on_localhost_by_default_with_one_upload_limit():
    server = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())["server"]
    assert server["address"] in ("localhost", "127.0.0.1")
    assert server["maxUploadSize"] == analysis.MAX_UPLOAD_MB
    assert gradio_app.LAUNCH_OPTIONS["server_name"] == "127.0.0.1"
    assert gradio_app.LAUNCH_OPTIONS["max_file_size"] == f"{analysis.MAX_UPLOAD_MB}mb"


def test_gradio_main_launches_locally(monkeypatch, tmp_path):
    launched = {}
    fake = type("Demo", (), {"launch": lambda self, **kw: launched.update(kw)})()
    monkeypatch.setattr(gradio_app, "build_demo", lambda checkpoint: fake)
    demo.main(["--checkpoint", str(tmp_path)])
    assert launched["server_name"] == "127.0.0.1"


@pytest.fixture
def linked_corpus(lab_env, tmp_path, monkeypatch):
    """A copy of the tiny corpus with one clip that is a link to a video outside it."""
    root = tmp_path / "corpus"
    shutil.copytree(lab_env["LAB_DATA"], root)
    outside = tmp_path / "outside.avi"
    shutil.copy(sources.sample_clips()[0], outside)
    (root / "Val" / "Happy" / "linked.avi").symlink_to(outside)
    monkeypatch.setenv("LAB_DATA", str(root))
    return root


def test_links_out_of_the_corpus_are_not_listed(linked_corpus):
    corpus = dataset.resolve_corpus(linked_corpus)
    assert "linked.avi" not in {r.path.name for r in corpus.clips("Val")}
    assert any("outside" in w for w in corpus.warnings)
    with pytest.raises(CorpusError):
        dataset.find_clip(corpus, "Val/Happy/linked.avi")


@pytest.mark.parametrize("clip", ["../../etc/passwd", "/etc/passwd", "Val/../../outside.avi", "Val/Happy/linked.avi",
                                  "Val/Happy/../../../corpus/../outside.avi", "Val/Happy/val_00001.avi\0.png",
                                  "Val/" + "a" * 20000])
def test_linked_clip_outside_the_corpus_is_refused_in_one_line(linked_corpus, clip):
    at = AppTest.from_file(ENTRY, default_timeout=120)
    at.query_params.update(clip=clip, split="Val")
    at.run()
    at.switch_page(ui.page("pages/analyze.py")).run()
    assert not at.exception, at.exception
    assert len(at.error) == 1 and "\n" not in at.error[0].value and "is not a clip of this corpus" in at.error[0].value


def test_typed_folders_outside_the_served_roots_are_refused(linked_corpus, monkeypatch):
    monkeypatch.setenv("LAB_DATA_ROOTS", str(linked_corpus))
    assert dataset.resolve_corpus(linked_corpus).root == linked_corpus.resolve()
    for typed in ("/etc", str(linked_corpus / ".."), "~"):
        with pytest.raises(CorpusError, match="outside the data folders"):
            dataset.resolve_corpus(typed)
    at = AppTest.from_file(ENTRY, default_timeout=120)
    at.run()
    at.switch_page(ui.page("pages/dataset.py")).run()
    at.radio(key="data_source").set_value("A corpus folder").run()
    at.text_input(key="data_path").set_value("/etc").run()
    assert not at.exception and len(at.error) == 1 and "outside the data folders" in at.error[0].value


def test_an_unknown_split_in_a_link_is_said_not_switched_silently(lab_env):
    corpus = dataset.resolve_corpus(lab_env["LAB_DATA"])
    clip = dataset.relative_clip(corpus, corpus.clips("Val")[0].path)
    at = AppTest.from_file(ENTRY, default_timeout=120)
    at.query_params.update(clip=clip, split="Nope")
    at.run()
    at.switch_page(ui.page("pages/analyze.py")).run()
    assert not at.exception, at.exception
    assert any("The link's split 'Nope' is not one of this corpus's" in w.value for w in at.warning)
