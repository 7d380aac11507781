"""Writing a file so that a reader never sees half of it: every module that saves results uses this one helper."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

FILE_MODE = 0o644  # every file the project writes, as video encoders and the corpus's other files get it


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path`` and rename it, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE)  # mkstemp's 0600 would make results unreadable to the rest of the group
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
