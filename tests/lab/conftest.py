import pytest

from tests.lab.lab_env import build_lab_env


@pytest.fixture(scope="session")
def lab_env(tmp_path_factory):
    """Point the whole lab at a tiny corpus and tiny checkpoints for the test session."""
    env = build_lab_env(tmp_path_factory.mktemp("lab"))
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        yield env
