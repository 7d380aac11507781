"""The lab's servers on a free local port, for as long as a block runs: the browser tests and the browser benchmark."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from app import ENTRY
from model.locations import REPO_ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, seconds: float = 120) -> None:
    """Poll until the server answers: it imports torch and loads a checkpoint first, slow on a shared machine."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer in {seconds:g} s")


@dataclass(frozen=True)
class Server:
    url: str
    pid: int

    def peak_memory_mb(self) -> float:
        """The server's peak resident memory so far (VmHWM in /proc, KiB)."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))) / 1024


@contextmanager
def serving(locations: dict[str, str], gradio_checkpoint: Path | None = None):
    """`streamlit run app/main.py` (or the Gradio demo on a checkpoint) with these LAB_* locations on a free port, for
    as long as the block runs."""
    port = free_port()
    if gradio_checkpoint is None:
        command = ["-m", "streamlit", "run", str(ENTRY), "--server.port", str(port), "--server.address", "127.0.0.1",
                   "--server.headless", "true"]
    else:
        command = ["-m", "cli.demo", "--checkpoint", str(gradio_checkpoint), "--port", str(port)]
    server = subprocess.Popen([sys.executable, *command], cwd=REPO_ROOT, env={**os.environ, **locations},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/_stcore/health" if gradio_checkpoint is None else f"{url}/")
        yield Server(url, server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
