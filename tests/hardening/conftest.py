import pytest

from tests.hardening.bad_clips import write_bad_clips


@pytest.fixture(scope="session")
def bad_clips(tmp_path_factory):
    return write_bad_clips(tmp_path_factory.mktemp("bad_clips"))
