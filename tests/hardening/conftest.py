import pytest

from tests.hardening.bad_clips import write_bad_clips
from tests.lab.conftest import lab_env  # noqa: F401  (the tiny lab the app pages and the demo run on)


@pytest.fixture(scope="session")
def bad_clips(tmp_path_factory):
    return write_bad_clips(tmp_path_factory.mktemp("bad_clips"))
