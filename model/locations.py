"""Where the project's files are: every path to a folder outside the code comes from here.

Each location is a function read when it is called, so a test or a demo moves it by setting its environment variable
(unset or empty: the folder in the repository):

    LAB_ASSETS              assets/          shipped checkpoints, prediction tables, samples, real-face manifest
    LAB_RESULTS             assets/results/  precomputed results (ablation.json, grading/, concepts/, ...)
    LAB_DATA                data/corpus/     the embedded corpus, the default data source
    REALFACES_DATA          data/realfaces/  the real-face validation set (model/data/realfaces.py builds it)
    REALFACES_DOWNLOADS     data/realfaces-src/               pip-download sources of the real-face set
    REALFACES_NODE_MODULES  data/realfaces-src/node_modules/  npm sources of the real-face set
    LAB_CACHE               cache/           processed clips (one .npz per file and settings), the lab's cache in lab/
    LAB_RUNS                runs/            training runs
    LAB_WEIGHTS             weights/         third-party weights converted at set-up time (fer's network)
"""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent  # the code's own folder: it never moves


def _location(variable: str, default: Path) -> Path:
    return Path(os.environ.get(variable) or default).expanduser().resolve()


def assets() -> Path:
    return _location("LAB_ASSETS", REPO_ROOT / "assets")


def shipped_checkpoints() -> Path:
    return assets() / "checkpoints"


# The shipped checkpoints, named as model.ablation's variants that cli.ship ships: the inter-stream attention model,
# and the same recipe trained without the module (what the lab compares it with).
ATTENTION_CHECKPOINT, NO_MODULE_CHECKPOINT = SHIPPED = ("two_stream_attention", "two_stream_no_attention")


def default_checkpoint() -> Path:
    """The checkpoint commands and the app use when none is named: the shipped inter-stream-attention model."""
    return shipped_checkpoints() / ATTENTION_CHECKPOINT


def results() -> Path:
    return _location("LAB_RESULTS", assets() / "results")


def realfaces_manifest() -> Path:
    """The shipped list of the real-face set's sources and clips."""
    return assets() / "realfaces" / "manifest.json"


def corpus() -> Path:
    return _location("LAB_DATA", REPO_ROOT / "data" / "corpus")


def realfaces() -> Path:
    return _location("REALFACES_DATA", REPO_ROOT / "data" / "realfaces")


def realfaces_downloads() -> Path:
    return _location("REALFACES_DOWNLOADS", REPO_ROOT / "data" / "realfaces-src")


def realfaces_node_modules() -> Path:
    return _location("REALFACES_NODE_MODULES", REPO_ROOT / "data" / "realfaces-src" / "node_modules")


def npm_modules() -> Path:
    """Where set-up installs the npm packages whose weights the project converts (face-api's expression network)."""
    return _location("LAB_NPM_MODULES", REPO_ROOT / ".venv" / "npm" / "node_modules")


def processing_cache() -> Path:
    return _location("LAB_CACHE", REPO_ROOT / "cache")


def lab_cache() -> Path:
    """The lab's own cache (evaluations, transcoded videos), beside the processed clips."""
    return processing_cache() / "lab"


def runs() -> Path:
    return _location("LAB_RUNS", REPO_ROOT / "runs")


def weights() -> Path:
    return _location("LAB_WEIGHTS", REPO_ROOT / "weights")
