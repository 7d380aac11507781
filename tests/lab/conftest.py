import os

import pytest

from tests.lab.lab_env import build_lab_env


@pytest.fixture(scope="session")
def lab_env(tmp_path_factory):
    """Point the whole lab at a tiny corpus and tiny checkpoints for the test session."""
    env = build_lab_env(tmp_path_factory.mktemp("lab"))
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    yield env
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
